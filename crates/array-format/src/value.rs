//! Scalar values that are not array data: fill values and attributes.

use std::cmp::Ordering;

use crate::dtype::DType;

/// The value of elements that were never written.
///
/// [`define_array`](crate::ArrayFile::define_array) checks that the value fits
/// the array's dtype and stores it in the dtype's canonical variant: `Int` for
/// signed integers, `UInt` for unsigned ones, `Float` for floats, `Bool`,
/// `String`, `Binary`, `TimestampNs` and `Complex`. Exact conversions are
/// accepted (a real value for a complex array has no imaginary part,
/// `Int(3)` for a `u8` array becomes `UInt(3)`); lossy ones are rejected: a
/// finite value beyond the range of `f16`, `bf16` or `f32` (or of the parts
/// of a `Complex64`) among them.
#[derive(Debug, Clone)]
pub enum FillValue {
    /// Boolean fill value.
    Bool(bool),
    /// Signed integer fill value.
    Int(i64),
    /// Unsigned integer fill value.
    UInt(u64),
    /// Floating-point fill value (NaN is allowed and compares equal to NaN).
    Float(f64),
    /// String fill value.
    String(String),
    /// Nanoseconds since the Unix epoch, for `TimestampNs` arrays.
    TimestampNs(i64),
    /// Byte-string fill value, for `Binary` arrays.
    Binary(Vec<u8>),
    /// Complex fill value, real then imaginary part, for `Complex64` and
    /// `Complex128` arrays.
    Complex(f64, f64),
}

impl PartialEq for FillValue {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Bool(a), Self::Bool(b)) => a == b,
            (Self::Int(a), Self::Int(b)) => a == b,
            (Self::UInt(a), Self::UInt(b)) => a == b,
            // Bit equality so that a NaN fill value equals itself.
            (Self::Float(a), Self::Float(b)) => a.to_bits() == b.to_bits(),
            (Self::String(a), Self::String(b)) => a == b,
            (Self::TimestampNs(a), Self::TimestampNs(b)) => a == b,
            (Self::Binary(a), Self::Binary(b)) => a == b,
            (Self::Complex(a, b), Self::Complex(c, d)) => {
                a.to_bits() == c.to_bits() && b.to_bits() == d.to_bits()
            }
            _ => false,
        }
    }
}

impl std::fmt::Display for FillValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FillValue::Bool(v) => write!(f, "{v}"),
            FillValue::Int(v) => write!(f, "{v}"),
            FillValue::UInt(v) => write!(f, "{v}"),
            FillValue::Float(v) => write!(f, "{v}"),
            FillValue::String(v) => write!(f, "{v:?}"),
            FillValue::TimestampNs(v) => write!(f, "{v}ns"),
            FillValue::Binary(v) => write!(f, "<{} bytes>", v.len()),
            FillValue::Complex(re, im) => write!(f, "{re}{im:+}i"),
        }
    }
}

fn int_range(dtype: DType) -> Option<(i128, i128)> {
    Some(match dtype {
        DType::Int8 => (i8::MIN.into(), i8::MAX.into()),
        DType::Int16 => (i16::MIN.into(), i16::MAX.into()),
        DType::Int32 => (i32::MIN.into(), i32::MAX.into()),
        DType::Int64 | DType::TimestampNs => (i64::MIN.into(), i64::MAX.into()),
        DType::UInt8 => (0, u8::MAX.into()),
        DType::UInt16 => (0, u16::MAX.into()),
        DType::UInt32 => (0, u32::MAX.into()),
        DType::UInt64 => (0, u64::MAX.into()),
        _ => return None,
    })
}

