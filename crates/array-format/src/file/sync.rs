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

use super::ArrayFile;
use super::index::IndexedArray;
use super::open::load_index;
use crate::error::{Error, Result};
use crate::format::LayerKind;
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
    /// changes are kept.
    pub(crate) async fn check_not_orphaned(&self, ours: &LayerReader) -> Result<()> {
        let listed = self.store.list_layers().await?;
        for obj in listed.iter().filter(|o| o.seq > ours.header.seq) {
            let reader = match LayerReader::open(&self.store, obj.path.clone()).await {
                Ok(reader) => reader,
                Err(Error::Vanished { .. }) => continue,
                Err(e) => return Err(e),
            };
            if reader.header.kind != LayerKind::Snapshot {
                continue;
            }
            if reader.header.merged.contains(&ours.header.layer_id) {
                return Ok(());
            }
            let _ = self.store.delete(&ours.path).await;
            return Err(self.conflict(format!(
                "another writer compacted the file into layer {} while this handle committed layer {}; refresh() and flush again",
                reader.header.seq, ours.header.seq
            )));
        }
        Ok(())
    }
}
