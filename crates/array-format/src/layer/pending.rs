//! The pending (uncommitted) layer: array records being built, the frames
//! of the chunks written since the last commit, spilled to a temporary file,
//! and the partially written chunks still held decoded in memory (up to a
//! byte budget) until they are evicted or committed.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use bytes::Bytes;

use crate::codec::CodecSet;
use crate::error::{Error, Result};
use crate::format::{ArrayRecord, AttrRecord, ChunkRecord, RecordOp};
use crate::meta::ArrayInfo;
use crate::stats::ChunkStats;
use crate::storage::SpillFile;
use crate::value::AttributeValue;

use super::compressed::Compressed;
use super::dirty::{DirtyIndex, DirtyValues, Round};
use super::frames::{ChunkLoc, DataLayout, FrameWriter, Lane, PENDING};

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

/// Where a pending chunk's bytes are.
#[derive(Debug)]
pub(crate) enum ChunkData {
    /// In a frame of the spill file, with the statistics computed when it
    /// was stored.
    Stored { loc: ChunkLoc, stats: ChunkStats },
    /// Decoded in memory; `tick` is its place in the eviction order,
    /// `filled` the elements written since it was buffered (or last known
    /// complete), `lane` the codec it will be stored with. Only this record
    /// holds `values` (so writes patch them in place).
    Dirty {
        values: Arc<dyn DirtyValues>,
        tick: u64,
        filled: u64,
        lane: Lane,
    },
    /// Evicted, being sealed in the background by round `round`; readable
    /// meanwhile, and stored when the round's outcome is collected.
    Sealing {
        values: Arc<dyn DirtyValues>,
        round: u64,
        lane: Lane,
    },
}

/// A chunk written since the last commit.
#[derive(Debug)]
pub(crate) struct PendingChunk {
    pub(crate) data: ChunkData,
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

/// What a new version of a chunk is made against, and the codec lane it is
/// stored with (its array's).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ChunkWrite {
    /// The committed state the array's record was made against.
    pub(crate) base: Base,
    /// The newest committed layer the chunk's new version derives from.
    pub(crate) chunk_base: u64,
    pub(crate) lane: Lane,
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

/// Changes to the file's own attributes.
#[derive(Debug, Default)]
pub(crate) struct FileAttrChanges {
    /// `None` removes the key.
    pub(crate) changes: BTreeMap<String, Option<AttributeValue>>,
    /// Per key: the newest committed layer when it was last set or removed
    /// here (what a concurrent change of the key is judged against).
    pub(crate) bases: HashMap<String, u64>,
}

/// The pending layer.
#[derive(Debug)]
pub(crate) struct PendingLayer {
    pub(super) frames: FrameWriter,
    pub(super) arrays: HashMap<String, PendingArray>,
    file_attrs: FileAttrChanges,
    next_order: u64,
    pub(super) dirty: DirtyIndex,
    /// Byte budget of the decoded chunks held in memory.
    pub(super) dirty_capacity: usize,
    /// The eviction round sealing chunks in the background, if any.
    pub(super) round: Option<Round>,
    pub(super) next_round: u64,
}

impl PendingLayer {
    /// An empty pending layer: frames of about `frame_target` bytes,
    /// at most about `dirty_capacity` bytes of decoded chunks in memory.
    #[cfg(test)]
    pub(crate) fn new(
        codecs: CodecSet,
        frame_target: usize,
        dirty_capacity: usize,
    ) -> Result<Self> {
        Self::new_in(None, codecs, frame_target, dirty_capacity)
    }

    /// Like [`new`](Self::new), spilling into `dir` where it can
    /// ([`SpillFile::new_in`]).
    pub(crate) fn new_in(
        dir: Option<&std::path::Path>,
        codecs: CodecSet,
        frame_target: usize,
        dirty_capacity: usize,
    ) -> Result<Self> {
        Ok(Self::over(
            SpillFile::new_in(dir)?,
            codecs,
            frame_target,
            dirty_capacity,
        ))
    }

    /// An empty pending layer spilling into `spill`.
    pub(crate) fn over(
        spill: SpillFile,
        codecs: CodecSet,
        frame_target: usize,
        dirty_capacity: usize,
    ) -> Self {
        Self {
            frames: FrameWriter::over(spill, codecs, frame_target),
            arrays: HashMap::new(),
            file_attrs: FileAttrChanges::default(),
            next_order: 0,
            dirty: DirtyIndex::default(),
            dirty_capacity,
            round: None,
            next_round: 0,
        }
    }

    pub(crate) fn get(&self, name: &str) -> Option<&PendingArray> {
        self.arrays.get(name)
    }

    pub(crate) fn arrays(&self) -> impl Iterator<Item = (&String, &PendingArray)> {
        self.arrays.iter()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.arrays.is_empty() && self.file_attrs.changes.is_empty()
    }

