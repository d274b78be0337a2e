//! `compact`: merges the visible layers into one snapshot layer. Frames
//! whose chunks are all still visible, and stored with the codec their
//! arrays record, are copied verbatim; the live chunks of the others are
//! decoded and repacked, each with its array's codec.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use super::ArrayFile;
use super::commit::{LayerParts, commit_layer};
use super::index::{AttrSet, ChunkRef, ChunkTable, CommittedIndex, IndexedArray};
use super::open::{WRITER, now_ns, random_id};
use crate::error::{Error, Result};
use crate::format::{ArrayRecord, AttrRecord, ChunkRecord, LayerHeader, LayerKind, RecordOp};
use crate::layer::{ChunkLoc, FrameWriter, Lane};
use crate::meta::ArrayInfo;
use crate::storage::SpillFile;

/// Compaction moves chunks in batches of about this many stored bytes.
const COMPACT_BATCH_BYTES: u64 = 64 * 1024 * 1024;

/// A frame of a visible layer: (layer position, frame).
type FrameKey = (u32, u32);

/// Where the chunks of a compaction go, and what decides how.
struct Moves {
    /// Live chunk references per frame of each layer.
    live: Vec<Vec<u32>>,
    /// Frames holding a chunk of an array that records another codec than
    /// the frame's: repacked even when all their chunks are live.
    repack: HashSet<FrameKey>,
    /// The codec lane of each array slot.
    lanes: Vec<Lane>,
    /// Frames copied verbatim, and their number in the snapshot.
    copied: HashMap<FrameKey, u32>,
    writer: FrameWriter,
    /// The new chunk records of each array slot.
    out: Vec<Vec<ChunkRecord>>,
}

impl ArrayFile {
    /// Merges every visible layer into one snapshot layer.
    ///
    /// The layers it replaces are redundant at once (readers that open the
    /// file read the snapshot alone), but readers elsewhere that opened an
    /// earlier version may still be reading them: they are kept for the
    /// [`retention`](super::FileConfig::retention) (a day by default) and
    /// deleted by the first compaction or [`vacuum`](Self::vacuum) after
    /// that, with the staged parts they adopted. With a retention of zero
    /// they are deleted as soon as the snapshot is committed.
    ///
    /// Pending changes are committed first (as by [`flush`](Self::flush)),
    /// so compaction never silently drops or half-includes them. Frames whose
    /// chunks are all still visible are copied without recompression, unless
    /// an array whose chunks they hold records another codec; the others are
    /// repacked with each array's recorded codec, or the configured one for
    /// arrays that record none. Overwritten and deleted chunks are not
    /// carried over; attributes (the file's and the arrays') and recorded
    /// codecs are. Frames that layers adopted from staged parts
    /// ([`commit_parts`](Self::commit_parts)) are copied like any other,
    /// and the parts go with the layers that adopted them. After success
    /// [`num_layers`](Self::num_layers) is 1.
    ///
    /// Errors: [`Error::InvalidCodec`] when an array records a custom codec
    /// this handle is not configured with (nothing is written), besides
    /// those of reading the layers and committing.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use array_format::{ArrayFile, FileConfig, Lz4Codec};
    /// use object_store::{ObjectStoreExt, local::LocalFileSystem};
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
    /// file.compact().await?; // one snapshot layer, data.4.af; data.1-3.af stay a day
    /// assert_eq!(file.num_layers(), 1);
    /// assert!(store.head(&"data.1.af".into()).await.is_ok());
    /// let reopened = ArrayFile::open(store, "data.af".into(), FileConfig::new(Lz4Codec)).await?;
    /// assert_eq!(reopened.list_arrays().len(), 3);
    /// # Ok::<(), array_format::Error>(()) }).unwrap();
    /// ```
    pub async fn compact(&mut self) -> Result<()> {
        self.compact_with(self.settings.retention).await
    }

