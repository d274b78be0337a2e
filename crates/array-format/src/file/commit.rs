//! Committing: `flush` turns the pending layer into the next delta layer;
//! `compact` merges the visible layers into one snapshot layer.
//!
//! Both write the whole layer object with one conditional create of
//! `{stem}.N.af` where N is the next number: if another writer took N first
//! the commit fails with [`Error::Conflict`] and nothing is lost (the pending
//! layer is kept). A snapshot makes every lower layer redundant; compaction
//! deletes those only after the snapshot is committed.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use bytes::Bytes;
use object_store::ObjectStoreExt;

use super::index::{AttrSet, ChunkRef, ChunkTable, CommittedIndex, IndexedArray};
use super::open::load_index;
use super::open::{WRITER, now_ns, random_id};
use super::{ArrayFile, Unconfirmed};
use crate::error::{Error, Result};
use crate::format::{
    self, ArrayRecord, AttrRecord, ChunkRecord, Footer, Id, LayerHeader, LayerKind, RecordOp,
};
use crate::layer::{ChunkLoc, DataLayout, FrameWriter, LayerReader};
use crate::meta::ArrayInfo;
use crate::storage::{InMemoryStorage, SpillFile, Storage};

/// Compaction moves chunks in batches of about this many stored bytes.
const COMPACT_BATCH_BYTES: u64 = 64 * 1024 * 1024;

/// A snapshot records the `layer_id`s of at least this many layer numbers
/// below it (its `merged` list, FORMAT.md 5.1): the history a writer's
/// orphan check reads. 16 KiB of footer; the check can settle a commit as
/// long as fewer layers than this were committed between the writer's
/// create and its check.
pub(crate) const LINEAGE_KEEP: usize = 1024;

impl ArrayFile {
    /// Commits the pending changes as a new layer.
    ///
    /// A no-op without pending changes. On [`Error::Conflict`] (another
    /// writer committed first) the pending changes are kept. The first
    /// commit on a new file is written as a snapshot (it holds everything
    /// the file holds), so [`num_layers`](Self::num_layers) stays 1 and a
    /// [`compact`](Self::compact) right after has nothing to do.
    pub async fn flush(&mut self) -> Result<()> {
        self.check_writable("flush")?;
        if let Some(layer) = self.unconfirmed.clone() {
            if self.settle(&layer).await? {
                // The changes are committed as that layer: load it.
                let (index, _) = load_index(&self.store, None).await?;
                self.index = index;
                self.pending = None;
                self.unconfirmed = None;
                return Ok(());
            }
            self.unconfirmed = None;
        }
        let Some(pending) = self.pending.as_ref() else {
            return Ok(());
        };
        if pending.is_empty() {
            self.pending = None;
            return Ok(());
        }
        // Changes made against an older view must not overwrite what other
        // writers committed since (after a refresh, this is where a retry
        // learns whether it collides).
        self.check_conflicts()?;
        let (latest_id, generation, seq) = self.next_layer()?;
        let Some(pending) = self.pending.as_mut() else {
            return Ok(());
        };
        let (layout, mut records) = pending.finish(self.settings.block_target, seq)?;
        // The first commit on the empty base is already everything the file
        // holds, so it is written as a snapshot: the file is compacted from
        // the start, and a later `compact` has nothing to rewrite. Over an
        // empty base every record is a definition, but for deletions of
        // arrays that were never committed, which change nothing.
        let snapshot = self.only_the_empty_base();
        if snapshot {
            records.retain(|r| matches!(r.op, RecordOp::Define(_)));
        }
        let header = LayerHeader {
            dataset_id: self.dataset_id,
            layer_id: random_id(),
            parent_id: latest_id,
            seq,
            generation: if snapshot { seq } else { generation },
            kind: if snapshot {
                LayerKind::Snapshot
            } else {
                LayerKind::Delta
            },
            created_ns: now_ns(),
            writer: WRITER.into(),
            merged: if snapshot { self.lineage() } else { Vec::new() },
        };
        let spill = self
            .pending
            .as_ref()
            .map(|p| p.spill())
            .ok_or_else(|| Error::corrupted(super::read::PENDING, "pending layer vanished"))?;
        let reader = commit_layer(&self.store, spill, header, layout, records).await?;
        match self.check_not_orphaned(&reader).await {
            Ok(()) => {}
            Err(e @ Error::Conflict { .. }) => return Err(e),
            Err(e) => {
                self.unconfirmed = Some(Unconfirmed {
                    seq: reader.header.seq,
                    layer_id: reader.header.layer_id,
                    path: reader.path.clone(),
                });
                return Err(e);
            }
        }
        // A snapshot replaces the whole index as it is applied.
        self.index.apply(reader)?;
        self.pending = None;
        Ok(())
    }