    /// The changes to the file's own attributes.
    pub(crate) fn file_attrs(&self) -> &FileAttrChanges {
        &self.file_attrs
    }

    /// Sets the file's attribute `key`, against committed layer `base`.
    pub(crate) fn set_file_attr(&mut self, key: &str, value: AttributeValue, base: u64) {
        self.file_attrs.changes.insert(key.to_owned(), Some(value));
        self.file_attrs.bases.insert(key.to_owned(), base);
    }

    /// Removes the file's attribute `key`, against committed layer `base`:
    /// a removal is recorded when `committed` (the key is committed), else
    /// a pending value is just dropped.
    pub(crate) fn remove_file_attr(&mut self, key: &str, committed: bool, base: u64) {
        if committed {
            self.file_attrs.changes.insert(key.to_owned(), None);
        } else {
            self.file_attrs.changes.remove(key);
        }
        self.file_attrs.bases.insert(key.to_owned(), base);
    }

    /// The records of the changes to the file's attributes, for layer
    /// number `seq`, sorted by key.
    pub(crate) fn file_attr_records(&self, seq: u64) -> Vec<AttrRecord> {
        self.file_attrs
            .changes
            .iter()
            .map(|(k, v)| AttrRecord {
                key: k.clone(),
                value: v.clone(),
                seq,
            })
            .collect()
    }

    /// Lets go of a replaced chunk: its frame slot, or its buffered values
    /// (a chunk being sealed is left out when its round is collected).
    fn release(frames: &mut FrameWriter, dirty: &mut DirtyIndex, chunk: &PendingChunk) {
        match &chunk.data {
            ChunkData::Stored { loc, .. } => frames.release(loc),
            ChunkData::Dirty { tick, .. } => dirty.remove(*tick),
            ChunkData::Sealing { .. } => {}
        }
    }

