//! The 16-bit floats: IEEE 754 binary16 ([`half::f16`]) and bfloat16
//! ([`half::bf16`]), stored as their two little-endian bytes. Statistics
//! widen them to `f64` exactly, as those of `f32`.

use std::cmp::Ordering;

use half::{bf16, f16};

use super::{ArrayElement, decode_pod, sealed};
use crate::dtype::DType;
use crate::error::Result;
use crate::value::{FillValue, StatValue};

macro_rules! half_element {
    ($ty:ty, $dtype:expr, $round:ident) => {
        impl sealed::Sealed for $ty {}
        impl ArrayElement for $ty {
            const DTYPE: DType = $dtype;
            fn encode_chunk(values: &[Self]) -> Result<Vec<u8>> {
                Ok(bytemuck::cast_slice(values).to_vec())
            }
            fn fill_element(fill: Option<&FillValue>) -> Self {
                match fill {
                    Some(FillValue::Float(v)) => <$ty>::from_f64(*v),
                    Some(FillValue::Int(v)) => <$ty>::from_f64(*v as f64),
                    Some(FillValue::UInt(v)) => <$ty>::from_f64(*v as f64),
                    _ => <$ty>::ZERO,
                }
            }
            fn pod_bytes(values: &[Self]) -> Option<&[u8]> {
                Some(bytemuck::cast_slice(values))
            }
            fn pod_bytes_mut(values: &mut [Self]) -> Option<&mut [u8]> {
                Some(bytemuck::cast_slice_mut(values))
            }
            fn decode_n(bytes: &[u8], n: usize) -> std::result::Result<Vec<Self>, String> {
                decode_pod(bytes, n)
            }
            fn stat_cmp(&self, other: &Self) -> Ordering {
                self.total_cmp(other)
            }
            fn is_nan(&self) -> bool {
                <$ty>::is_nan(*self)
            }
            fn same_as(&self, fill: &Self) -> bool {
                self.to_bits() == fill.to_bits() || (<$ty>::is_nan(*self) && fill.is_nan())
            }
            fn to_stat(&self) -> StatValue {
                StatValue::Float(self.to_f64())
            }
            fn bit_round(values: &mut [Self], keep_bits: u8, fill: Option<&Self>) {
                crate::codec::filters::$round(values, keep_bits, fill.copied());
            }
        }
    };
}

half_element!(f16, DType::Float16, bit_round_f16);
half_element!(bf16, DType::BFloat16, bit_round_bf16);

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
