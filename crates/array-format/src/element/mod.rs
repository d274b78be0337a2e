//! The [`ArrayElement`] trait: the Rust types that can be stored.
//!
//! Fixed-width types are plain little-endian bytes on disk, so the read and
//! write paths copy them as bytes without a per-element conversion. `String`
//! and `Vec<u8>` use the variable-length chunk encoding of `docs/FORMAT.md`:
//! `[n: u32][n + 1 offsets: u32][bytes]`.
//!
//! | file | holds |
//! |------|-------|
//! | `mod.rs` | the trait; integers, `f32`, `f64`, `bool`, timestamps, strings, bytes |
//! | `halves.rs` | the 16-bit floats `half::f16` and `half::bf16` |
//! | `complex.rs` | `Complex<f32>` and `Complex<f64>` |

use std::cmp::Ordering;

use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::timestamp::TimestampNs;
use crate::value::{FillValue, StatValue};

#[cfg(target_endian = "big")]
compile_error!(
    "array-format stores little-endian data and copies it as bytes; big-endian hosts are not supported"
);

mod complex;
mod halves;

mod sealed {
    pub trait Sealed {}
}

/// An element type that arrays can hold.
///
/// Implemented for `u8`..`u64`, `i8`..`i64`, `f32`, `f64`, `bool`,
/// [`TimestampNs`], `String`, `Vec<u8>`, [`half::f16`], [`half::bf16`] and
/// [`num_complex::Complex`] of `f32` and `f64`. The trait is sealed: the read path
/// copies fixed-width elements as raw bytes, which is only sound for types
/// whose layout the crate controls.
pub trait ArrayElement:
    sealed::Sealed + Clone + Send + Sync + std::fmt::Debug + PartialEq + 'static
{
    /// The [`DType`] this Rust type maps to on disk.
    const DTYPE: DType;

    /// Encodes a chunk's worth of values into their on-disk bytes.
    ///
    /// Fails only for variable-length values whose total exceeds 4 GiB.
    fn encode_chunk(values: &[Self]) -> Result<Vec<u8>>;

    /// Decodes bytes produced by [`encode_chunk`](Self::encode_chunk).
    ///
    /// Malformed bytes give [`Error::Corrupted`].
    fn decode_chunk(bytes: &[u8]) -> Result<Vec<Self>> {
        let n = match Self::DTYPE.element_size() {
            Some(size) => bytes.len() / size,
            None => vlen_count(bytes).map_err(|what| Error::corrupted("<chunk>", what))?,
        };
        Self::decode_n(bytes, n).map_err(|what| Error::corrupted("<chunk>", what))
    }

    /// The element used for positions never written: `fill` (already checked
    /// against the dtype) or the type's zero/empty value.
    fn fill_element(fill: Option<&FillValue>) -> Self;

    /// The values as raw bytes, for fixed-width types other than `bool`.
    #[doc(hidden)]
    fn pod_bytes(values: &[Self]) -> Option<&[u8]>;

    /// The values as mutable raw bytes, for fixed-width types other than `bool`.
    #[doc(hidden)]
    fn pod_bytes_mut(values: &mut [Self]) -> Option<&mut [u8]>;

    /// Decodes exactly `n` values, reporting what is malformed.
    #[doc(hidden)]
    fn decode_n(bytes: &[u8], n: usize) -> std::result::Result<Vec<Self>, String>;

    /// The order statistics use: numeric order, `false < true`, bytewise for
    /// strings and binary.
    #[doc(hidden)]
    fn stat_cmp(&self, other: &Self) -> Ordering;

    /// `true` for NaN floats, which statistics leave out of min and max.
    #[doc(hidden)]
    fn is_nan(&self) -> bool {
        false
    }

    /// `true` when the value equals the fill element (NaN equals NaN).
    #[doc(hidden)]
    fn same_as(&self, fill: &Self) -> bool {
        self == fill
    }

    /// The value as a [`StatValue`].
    #[doc(hidden)]
    fn to_stat(&self) -> StatValue;

    /// Whether [`stat_cmp`](Self::stat_cmp) is an order statistics may
    /// report a min and max by; complex numbers have none.
    #[doc(hidden)]
    const ORDERED: bool = true;

    /// Keeps `keep_bits` mantissa bits of every finite value other than
    /// `fill` (the `bitround` filter); nothing for types other than floats,
    /// which a pipeline with `bitround` refuses.
    #[doc(hidden)]
    fn bit_round(values: &mut [Self], keep_bits: u8, fill: Option<&Self>) {
        let _ = (values, keep_bits, fill);
    }
}

