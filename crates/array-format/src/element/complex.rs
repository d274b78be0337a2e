//! Complex numbers ([`num_complex::Complex`] of `f32` and `f64`), stored as
//! the real then the imaginary part, each little-endian, as numpy, HDF5 and
//! NetCDF store them. They have no order: statistics count their nulls but
//! report no min or max.

use std::cmp::Ordering;

use num_complex::Complex;

use super::{ArrayElement, decode_pod, sealed};
use crate::dtype::DType;
use crate::error::Result;
use crate::value::{FillValue, StatValue};

macro_rules! complex_element {
    ($part:ty, $dtype:expr) => {
        impl sealed::Sealed for Complex<$part> {}
        impl ArrayElement for Complex<$part> {
            const DTYPE: DType = $dtype;
            const ORDERED: bool = false;
            fn encode_chunk(values: &[Self]) -> Result<Vec<u8>> {
                Ok(bytemuck::cast_slice(values).to_vec())
            }
            fn fill_element(fill: Option<&FillValue>) -> Self {
                match fill {
                    Some(FillValue::Complex(re, im)) => Complex::new(*re as $part, *im as $part),
                    Some(FillValue::Float(v)) => Complex::new(*v as $part, 0.0),
                    Some(FillValue::Int(v)) => Complex::new(*v as $part, 0.0),
                    Some(FillValue::UInt(v)) => Complex::new(*v as $part, 0.0),
                    _ => Complex::new(0.0, 0.0),
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
            /// Not an order of the numbers: only what keeps sorting total
            /// (statistics report no range, `ORDERED` being false).
            fn stat_cmp(&self, other: &Self) -> Ordering {
                self.re
                    .total_cmp(&other.re)
                    .then(self.im.total_cmp(&other.im))
            }
            fn is_nan(&self) -> bool {
                self.re.is_nan() || self.im.is_nan()
            }
            fn same_as(&self, fill: &Self) -> bool {
                let same =
                    |a: $part, b: $part| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan());
                same(self.re, fill.re) && same(self.im, fill.im)
            }
            fn to_stat(&self) -> StatValue {
                StatValue::Float(f64::from(self.re))
            }
        }
    };
}

complex_element!(f32, DType::Complex64);
complex_element!(f64, DType::Complex128);

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn complex_numbers_store_real_then_imaginary() {
        let v = [Complex::new(1.5f32, -2.0), Complex::new(f32::NAN, 0.0)];
        let bytes = Complex::<f32>::encode_chunk(&v).unwrap();
        assert_eq!(&bytes[..4], &1.5f32.to_le_bytes());
        assert_eq!(&bytes[4..8], &(-2.0f32).to_le_bytes());
        let back = Complex::<f32>::decode_chunk(&bytes).unwrap();
        assert_eq!(back[0], v[0]);
        assert!(back[1].same_as(&v[1]));
        assert_eq!(
            Complex::<f64>::fill_element(Some(&FillValue::Complex(1.0, -1.0))),
            Complex::new(1.0, -1.0)
        );
        assert_eq!(
            Complex::<f64>::fill_element(Some(&FillValue::Float(4.0))),
            Complex::new(4.0, 0.0)
        );
        let s = crate::stats::chunk_stats(&v, Some(&Complex::new(1.5, -2.0)));
        assert_eq!(s.null_count, 1);
        assert_eq!(s.min_max, crate::stats::MinMax::Empty);
    }
}