    /// Like [`compact`](Self::compact), keeping the layers it replaces (and
    /// those earlier compactions replaced) for `retention` instead of the
    /// configured [`retention`](super::FileConfig::retention).
    pub async fn compact_with(&mut self, retention: Duration) -> Result<()> {
        self.check_writable("compact")?;
        self.flush().await?;
        if self.index.layers.len() <= 1 {
            return Ok(());
        }
        let (latest_id, _, seq) = self.next_layer()?;
        let mut arrays: Vec<(&IndexedArray, &Arc<ArrayInfo>, &ChunkTable, &AttrSet)> =
            Vec::with_capacity(self.index.arrays.len());
        for a in self.index.arrays.values() {
            let index = &self.index;
            arrays.push((a, index.info(a)?, index.chunks(a)?, index.attrs(a)?));
        }
        let file_attrs = self.index.file_attrs()?;
        let spill = SpillFile::new_in(self.store.spill_dir().as_deref())?;
        let mut writer = FrameWriter::over(
            spill,
            self.settings.codecs.clone(),
            self.settings.frame_target,
        );
        let mut lanes = Vec::with_capacity(arrays.len());
        let mut repack = HashSet::new();
        for (_, info, table, _) in &arrays {
            let lane = writer
                .lane(info.codec.as_deref(), info.meta.dtype)
                .map_err(|reason| Error::InvalidCodec {
                    name: info.meta.name.clone(),
                    codec: info.codec.clone().unwrap_or_default(),
                    reason,
                })?;
            lanes.push(lane);
            if info.codec.is_some() {
                mismatched(&self.index, table, writer.codec(lane).name(), &mut repack)?;
            }
        }
        // Chunks move in batches of about COMPACT_BATCH_BYTES across arrays,
        // so a file of many small arrays costs a few large requests, not one
        // per array.
        let mut moves = Moves {
            live: self.index.live_refs()?,
            repack,
            lanes,
            copied: HashMap::new(),
            writer,
            out: arrays
                .iter()
                .map(|(_, _, c, _)| Vec::with_capacity(c.chunks.len()))
                .collect(),
        };
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
                    self.move_chunks(&batch, &mut moves).await?;
                    batch.clear();
                    batch_bytes = 0;
                }
            }
        }
        if !batch.is_empty() {
            self.move_chunks(&batch, &mut moves).await?;
        }
        let mut records: Vec<ArrayRecord> = Vec::with_capacity(arrays.len());
        for ((array, info, _, attrs), chunks) in arrays.iter().zip(moves.out) {
            records.push(ArrayRecord {
                name: info.meta.name.clone(),
                op: RecordOp::Define(info.to_def()),
                defined_seq: array.defined_seq,
                attrs: attr_records(attrs),
                chunks,
            });
        }
        let mut writer = moves.writer;
        let layout = writer.layout(self.settings.block_target)?;
        for r in &mut records {
            for c in &mut r.chunks {
                c.frame = layout
                    .remap
                    .get(c.frame as usize)
                    .copied()
                    .flatten()
                    .ok_or_else(|| Error::internal("compaction: a chunk in a dropped frame"))?;
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
        let parts = LayerParts {
            header,
            layout,
            file_attrs: attr_records(file_attrs),
            records,
        };
        let reader = commit_layer(&self.store, writer.spill(), parts).await?;
        // A stale compaction must not replace the index or delete anything.
        self.check_not_orphaned(&reader).await?;
        let mut index = CommittedIndex::default();
        index.apply(reader)?;
        let old = std::mem::replace(&mut self.index, index).layers;
        // The snapshot is durable: the layers below it are redundant, and so
        // are the parts they adopted (the snapshot holds copies of their
        // frames). Readers elsewhere may still be reading them: they are
        // kept for the retention, and those an earlier compaction replaced
        // longer ago go now. A failed delete only leaves garbage that
        // `vacuum` removes.
        if !retention.is_zero() {
            let _ = self.delete_expired(retention).await;
            return Ok(());
        }
        // Layers go first, so that no layer outlives its parts.
        for layer in &old {
            if layer.header.seq != 0 {
                let _ = self.store.delete(&layer.path).await;
            }
        }
        for part in old.iter().flat_map(|l| l.adopted()) {
            let _ = self.store.delete(&part.path).await;
        }
        Ok(())
    }

    /// Copies one batch of chunks, `(array slot, chunk index, reference)`,
    /// into the snapshot writer; their new records go to `m.out[slot]`.
    async fn move_chunks(&self, batch: &[(usize, u64, &ChunkRef)], m: &mut Moves) -> Result<()> {
        // Per layer: frames to copy verbatim, frames to decode.
        let mut verbatim: HashMap<u32, Vec<u32>> = HashMap::new();
        let mut decode: HashMap<u32, Vec<u32>> = HashMap::new();
        let mut listed: HashSet<FrameKey> = HashSet::new();
        for (_, _, c) in batch {
            let key = (c.layer, c.loc.frame);
            if m.copied.contains_key(&key) || !listed.insert(key) {
                continue;
            }
            let layer = self.layer(c.layer)?;
            let total = layer
                .frame_refs
                .get(c.loc.frame as usize)
                .copied()
                .unwrap_or(0);
            let list = if live_refs(&m.live, key) == total && !m.repack.contains(&key) {
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
                let refs = live_refs(&m.live, (layer_idx, frame));
                let codec = layer.frame_codec(frame)?;
                let new = m.writer.copy_frame(&bytes, f.raw_len, f.crc, codec, refs)?;
                m.copied.insert((layer_idx, frame), new);
            }
        }
        let mut decoded: HashMap<FrameKey, Bytes> = HashMap::new();
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
            let loc = match m.copied.get(&key) {
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
                    let lane = m.lanes.get(slot).copied().unwrap_or(Lane::CONFIGURED);
                    m.writer.add_chunk(lane, bytes)?
                }
            };
            let records = m
                .out
                .get_mut(slot)
                .ok_or_else(|| Error::internal(format!("compaction: no array slot {slot}")))?;
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
}

/// The live chunk references of frame `key`.
fn live_refs(live: &[Vec<u32>], (layer, frame): FrameKey) -> u32 {
    live.get(layer as usize)
        .and_then(|l| l.get(frame as usize))
        .copied()
        .unwrap_or(0)
}

/// Adds to `repack` the frames holding chunks of `table` that are not
/// stored with codec `name` (the one the array records).
fn mismatched(
    index: &CommittedIndex,
    table: &ChunkTable,
    name: &str,
    repack: &mut HashSet<FrameKey>,
) -> Result<()> {
    for c in table.chunks.values() {
        let layer = index
            .layers
            .get(c.layer as usize)
            .ok_or_else(|| Error::internal(format!("no layer {} in the index", c.layer)))?;
        if layer.frame_codec(c.loc.frame)? != name {
            repack.insert((c.layer, c.loc.frame));
        }
    }
    Ok(())
}

/// A set of attributes as the records of a snapshot: values with the
/// layers that wrote them.
fn attr_records(set: &AttrSet) -> Vec<AttrRecord> {
    set.all()
        .iter()
        .map(|a| AttrRecord {
            key: a.key.to_string(),
            value: Some(a.value.clone()),
            seq: a.seq,
        })
        .collect()
}