fn int_fill(fill: Option<&FillValue>) -> i128 {
    match fill {
        Some(FillValue::Int(v)) | Some(FillValue::TimestampNs(v)) => (*v).into(),
        Some(FillValue::UInt(v)) => (*v).into(),
        Some(FillValue::Float(v)) => *v as i128,
        Some(FillValue::Bool(b)) => (*b).into(),
        _ => 0,
    }
}

pub(super) fn decode_pod<T: bytemuck::Pod>(
    bytes: &[u8],
    n: usize,
) -> std::result::Result<Vec<T>, String> {
    let size = std::mem::size_of::<T>();
    let expected = n.checked_mul(size).ok_or("element count overflows")?;
    if bytes.len() != expected {
        return Err(format!(
            "chunk holds {} bytes, expected {expected} for {n} elements",
            bytes.len()
        ));
    }
    Ok(bytemuck::pod_collect_to_vec(bytes))
}

macro_rules! pod_element {
    ($ty:ty, $dtype:expr, $fill:expr, $stat:expr) => {
        impl sealed::Sealed for $ty {}
        impl ArrayElement for $ty {
            const DTYPE: DType = $dtype;
            fn encode_chunk(values: &[Self]) -> Result<Vec<u8>> {
                Ok(bytemuck::cast_slice(values).to_vec())
            }
            fn fill_element(fill: Option<&FillValue>) -> Self {
                let f: fn(Option<&FillValue>) -> Self = $fill;
                f(fill)
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
                self.cmp(other)
            }
            fn to_stat(&self) -> StatValue {
                let f: fn(&Self) -> StatValue = $stat;
                f(self)
            }
        }
    };
}

// Canonical fill values are range-checked at definition, so the narrowing
// conversions below never truncate for a value that passed validation.
pod_element!(i8, DType::Int8, |f| int_fill(f) as i8, |v| StatValue::Int(
    (*v).into()
));
pod_element!(i16, DType::Int16, |f| int_fill(f) as i16, |v| {
    StatValue::Int((*v).into())
});
pod_element!(i32, DType::Int32, |f| int_fill(f) as i32, |v| {
    StatValue::Int((*v).into())
});
pod_element!(i64, DType::Int64, |f| int_fill(f) as i64, |v| {
    StatValue::Int(*v)
});
pod_element!(
    u8,
    DType::UInt8,
    |f| int_fill(f) as u8,
    |v| StatValue::UInt((*v).into())
);
pod_element!(u16, DType::UInt16, |f| int_fill(f) as u16, |v| {
    StatValue::UInt((*v).into())
});
pod_element!(u32, DType::UInt32, |f| int_fill(f) as u32, |v| {
    StatValue::UInt((*v).into())
});
pod_element!(u64, DType::UInt64, |f| int_fill(f) as u64, |v| {
    StatValue::UInt(*v)
});
pod_element!(
    TimestampNs,
    DType::TimestampNs,
    |f| TimestampNs(int_fill(f) as i64),
    |v| StatValue::TimestampNs(v.0)
);

/// A float type: `$from` and `$to` convert it from and to `f64` (exact
/// widening; rounding to nearest for fill values).
macro_rules! float_element {
    ($ty:ty, $dtype:expr, $round:ident, $from:expr, $to:expr) => {
        impl sealed::Sealed for $ty {}
        impl ArrayElement for $ty {
            const DTYPE: DType = $dtype;
            fn encode_chunk(values: &[Self]) -> Result<Vec<u8>> {
                Ok(bytemuck::cast_slice(values).to_vec())
            }
            fn fill_element(fill: Option<&FillValue>) -> Self {
                let from: fn(f64) -> $ty = $from;
                from(match fill {
                    Some(FillValue::Float(v)) => *v,
                    Some(FillValue::Int(v)) => *v as f64,
                    Some(FillValue::UInt(v)) => *v as f64,
                    _ => 0.0,
                })
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
                let to: fn($ty) -> f64 = $to;
                StatValue::Float(to(*self))
            }
            fn bit_round(values: &mut [Self], keep_bits: u8, fill: Option<&Self>) {
                crate::codec::filters::$round(values, keep_bits, fill.copied());
            }
        }
    };
}
pub(super) use float_element;

