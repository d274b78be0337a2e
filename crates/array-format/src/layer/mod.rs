//! One layer: the immutable reader of a committed layer, the pending layer
//! being written (with its buffer of partly written chunks, `dirty`), and
//! the frame packer both flush and compaction use.

mod compressed;
mod decode;
pub(crate) mod dirty;
mod evict;
pub(crate) mod frames;
pub(crate) mod pending;
pub(crate) mod reader;
mod units;

pub(crate) use compressed::Compressed;
pub(crate) use dirty::Values;
pub(crate) use frames::{ChunkLoc, DataLayout, FrameWriter, Lane, PENDING};
pub(crate) use pending::{Base, ChunkWrite, PendingArray, PendingChunk, PendingLayer, PendingOp};
pub(crate) use reader::{Adopted, LayerReader, worth_parallel};
pub(crate) use units::{Kept, io_cached};
