//! The 16-bit floats: IEEE 754 binary16 ([`half::f16`]) and bfloat16
//! ([`half::bf16`]), stored as their two little-endian bytes. Statistics
//! widen them to `f64` exactly, as those of `f32`.

use std::cmp::Ordering;

use half::{bf16, f16};

use super::{ArrayElement, decode_pod, float_element, sealed};
use crate::dtype::DType;
use crate::error::Result;
use crate::value::{FillValue, StatValue};

float_element!(
    f16,
    DType::Float16,
    bit_round_f16,
    f16::from_f64,
    f16::to_f64
);
float_element!(
    bf16,
    DType::BFloat16,
    bit_round_bf16,
    bf16::from_f64,
    bf16::to_f64
);

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn halves_encode_as_their_bits_and_order_totally() {
        let v = [
            f16::from_f32(1.5),
            f16::NEG_INFINITY,
            f16::NAN,
            f16::from_f32(-0.0),
        ];
        let bytes = f16::encode_chunk(&v).unwrap();
        assert_eq!(&bytes[..2], &f16::from_f32(1.5).to_bits().to_le_bytes());
        let back = f16::decode_chunk(&bytes).unwrap();
        assert!(back.iter().zip(&v).all(|(a, b)| a.to_bits() == b.to_bits()));
        assert_eq!(v[1].stat_cmp(&v[0]), Ordering::Less);
        assert_eq!(
            f16::fill_element(Some(&FillValue::Float(-2.0))),
            f16::from_f32(-2.0)
        );
        assert_eq!(bf16::fill_element(None), bf16::ZERO);
        assert_eq!(bf16::from_f32(3.0).to_stat(), StatValue::Float(3.0));
        assert!(f16::NAN.same_as(&f16::NAN));
    }
}
