//! One layer: the immutable reader of a committed layer, the pending layer
//! being written, and the frame packer both flush and compaction use.

pub(crate) mod frames;
pub(crate) mod pending;
pub(crate) mod reader;

pub(crate) use frames::{ChunkLoc, DataLayout, FrameWriter};
pub(crate) use pending::{Base, PendingArray, PendingChunk, PendingLayer, PendingOp};
pub(crate) use reader::{LayerReader, PARALLEL_DECODE_BYTES};