float_element!(f32, DType::Float32, bit_round_f32, |v| v as f32, f64::from);
float_element!(f64, DType::Float64, bit_round_f64, |v| v, |v| v);

impl sealed::Sealed for bool {}
impl ArrayElement for bool {
    const DTYPE: DType = DType::Bool;
    fn encode_chunk(values: &[Self]) -> Result<Vec<u8>> {
        Ok(values.iter().map(|&b| u8::from(b)).collect())
    }
    fn fill_element(fill: Option<&FillValue>) -> Self {
        matches!(fill, Some(FillValue::Bool(true)))
    }
    fn pod_bytes(_: &[Self]) -> Option<&[u8]> {
        None
    }
    fn pod_bytes_mut(_: &mut [Self]) -> Option<&mut [u8]> {
        None
    }
    fn decode_n(bytes: &[u8], n: usize) -> std::result::Result<Vec<Self>, String> {
        if bytes.len() != n {
            return Err(format!(
                "bool chunk holds {} bytes, expected {n}",
                bytes.len()
            ));
        }
        bytes
            .iter()
            .enumerate()
            .map(|(i, &b)| match b {
                0 => Ok(false),
                1 => Ok(true),
                other => Err(format!("bool element {i} has byte value {other}")),
            })
            .collect()
    }
    fn stat_cmp(&self, other: &Self) -> Ordering {
        self.cmp(other)
    }
    fn to_stat(&self) -> StatValue {
        StatValue::UInt(u64::from(*self))
    }
}

const VLEN_HEADER: usize = 4;

/// Encodes variable-length values as `[n][n + 1 offsets][bytes]`, all `u32` LE.
fn encode_vlen<'a>(n: usize, items: impl Iterator<Item = &'a [u8]>) -> Result<Vec<u8>> {
    let too_large = |bytes: u64| Error::ChunkTooLarge {
        name: String::new(),
        chunk: Vec::new(),
        bytes,
        limit: u64::from(u32::MAX),
    };
    let count = u32::try_from(n).map_err(|_| too_large(n as u64))?;
    let items: Vec<&[u8]> = items.collect();
    let total: usize = items.iter().map(|s| s.len()).sum();
    // The whole encoded chunk, offsets included, must fit a frame.
    let encoded = (total as u64).saturating_add(4 * (n as u64 + 2));
    if u32::try_from(encoded).is_err() {
        return Err(too_large(encoded));
    }
    let mut out = Vec::with_capacity(VLEN_HEADER + (n + 1) * 4 + total);
    out.extend_from_slice(&count.to_le_bytes());
    let mut offset = 0u32;
    out.extend_from_slice(&offset.to_le_bytes());
    for s in &items {
        // Bounded by the total checked above.
        offset = offset.saturating_add(s.len() as u32);
        out.extend_from_slice(&offset.to_le_bytes());
    }
    for s in &items {
        out.extend_from_slice(s);
    }
    Ok(out)
}

fn read_u32(bytes: &[u8], at: usize) -> std::result::Result<u32, String> {
    bytes
        .get(at..at + 4)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map(u32::from_le_bytes)
        .ok_or_else(|| format!("variable-length chunk truncated at byte {at}"))
}

/// The element count recorded in a variable-length chunk.
pub(crate) fn vlen_count(bytes: &[u8]) -> std::result::Result<usize, String> {
    Ok(read_u32(bytes, 0)? as usize)
}

