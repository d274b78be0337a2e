//! Committing: `flush` turns the pending layer into the next delta layer;
//! `compact` (`compact.rs`) merges the visible layers into one snapshot
//! layer, and commits it the same way.
//!
//! Both write the whole layer object with one conditional create of
//! `{stem}.N.af` where N is the next number: if another writer took N first
//! the commit fails with [`Error::Conflict`] and nothing is lost (the pending
//! layer is kept). A snapshot makes every lower layer redundant; compaction
//! deletes those only after the snapshot is committed.

use bytes::Bytes;

use super::open::load_index;
use super::open::{WRITER, now_ns, random_id};
use super::{ArrayFile, Unconfirmed};
use crate::error::{Error, Result};
use crate::format::{self, ArrayRecord, AttrRecord, Footer, Id, LayerHeader, LayerKind, RecordOp};
use crate::layer::{DataLayout, LayerReader};
use crate::storage::{InMemoryStorage, SpillFile, Storage};

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
        let mut file_attrs = pending.file_attr_records(seq);
        // The first commit on the empty base is already everything the file
        // holds, so it is written as a snapshot: the file is compacted from
        // the start, and a later `compact` has nothing to rewrite. Over an
        // empty base every record is a definition, but for deletions of
        // arrays that were never committed, which change nothing (and no
        // file attribute is removed, for none was committed).
        let snapshot = self.only_the_empty_base();
        if snapshot {
            records.retain(|r| matches!(r.op, RecordOp::Define(_)));
            file_attrs.retain(|a| a.value.is_some());
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
            .ok_or_else(|| Error::internal("the pending layer vanished during a commit"))?;
        let parts = LayerParts {
            header,
            layout,
            file_attrs,
            records,
        };
        let reader = commit_layer(&self.store, spill, parts).await?;
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

    /// Whether the view is the base layer alone, holding no array and no
    /// file attribute (a file `create` made and nothing was committed to
    /// yet).
    fn only_the_empty_base(&self) -> bool {
        self.index.arrays.len() == 0
            && self.index.file_attrs().is_ok_and(|a| a.all().is_empty())
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
            let bytes = self.store.get(&latest.path).await?;
            storage.write(bytes).await?;
        }
        Ok(())
    }

    /// The `merged` list of a snapshot of this view: the `layer_id`s of the
    /// layers it merges, preceded by as much of the history its base
    /// snapshot recorded as makes [`LINEAGE_KEEP`] in all.
    pub(super) fn lineage(&self) -> Vec<Id> {
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
    pub(super) fn next_layer(&self) -> Result<([u8; 16], u64, u64)> {
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

/// What a layer object holds besides its frames: header, the layout of
/// its data region, the file's attributes and the array records.
pub(super) struct LayerParts {
    pub(super) header: LayerHeader,
    pub(super) layout: DataLayout,
    pub(super) file_attrs: Vec<AttrRecord>,
    pub(super) records: Vec<ArrayRecord>,
}

/// An object just written: where, how large, and its footer.
pub(super) struct Written {
    pub(super) path: object_store::path::Path,
    pub(super) size: u64,
    /// The footer bytes (without the trailer).
    pub(super) footer: Bytes,
    /// Where the footer starts: the end of the data region.
    pub(super) data_end: u64,
    pub(super) pin: crate::storage::ObjectPin,
}

/// Writes an object in the layer encoding (data ranges from `spill`, then
/// footer and trailer) at `path`, with a conditional create: a layer, or a
/// staged part.
pub(super) async fn write_object(
    store: &crate::storage::FileStore,
    path: object_store::path::Path,
    spill: &SpillFile,
    parts: LayerParts,
) -> Result<Written> {
    let LayerParts {
        header,
        layout,
        file_attrs,
        records,
    } = parts;
    let footer = Footer {
        header,
        codecs: layout.codecs,
        objects: Vec::new(),
        blocks: layout.blocks,
        frames: layout.frames,
        file_attrs,
        arrays: records,
    };
    let tail = Bytes::from(format::encode_tail(&footer));
    drop(footer);
    let pin = store
        .create_from_parts(&path, spill, &layout.ranges, &tail)
        .await?;
    Ok(Written {
        path,
        size: layout.len + tail.len() as u64,
        footer: tail.slice(..tail.len().saturating_sub(format::TRAILER_LEN)),
        data_end: layout.len,
        pin,
    })
}

/// Writes the layer object `{stem}.N.af` (N its header's number) with a
/// conditional create and returns it as a reader.
///
/// A create refused because the name is taken may have been this very
/// create: its reply was lost, and the store's client retried it and found
/// the object it had made. The object under the name is read, and if it is
/// this layer (its `layer_id`) the commit stands.
pub(super) async fn commit_layer(
    store: &crate::storage::FileStore,
    spill: &SpillFile,
    parts: LayerParts,
) -> Result<LayerReader> {
    let path = store.layer_path(parts.header.seq);
    let layer_id = parts.header.layer_id;
    match write_object(store, path.clone(), spill, parts).await {
        Ok(w) => LayerReader::written(store, w.path, w.size, w.footer, w.data_end, w.pin),
        Err(taken @ Error::Conflict { .. }) => {
            created_by_us(store, path, layer_id).await.ok_or(taken)
        }
        Err(e) => Err(e),
    }
}

/// The object at `path` if it is the one with `id` (a layer's `layer_id`,
/// a part's `part_id`): a create refused as taken whose object is ours
/// after all (see [`commit_layer`]).
pub(super) async fn created_by_us(
    store: &crate::storage::FileStore,
    path: object_store::path::Path,
    id: Id,
) -> Option<LayerReader> {
    LayerReader::open(store, path)
        .await
        .ok()
        .filter(|found| found.header.layer_id == id)
}
