//! Per-array statistics: min, max, null count, row count.
//!
//! Statistics are computed once per chunk when the chunk is written, stored
//! with the chunk's address in the layer footer, and merged over the chunks
//! visible in the merged index. They therefore never need a data read and can
//! never disagree with the committed layers, whatever crashed in between.
//!
//! Semantics: `row_count` is the array's element count; `null_count` counts
//! elements of chunks never written plus, when the array has an explicit fill
//! value, elements of written chunks equal to it; `min`/`max` range over the
//! other elements of written chunks, NaN left out. Statistics work at chunk
//! granularity: a write that covers part of a chunk stores the whole chunk,
//! its unwritten positions holding the fill element (zero or empty when no
//! fill value was given), and those positions count like written ones.

use std::cmp::Ordering;

pub use crate::chunk_stats::MAX_STAT_BYTES;
pub(crate) use crate::chunk_stats::{ChunkStats, MinMax};
use crate::element::ArrayElement;
pub use crate::value::StatValue;

mod kernels;

/// Aggregate statistics of one array.
#[derive(Debug, Clone, PartialEq)]
pub struct ArrayStats {
    /// Name of the array these statistics describe.
    pub name: String,
    /// Smallest written, non-null, non-NaN element; `None` when there is none
    /// (or a string/binary extreme was longer than [`MAX_STAT_BYTES`]).
    pub min: Option<StatValue>,
    /// Largest written, non-null, non-NaN element.
    pub max: Option<StatValue>,
    /// Elements never written, plus written elements equal to the explicit
    /// fill value.
    pub null_count: u64,
    /// Total element count of the array.
    pub row_count: u64,
}

/// Statistics of every array of a file.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StatsFile {
    /// One entry per array, in the order of [`list_arrays`](crate::ArrayFile::list_arrays).
    pub arrays: Vec<ArrayStats>,
}

impl StatsFile {
    /// The statistics of the array named `name`, if present.
    pub fn get_array(&self, name: &str) -> Option<&ArrayStats> {
        self.arrays.iter().find(|a| a.name == name)
    }
}

fn bounded(v: StatValue) -> Option<StatValue> {
    match &v {
        StatValue::Bytes(b) if b.len() > MAX_STAT_BYTES => None,
        _ => Some(v),
    }
}

/// Computes a chunk's statistics; `fill` is the fill element when the array
/// has an explicit fill value.
pub(crate) fn chunk_stats<T: ArrayElement>(values: &[T], fill: Option<&T>) -> ChunkStats {
    kernels::numeric_stats(values, fill).unwrap_or_else(|| generic_stats(values, fill))
}

/// [`chunk_stats`] for any element type, one element at a time.
fn generic_stats<T: ArrayElement>(values: &[T], fill: Option<&T>) -> ChunkStats {
    let mut null_count = 0u64;
    let mut extremes: Option<(&T, &T)> = None;
    for v in values {
        if fill.is_some_and(|f| v.same_as(f)) {
            null_count += 1;
            continue;
        }
        if v.is_nan() || !T::ORDERED {
            continue;
        }
        extremes = Some(match extremes {
            None => (v, v),
            Some((lo, hi)) => (
                if v.stat_cmp(lo) == Ordering::Less {
                    v
                } else {
                    lo
                },
                if v.stat_cmp(hi) == Ordering::Greater {
                    v
                } else {
                    hi
                },
            ),
        });
    }
    let min_max = match extremes {
        None => MinMax::Empty,
        Some((lo, hi)) => match (bounded(lo.to_stat()), bounded(hi.to_stat())) {
            (Some(min), Some(max)) => MinMax::Range { min, max },
            _ => MinMax::Unavailable,
        },
    };
    ChunkStats {
        null_count,
        min_max,
    }
}

/// Merges chunk statistics into array statistics.
#[derive(Debug, Default)]
pub(crate) struct StatsAccumulator {
    null_count: u64,
    range: Option<(StatValue, StatValue)>,
    unavailable: bool,
}