/// Splits a variable-length chunk into its `n` items, checking every offset.
pub(crate) fn decode_vlen(bytes: &[u8], n: usize) -> std::result::Result<Vec<&[u8]>, String> {
    let count = vlen_count(bytes)?;
    if count != n {
        return Err(format!(
            "variable-length chunk holds {count} elements, expected {n}"
        ));
    }
    let data_start = n
        .checked_add(1)
        .and_then(|k| k.checked_mul(4))
        .and_then(|k| k.checked_add(VLEN_HEADER))
        .ok_or("element count overflows")?;
    let data = bytes.get(data_start..).ok_or_else(|| {
        format!(
            "variable-length chunk of {} bytes too short for {n} offsets",
            bytes.len()
        )
    })?;
    let mut items = Vec::with_capacity(n);
    let mut prev = read_u32(bytes, VLEN_HEADER)? as usize;
    if prev != 0 {
        return Err(format!("first offset is {prev}, expected 0"));
    }
    for i in 0..n {
        let next = read_u32(bytes, VLEN_HEADER + (i + 1) * 4)? as usize;
        let item = data.get(prev..next).ok_or_else(|| {
            format!(
                "element {i} spans bytes {prev}..{next} of a {}-byte payload",
                data.len()
            )
        })?;
        items.push(item);
        prev = next;
    }
    if prev != data.len() {
        return Err(format!(
            "offsets end at {prev} but the payload holds {} bytes",
            data.len()
        ));
    }
    Ok(items)
}

impl sealed::Sealed for String {}
impl ArrayElement for String {
    const DTYPE: DType = DType::String;
    fn encode_chunk(values: &[Self]) -> Result<Vec<u8>> {
        encode_vlen(values.len(), values.iter().map(|s| s.as_bytes()))
    }
    fn fill_element(fill: Option<&FillValue>) -> Self {
        match fill {
            Some(FillValue::String(s)) => s.clone(),
            _ => String::new(),
        }
    }
    fn pod_bytes(_: &[Self]) -> Option<&[u8]> {
        None
    }
    fn pod_bytes_mut(_: &mut [Self]) -> Option<&mut [u8]> {
        None
    }
    fn decode_n(bytes: &[u8], n: usize) -> std::result::Result<Vec<Self>, String> {
        decode_vlen(bytes, n)?
            .into_iter()
            .enumerate()
            .map(|(i, b)| {
                std::str::from_utf8(b)
                    .map(str::to_owned)
                    .map_err(|e| format!("string element {i} is not UTF-8: {e}"))
            })
            .collect()
    }
    fn stat_cmp(&self, other: &Self) -> Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
    fn to_stat(&self) -> StatValue {
        StatValue::Bytes(self.as_bytes().to_vec())
    }
}

impl sealed::Sealed for Vec<u8> {}
impl ArrayElement for Vec<u8> {
    const DTYPE: DType = DType::Binary;
    fn encode_chunk(values: &[Self]) -> Result<Vec<u8>> {
        encode_vlen(values.len(), values.iter().map(|v| v.as_slice()))
    }
    fn fill_element(fill: Option<&FillValue>) -> Self {
        match fill {
            Some(FillValue::Binary(b)) => b.clone(),
            Some(FillValue::String(s)) => s.as_bytes().to_vec(),
            _ => Vec::new(),
        }
    }
    fn pod_bytes(_: &[Self]) -> Option<&[u8]> {
        None
    }
    fn pod_bytes_mut(_: &mut [Self]) -> Option<&mut [u8]> {
        None
    }
    fn decode_n(bytes: &[u8], n: usize) -> std::result::Result<Vec<Self>, String> {
        Ok(decode_vlen(bytes, n)?
            .into_iter()
            .map(<[u8]>::to_vec)
            .collect())
    }
    fn stat_cmp(&self, other: &Self) -> Ordering {
        self.cmp(other)
    }
    fn to_stat(&self) -> StatValue {
        StatValue::Bytes(self.clone())
    }
}

