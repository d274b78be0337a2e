//! The footer: a layer's identity, block and frame tables, attribute
//! region and array records, and the footer's encoding; `tables.rs`
//! decodes everything before the array records (which `records.rs` reads).
//!
//! The byte layout is specified in `docs/FORMAT.md`; this module and its
//! siblings are its only implementation. Decoding validates everything that
//! can be checked without the layers below (table bounds, orderings, enum
//! tags, UTF-8).

use crate::chunk_stats::ChunkStats;
use crate::dtype::DType;
use crate::value::{AttributeValue, FillValue};

pub(crate) use super::blocks::{BlockEntry, FrameEntry, ObjectEntry};
#[cfg(test)]
use super::records::{AttrEntry, DefParts, Names, Op, RecordHead, RecordVisitor};
#[cfg(test)]
use super::tables::FooterTables;
#[cfg(test)]
use super::wire::WireResult;
#[cfg(test)]
use crate::error::{Error, Result};
#[cfg(test)]
use std::sync::Arc;

/// A 128-bit random identifier.
pub(crate) type Id = [u8; 16];

/// Whether a layer is a full state or a change on top of the one before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LayerKind {
    /// A complete state: layers with smaller numbers are not needed to read it.
    Snapshot,
    /// Changes on top of layer `seq - 1`.
    Delta,
    /// A staged part (format 5): chunks written against layer `seq`, in an
    /// object no reader lists, until a delta adopts its frames.
    Part,
}

/// Who a layer is and what it builds on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LayerHeader {
    /// Identifies the file (all layers of one file share it).
    pub(crate) dataset_id: Id,
    /// Unique per layer object; cache keys use it.
    pub(crate) layer_id: Id,
    /// `layer_id` of layer `seq - 1` (zero for the base).
    pub(crate) parent_id: Id,
    /// The layer's number, equal to the number in its object name.
    pub(crate) seq: u64,
    /// Number of the snapshot this layer builds on (its own for snapshots).
    pub(crate) generation: u64,
    /// Snapshot or delta.
    pub(crate) kind: LayerKind,
    /// Commit time, nanoseconds since the Unix epoch.
    pub(crate) created_ns: i64,
    /// The library that wrote the layer, for diagnostics.
    pub(crate) writer: String,
    /// For a snapshot: the `layer_id`s of the layers it merged (the previous
    /// snapshot and the deltas above it). A writer whose fresh layer lies
    /// below a newer snapshot learns from this whether its layer was merged
    /// or orphaned. Empty for deltas.
    pub(crate) merged: Vec<Id>,
}

/// The definition of an array.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ArrayDef {
    pub(crate) dtype: DType,
    pub(crate) shape: Vec<u64>,
    pub(crate) chunk_shape: Vec<u64>,
    pub(crate) dimension_names: Vec<String>,
    pub(crate) fill_value: Option<FillValue>,
    /// The codec spec the array's chunks are written with (`None`: not
    /// recorded; each writer's configured codec).
    pub(crate) codec: Option<String>,
}

/// What a layer does to an array.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RecordOp {
    /// (Re)defines the array: everything below is discarded.
    Define(ArrayDef),
    /// Changes chunks or attributes of the array visible below.
    Update,
    /// Deletes the array.
    Tombstone,
}

/// Where a chunk's bytes are and what they hold.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ChunkRecord {
    /// Linear (C-order) index in the chunk grid.
    pub(crate) index: u64,
    /// Number of the layer that wrote this version of the chunk (kept by
    /// compaction); concurrent writers compare it to detect conflicts.
    pub(crate) seq: u64,
    /// Frame holding the chunk.
    pub(crate) frame: u32,
    /// Offset of the chunk in the decompressed frame.
    pub(crate) offset: u64,
    /// Length of the chunk's encoded bytes.
    pub(crate) len: u64,
    /// Statistics computed when the chunk was written.
    pub(crate) stats: ChunkStats,
}

/// An attribute set (or removed) by a layer.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct AttrRecord {
    pub(crate) key: String,
    /// `None` removes the key (update records only).
    pub(crate) value: Option<AttributeValue>,
    /// Number of the layer that wrote it (kept by compaction).
    pub(crate) seq: u64,
}

