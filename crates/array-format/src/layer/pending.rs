//! The pending (uncommitted) layer: array records being built and the frames
//! of the chunks written since the last commit, spilled to a temporary file.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use bytes::Bytes;

use crate::codec::CodecSet;
use crate::error::Result;
use crate::format::{ArrayRecord, ChunkRecord, RecordOp};
use crate::meta::ArrayInfo;
use crate::stats::ChunkStats;
use crate::value::AttributeValue;

use super::frames::{ChunkLoc, DataLayout, FrameWriter};

/// What the pending layer does to an array.
#[derive(Debug, Clone)]
pub(crate) enum PendingOp {
    /// Defines the array afresh, hiding anything below.
    Define(Arc<ArrayInfo>),
    /// Changes the array visible below.
    Update,
    /// Deletes the array visible below.
    Tombstone,
}

/// A chunk written since the last commit.
#[derive(Debug, Clone)]
pub(crate) struct PendingChunk {
    pub(crate) loc: ChunkLoc,
    pub(crate) stats: ChunkStats,
}

/// One array's pending record.
#[derive(Debug)]
pub(crate) struct PendingArray {
    pub(crate) op: PendingOp,
    /// For `Define`: every attribute. For `Update`: changes, `None` removes.
    pub(crate) attrs: BTreeMap<String, Option<AttributeValue>>,
    pub(crate) chunks: HashMap<u64, PendingChunk>,
    /// Definition order among pending definitions.
    pub(crate) order: u64,
}

/// The pending layer.
#[derive(Debug)]
pub(crate) struct PendingLayer {
    frames: FrameWriter,
    arrays: HashMap<String, PendingArray>,
    next_order: u64,
}

impl PendingLayer {
    pub(crate) fn new(codecs: CodecSet, frame_target: usize) -> Result<Self> {
        Ok(Self {
            frames: FrameWriter::new(codecs, frame_target)?,
            arrays: HashMap::new(),
            next_order: 0,
        })
    }

    pub(crate) fn get(&self, name: &str) -> Option<&PendingArray> {
        self.arrays.get(name)
    }

    pub(crate) fn arrays(&self) -> impl Iterator<Item = (&String, &PendingArray)> {
        self.arrays.iter()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.arrays.is_empty()
    }

    fn release_all(&mut self, name: &str) -> Option<PendingArray> {
        let old = self.arrays.remove(name)?;
        for c in old.chunks.values() {
            self.frames.release(&c.loc);
        }
        Some(old)
    }

    /// Records a fresh definition, discarding any earlier pending record.
    pub(crate) fn define(&mut self, info: Arc<ArrayInfo>) {
        let name = info.meta.name.clone();
        self.release_all(&name);
        let order = self.next_order;
        self.next_order += 1;
        self.arrays.insert(
            name,
            PendingArray {
                op: PendingOp::Define(info),
                attrs: BTreeMap::new(),
                chunks: HashMap::new(),
                order,
            },
        );
    }

    /// Records a deletion of the array visible below.
    pub(crate) fn tombstone(&mut self, name: &str) {
        self.release_all(name);
        self.arrays.insert(
            name.to_owned(),
            PendingArray {
                op: PendingOp::Tombstone,
                attrs: BTreeMap::new(),
                chunks: HashMap::new(),
                order: 0,
            },
        );
    }

    /// Forgets an array defined only in this layer.
    pub(crate) fn forget(&mut self, name: &str) {
        self.release_all(name);
    }

    /// The record of an array visible below, created as an update if absent.
    pub(crate) fn record_mut(&mut self, name: &str) -> &mut PendingArray {
        self.arrays
            .entry(name.to_owned())
            .or_insert_with(|| PendingArray {
                op: PendingOp::Update,
                attrs: BTreeMap::new(),
                chunks: HashMap::new(),
                order: 0,
            })
    }

    /// Stores a chunk's encoded bytes, replacing any pending version.
    pub(crate) fn put_chunk(
        &mut self,
        name: &str,
        index: u64,
        bytes: &[u8],
        stats: ChunkStats,
    ) -> Result<()> {
        let loc = self.frames.add_chunk(bytes)?;
        let old = self
            .record_mut(name)
            .chunks
            .insert(index, PendingChunk { loc, stats });
        if let Some(old) = old {
            self.frames.release(&old.loc);
        }
        Ok(())
    }

    /// The bytes of a pending chunk.
    pub(crate) fn read_chunk(&self, chunk: &PendingChunk) -> Result<Bytes> {
        self.frames.read_chunk(&chunk.loc)
    }

    /// Lays out the live frames and builds the array records that point
    /// into that layout.
    pub(crate) fn finish(&mut self, block_target: u64) -> Result<(DataLayout, Vec<ArrayRecord>)> {
        let layout = self.frames.layout(block_target)?;
        let mut named: Vec<(&String, &PendingArray)> = self.arrays.iter().collect();
        // Definitions in the order they were made, then the rest by name, so
        // the layer lists arrays deterministically.
        named.sort_by(|a, b| {
            let key = |p: &PendingArray| match p.op {
                PendingOp::Define(_) => (0u8, p.order),
                _ => (1, 0),
            };
            key(a.1).cmp(&key(b.1)).then_with(|| a.0.cmp(b.0))
        });
        let mut records = Vec::with_capacity(named.len());
        for (name, p) in named {
            let op = match &p.op {
                PendingOp::Define(info) => RecordOp::Define(info.to_def()),
                PendingOp::Update => RecordOp::Update,
                PendingOp::Tombstone => RecordOp::Tombstone,
            };
            let mut chunks: Vec<ChunkRecord> = Vec::with_capacity(p.chunks.len());
            for (&index, c) in &p.chunks {
                let frame = layout
                    .remap
                    .get(c.loc.frame as usize)
                    .copied()
                    .flatten()
                    .ok_or_else(|| {
                        crate::error::Error::corrupted(
                            "<pending spill file>",
                            format!("chunk {index} of {name:?} points at a dropped frame"),
                        )
                    })?;
                chunks.push(ChunkRecord {
                    index,
                    frame,
                    offset: c.loc.offset,
                    len: c.loc.len,
                    stats: c.stats.clone(),
                });
            }
            chunks.sort_by_key(|c| c.index);
            records.push(ArrayRecord {
                name: name.clone(),
                op,
                attrs: p
                    .attrs
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
                chunks,
            });
        }
        Ok((layout, records))
    }

    /// The spill file holding the frames.
    pub(crate) fn spill(&self) -> &crate::storage::SpillFile {
        self.frames.spill()
    }
}