impl StatsAccumulator {
    /// Adds one written chunk.
    pub(crate) fn add(&mut self, chunk: &ChunkStats) {
        self.null_count = self.null_count.saturating_add(chunk.null_count);
        match &chunk.min_max {
            MinMax::Empty => {}
            MinMax::Unavailable => self.unavailable = true,
            MinMax::Range { min, max } => {
                self.range = Some(match self.range.take() {
                    None => (min.clone(), max.clone()),
                    Some((lo, hi)) => (
                        if min.partial_order(&lo) == Some(Ordering::Less) {
                            min.clone()
                        } else {
                            lo
                        },
                        if max.partial_order(&hi) == Some(Ordering::Greater) {
                            max.clone()
                        } else {
                            hi
                        },
                    ),
                });
            }
        }
    }

    /// Adds `n` elements of never-written chunks.
    pub(crate) fn add_unwritten(&mut self, n: u64) {
        self.null_count = self.null_count.saturating_add(n);
    }

    /// The array statistics.
    pub(crate) fn finish(self, name: &str, row_count: u64) -> ArrayStats {
        let (min, max) = match (self.unavailable, self.range) {
            (false, Some((lo, hi))) => (Some(lo), Some(hi)),
            _ => (None, None),
        };
        ArrayStats {
            name: name.to_owned(),
            min,
            max,
            null_count: self.null_count,
            row_count,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn fill_values_are_nulls_and_excluded_from_range() {
        let s = chunk_stats(&[3i32, 1, 4, 1, 5, 9], Some(&1));
        assert_eq!(s.null_count, 2);
        assert_eq!(
            s.min_max,
            MinMax::Range {
                min: StatValue::Int(3),
                max: StatValue::Int(9)
            }
        );
        let s = chunk_stats(&[0i32, 7], None);
        assert_eq!(s.null_count, 0);
        assert_eq!(
            s.min_max,
            MinMax::Range {
                min: StatValue::Int(0),
                max: StatValue::Int(7)
            }
        );
    }

    #[test]
    fn nan_is_left_out_and_nan_fill_counts() {
        let s = chunk_stats(&[f32::NAN, 2.0, -1.0], None);
        assert_eq!(s.null_count, 0);
        assert_eq!(
            s.min_max,
            MinMax::Range {
                min: StatValue::Float(-1.0),
                max: StatValue::Float(2.0)
            }
        );
        let s = chunk_stats(&[f64::NAN, f64::NAN], Some(&f64::NAN));
        assert_eq!(s.null_count, 2);
        assert_eq!(s.min_max, MinMax::Empty);
    }

    #[test]
    fn strings_order_bytewise_and_long_extremes_are_dropped() {
        let v = vec!["banana".to_string(), "apple".into(), "cherry".into()];
        let s = chunk_stats(&v, None);
        assert_eq!(
            s.min_max,
            MinMax::Range {
                min: StatValue::Bytes(b"apple".to_vec()),
                max: StatValue::Bytes(b"cherry".to_vec())
            }
        );
        let long = vec!["a".to_string(), "z".repeat(MAX_STAT_BYTES + 1)];
        assert_eq!(chunk_stats(&long, None).min_max, MinMax::Unavailable);
    }

    #[test]
    fn accumulator_merges_and_counts_unwritten() {
        let mut acc = StatsAccumulator::default();
        acc.add(&chunk_stats(&[5i64, 10], Some(&10)));
        acc.add(&chunk_stats(&[2i64, 8], Some(&10)));
        acc.add_unwritten(4);
        let s = acc.finish("x", 8);
        assert_eq!(s.min, Some(StatValue::Int(2)));
        assert_eq!(s.max, Some(StatValue::Int(8)));
        assert_eq!(s.null_count, 5);
        assert_eq!(s.row_count, 8);

        let mut acc = StatsAccumulator::default();
        acc.add(&ChunkStats {
            null_count: 0,
            min_max: MinMax::Unavailable,
        });
        acc.add(&chunk_stats(&[1u8], None));
        let s = acc.finish("y", 2);
        assert_eq!((s.min, s.max), (None, None));
    }

    #[test]
    fn bool_and_timestamps() {
        let s = chunk_stats(&[true, true], Some(&false));
        assert_eq!(
            s.min_max,
            MinMax::Range {
                min: StatValue::UInt(1),
                max: StatValue::UInt(1)
            }
        );
        let t = [crate::TimestampNs(-5), crate::TimestampNs(20)];
        let s = chunk_stats(&t, Some(&crate::TimestampNs(20)));
        assert_eq!(s.null_count, 1);
        assert_eq!(
            s.min_max,
            MinMax::Range {
                min: StatValue::TimestampNs(-5),
                max: StatValue::TimestampNs(-5)
            }
        );
    }
}