impl FillValue {
    /// The canonical form of this value for `dtype`, or `None` when it does
    /// not fit (wrong kind, out of range, or not exactly representable).
    pub fn canonical_for(&self, dtype: DType) -> Option<FillValue> {
        let as_int: Option<i128> = match self {
            FillValue::Int(v) | FillValue::TimestampNs(v) => Some((*v).into()),
            FillValue::UInt(v) => Some((*v).into()),
            // Integral floats convert exactly; the range check below bounds them.
            FillValue::Float(v) if v.fract() == 0.0 && v.abs() < 1.9e19 => Some(*v as i128),
            _ => None,
        };
        match dtype {
            DType::Bool => match self {
                FillValue::Bool(b) => Some(FillValue::Bool(*b)),
                FillValue::Int(0) | FillValue::UInt(0) => Some(FillValue::Bool(false)),
                FillValue::Int(1) | FillValue::UInt(1) => Some(FillValue::Bool(true)),
                _ => None,
            },
            DType::Int8 | DType::Int16 | DType::Int32 | DType::Int64 => {
                let (lo, hi) = int_range(dtype)?;
                let v = as_int.filter(|v| (lo..=hi).contains(v))?;
                Some(FillValue::Int(i64::try_from(v).ok()?))
            }
            DType::UInt8 | DType::UInt16 | DType::UInt32 | DType::UInt64 => {
                let (lo, hi) = int_range(dtype)?;
                let v = as_int.filter(|v| (lo..=hi).contains(v))?;
                Some(FillValue::UInt(u64::try_from(v).ok()?))
            }
            DType::TimestampNs => match self {
                FillValue::TimestampNs(v) | FillValue::Int(v) => Some(FillValue::TimestampNs(*v)),
                FillValue::UInt(v) => i64::try_from(*v).ok().map(FillValue::TimestampNs),
                _ => None,
            },
            DType::Float16 | DType::BFloat16 | DType::Float32 | DType::Float64 => {
                let v = real(self)?;
                fits_float(dtype, v).then_some(FillValue::Float(v))
            }
            DType::Complex64 | DType::Complex128 => {
                let (re, im) = match self {
                    FillValue::Complex(re, im) => (*re, *im),
                    other => (real(other)?, 0.0),
                };
                let part = match dtype {
                    DType::Complex64 => DType::Float32,
                    _ => DType::Float64,
                };
                (fits_float(part, re) && fits_float(part, im)).then_some(FillValue::Complex(re, im))
            }
            DType::String => match self {
                FillValue::String(s) => Some(FillValue::String(s.clone())),
                _ => None,
            },
            DType::Binary => match self {
                FillValue::Binary(b) => Some(FillValue::Binary(b.clone())),
                FillValue::String(s) => Some(FillValue::Binary(s.as_bytes().to_vec())),
                _ => None,
            },
        }
    }
}

/// The real value `fill` stands for, if it is a number.
fn real(fill: &FillValue) -> Option<f64> {
    match fill {
        FillValue::Float(v) => Some(*v),
        FillValue::Int(v) => Some(*v as f64),
        FillValue::UInt(v) => Some(*v as f64),
        _ => None,
    }
}

/// Whether `v` converts to float type `dtype` without a finite value
/// overflowing to infinity (NaN, infinities and values that merely round
/// convert).
fn fits_float(dtype: DType, v: f64) -> bool {
    let overflows = match dtype {
        DType::Float16 => half::f16::from_f64(v).is_infinite(),
        DType::BFloat16 => half::bf16::from_f64(v).is_infinite(),
        DType::Float32 => (v as f32).is_infinite(),
        _ => false,
    };
    !(v.is_finite() && overflows)
}

/// A typed min or max value.
#[derive(Debug, Clone, PartialEq)]
pub enum StatValue {
    /// Signed integer value (signed integer dtypes).
    Int(i64),
    /// Unsigned integer value (unsigned integer dtypes; `bool` as 0/1).
    UInt(u64),
    /// Floating-point value (`Float32`/`Float64`).
    Float(f64),
    /// String or binary value, ordered bytewise.
    Bytes(Vec<u8>),
    /// Nanoseconds since the Unix epoch (`TimestampNs`).
    TimestampNs(i64),
}

impl StatValue {
    /// Orders two values of the same variant; `None` across variants.
    pub(crate) fn partial_order(&self, other: &Self) -> Option<Ordering> {
        match (self, other) {
            (StatValue::Int(a), StatValue::Int(b)) => Some(a.cmp(b)),
            (StatValue::UInt(a), StatValue::UInt(b)) => Some(a.cmp(b)),
            (StatValue::Float(a), StatValue::Float(b)) => Some(a.total_cmp(b)),
            (StatValue::Bytes(a), StatValue::Bytes(b)) => Some(a.cmp(b)),
            (StatValue::TimestampNs(a), StatValue::TimestampNs(b)) => Some(a.cmp(b)),
            _ => None,
        }
    }
}

