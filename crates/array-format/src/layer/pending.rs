//! The pending (uncommitted) layer: array records being built and the frames
//! of the chunks written since the last commit, spilled to a temporary file.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use bytes::Bytes;

use crate::codec::CodecSet;
use crate::error::Result;
use crate::format::{ArrayRecord, AttrRecord, ChunkRecord, RecordOp};
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
    /// The newest committed layer when the chunk was written: a committed
    /// version newer than this means another writer changed the chunk.
    pub(crate) base_seq: u64,
}

/// The committed state a pending change was made against.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Base {
    /// The newest committed layer number.
    pub(crate) seq: u64,
    /// `defined_seq` of the committed array changed (0 if none).
    pub(crate) defined_seq: u64,
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
    /// What the record was made against (for updates and tombstones).
    pub(crate) base: Base,
    /// Per attribute key: the newest committed layer when it was last set or
    /// removed here (a key re-set after a refresh is judged by that view).
    pub(crate) attr_bases: HashMap<String, u64>,
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
        // Redefining a deleted committed array keeps the deletion's base, so
        // a flush can tell whether another writer changed that array since.
        let base = match self.release_all(&name) {
            Some(old) if matches!(old.op, PendingOp::Tombstone) => old.base,
            _ => Base::default(),
        };
        let order = self.next_order;
        self.next_order += 1;
        self.arrays.insert(
            name,
            PendingArray {
                op: PendingOp::Define(info),
                attrs: BTreeMap::new(),
                chunks: HashMap::new(),
                order,
                base,
                attr_bases: HashMap::new(),
            },
        );
    }

    /// Records a deletion of the array visible below.
    pub(crate) fn tombstone(&mut self, name: &str, base: Base) {
        let base = match self.release_all(name) {
            // An earlier change to the committed array (an update, or a
            // deletion the record replaced) keeps the base it was made
            // against; a fresh definition of a free name has none.
            Some(old) if !matches!(old.op, PendingOp::Define(_)) || old.base.defined_seq != 0 => {
                old.base
            }
            _ => base,
        };
        self.arrays.insert(
            name.to_owned(),
            PendingArray {
                op: PendingOp::Tombstone,
                attrs: BTreeMap::new(),
                chunks: HashMap::new(),
                order: 0,
                base,
                attr_bases: HashMap::new(),
            },
        );
    }

    /// Forgets an array defined only in this layer.
    pub(crate) fn forget(&mut self, name: &str) {
        self.release_all(name);
    }

    /// The record of an array, created as an update of the array visible
    /// below (made against `base`) if absent.
    pub(crate) fn record_mut(&mut self, name: &str, base: Base) -> &mut PendingArray {
        self.arrays
            .entry(name.to_owned())
            .or_insert_with(|| PendingArray {
                op: PendingOp::Update,
                attrs: BTreeMap::new(),
                chunks: HashMap::new(),
                order: 0,
                base,
                attr_bases: HashMap::new(),
            })
    }

    /// Stores a chunk's encoded bytes, replacing any pending version.
    pub(crate) fn put_chunk(
        &mut self,
        name: &str,
        index: u64,
        bytes: &[u8],
        stats: ChunkStats,
        base: Base,
        chunk_base: u64,
    ) -> Result<()> {
        let loc = self.frames.add_chunk(bytes)?;
        let chunk = PendingChunk {
            loc,
            stats,
            base_seq: chunk_base,
        };
        let old = self.record_mut(name, base).chunks.insert(index, chunk);
        if let Some(old) = old {
            self.frames.release(&old.loc);
        }
        Ok(())
    }

    /// The bytes of a pending chunk.
    pub(crate) fn read_chunk(&self, chunk: &PendingChunk) -> Result<Bytes> {
        self.frames.read_chunk(&chunk.loc)
    }

    /// Lays out the live frames and builds the array records, for layer
    /// number `seq`, that point into that layout.
    pub(crate) fn finish(
        &mut self,
        block_target: u64,
        seq: u64,
    ) -> Result<(DataLayout, Vec<ArrayRecord>)> {
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
                    seq,
                    frame,
                    offset: c.loc.offset,
                    len: c.loc.len,
                    stats: c.stats.clone(),
                });
            }
            chunks.sort_by_key(|c| c.index);
            let defined_seq = if matches!(op, RecordOp::Define(_)) {
                seq
            } else {
                0
            };
            records.push(ArrayRecord {
                name: name.clone(),
                op,
                defined_seq,
                attrs: p
                    .attrs
                    .iter()
                    .map(|(k, v)| AttrRecord {
                        key: k.clone(),
                        value: v.clone(),
                        seq,
                    })
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::NoCompression;
    use crate::dtype::DType;
    use crate::meta::MergedArrayMeta;
    use crate::stats::MinMax;

    fn info(name: &str) -> Arc<ArrayInfo> {
        Arc::new(
            ArrayInfo::new(MergedArrayMeta {
                name: name.into(),
                dtype: DType::UInt8,
                shape: vec![8],
                chunk_shape: vec![4],
                dimension_names: vec!["x".into()],
                fill_value: None,
            })
            .unwrap(),
        )
    }

    fn stats() -> ChunkStats {
        ChunkStats {
            null_count: 0,
            min_max: MinMax::Empty,
        }
    }

    fn layer() -> PendingLayer {
        PendingLayer::new(CodecSet::new(Arc::new(NoCompression)), 1024).unwrap()
    }

    #[test]
    fn overwritten_chunks_are_released_and_only_live_frames_remain() {
        let mut p = layer();
        p.define(info("a"));
        p.put_chunk("a", 0, &[1; 4], stats(), Base::default(), 0)
            .unwrap();
        p.put_chunk("a", 0, &[2; 4], stats(), Base::default(), 0)
            .unwrap();
        p.put_chunk("a", 1, &[3; 4], stats(), Base::default(), 0)
            .unwrap();
        let c = p.get("a").unwrap().chunks.get(&0).unwrap().clone();
        assert_eq!(&p.read_chunk(&c).unwrap()[..], &[2; 4]);
        let (layout, records) = p.finish(1 << 20, 7).unwrap();
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].defined_seq, 7);
        assert!(records[0].chunks.iter().all(|c| c.seq == 7));
        assert!(matches!(records[0].op, RecordOp::Define(_)));
        let idx: Vec<u64> = records[0].chunks.iter().map(|c| c.index).collect();
        assert_eq!(idx, vec![0, 1]);
        // The three chunks shared one frame; it stays because two are live.
        assert_eq!(layout.frames.len(), 1);
    }

    #[test]
    fn tombstone_forget_and_redefine() {
        let mut p = layer();
        p.define(info("new"));
        p.put_chunk("new", 0, &[1; 4], stats(), Base::default(), 0)
            .unwrap();
        p.forget("new");
        assert!(p.get("new").is_none());
        p.tombstone("old", Base::default());
        p.define(info("old"));
        assert!(matches!(p.get("old").unwrap().op, PendingOp::Define(_)));
        p.record_mut("other", Base::default())
            .attrs
            .insert("k".into(), None);
        let (layout, records) = p.finish(1 << 20, 3).unwrap();
        // Nothing live: the frame of the forgotten chunk is left out.
        assert!(layout.frames.is_empty());
        let ops: Vec<(&str, bool)> = records
            .iter()
            .map(|r| (r.name.as_str(), matches!(r.op, RecordOp::Update)))
            .collect();
        assert_eq!(ops, vec![("old", false), ("other", true)]);
    }
}