/// Checks that `bytes` is a well-formed chunk of `n` elements of `dtype`
/// (what `verify` does for every stored chunk).
pub(crate) fn validate_chunk(
    dtype: DType,
    bytes: &[u8],
    n: usize,
) -> std::result::Result<(), String> {
    match dtype {
        DType::Bool => bool::decode_n(bytes, n).map(|_| ()),
        DType::String => String::decode_n(bytes, n).map(|_| ()),
        DType::Binary => decode_vlen(bytes, n).map(|_| ()),
        fixed => {
            let size = fixed.element_size().unwrap_or(1);
            if n.checked_mul(size) == Some(bytes.len()) {
                Ok(())
            } else {
                Err(format!(
                    "chunk holds {} bytes, expected {n} elements of {size} bytes",
                    bytes.len()
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_round_trip() {
        let values = vec![-1i32, 0, 42, i32::MAX];
        let bytes = i32::encode_chunk(&values).unwrap();
        assert_eq!(bytes.len(), 16);
        assert_eq!(&bytes[..4], &(-1i32).to_le_bytes());
        assert_eq!(i32::decode_chunk(&bytes).unwrap(), values);
        let f = vec![1.5f64, f64::NAN];
        let back = f64::decode_chunk(&f64::encode_chunk(&f).unwrap()).unwrap();
        assert_eq!(back[0], 1.5);
        assert!(back[1].is_nan());
    }

    #[test]
    fn pod_decode_rejects_wrong_length() {
        assert!(i32::decode_n(&[0u8; 7], 2).is_err());
        assert!(u16::decode_n(&[0u8; 4], 2).is_ok());
    }

    #[test]
    fn bool_rejects_bytes_other_than_zero_and_one() {
        assert_eq!(
            bool::decode_n(&[0, 1, 1], 3).unwrap(),
            vec![false, true, true]
        );
        assert!(bool::decode_n(&[0, 2], 2).is_err());
    }

    #[test]
    fn string_round_trip_and_layout() {
        let values = vec!["hello".to_string(), String::new(), "wörld".to_string()];
        let bytes = String::encode_chunk(&values).unwrap();
        assert_eq!(&bytes[..4], &3u32.to_le_bytes());
        assert_eq!(&bytes[4..8], &0u32.to_le_bytes());
        assert_eq!(String::decode_chunk(&bytes).unwrap(), values);
        let bin = vec![vec![1u8, 2, 3], vec![], vec![255]];
        assert_eq!(
            Vec::<u8>::decode_chunk(&Vec::<u8>::encode_chunk(&bin).unwrap()).unwrap(),
            bin
        );
    }

    #[test]
    fn vlen_decode_rejects_damage() {
        let bytes = String::encode_chunk(&["ab".to_string(), "c".to_string()]).unwrap();
        // Wrong count.
        assert!(String::decode_n(&bytes, 3).is_err());
        // Truncated payload.
        assert!(String::decode_n(&bytes[..bytes.len() - 1], 2).is_err());
        // Decreasing offsets.
        let mut bad = bytes.clone();
        bad[8..12].copy_from_slice(&9u32.to_le_bytes());
        assert!(String::decode_n(&bad, 2).is_err());
        // Invalid UTF-8.
        let mut bad = bytes.clone();
        let last = bad.len() - 1;
        bad[last] = 0xff;
        assert!(String::decode_n(&bad, 2).is_err());
        // Too short for a header at all.
        assert!(String::decode_n(&[1, 0], 1).is_err());
    }

    #[test]
    fn fill_elements() {
        assert_eq!(i32::fill_element(Some(&FillValue::Int(-7))), -7);
        assert_eq!(u8::fill_element(Some(&FillValue::UInt(9))), 9);
        assert_eq!(f64::fill_element(Some(&FillValue::Float(1.5))), 1.5);
        assert_eq!(u8::fill_element(None), 0);
        assert!(bool::fill_element(Some(&FillValue::Bool(true))));
        assert_eq!(
            String::fill_element(Some(&FillValue::String("n/a".into()))),
            "n/a"
        );
        assert_eq!(
            TimestampNs::fill_element(Some(&FillValue::TimestampNs(5))),
            TimestampNs(5)
        );
    }

    #[test]
    fn nan_is_same_as_nan_fill() {
        assert!(f32::NAN.same_as(&f32::NAN));
        assert!(!1.0f32.same_as(&f32::NAN));
        assert!(2.0f64.same_as(&2.0));
    }
}