    /// Whether the view is the base layer alone, holding no array (a file
    /// `create` made and nothing was committed to yet).
    fn only_the_empty_base(&self) -> bool {
        self.index.arrays.len() == 0
            && matches!(self.index.layers.as_slice(), [base] if base.header.seq == 0)
    }

    /// Commits the pending changes like [`flush`](Self::flush) and writes a
    /// copy of the committed layer object into `storage` (the 0.9 form for
    /// in-memory files).
    pub async fn flush_memory(&mut self, storage: &InMemoryStorage) -> Result<()> {
        let before = self.index.latest_seq();
        self.flush().await?;
        if let Some(latest) = self.index.latest()
            && latest.header.seq != before
        {
            let bytes = self
                .store
                .store()
                .get(&latest.path)
                .await
                .map_err(|e| Error::storage(latest.path.as_ref(), e))?
                .bytes()
                .await
                .map_err(|e| Error::storage(latest.path.as_ref(), e))?;
            storage.write(bytes).await?;
        }
        Ok(())
    }

    /// Merges every visible layer into one snapshot layer and reclaims the
    /// layers it replaces.
    ///
    /// Pending changes are committed first (as by [`flush`](Self::flush)),
    /// so compaction never silently drops or half-includes them. Frames whose
    /// chunks are all still visible are copied without recompression; the
    /// others are repacked with the configured codec. Overwritten and deleted
    /// chunks are not carried over. After success
    /// [`num_layers`](Self::num_layers) is 1.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use array_format::{ArrayFile, FileConfig, Lz4Codec};
    /// use object_store::local::LocalFileSystem;
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let dir = tempfile::tempdir().unwrap();
    /// let store = Arc::new(LocalFileSystem::new_with_prefix(dir.path()).unwrap());
    /// let mut file = ArrayFile::create(store.clone(), "data.af".into(), FileConfig::new(Lz4Codec)).await?;
    /// for i in 0..3 {
    ///     file.define_array::<f64>(format!("a{i}"), vec![], vec![4], None, None)?;
    ///     // data.1.af (the first commit is itself a snapshot), data.2.af, data.3.af
    ///     file.flush().await?;
    /// }
    /// assert_eq!(file.num_layers(), 3);
    /// file.compact().await?; // one snapshot layer, data.4.af; data.1-3.af are deleted
    /// assert_eq!(file.num_layers(), 1);
    /// let reopened = ArrayFile::open(store, "data.af".into(), FileConfig::new(Lz4Codec)).await?;
    /// assert_eq!(reopened.list_arrays().len(), 3);
    /// # Ok::<(), array_format::Error>(()) }).unwrap();
    /// ```
    pub async fn compact(&mut self) -> Result<()> {
        self.check_writable("compact")?;
        self.flush().await?;
        if self.index.layers.len() <= 1 {
            return Ok(());
        }
        let (latest_id, _, seq) = self.next_layer()?;
        let mut writer =
            FrameWriter::new(self.settings.codecs.clone(), self.settings.frame_target)?;
        let live = self.index.live_refs()?;
        let mut copied: HashMap<(u32, u32), u32> = HashMap::new();
        let mut arrays: Vec<(&IndexedArray, &Arc<ArrayInfo>, &ChunkTable, &AttrSet)> =
            Vec::with_capacity(self.index.arrays.len());
        for a in self.index.arrays.values() {
            let index = &self.index;
            arrays.push((a, index.info(a)?, index.chunks(a)?, index.attrs(a)?));
        }
        // Chunks move in batches of about COMPACT_BATCH_BYTES across arrays,
        // so a file of many small arrays costs a few large requests, not one
        // per array.
        let mut outs: Vec<Vec<ChunkRecord>> = arrays
            .iter()
            .map(|(_, _, c, _)| Vec::with_capacity(c.chunks.len()))
            .collect();
        let mut batch: Vec<(usize, u64, &ChunkRef)> = Vec::new();
        let mut batch_bytes = 0u64;
        for (slot, (_, _, table, _)) in arrays.iter().enumerate() {
            let mut chunks: Vec<(u64, &ChunkRef)> =
                table.chunks.iter().map(|(&i, c)| (i, c)).collect();
            chunks.sort_by_key(|(i, _)| *i);
            for (index, c) in chunks {
                batch.push((slot, index, c));
                batch_bytes += c.loc.len;
                if batch_bytes >= COMPACT_BATCH_BYTES {
                    self.move_chunks(&batch, &live, &mut copied, &mut writer, &mut outs)
                        .await?;
                    batch.clear();
                    batch_bytes = 0;
                }
            }
        }
        if !batch.is_empty() {
            self.move_chunks(&batch, &live, &mut copied, &mut writer, &mut outs)
                .await?;
        }
        let mut records: Vec<ArrayRecord> = Vec::with_capacity(arrays.len());
        for ((array, info, _, attrs), chunks) in arrays.iter().zip(outs) {
            records.push(ArrayRecord {
                name: info.meta.name.clone(),
                op: RecordOp::Define(info.to_def()),
                defined_seq: array.defined_seq,
                attrs: attrs
                    .all()
                    .iter()
                    .map(|a| AttrRecord {
                        key: a.key.to_string(),
                        value: Some(a.value.clone()),
                        seq: a.seq,
                    })
                    .collect(),
                chunks,
            });
        }
        let layout = writer.layout(self.settings.block_target)?;
        for r in &mut records {
            for c in &mut r.chunks {
                c.frame = layout
                    .remap
                    .get(c.frame as usize)
                    .copied()
                    .flatten()
                    .ok_or_else(|| {
                        Error::corrupted("<compaction spill file>", "chunk in a dropped frame")
                    })?;
            }
        }
        let header = LayerHeader {
            dataset_id: self.dataset_id,
            layer_id: random_id(),
            parent_id: latest_id,
            seq,
            generation: seq,
            kind: LayerKind::Snapshot,
            created_ns: now_ns(),
            writer: WRITER.into(),
            merged: self.lineage(),
        };
        let reader = commit_layer(&self.store, writer.spill(), header, layout, records).await?;
        // A stale compaction must not replace the index or delete anything.
        self.check_not_orphaned(&reader).await?;
        let mut index = CommittedIndex::default();
        index.apply(reader)?;
        let old = std::mem::replace(&mut self.index, index).layers;
        // The snapshot is durable: the layers below it are redundant. A failed
        // delete only leaves garbage that `vacuum` removes.
        for layer in old {
            if layer.header.seq != 0 {
                let _ = self.store.delete(&layer.path).await;
            }
        }
        Ok(())
    }

