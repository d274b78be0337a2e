//! Living with other writers: conflict checks before a commit, the check
//! that a fresh layer was not orphaned by a concurrent compaction, and
//! `refresh`.
//!
//! Every chunk, attribute and definition records the layer that wrote it
//! (compaction keeps these numbers), and every pending change records the
//! newest layer it was made against. A flush conflicts exactly when a
//! committed version is newer than the pending change's base: then another
//! writer changed the same chunk, attribute or array since this handle read
//! it.

use object_store::path::Path;

use super::index::IndexedArray;
use super::open::load_index;
use super::{ArrayFile, Unconfirmed};
use crate::error::{Error, Result};
use crate::format::{Id, LayerKind};
use crate::layer::{LayerReader, PendingArray, PendingOp};

impl ArrayFile {
    /// Fails if this handle may not change the file.
    pub(crate) fn check_writable(&self, operation: &'static str) -> Result<()> {
        match self.as_of {
            Some(layer) => Err(Error::InvalidOperation {
                operation,
                reason: format!("the file was opened as of layer {layer}, which is read-only"),
            }),
            None => Ok(()),
        }
    }

    /// Loads the layers other writers committed since this handle's view.
    /// Pending changes are kept; the next [`flush`](Self::flush) reports
    /// [`Error::Conflict`] if they collide with what was loaded.
    pub async fn refresh(&mut self) -> Result<()> {
        self.check_writable("refresh")?;
        let (index, dataset_id) = load_index(&self.store, None).await?;
        if dataset_id != self.dataset_id {
            return Err(Error::InvalidOperation {
                operation: "refresh",
                reason: format!(
                    "{} was re-created since this handle opened it; open it again",
                    self.store.base_path()
                ),
            });
        }
        self.index = index;
        Ok(())
    }

    fn conflict(&self, reason: String) -> Error {
        Error::Conflict {
            path: self.store.base_path().to_string(),
            reason,
        }
    }

    /// Whether `array` changed after layer `since` (definition, any chunk or
    /// attribute).
    fn changed_since(
        &self,
        array: &IndexedArray,
        record: &PendingArray,
        since: u64,
    ) -> Result<bool> {
        if array.defined_seq != record.base.defined_seq {
            return Ok(true);
        }
        let attrs = self.index.attrs(array)?;
        Ok(self
            .index
            .chunks(array)?
            .chunks
            .values()
            .any(|c| c.seq > since)
            || attrs.all().iter().any(|a| a.seq > since)
            || attrs.removal_seqs().any(|seq| seq > since))
    }

