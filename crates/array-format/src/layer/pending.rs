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

use super::dirty::{DirtyIndex, DirtyValues, Round, Sealed, seal_all};
use super::frames::{ChunkLoc, Compressed, DataLayout, FrameWriter, PENDING};

/// Buffered chunks are evicted in rounds of about this many bytes: enough
/// to compress on every core, little enough to bound the compressed copies
/// held at once.
const EVICT_ROUND_BYTES: usize = 32 * 1024 * 1024;

/// Complete chunks are sealed in the background once they hold this many
/// bytes, whatever the budget: they are done with, and compressing them
/// early leaves less for the commit.
const COMPLETE_ROUND_BYTES: usize = 4 * 1024 * 1024;

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
    /// complete). Only this record holds `values` (so writes patch them in
    /// place).
    Dirty {
        values: Arc<dyn DirtyValues>,
        tick: u64,
        filled: u64,
    },
    /// Evicted, being sealed in the background by round `round`; readable
    /// meanwhile, and stored when the round's outcome is collected.
    Sealing {
        values: Arc<dyn DirtyValues>,
        round: u64,
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
    dirty: DirtyIndex,
    /// Byte budget of the decoded chunks held in memory.
    dirty_capacity: usize,
    /// The eviction round sealing chunks in the background, if any.
    round: Option<Round>,
    next_round: u64,
}

/// A chunk taken out of its record to be stored: array, index, the chunk.
type Taken = (String, u64, PendingChunk);

/// The buffered values of a chunk, if it is in memory.
fn buffered(chunk: &PendingChunk) -> Option<&Arc<dyn DirtyValues>> {
    match &chunk.data {
        ChunkData::Dirty { values, .. } | ChunkData::Sealing { values, .. } => Some(values),
        ChunkData::Stored { .. } => None,
    }
}