impl std::fmt::Display for StatValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StatValue::Int(v) => write!(f, "{v}"),
            StatValue::UInt(v) => write!(f, "{v}"),
            StatValue::Float(v) => write!(f, "{v}"),
            StatValue::Bytes(v) => match std::str::from_utf8(v) {
                Ok(s) => write!(f, "{s:?}"),
                Err(_) => write!(f, "<{} bytes>", v.len()),
            },
            StatValue::TimestampNs(v) => write!(f, "{v}ns"),
        }
    }
}

/// The value of a per-array attribute.
///
/// Floats compare by bit pattern, so a NaN attribute equals itself.
#[derive(Debug, Clone)]
pub enum AttributeValue {
    /// Boolean value.
    Bool(bool),
    /// Signed 8-bit integer.
    Int8(i8),
    /// Signed 16-bit integer.
    Int16(i16),
    /// Signed 32-bit integer.
    Int32(i32),
    /// Signed 64-bit integer.
    Int64(i64),
    /// Unsigned 8-bit integer.
    UInt8(u8),
    /// Unsigned 16-bit integer.
    UInt16(u16),
    /// Unsigned 32-bit integer.
    UInt32(u32),
    /// Unsigned 64-bit integer.
    UInt64(u64),
    /// 32-bit floating point.
    Float32(f32),
    /// 64-bit floating point.
    Float64(f64),
    /// UTF-8 string.
    String(String),
    /// Raw bytes.
    Binary(Vec<u8>),
    /// List of booleans.
    BoolList(Vec<bool>),
    /// List of signed 8-bit integers.
    Int8List(Vec<i8>),
    /// List of signed 16-bit integers.
    Int16List(Vec<i16>),
    /// List of signed 32-bit integers.
    Int32List(Vec<i32>),
    /// List of signed 64-bit integers.
    Int64List(Vec<i64>),
    /// List of unsigned 8-bit integers.
    UInt8List(Vec<u8>),
    /// List of unsigned 16-bit integers.
    UInt16List(Vec<u16>),
    /// List of unsigned 32-bit integers.
    UInt32List(Vec<u32>),
    /// List of unsigned 64-bit integers.
    UInt64List(Vec<u64>),
    /// List of 32-bit floats.
    Float32List(Vec<f32>),
    /// List of 64-bit floats.
    Float64List(Vec<f64>),
    /// List of strings.
    StringList(Vec<String>),
}