    /// Copies one batch of chunks, `(array slot, chunk index, reference)`,
    /// into the snapshot writer; their new records go to `out[slot]`.
    async fn move_chunks(
        &self,
        batch: &[(usize, u64, &ChunkRef)],
        live: &[Vec<u32>],
        copied: &mut HashMap<(u32, u32), u32>,
        writer: &mut FrameWriter,
        out: &mut [Vec<ChunkRecord>],
    ) -> Result<()> {
        // Per layer: frames to copy verbatim, frames to decode.
        let mut verbatim: HashMap<u32, Vec<u32>> = HashMap::new();
        let mut decode: HashMap<u32, Vec<u32>> = HashMap::new();
        let mut listed: HashSet<(u32, u32)> = HashSet::new();
        for (_, _, c) in batch {
            let key = (c.layer, c.loc.frame);
            if copied.contains_key(&key) || !listed.insert(key) {
                continue;
            }
            let layer = self.layer(c.layer)?;
            let total = layer
                .frame_refs
                .get(c.loc.frame as usize)
                .copied()
                .unwrap_or(0);
            let alive = live
                .get(c.layer as usize)
                .and_then(|l| l.get(c.loc.frame as usize))
                .copied()
                .unwrap_or(0);
            let list = if alive == total {
                verbatim.entry(c.layer).or_default()
            } else {
                decode.entry(c.layer).or_default()
            };
            list.push(c.loc.frame);
        }
        for (layer_idx, frames) in verbatim {
            let layer = self.layer(layer_idx)?;
            let stored = layer.fetch_stored(&self.store, &frames).await?;
            for (frame, bytes) in frames.into_iter().zip(stored) {
                let f = layer.frame(frame)?;
                let refs = live
                    .get(layer_idx as usize)
                    .and_then(|l| l.get(frame as usize))
                    .copied()
                    .unwrap_or(0);
                let new =
                    writer.copy_frame(&bytes, f.raw_len, f.crc, layer.frame_codec(frame)?, refs)?;
                copied.insert((layer_idx, frame), new);
            }
        }
        let mut decoded: HashMap<(u32, u32), Bytes> = HashMap::new();
        for (layer_idx, frames) in decode {
            let layer = self.layer(layer_idx)?;
            let raw = layer
                .load(&self.store, &frames, None, &self.settings.codecs)
                .await?;
            for (frame, bytes) in frames.into_iter().zip(raw) {
                decoded.insert((layer_idx, frame), bytes);
            }
        }
        for &(slot, index, c) in batch {
            let key = (c.layer, c.loc.frame);
            let loc = match copied.get(&key) {
                Some(&frame) => ChunkLoc { frame, ..c.loc },
                None => {
                    let frame = decoded.get(&key).ok_or_else(|| {
                        Error::corrupted(
                            "<compaction>",
                            format!("frame {} was not loaded", c.loc.frame),
                        )
                    })?;
                    let (from, to) = (c.loc.offset as usize, (c.loc.offset + c.loc.len) as usize);
                    let bytes = frame.get(from..to).ok_or_else(|| {
                        Error::corrupted(
                            self.layer(c.layer)
                                .map(|l| l.path.to_string())
                                .unwrap_or_default(),
                            format!("chunk {index} lies outside frame {}", c.loc.frame),
                        )
                    })?;
                    writer.add_chunk(bytes)?
                }
            };
            let records = out
                .get_mut(slot)
                .ok_or_else(|| Error::corrupted("<compaction>", format!("no array slot {slot}")))?;
            records.push(ChunkRecord {
                index,
                seq: c.seq,
                frame: loc.frame,
                offset: loc.offset,
                len: loc.len,
                stats: c.stats.clone(),
            });
        }
        Ok(())
    }