    fn release_all(&mut self, name: &str) -> Option<PendingArray> {
        let old = self.arrays.remove(name)?;
        for c in old.chunks.values() {
            Self::release(&mut self.frames, &mut self.dirty, c);
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

    /// Replaces the pending version of a chunk (if any) with `data`.
    fn put(&mut self, name: &str, index: u64, data: ChunkData, w: ChunkWrite) {
        let chunk = PendingChunk {
            data,
            base_seq: w.chunk_base,
        };
        let old = self.record_mut(name, w.base).chunks.insert(index, chunk);
        if let Some(old) = old {
            Self::release(&mut self.frames, &mut self.dirty, &old);
        }
    }

    /// Stores a chunk's encoded bytes, replacing any pending version.
    pub(crate) fn put_chunk(
        &mut self,
        name: &str,
        index: u64,
        bytes: &[u8],
        stats: ChunkStats,
        w: ChunkWrite,
    ) -> Result<()> {
        let loc = self.frames.add_chunk(w.lane, bytes)?;
        self.put(name, index, ChunkData::Stored { loc, stats }, w);
        Ok(())
    }

    /// Stores a chunk compressed ahead (with the codec of `w.lane`) as a
    /// frame of its own, replacing any pending version.
    pub(crate) fn put_compressed(
        &mut self,
        name: &str,
        index: u64,
        chunk: &Compressed<'_>,
        stats: ChunkStats,
        w: ChunkWrite,
    ) -> Result<()> {
        let loc = self.frames.add_compressed(w.lane, chunk)?;
        self.put(name, index, ChunkData::Stored { loc, stats }, w);
        Ok(())
    }

    /// Buffers a chunk's decoded values, replacing any pending version; it
    /// is compressed when evicted or committed. A chunk whose write `filled`
    /// as many elements as it has is taken to be complete and is evicted
    /// before every partly written one.
    pub(crate) fn put_dirty(
        &mut self,
        name: &str,
        index: u64,
        values: Box<dyn DirtyValues>,
        filled: u64,
        w: ChunkWrite,
    ) {
        let complete = filled >= values.len() as u64;
        let tick = self.dirty.insert(name, index, values.mem_bytes(), complete);
        let values = Arc::from(values);
        let data = ChunkData::Dirty {
            values,
            tick,
            filled,
            lane: w.lane,
        };
        self.put(name, index, data, w);
    }

    /// Counts `elements` more written into a buffered chunk. Once the writes
    /// since it was buffered add up to its size, it is taken to be complete
    /// (coverage is not tracked: with overlapping writes this is a guess,
    /// and a wrong guess only costs an early eviction).
    pub(crate) fn filled(&mut self, name: &str, index: u64, elements: u64) {
        let Some(chunk) = self
            .arrays
            .get_mut(name)
            .and_then(|a| a.chunks.get_mut(&index))
        else {
            return;
        };
        if let ChunkData::Dirty {
            values,
            tick,
            filled,
            ..
        } = &mut chunk.data
        {
            let was_complete = *filled >= values.len() as u64;
            *filled = filled.saturating_add(elements);
            if !was_complete && *filled >= values.len() as u64 {
                *tick = self.dirty.mark_complete(*tick);
            }
        }
    }

    /// The buffered values of a chunk, marked as just touched; `None` if the
    /// chunk is not buffered (or is being sealed: the writer then loads it
    /// like a stored chunk and buffers a new version).
    pub(crate) fn dirty_mut(
        &mut self,
        name: &str,
        index: u64,
    ) -> Option<&mut (dyn DirtyValues + 'static)> {
        let chunk = self.arrays.get_mut(name)?.chunks.get_mut(&index)?;
        match &mut chunk.data {
            ChunkData::Dirty {
                values,
                tick,
                filled,
                ..
            } => {
                // Written again after it seemed complete: count afresh.
                if *filled >= values.len() as u64 {
                    *filled = 0;
                }
                *tick = self.dirty.touch(*tick);
                Arc::get_mut(values)
            }
            ChunkData::Stored { .. } | ChunkData::Sealing { .. } => None,
        }
    }

    /// The frame writer (to compress chunks ahead with its codecs).
    pub(crate) fn frame_writer(&self) -> &FrameWriter {
        &self.frames
    }

    /// The codec lane chunks of arrays of `dtype` recording pipeline `spec`
    /// are stored with (see [`FrameWriter::lane`]).
    pub(crate) fn lane(
        &mut self,
        spec: Option<&str>,
        dtype: crate::dtype::DType,
    ) -> std::result::Result<Lane, String> {
        self.frames.lane(spec, dtype)
    }

    /// The bytes of a pending chunk.
    pub(crate) fn read_chunk(&self, chunk: &PendingChunk) -> Result<Bytes> {
        match &chunk.data {
            ChunkData::Stored { loc, .. } => self.frames.read_chunk(loc),
            ChunkData::Dirty { values, .. } | ChunkData::Sealing { values, .. } => {
                Ok(Bytes::copy_from_slice(&values.encoded()?))
            }
        }
    }

    /// Lays out the live frames and builds the array records, for layer
    /// number `seq`, that point into that layout.
    pub(crate) fn finish(
        &mut self,
        block_target: u64,
        seq: u64,
    ) -> Result<(DataLayout, Vec<ArrayRecord>)> {
        self.evict(0)?;
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
        // Frames go into the layer in the order of the chunks they hold
        // (array by array, chunk index order), not the order they were
        // sealed in: neighbouring chunks then share read units, as after a
        // compaction.
        let mut order: Vec<u32> = Vec::new();
        for (_, p) in &named {
            let mut frames: Vec<(u64, u32)> = p
                .chunks
                .iter()
                .filter_map(|(&index, c)| match &c.data {
                    ChunkData::Stored { loc, .. } => Some((index, loc.frame)),
                    _ => None,
                })
                .collect();
            frames.sort_unstable();
            order.extend(frames.into_iter().map(|(_, f)| f));
        }
        let layout = self.frames.layout_in(block_target, &order)?;
        let mut records = Vec::with_capacity(named.len());
        for (name, p) in named {
            let op = match &p.op {
                PendingOp::Define(info) => RecordOp::Define(info.to_def()),
                PendingOp::Update => RecordOp::Update,
                PendingOp::Tombstone => RecordOp::Tombstone,
            };
            let mut chunks: Vec<ChunkRecord> = Vec::with_capacity(p.chunks.len());
            for (&index, c) in &p.chunks {
                let ChunkData::Stored { loc, stats } = &c.data else {
                    return Err(Error::corrupted(
                        PENDING,
                        format!("chunk {index} of {name:?} is still buffered at commit"),
                    ));
                };
                let frame = layout
                    .remap
                    .get(loc.frame as usize)
                    .copied()
                    .flatten()
                    .ok_or_else(|| {
                        Error::corrupted(
                            PENDING,
                            format!("chunk {index} of {name:?} points at a dropped frame"),
                        )
                    })?;
                chunks.push(ChunkRecord {
                    index,
                    seq,
                    frame,
                    offset: loc.offset,
                    len: loc.len,
                    stats: stats.clone(),
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

    /// The committed layer that the pending version of chunk `index` of
    /// array `name` was written against.
    pub(crate) fn chunk_base(&self, name: &str, index: u64) -> Option<u64> {
        Some(self.arrays.get(name)?.chunks.get(&index)?.base_seq)
    }

    /// The spill file holding the frames.
    pub(crate) fn spill(&self) -> &crate::storage::SpillFile {
        self.frames.spill()
    }
}

#[cfg(test)]
pub(crate) mod tests;
