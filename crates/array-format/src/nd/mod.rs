//! Region and chunk-grid arithmetic for n-dimensional chunked arrays, plus
//! copies of hyper-rectangles between C-order buffers.
//!
//! | file | holds |
//! |------|-------|
//! | `region.rs` | [`Region`]: start and shape, intersection, containment |
//! | `grid.rs` | [`ChunkGrid`]: chunk coordinates, linear indices, clipped edge chunks |
//! | `copy.rs` | copies between C-order buffers, contiguous runs |

mod copy;
mod grid;
mod region;
#[cfg(test)]
mod tests;

pub(crate) use copy::{contiguous_range, copy_region, copy_region_bytes, to_usize};
pub(crate) use grid::ChunkGrid;
pub(crate) use region::Region;