    /// Fails with [`Error::Conflict`] if a pending change collides with a
    /// change committed by another writer after the pending change was made.
    pub(crate) fn check_conflicts(&self) -> Result<()> {
        let Some(pending) = &self.pending else {
            return Ok(());
        };
        let file_attrs = pending.file_attrs();
        if !file_attrs.changes.is_empty() {
            let committed = self.index.file_attrs()?;
            for key in file_attrs.changes.keys() {
                let base = file_attrs.bases.get(key).copied().unwrap_or(0);
                let changed = committed
                    .get(key)
                    .map(|a| a.seq)
                    .or_else(|| committed.removed(key));
                if let Some(seq) = changed
                    && seq > base
                {
                    return Err(self.conflict(format!(
                        "file attribute {key:?} was changed by another writer (layer {seq})"
                    )));
                }
            }
        }
        let index = &self.index.arrays;
        for (name, record) in pending.arrays() {
            let committed = index.get(name);
            match (&record.op, committed) {
                (PendingOp::Define(_), Some(array)) => {
                    if record.base.defined_seq == 0 {
                        return Err(self.conflict(format!(
                            "array {name:?} was defined by another writer (layer {})",
                            array.defined_seq
                        )));
                    }
                    if self.changed_since(array, record, record.base.seq)? {
                        return Err(self.conflict(format!(
                            "array {name:?}, deleted and redefined here, was changed by another writer"
                        )));
                    }
                }
                (PendingOp::Define(_), None) => {}
                (PendingOp::Tombstone, None) => {}
                (PendingOp::Tombstone, Some(array)) => {
                    if self.changed_since(array, record, record.base.seq)? {
                        return Err(self.conflict(format!(
                            "array {name:?}, deleted here, was changed by another writer"
                        )));
                    }
                }
                (PendingOp::Update, None) => {
                    return Err(
                        self.conflict(format!("array {name:?} was deleted by another writer"))
                    );
                }
                (PendingOp::Update, Some(array)) => {
                    if array.defined_seq != record.base.defined_seq {
                        return Err(self.conflict(format!(
                            "array {name:?} was redefined by another writer (layer {})",
                            array.defined_seq
                        )));
                    }
                    let chunks = &self.index.chunks(array)?.chunks;
                    for (index, chunk) in &record.chunks {
                        if let Some(c) = chunks.get(index)
                            && c.seq > chunk.base_seq
                        {
                            let coord = self
                                .index
                                .info(array)?
                                .grid
                                .coord_of(*index)
                                .unwrap_or_default();
                            return Err(self.conflict(format!(
                                "chunk {coord:?} of array {name:?} was written by another writer (layer {})",
                                c.seq
                            )));
                        }
                    }
                    if record.attrs.is_empty() {
                        continue;
                    }
                    // Only arrays whose attributes change here decode theirs.
                    let attrs = self.index.attrs(array)?;
                    for key in record.attrs.keys() {
                        let base = record
                            .attr_bases
                            .get(key)
                            .copied()
                            .unwrap_or(record.base.seq);
                        let changed = attrs.get(key).map(|a| a.seq).or_else(|| attrs.removed(key));
                        if let Some(seq) = changed
                            && seq > base
                        {
                            return Err(self.conflict(format!(
                                "attribute {key:?} of array {name:?} was changed by another writer (layer {seq})"
                            )));
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// After committing `ours`, makes sure no concurrent compaction had
    /// already replaced the layers it builds on (its number would then have
    /// been free only because the compaction deleted it). An orphaned layer
    /// is removed again and reported as [`Error::Conflict`]; the pending
    /// changes are kept. When the check cannot finish, the error says so and
    /// the layer is left in place.
    pub(crate) async fn check_not_orphaned(&self, ours: &LayerReader) -> Result<()> {
        let (seq, id) = (ours.header.seq, ours.header.layer_id);
        match self.history_at(seq, &ours.path).await? {
            Position::Open => Ok(()),
            Position::Taken { id: held, .. } if held == id => Ok(()),
            Position::Taken { snapshot, .. } => {
                self.drop_orphan(&ours.path).await;
                Err(self.conflict(format!(
                    "another writer compacted the file into layer {snapshot} while this handle committed layer {seq}; refresh() and flush again"
                )))
            }
        }
    }

    /// Settles a layer whose check did not finish: `Ok(true)` when it is
    /// part of the file (its changes are committed), `Ok(false)` when it was
    /// orphaned (and is now removed).
    pub(crate) async fn settle(&self, layer: &Unconfirmed) -> Result<bool> {
        match self.history_at(layer.seq, &layer.path).await? {
            Position::Open => Ok(true),
            Position::Taken { id, .. } if id == layer.layer_id => Ok(true),
            Position::Taken { .. } => {
                self.drop_orphan(&layer.path).await;
                Ok(false)
            }
        }
    }

    /// Removes an orphaned layer. Whatever now holds its name is an orphan
    /// too: the layer the history has at that number was deleted before the
    /// name could be taken again.
    async fn drop_orphan(&self, path: &Path) {
        // Best effort: vacuum removes what remains.
        let _ = self.store.delete(path).await;
    }

    /// Which layer the file's history holds at number `seq`, as recorded by
    /// the first snapshot above it (FORMAT.md 13.2). `written` names the
    /// layer being checked, for errors.
    ///
    /// Snapshots record the `layer_id`s of up to
    /// [`LINEAGE_KEEP`](super::commit::LINEAGE_KEEP) numbers
    /// below them, so the answer survives the snapshot that merged `seq`
    /// being compacted away in turn.
    async fn history_at(&self, seq: u64, written: &Path) -> Result<Position> {
        let unconfirmed = |reason: String| Error::CommitUnconfirmed {
            path: written.to_string(),
            reason,
        };
        for _ in 0..HISTORY_ATTEMPTS {
            let listed = self.store.list_layer_names().await?;
            let mut vanished = false;
            for obj in listed.iter().filter(|o| o.seq > seq) {
                let reader = match LayerReader::open(&self.store, obj.path.clone()).await {
                    Ok(reader) => reader,
                    // A compaction deleted it, so a newer snapshot exists
                    // that this listing may not show: list again.
                    Err(Error::Vanished { .. }) => {
                        vanished = true;
                        break;
                    }
                    Err(e) => return Err(e),
                };
                if reader.header.kind != LayerKind::Snapshot {
                    continue;
                }
                let snapshot = reader.header.seq;
                let merged = &reader.header.merged;
                let first = snapshot.checked_sub(merged.len() as u64);
                let held = first
                    .filter(|&first| first <= seq)
                    .and_then(|first| usize::try_from(seq - first).ok())
                    .and_then(|at| merged.get(at));
                return match held {
                    Some(&id) => Ok(Position::Taken { snapshot, id }),
                    None => Err(unconfirmed(format!(
                        "snapshot layer {snapshot}, the first above layer {seq}, records the history of the {} layers below it only",
                        merged.len()
                    ))),
                };
            }
            if !vanished {
                return Ok(Position::Open);
            }
        }
        Err(unconfirmed(format!(
            "the layers above layer {seq} kept being compacted while they were read ({HISTORY_ATTEMPTS} listings)"
        )))
    }
}

/// Listings [`ArrayFile::history_at`] makes before it gives up on layers
/// that compactions keep deleting under it.
const HISTORY_ATTEMPTS: usize = 16;

/// What the file's history holds at one layer number.
enum Position {
    /// No snapshot lies above it: the layer there stands.
    Open,
    /// The first snapshot above it, and the layer it records there.
    Taken { snapshot: u64, id: Id },
}