fn f32_bits_eq(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

fn f64_bits_eq(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

impl PartialEq for AttributeValue {
    fn eq(&self, other: &Self) -> bool {
        use AttributeValue as A;
        match (self, other) {
            (A::Bool(a), A::Bool(b)) => a == b,
            (A::Int8(a), A::Int8(b)) => a == b,
            (A::Int16(a), A::Int16(b)) => a == b,
            (A::Int32(a), A::Int32(b)) => a == b,
            (A::Int64(a), A::Int64(b)) => a == b,
            (A::UInt8(a), A::UInt8(b)) => a == b,
            (A::UInt16(a), A::UInt16(b)) => a == b,
            (A::UInt32(a), A::UInt32(b)) => a == b,
            (A::UInt64(a), A::UInt64(b)) => a == b,
            (A::Float32(a), A::Float32(b)) => a.to_bits() == b.to_bits(),
            (A::Float64(a), A::Float64(b)) => a.to_bits() == b.to_bits(),
            (A::String(a), A::String(b)) => a == b,
            (A::Binary(a), A::Binary(b)) => a == b,
            (A::BoolList(a), A::BoolList(b)) => a == b,
            (A::Int8List(a), A::Int8List(b)) => a == b,
            (A::Int16List(a), A::Int16List(b)) => a == b,
            (A::Int32List(a), A::Int32List(b)) => a == b,
            (A::Int64List(a), A::Int64List(b)) => a == b,
            (A::UInt8List(a), A::UInt8List(b)) => a == b,
            (A::UInt16List(a), A::UInt16List(b)) => a == b,
            (A::UInt32List(a), A::UInt32List(b)) => a == b,
            (A::UInt64List(a), A::UInt64List(b)) => a == b,
            (A::Float32List(a), A::Float32List(b)) => f32_bits_eq(a, b),
            (A::Float64List(a), A::Float64List(b)) => f64_bits_eq(a, b),
            (A::StringList(a), A::StringList(b)) => a == b,
            _ => false,
        }
    }
}

impl AttributeValue {
    /// The name of the value's type, as the CLI prints it (`"f64"`, `"string"`,
    /// `"i32[]"`).
    pub fn type_name(&self) -> &'static str {
        use AttributeValue as A;
        match self {
            A::Bool(_) => "bool",
            A::Int8(_) => "i8",
            A::Int16(_) => "i16",
            A::Int32(_) => "i32",
            A::Int64(_) => "i64",
            A::UInt8(_) => "u8",
            A::UInt16(_) => "u16",
            A::UInt32(_) => "u32",
            A::UInt64(_) => "u64",
            A::Float32(_) => "f32",
            A::Float64(_) => "f64",
            A::String(_) => "string",
            A::Binary(_) => "binary",
            A::BoolList(_) => "bool[]",
            A::Int8List(_) => "i8[]",
            A::Int16List(_) => "i16[]",
            A::Int32List(_) => "i32[]",
            A::Int64List(_) => "i64[]",
            A::UInt8List(_) => "u8[]",
            A::UInt16List(_) => "u16[]",
            A::UInt32List(_) => "u32[]",
            A::UInt64List(_) => "u64[]",
            A::Float32List(_) => "f32[]",
            A::Float64List(_) => "f64[]",
            A::StringList(_) => "string[]",
        }
    }
}

macro_rules! attribute_from {
    ($($t:ty => $v:ident),* $(,)?) => {
        $(impl From<$t> for AttributeValue {
            fn from(v: $t) -> Self {
                AttributeValue::$v(v)
            }
        })*
    };
}

attribute_from!(
    bool => Bool, i8 => Int8, i16 => Int16, i32 => Int32, i64 => Int64,
    u8 => UInt8, u16 => UInt16, u32 => UInt32, u64 => UInt64,
    f32 => Float32, f64 => Float64, String => String,
    Vec<bool> => BoolList, Vec<i8> => Int8List, Vec<i16> => Int16List,
    Vec<i32> => Int32List, Vec<i64> => Int64List, Vec<u16> => UInt16List,
    Vec<u32> => UInt32List, Vec<u64> => UInt64List, Vec<f32> => Float32List,
    Vec<f64> => Float64List, Vec<String> => StringList,
);

impl From<&str> for AttributeValue {
    fn from(v: &str) -> Self {
        AttributeValue::String(v.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_values_canonicalise_exactly() {
        assert_eq!(
            FillValue::Int(3).canonical_for(DType::UInt8),
            Some(FillValue::UInt(3))
        );
        assert_eq!(FillValue::Int(300).canonical_for(DType::UInt8), None);
        assert_eq!(FillValue::Int(-1).canonical_for(DType::UInt64), None);
        assert_eq!(FillValue::UInt(u64::MAX).canonical_for(DType::Int64), None);
        assert_eq!(
            FillValue::Float(2.0).canonical_for(DType::Int16),
            Some(FillValue::Int(2))
        );
        assert_eq!(FillValue::Float(2.5).canonical_for(DType::Int16), None);
        assert_eq!(
            FillValue::Int(7).canonical_for(DType::Float32),
            Some(FillValue::Float(7.0))
        );
        assert_eq!(FillValue::Float(1e300).canonical_for(DType::Float32), None);
        assert!(
            FillValue::Float(f64::NAN)
                .canonical_for(DType::Float32)
                .is_some()
        );
        assert_eq!(
            FillValue::String("x".into()).canonical_for(DType::Int32),
            None
        );
        assert_eq!(FillValue::Bool(true).canonical_for(DType::Int32), None);
        assert_eq!(
            FillValue::Int(1).canonical_for(DType::Bool),
            Some(FillValue::Bool(true))
        );
        assert_eq!(
            FillValue::Int(-5).canonical_for(DType::TimestampNs),
            Some(FillValue::TimestampNs(-5))
        );
        assert_eq!(
            FillValue::String("ab".into()).canonical_for(DType::Binary),
            Some(FillValue::Binary(b"ab".to_vec()))
        );
    }

    #[test]
    fn nan_equals_nan() {
        assert_eq!(FillValue::Float(f64::NAN), FillValue::Float(f64::NAN));
        assert_eq!(
            AttributeValue::Float32List(vec![f32::NAN]),
            AttributeValue::Float32List(vec![f32::NAN])
        );
        assert_ne!(AttributeValue::Int32(1), AttributeValue::Int64(1));
    }
}
