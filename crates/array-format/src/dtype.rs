//! Element types of arrays.

/// The element type of an array, as recorded in the file.
///
/// Fixed-width types are stored little-endian; `String` and `Binary` are
/// variable-length (see `docs/FORMAT.md`, "Chunk encoding").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DType {
    /// Boolean stored as 1 byte (`0` or `1`).
    Bool,
    /// Signed 8-bit integer.
    Int8,
    /// Signed 16-bit integer.
    Int16,
    /// Signed 32-bit integer.
    Int32,
    /// Signed 64-bit integer.
    Int64,
    /// Unsigned 8-bit integer.
    UInt8,
    /// Unsigned 16-bit integer.
    UInt16,
    /// Unsigned 32-bit integer.
    UInt32,
    /// Unsigned 64-bit integer.
    UInt64,
    /// 32-bit IEEE 754 floating point.
    Float32,
    /// 64-bit IEEE 754 floating point.
    Float64,
    /// Variable-length UTF-8 string.
    String,
    /// Variable-length byte string.
    Binary,
    /// Nanoseconds since the Unix epoch, stored like `Int64`.
    TimestampNs,
    /// 16-bit IEEE 754 floating point ([`half::f16`]).
    Float16,
    /// bfloat16: the top 16 bits of an `f32` ([`half::bf16`]), as ML
    /// frameworks store tensors.
    BFloat16,
    /// A complex number of two `f32`, real part first
    /// ([`num_complex::Complex<f32>`]).
    Complex64,
    /// A complex number of two `f64`, real part first
    /// ([`num_complex::Complex<f64>`]).
    Complex128,
}

/// Every dtype, in on-disk code order.
pub(crate) const ALL_DTYPES: [DType; 18] = [
    DType::Bool,
    DType::Int8,
    DType::Int16,
    DType::Int32,
    DType::Int64,
    DType::UInt8,
    DType::UInt16,
    DType::UInt32,
    DType::UInt64,
    DType::Float32,
    DType::Float64,
    DType::String,
    DType::Binary,
    DType::TimestampNs,
    DType::Float16,
    DType::BFloat16,
    DType::Complex64,
    DType::Complex128,
];

impl DType {
    /// Byte size of one element for fixed-width types, `None` for
    /// variable-length types.
    pub fn element_size(&self) -> Option<usize> {
        match self {
            DType::Bool | DType::Int8 | DType::UInt8 => Some(1),
            DType::Int16 | DType::UInt16 | DType::Float16 | DType::BFloat16 => Some(2),
            DType::Int32 | DType::UInt32 | DType::Float32 => Some(4),
            DType::Int64
            | DType::UInt64
            | DType::Float64
            | DType::TimestampNs
            | DType::Complex64 => Some(8),
            DType::Complex128 => Some(16),
            DType::String | DType::Binary => None,
        }
    }

    /// `true` for the floats: `f16`, `bf16`, `f32`, `f64`.
    pub fn is_float(&self) -> bool {
        matches!(
            self,
            DType::Float16 | DType::BFloat16 | DType::Float32 | DType::Float64
        )
    }

    /// `true` for the complex numbers: `c64`, `c128`.
    pub fn is_complex(&self) -> bool {
        matches!(self, DType::Complex64 | DType::Complex128)
    }

    /// `true` for `String` and `Binary`.
    pub fn is_variable_length(&self) -> bool {
        self.element_size().is_none()
    }

    /// The lower-case name used in messages and by the CLI (`"f32"`, `"string"`).
    pub fn name(&self) -> &'static str {
        match self {
            DType::Bool => "bool",
            DType::Int8 => "i8",
            DType::Int16 => "i16",
            DType::Int32 => "i32",
            DType::Int64 => "i64",
            DType::UInt8 => "u8",
            DType::UInt16 => "u16",
            DType::UInt32 => "u32",
            DType::UInt64 => "u64",
            DType::Float32 => "f32",
            DType::Float64 => "f64",
            DType::String => "string",
            DType::Binary => "binary",
            DType::TimestampNs => "timestamp_ns",
            DType::Float16 => "f16",
            DType::BFloat16 => "bf16",
            DType::Complex64 => "c64",
            DType::Complex128 => "c128",
        }
    }

    /// The dtype whose [`name`](Self::name) is `name`.
    pub fn from_name(name: &str) -> Option<DType> {
        ALL_DTYPES.iter().copied().find(|d| d.name() == name)
    }

    /// The one-byte code that identifies the dtype on disk.
    pub(crate) fn code(&self) -> u8 {
        match self {
            DType::Bool => 1,
            DType::Int8 => 2,
            DType::Int16 => 3,
            DType::Int32 => 4,
            DType::Int64 => 5,
            DType::UInt8 => 6,
            DType::UInt16 => 7,
            DType::UInt32 => 8,
            DType::UInt64 => 9,
            DType::Float32 => 10,
            DType::Float64 => 11,
            DType::String => 12,
            DType::Binary => 13,
            DType::TimestampNs => 14,
            DType::Float16 => 15,
            DType::BFloat16 => 16,
            DType::Complex64 => 17,
            DType::Complex128 => 18,
        }
    }

    /// The dtype with on-disk code `code`.
    pub(crate) fn from_code(code: u8) -> Option<DType> {
        ALL_DTYPES.iter().copied().find(|d| d.code() == code)
    }
}

impl std::fmt::Display for DType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_names_round_trip() {
        for d in ALL_DTYPES {
            assert_eq!(DType::from_code(d.code()), Some(d));
            assert_eq!(DType::from_name(d.name()), Some(d));
        }
        assert_eq!(DType::from_code(0), None);
        assert_eq!(DType::from_code(19), None);
        assert_eq!(DType::from_name("float"), None);
    }

    #[test]
    fn element_sizes() {
        assert_eq!(DType::Bool.element_size(), Some(1));
        assert_eq!(DType::Int16.element_size(), Some(2));
        assert_eq!(DType::Float32.element_size(), Some(4));
        assert_eq!(DType::TimestampNs.element_size(), Some(8));
        assert!(DType::String.is_variable_length());
        assert!(DType::Binary.is_variable_length());
        assert!(!DType::UInt64.is_variable_length());
    }
}