/// One array's entry in a layer.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ArrayRecord {
    pub(crate) name: String,
    pub(crate) op: RecordOp,
    /// For a definition: the number of the layer that first defined this
    /// incarnation of the array (kept by compaction). 0 otherwise.
    pub(crate) defined_seq: u64,
    pub(crate) attrs: Vec<AttrRecord>,
    /// Chunks, sorted by index.
    pub(crate) chunks: Vec<ChunkRecord>,
}

/// A decoded footer.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Footer {
    pub(crate) header: LayerHeader,
    pub(crate) codecs: Vec<String>,
    /// The parts whose frames the layer adopts (format 5).
    pub(crate) objects: Vec<ObjectEntry>,
    pub(crate) blocks: Vec<BlockEntry>,
    pub(crate) frames: Vec<FrameEntry>,
    /// The file's own attributes: in a snapshot all of them, in a delta
    /// the changes (`None` removes a key). Sorted by key.
    pub(crate) file_attrs: Vec<AttrRecord>,
    pub(crate) arrays: Vec<ArrayRecord>,
}

pub(super) const OP_DEFINE: u8 = 0;
pub(super) const OP_UPDATE: u8 = 1;
pub(super) const OP_TOMBSTONE: u8 = 2;

pub(super) const KIND_SNAPSHOT: u8 = 0;
pub(super) const KIND_DELTA: u8 = 1;
pub(super) const KIND_PART: u8 = 2;

/// Deepest rank accepted from a file; far beyond any real array, small
/// enough that a damaged count cannot make decoding slow.
pub(crate) const MAX_RANK: u64 = 64;

impl Footer {
    /// Decodes and validates a whole footer, every record materialised. Open
    /// reads footers with [`FooterTables`] and [`RecordTable::walk`], which
    /// check exactly the same and allocate nothing per record.
    #[cfg(test)]
    pub(crate) fn decode(buf: &[u8], data_end: u64) -> WireResult<Footer> {
        let t = FooterTables::decode(buf, data_end, super::FORMAT_VERSION)?;
        let mut collect = Collect {
            keys: &t.keys,
            names: Names::default(),
            arrays: Vec::with_capacity(t.array_count),
        };
        let table = t.records("footer", buf);
        table.walk(&mut collect, true).map_err(|e| e.to_string())?;
        let arrays = collect.arrays;
        let mut file_attrs = Vec::new();
        for e in table
            .file_attr_entries(None)?
            .map_or(Vec::new(), |(_, e)| e)
        {
            file_attrs.push(AttrRecord {
                key: t.keys.get(e.key).map_or("", |k| k).to_owned(),
                value: e.value.map(|v| v.decode()).transpose()?,
                seq: e.seq,
            });
        }
        Ok(Footer {
            header: t.header,
            codecs: t.codecs,
            objects: t.objects,
            blocks: t.blocks,
            frames: t.frames,
            file_attrs,
            arrays,
        })
    }
}

/// Rebuilds the records of a walk, for [`Footer::decode`].
#[cfg(test)]
struct Collect<'k> {
    keys: &'k [Arc<str>],
    names: Names<'k>,
    arrays: Vec<ArrayRecord>,
}

#[cfg(test)]
impl<'a: 'k, 'k> RecordVisitor<'a> for Collect<'k> {
    fn record(&mut self, _at: usize, head: &RecordHead<'a>, def: &DefParts<'a>) -> Result<()> {
        self.names.once("footer", head.name)?;
        let op = match head.op {
            Op::Define(dtype) => RecordOp::Define(def.to_def(dtype)),
            Op::Update => RecordOp::Update,
            Op::Tombstone => RecordOp::Tombstone,
        };
        self.arrays.push(ArrayRecord {
            name: head.name.to_owned(),
            op,
            defined_seq: head.defined_seq,
            attrs: Vec::new(),
            chunks: Vec::new(),
        });
        Ok(())
    }

    fn attr(&mut self, attr: AttrEntry<'a>) -> Result<()> {
        let value = attr
            .value
            .map(|v| v.decode())
            .transpose()
            .map_err(|e| Error::corrupted("footer", e))?;
        let key = self.keys.get(attr.key).map_or("", |k| k).to_owned();
        if let Some(a) = self.arrays.last_mut() {
            a.attrs.push(AttrRecord {
                key,
                value,
                seq: attr.seq,
            });
        }
        Ok(())
    }

    fn chunk(&mut self, chunk: ChunkRecord) -> Result<()> {
        if let Some(a) = self.arrays.last_mut() {
            a.chunks.push(chunk);
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests;