impl PendingLayer {
    /// An empty pending layer: frames of about `frame_target` bytes,
    /// at most about `dirty_capacity` bytes of decoded chunks in memory.
    pub(crate) fn new(
        codecs: CodecSet,
        frame_target: usize,
        dirty_capacity: usize,
    ) -> Result<Self> {
        Ok(Self::over(
            SpillFile::new()?,
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
        self.arrays.is_empty()
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
    fn put(&mut self, name: &str, index: u64, data: ChunkData, base: Base, chunk_base: u64) {
        let chunk = PendingChunk {
            data,
            base_seq: chunk_base,
        };
        let old = self.record_mut(name, base).chunks.insert(index, chunk);
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
        base: Base,
        chunk_base: u64,
    ) -> Result<()> {
        let loc = self.frames.add_chunk(bytes)?;
        self.put(
            name,
            index,
            ChunkData::Stored { loc, stats },
            base,
            chunk_base,
        );
        Ok(())
    }

    /// Stores a chunk compressed ahead as a frame of its own, replacing any
    /// pending version.
    pub(crate) fn put_compressed(
        &mut self,
        name: &str,
        index: u64,
        chunk: &Compressed<'_>,
        stats: ChunkStats,
        base: Base,
        chunk_base: u64,
    ) -> Result<()> {
        let loc = self.frames.add_compressed(chunk)?;
        self.put(
            name,
            index,
            ChunkData::Stored { loc, stats },
            base,
            chunk_base,
        );
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
        base: Base,
        chunk_base: u64,
    ) {
        let complete = filled >= values.len() as u64;
        let tick = self.dirty.insert(name, index, values.mem_bytes(), complete);
        let values = Arc::from(values);
        let data = ChunkData::Dirty {
            values,
            tick,
            filled,
        };
        self.put(name, index, data, base, chunk_base);
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

    /// The frame writer (to compress chunks ahead with its codec).
    pub(crate) fn frame_writer(&self) -> &FrameWriter {
        &self.frames
    }

    /// Bytes of decoded chunks held in memory, buffered or being sealed.
    pub(crate) fn buffered_bytes(&self) -> usize {
        self.dirty.bytes() + self.round.as_ref().map_or(0, |r| r.bytes)
    }

    /// Keeps the buffer within its budget. Complete chunks (written whole),
    /// once there are a few MiB of them, and past half the budget the least
    /// recently touched chunks, are sealed in the background, one round at
    /// a time, while the writer goes on (a partly written chunk that is
    /// complete is no longer touched, so it reaches the front); past the
    /// whole budget, the writer waits for that round and stores chunks
    /// itself down to half the budget. A finished round is collected on
    /// every call.
    pub(crate) fn evict_over_budget(&mut self) -> Result<()> {
        self.collect(false)?;
        let half = self.dirty_capacity / 2;
        let bytes = self.dirty.bytes();
        // Complete chunks come first in the eviction order: keeping the
        // others means evicting exactly those.
        let partial = bytes - self.dirty.complete_bytes().min(bytes);
        if self.buffered_bytes() > self.dirty_capacity {
            self.evict(half)
        } else if self.round.is_some() {
            Ok(())
        } else if bytes > half {
            self.start_round(half.min(partial));
            Ok(())
        } else if bytes - partial >= COMPLETE_ROUND_BYTES {
            self.start_round(partial);
            Ok(())
        } else {
            Ok(())
        }
    }

    /// Buffered chunks in eviction order (complete ones, then the least
    /// recently touched), until at most `keep` bytes would remain or a
    /// round's worth is chosen.
    fn oldest_round(&mut self, keep: usize) -> Vec<(String, u64)> {
        let mut round: Vec<(String, u64)> = Vec::new();
        let mut stale: Vec<u64> = Vec::new();
        let mut selected = 0usize;
        for (tick, name, index, bytes) in self.dirty.oldest() {
            if self.dirty.bytes().saturating_sub(selected) <= keep || selected >= EVICT_ROUND_BYTES
            {
                break;
            }
            let current = self
                .arrays
                .get(name)
                .and_then(|a| a.chunks.get(&index))
                .is_some_and(|c| matches!(c.data, ChunkData::Dirty { tick: t, .. } if t == tick));
            if current {
                round.push((name.to_owned(), index));
            } else {
                // Cannot happen (a replaced chunk leaves the index), but an
                // entry without its chunk must not stop eviction.
                stale.push(tick);
            }
            selected = selected.saturating_add(bytes.max(1));
        }
        for tick in stale {
            self.dirty.remove(tick);
        }
        round
    }

    /// Starts sealing one round of the least recently touched chunks in the
    /// background, towards `keep` buffered bytes.
    fn start_round(&mut self, keep: usize) {
        let chosen = self.oldest_round(keep);
        if chosen.is_empty() {
            return;
        }
        let id = self.next_round;
        self.next_round += 1;
        let mut chunks = Vec::with_capacity(chosen.len());
        let mut values = Vec::with_capacity(chosen.len());
        let mut bytes = 0usize;
        for (name, index) in chosen {
            let Some(chunk) = self
                .arrays
                .get_mut(&name)
                .and_then(|a| a.chunks.get_mut(&index))
            else {
                continue;
            };
            let ChunkData::Dirty {
                values: v, tick, ..
            } = &chunk.data
            else {
                continue;
            };
            let (v, tick) = (Arc::clone(v), *tick);
            bytes += v.mem_bytes();
            self.dirty.remove(tick);
            chunk.data = ChunkData::Sealing {
                values: Arc::clone(&v),
                round: id,
            };
            values.push(v);
            chunks.push((name, index));
        }
        let codecs = self.frames.codecs().clone();
        let target = self.frames.frame_target();
        self.round = Some(Round::start(id, chunks, values, bytes, codecs, target));
    }

    /// Stores the chunks of the background round once it is done (waiting
    /// for it if `wait`). Chunks replaced meanwhile are left out; chunks
    /// that could not be stored go back to the buffer, nothing is lost.
    fn collect(&mut self, wait: bool) -> Result<()> {
        let Some(outcomes) = self.round.as_mut().and_then(|r| r.outcomes(wait)) else {
            return Ok(());
        };
        let Some(round) = self.round.take() else {
            return Ok(());
        };
        match outcomes {
            Ok(o) => self.finish_round(&round, o.into_iter().map(Some).collect()),
            Err(e) => {
                // Nothing was sealed: every chunk goes back to the buffer.
                let none = round.chunks.iter().map(|_| None).collect();
                let _ = self.finish_round(&round, none);
                Err(e)
            }
        }
    }

    /// Stores (or puts back) the chunks of `round` given their outcomes
    /// (`None`: not sealed). Returns the first error.
    fn finish_round(&mut self, round: &Round, outcomes: Vec<Option<Result<Sealed>>>) -> Result<()> {
        let mut first_error: Option<Error> = None;
        for ((name, index), outcome) in round.chunks.iter().zip(outcomes) {
            let Some(chunk) = self
                .arrays
                .get_mut(name)
                .and_then(|a| a.chunks.get_mut(index))
            else {
                continue;
            };
            let values = match &chunk.data {
                ChunkData::Sealing { values, round: r } if *r == round.id => Arc::clone(values),
                // Replaced or rewritten since: this outcome is stale.
                _ => continue,
            };
            let stored = match outcome {
                Some(Ok(sealed)) if first_error.is_none() => {
                    Self::append(&mut self.frames, values.as_ref(), sealed)
                }
                Some(Err(e)) => Err(e),
                _ => Err(Error::InvalidOperation {
                    operation: "write",
                    reason: "an earlier chunk of the same eviction could not be stored".into(),
                }),
            };
            chunk.data = match stored {
                Ok(data) => data,
                Err(e) => {
                    first_error.get_or_insert(e);
                    let tick = self.dirty.insert(name, *index, values.mem_bytes(), false);
                    ChunkData::Dirty {
                        values,
                        tick,
                        filled: 0,
                    }
                }
            };
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Appends a sealed chunk to the frames.
    fn append(
        frames: &mut FrameWriter,
        values: &dyn DirtyValues,
        sealed: Sealed,
    ) -> Result<ChunkData> {
        let loc = match &sealed.compressed {
            Some(c) => frames.add_compressed(c)?,
            None => frames.add_chunk(&values.encoded()?)?,
        };
        Ok(ChunkData::Stored {
            loc,
            stats: sealed.stats,
        })
    }

    /// Compresses and spills buffered chunks, least recently touched first,
    /// until at most `keep` bytes remain buffered, after storing the round
    /// in flight. On error the chunks not yet stored stay buffered: nothing
    /// is lost.
    pub(crate) fn evict(&mut self, keep: usize) -> Result<()> {
        self.collect(true)?;
        while self.dirty.bytes() > keep {
            let round = self.oldest_round(keep);
            if !round.is_empty() {
                self.store_round(round)?;
            }
        }
        Ok(())
    }

    /// Stores one round of buffered chunks: sealed in parallel when there
    /// is enough to compress, then appended in order. Every chunk goes back
    /// into its record, stored or (after an error) still buffered.
    fn store_round(&mut self, round: Vec<(String, u64)>) -> Result<()> {
        let mut taken: Vec<Taken> = Vec::with_capacity(round.len());
        for (name, index) in round {
            if let Some(chunk) = self
                .arrays
                .get_mut(&name)
                .and_then(|a| a.chunks.remove(&index))
            {
                taken.push((name, index, chunk));
            }
        }
        let values: Vec<&dyn DirtyValues> = taken
            .iter()
            .filter_map(|(_, _, c)| buffered(c).map(|v| v.as_ref()))
            .collect();
        let sealed = if values.len() == taken.len() {
            seal_all(self.frames.codecs(), self.frames.frame_target(), &values)
        } else {
            Vec::new()
        };
        let mut sealed = sealed.into_iter();
        let mut first_error: Option<Error> = None;
        for (name, index, mut chunk) in taken {
            let outcome = sealed.next();
            if first_error.is_none()
                && let (ChunkData::Dirty { values, tick, .. }, Some(outcome)) =
                    (&chunk.data, outcome)
            {
                match outcome.and_then(|s| Self::append(&mut self.frames, values.as_ref(), s)) {
                    Ok(data) => {
                        self.dirty.remove(*tick);
                        chunk.data = data;
                    }
                    Err(e) => first_error = Some(e),
                }
            }
            if let Some(a) = self.arrays.get_mut(&name) {
                a.chunks.insert(index, chunk);
            }
        }
        first_error.map_or(Ok(()), Err)
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

    /// The spill file holding the frames.
    pub(crate) fn spill(&self) -> &crate::storage::SpillFile {
        self.frames.spill()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::codec::{Lz4Codec, NoCompression};
    use crate::dtype::DType;
    use crate::layer::Values;
    use crate::meta::MergedArrayMeta;
    use crate::stats::MinMax;
    use crate::value::StatValue;

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
        PendingLayer::new(CodecSet::new(Arc::new(NoCompression)), 1024, 0).unwrap()
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
        let c = p.get("a").unwrap().chunks.get(&0).unwrap();
        assert_eq!(&p.read_chunk(c).unwrap()[..], &[2; 4]);
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

    fn bytes(v: &[u8]) -> Box<dyn DirtyValues> {
        Box::new(Values {
            values: v.to_vec(),
            fill: None,
        })
    }

    fn state(p: &PendingLayer, index: u64) -> &'static str {
        match p.get("a").unwrap().chunks.get(&index).map(|c| &c.data) {
            Some(ChunkData::Dirty { .. }) => "buffered",
            Some(ChunkData::Sealing { .. }) => "sealing",
            Some(ChunkData::Stored { .. }) => "stored",
            None => "absent",
        }
    }

    #[test]
    fn buffered_chunks_read_back_and_the_oldest_are_evicted_first() {
        // Every 4-byte chunk gets a frame of its own; the budget holds two.
        let mut p = PendingLayer::new(CodecSet::new(Arc::new(Lz4Codec)), 4, 8).unwrap();
        p.define(info("a"));
        for i in 0..3u8 {
            p.put_dirty("a", u64::from(i), bytes(&[i; 4]), 0, Base::default(), 0);
        }
        assert_eq!(p.buffered_bytes(), 12);
        // Touching chunk 0 makes chunk 1 the least recently used.
        let v = p.dirty_mut("a", 0).unwrap();
        v.as_any_mut().downcast_mut::<Values<u8>>().unwrap().values[3] = 9;
        p.evict_over_budget().unwrap();
        // Down to half the budget: chunks 1 and 2 go, chunk 0 stays.
        assert_eq!(
            (state(&p, 0), state(&p, 1), state(&p, 2)),
            ("buffered", "stored", "stored")
        );
        assert_eq!(p.buffered_bytes(), 4);
        let read = |p: &PendingLayer, i: u64| {
            let c = p.get("a").unwrap().chunks.get(&i).unwrap();
            p.read_chunk(c).unwrap().to_vec()
        };
        assert_eq!(read(&p, 0), [0, 0, 0, 9]);
        assert_eq!(read(&p, 1), [1; 4]);
        assert_eq!(read(&p, 2), [2; 4]);
        // Under budget: nothing more is evicted.
        p.evict_over_budget().unwrap();
        assert_eq!(state(&p, 0), "buffered");
        // The commit stores it, with statistics of its final values.
        let (layout, records) = p.finish(1 << 20, 1).unwrap();
        assert_eq!(p.buffered_bytes(), 0);
        assert_eq!(layout.frames.len(), 3);
        let c0 = records[0].chunks.iter().find(|c| c.index == 0).unwrap();
        assert_eq!(
            c0.stats.min_max,
            MinMax::Range {
                min: StatValue::UInt(0),
                max: StatValue::UInt(9)
            }
        );
    }

    #[test]
    fn replacing_or_forgetting_a_buffered_chunk_releases_its_bytes() {
        let mut p = layer();
        p.define(info("a"));
        p.put_dirty("a", 0, bytes(&[1; 4]), 0, Base::default(), 0);
        p.put_dirty("a", 1, bytes(&[1; 4]), 0, Base::default(), 0);
        p.put_chunk("a", 0, &[5; 4], stats(), Base::default(), 0)
            .unwrap();
        assert_eq!(p.buffered_bytes(), 4);
        assert!(p.dirty_mut("a", 0).is_none());
        p.put_dirty("a", 1, bytes(&[2; 8]), 0, Base::default(), 0);
        assert_eq!(p.buffered_bytes(), 8);
        p.forget("a");
        assert_eq!(p.buffered_bytes(), 0);
        // Nothing is left to evict or commit.
        p.evict(0).unwrap();
        let (layout, records) = p.finish(1 << 20, 1).unwrap();
        assert!(layout.frames.is_empty() && records.is_empty());
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_failed_eviction_is_an_error_and_keeps_the_chunk_buffered() {
        // Writes to /dev/full fail with "no space left on device"; a chunk
        // of 2 MiB is written past the spill file's write buffer at once.
        let full = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/full")
            .unwrap();
        let mut p = PendingLayer::over(
            SpillFile::over(full),
            CodecSet::new(Arc::new(NoCompression)),
            1024,
            0,
        );
        p.define(info("a"));
        let big: Vec<u8> = (0..2 << 20).map(|i| i as u8).collect();
        p.put_dirty("a", 0, bytes(&big), 0, Base::default(), 0);
        let e = p.evict_over_budget().unwrap_err();
        assert!(matches!(e, Error::Io { .. }), "{e}");
        assert_eq!(state(&p, 0), "buffered");
        assert_eq!(p.buffered_bytes(), big.len());
        let c = p.get("a").unwrap().chunks.get(&0).unwrap();
        assert_eq!(p.read_chunk(c).unwrap(), big);
        assert!(matches!(
            p.finish(1 << 20, 1).unwrap_err(),
            Error::Io { .. }
        ));
        assert_eq!(state(&p, 0), "buffered");
    }

    #[test]
    fn past_half_the_budget_the_oldest_chunks_are_sealed_in_the_background() {
        let mut p = PendingLayer::new(CodecSet::new(Arc::new(Lz4Codec)), 4, 16).unwrap();
        p.define(info("a"));
        for i in 0..3u8 {
            p.put_dirty("a", u64::from(i), bytes(&[i; 4]), 0, Base::default(), 0);
        }
        // 12 bytes: within the budget, past half of it.
        p.evict_over_budget().unwrap();
        assert_eq!(state(&p, 0), "sealing");
        assert_eq!(state(&p, 1), "buffered");
        assert_eq!(p.buffered_bytes(), 12);
        // One round at a time: nothing new starts while it runs.
        p.evict_over_budget().unwrap();
        assert_eq!(state(&p, 1), "buffered");
        // A chunk being sealed reads back, and a new version replaces it:
        // the round's outcome for it is dropped.
        let c = p.get("a").unwrap().chunks.get(&0).unwrap();
        assert_eq!(&p.read_chunk(c).unwrap()[..], &[0; 4]);
        p.put_dirty("a", 0, bytes(&[5; 4]), 0, Base::default(), 0);
        p.evict(16).unwrap();
        assert_eq!(state(&p, 0), "buffered");
        let c = p.get("a").unwrap().chunks.get(&0).unwrap();
        assert_eq!(&p.read_chunk(c).unwrap()[..], &[5; 4]);
        let (layout, records) = p.finish(1 << 20, 1).unwrap();
        assert_eq!(layout.frames.len(), 3);
        let c0 = records[0].chunks.iter().find(|c| c.index == 0).unwrap();
        assert_eq!(
            c0.stats.min_max,
            MinMax::Range {
                min: StatValue::UInt(5),
                max: StatValue::UInt(5)
            }
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_failed_background_eviction_surfaces_later_and_keeps_the_chunk() {
        let full = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/full")
            .unwrap();
        let mut p = PendingLayer::over(
            SpillFile::over(full),
            CodecSet::new(Arc::new(NoCompression)),
            1024,
            3 << 20,
        );
        p.define(info("a"));
        let big: Vec<u8> = (0..2 << 20).map(|i| (i % 251) as u8).collect();
        p.put_dirty("a", 0, bytes(&big), 0, Base::default(), 0);
        // Past half the budget: sealed in the background, stored later.
        p.evict_over_budget().unwrap();
        assert_eq!(state(&p, 0), "sealing");
        let e = p.finish(1 << 20, 1).unwrap_err();
        assert!(matches!(e, Error::Io { .. }), "{e}");
        assert_eq!(state(&p, 0), "buffered");
        assert_eq!(p.buffered_bytes(), big.len());
        let c = p.get("a").unwrap().chunks.get(&0).unwrap();
        assert_eq!(p.read_chunk(c).unwrap(), big);
    }

    #[test]
    fn complete_chunks_are_sealed_early_and_partial_ones_stay() {
        let mut p = PendingLayer::new(CodecSet::new(Arc::new(Lz4Codec)), 1024, 1 << 30).unwrap();
        p.define(info("a"));
        let mib = vec![1u8; 1 << 20];
        // Chunk 0 partly written, chunk 1 written whole.
        p.put_dirty("a", 0, bytes(&mib), 1 << 10, Base::default(), 0);
        p.put_dirty("a", 1, bytes(&mib.repeat(3)), 3 << 20, Base::default(), 0);
        // 3 MiB complete: below the threshold of an early round.
        p.evict_over_budget().unwrap();
        assert_eq!((state(&p, 0), state(&p, 1)), ("buffered", "buffered"));
        // Chunk 2 is filled by two writes: complete once they add up.
        p.put_dirty("a", 2, bytes(&mib), 1 << 19, Base::default(), 0);
        p.dirty_mut("a", 2).unwrap();
        p.filled("a", 2, 1 << 19);
        p.evict_over_budget().unwrap();
        assert_eq!(
            (state(&p, 0), state(&p, 1), state(&p, 2)),
            ("buffered", "sealing", "sealing")
        );
        p.evict(usize::MAX).unwrap();
        assert_eq!(
            (state(&p, 0), state(&p, 1), state(&p, 2)),
            ("buffered", "stored", "stored")
        );
        assert_eq!(p.buffered_bytes(), 1 << 20);
    }
}
