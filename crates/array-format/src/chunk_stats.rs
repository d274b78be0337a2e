//! The statistics of one stored chunk as its record holds them: plain
//! values the format encodes and decodes, below the code that computes
//! them (`stats/`), so that the format depends on nothing above it.

use std::cmp::Ordering;

use crate::dtype::DType;
use crate::value::StatValue;

/// String and binary extremes longer than this are not kept: statistics live
/// in every layer footer and must stay small.
pub const MAX_STAT_BYTES: usize = 1024;

/// The min/max part of a chunk's statistics.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum MinMax {
    /// No written element qualified (all null or NaN).
    Empty,
    /// The smallest and largest qualifying element.
    Range {
        /// Smallest.
        min: StatValue,
        /// Largest.
        max: StatValue,
    },
    /// An extreme was too long to keep; the array's min/max are unknown.
    Unavailable,
}

/// Statistics of one stored chunk, computed when it is written.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ChunkStats {
    /// Elements equal to the explicit fill value.
    pub(crate) null_count: u64,
    /// Extremes of the other elements.
    pub(crate) min_max: MinMax,
}

impl ChunkStats {
    /// Whether statistics read from a file can belong to a chunk of `len`
    /// elements of `dtype`: the right variant, `min <= max`, nulls bounded.
    pub(crate) fn plausible(&self, dtype: DType, len: u64) -> bool {
        use DType as D;
        if self.null_count > len {
            return false;
        }
        let MinMax::Range { min, max } = &self.min_max else {
            return true;
        };
        let kind_ok = |v: &StatValue| match dtype {
            D::Int8 | D::Int16 | D::Int32 | D::Int64 => matches!(v, StatValue::Int(_)),
            D::UInt8 | D::UInt16 | D::UInt32 | D::UInt64 | D::Bool => {
                matches!(v, StatValue::UInt(_))
            }
            D::Float16 | D::BFloat16 | D::Float32 | D::Float64 => {
                matches!(v, StatValue::Float(_))
            }
            // Complex numbers have no order, so no range.
            D::Complex64 | D::Complex128 => false,
            D::String | D::Binary => matches!(v, StatValue::Bytes(_)),
            D::TimestampNs => matches!(v, StatValue::TimestampNs(_)),
        };
        kind_ok(min) && kind_ok(max) && min.partial_order(max) != Some(Ordering::Greater)
    }
}