    /// The `merged` list of a snapshot of this view: the `layer_id`s of the
    /// layers it merges, preceded by as much of the history its base
    /// snapshot recorded as makes [`LINEAGE_KEEP`] in all.
    fn lineage(&self) -> Vec<Id> {
        let view = &self.index.layers;
        let earlier: &[Id] = view
            .first()
            .filter(|base| base.header.kind == LayerKind::Snapshot)
            .map_or(&[], |base| &base.header.merged);
        let from = earlier
            .len()
            .saturating_sub(LINEAGE_KEEP.saturating_sub(view.len()));
        let mut ids = earlier.get(from..).unwrap_or_default().to_vec();
        ids.extend(view.iter().map(|l| l.header.layer_id));
        ids
    }

    /// The newest layer's id and generation, and the next layer number.
    fn next_layer(&self) -> Result<([u8; 16], u64, u64)> {
        let latest = self.index.latest().ok_or_else(|| Error::InvalidOperation {
            operation: "commit",
            reason: "the file has no base layer".into(),
        })?;
        let seq = latest
            .header
            .seq
            .checked_add(1)
            .ok_or_else(|| Error::InvalidOperation {
                operation: "commit",
                reason: "layer numbers are exhausted".into(),
            })?;
        Ok((latest.header.layer_id, latest.header.generation, seq))
    }
}

/// Writes the layer object (data ranges from `spill`, then footer and
/// trailer) with a conditional create and returns it as a reader.
async fn commit_layer(
    store: &crate::storage::FileStore,
    spill: &SpillFile,
    header: LayerHeader,
    layout: DataLayout,
    records: Vec<ArrayRecord>,
) -> Result<LayerReader> {
    let seq = header.seq;
    let footer = Footer {
        header,
        codecs: layout.codecs,
        blocks: layout.blocks,
        frames: layout.frames,
        arrays: records,
    };
    let tail = Bytes::from(format::encode_tail(&footer));
    drop(footer);
    let path = store.layer_path(seq);
    let pin = store
        .create_from_parts(&path, spill, &layout.ranges, &tail)
        .await?;
    let size = layout.len + tail.len() as u64;
    let footer = tail.slice(..tail.len().saturating_sub(format::TRAILER_LEN));
    LayerReader::written(path, size, footer, layout.len, pin)
}
