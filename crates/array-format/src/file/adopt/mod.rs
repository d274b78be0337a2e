//! `commit_parts`: commits staged parts (`stage.rs`), with the handle's own
//! pending changes, as one delta layer whose blocks stay in the parts, with
//! one conditional create and no data of the parts copied
//! (`docs/ARCHITECTURE.md`, "Writes from many processes").
//!
//! The coordinator reads each part's footer (one request each), checks that
//! it is the part described, of this file, and that its chunks collide
//! neither with each other, nor with its own pending changes, nor with what
//! other writers committed since the part's base, then writes a layer whose
//! data region holds its own pending frames and whose footer lists the
//! parts in its object table, their blocks and frames after its own, and
//! per array one record with its own chunks and those of every part. A lost
//! race for the layer number is retried after a refresh, as long as the
//! changes do not collide.

mod footer;
mod read;

use std::collections::HashSet;

use super::open::{WRITER, now_ns, random_id};
use super::staged::StagedPart;
use super::{ArrayFile, Unconfirmed};
use crate::error::{Error, Result};
use crate::format::{self, Id, LayerHeader, LayerKind};
use crate::layer::LayerReader;
use crate::storage::ObjectPin;
use footer::{Own, adopting_footer};
use read::Part;

/// Attempts at a layer number before a commit of parts gives up on writers
/// that keep committing first.
const COMMIT_ATTEMPTS: usize = 16;

impl ArrayFile {
    /// Commits the staged `parts` and this handle's own pending changes as
    /// **one** new delta layer whose blocks for the parts live in the
    /// parts: one conditional create of a layer that holds only the
    /// handle's own frames and a footer, no data of the parts copied.
    /// Readers see all of it at once or none of it.
    ///
    /// A part may write arrays that are committed, and arrays that this
    /// handle defines in its pending changes: the part's writer defined
    /// them the same way (same dtype, shape, chunks, dimension names, fill
    /// value and codec) before writing, so the job's arrays appear with
    /// their data in one commit, and a job that fails leaves the file as
    /// it was.
    ///
    /// Checked like [`flush`](Self::flush): a chunk that another writer
    /// committed since the base of the part that writes it, a chunk written
    /// by two parts (or by a part and this handle), or an array deleted or
    /// redefined since (or by this handle's pending changes), is
    /// [`Error::Conflict`], and nothing becomes visible; the pending
    /// changes are kept. A layer number taken by another writer first is
    /// retried internally (after a [`refresh`](Self::refresh)) as long as
    /// the changes do not collide.
    ///
    /// Parts that a visible layer adopted already are left out, so a call
    /// repeated after a crash, or after [`Error::CommitUnconfirmed`],
    /// succeeds without committing them twice. With no part left that
    /// holds a chunk, this is a [`flush`](Self::flush).
    ///
    /// Errors: [`Error::ForeignPart`] (a part of another file, or an object
    /// that is not the part described), [`Error::PartNotFound`] (never
    /// written, or reclaimed), [`Error::Corrupted`] (a damaged part, named),
    /// [`Error::InvalidOperation`] (a part listed twice, a part defining an
    /// array this handle does not define the same way, a read-only handle,
    /// a handle whose last flush is unconfirmed); nothing is written.
    pub async fn commit_parts(&mut self, parts: &[StagedPart]) -> Result<()> {
        self.check_writable("commit_parts")?;
        if let Some(u) = &self.unconfirmed {
            return Err(Error::InvalidOperation {
                operation: "commit_parts",
                reason: format!(
                    "whether layer {} was committed is not settled yet; flush() to settle it",
                    u.path
                ),
            });
        }
        self.check_descriptions(parts)?;
        let mut read: Option<Vec<Part>> = None;
        // Whether the view was refreshed for a part staged against a newer
        // layer than it had.
        let mut caught_up = false;
        for _ in 0..COMMIT_ATTEMPTS {
            let adopted = self.adopted_parts();
            let todo: Vec<&StagedPart> = parts
                .iter()
                .filter(|p| !adopted.contains(&p.part_id))
                .collect();
            if todo.is_empty() {
                return self.flush().await;
            }
            let staged = match read.take() {
                Some(staged) => staged,
                None => self.read_parts(&todo).await?,
            };
            // Parts another attempt found adopted (by this call's own layer,
            // when its commit was unconfirmed) are left out.
            let staged: Vec<Part> = staged
                .into_iter()
                .filter(|p| !adopted.contains(&p.reader.header.layer_id))
                .collect();
            if let Some(ahead) = staged.iter().find(|p| p.base > self.index.latest_seq()) {
                if caught_up {
                    return Err(Error::Conflict {
                        path: ahead.reader.path.to_string(),
                        reason: format!(
                            "the part was staged against layer {}, newer than the file's newest layer {}",
                            ahead.base,
                            self.index.latest_seq()
                        ),
                    });
                }
                // A part written against layers this view lacks: its arrays
                // may not even be in the view yet.
                self.refresh().await?;
                caught_up = true;
                read = Some(staged);
                continue;
            }
            self.check_conflicts()?;
            self.check_part_conflicts(&staged)?;
            let holding: Vec<&Part> = staged
                .iter()
                .filter(|p| p.arrays.iter().any(|a| !a.chunks.is_empty()))
                .collect();
            if holding.is_empty() {
                return self.flush().await;
            }
            match self.commit_adopting(&holding).await {
                Ok(()) => return Ok(()),
                // Another writer took the number, or a concurrent compaction
                // orphaned the layer (which is deleted again): retry on the
                // newest view, which checks the changes again.
                Err(Error::Conflict { .. }) => {
                    self.refresh().await?;
                    read = Some(staged);
                }
                Err(e) => return Err(e),
            }
        }
        Err(Error::Conflict {
            path: self.store.base_path().to_string(),
            reason: format!(
                "other writers committed first {COMMIT_ATTEMPTS} times while these parts were committed"
            ),
        })
    }

    /// Fails unless every description names a part of this file, once.
    fn check_descriptions(&self, parts: &[StagedPart]) -> Result<()> {
        let mut seen = HashSet::with_capacity(parts.len());
        for p in parts {
            let foreign = |reason: &str| Error::ForeignPart {
                path: p.name.clone(),
                reason: reason.to_owned(),
            };
            if p.dataset_id != self.dataset_id {
                return Err(foreign("it was staged for another file (dataset id)"));
            }
            if self.store.parse_part_name(&p.name) != Some(p.part_id) {
                return Err(foreign("its name is not that of a part of this file"));
            }
            if !seen.insert(p.part_id) {
                return Err(Error::InvalidOperation {
                    operation: "commit_parts",
                    reason: format!("part {} is listed twice", p.name),
                });
            }
        }
        Ok(())
    }

    /// The identities of the parts the visible layers adopted.
    fn adopted_parts(&self) -> HashSet<Id> {
        self.index
            .layers
            .iter()
            .flat_map(|l| l.adopted().iter().map(|a| a.entry.part_id))
            .collect()
    }

    /// Commits one delta layer holding this handle's pending changes and
    /// adopting `parts` at the next number, checks that no concurrent
    /// compaction orphaned it, and applies it to the index.
    /// [`Error::Conflict`] when the number was taken or the layer orphaned
    /// (and removed again); the pending changes are then kept.
    async fn commit_adopting(&mut self, parts: &[&Part]) -> Result<()> {
        let (parent_id, generation, seq) = self.next_layer()?;
        let header = LayerHeader {
            dataset_id: self.dataset_id,
            layer_id: random_id(),
            parent_id,
            seq,
            generation,
            kind: LayerKind::Delta,
            created_ns: now_ns(),
            writer: WRITER.into(),
            merged: Vec::new(),
        };
        let block_target = self.settings.block_target;
        let (own, ranges, data_end) = match self.pending.as_mut() {
            Some(pending) if !pending.is_empty() => {
                let (layout, records) = pending.finish(block_target, seq)?;
                let own = Own {
                    codecs: layout.codecs,
                    blocks: layout.blocks,
                    frames: layout.frames,
                    file_attrs: pending.file_attr_records(seq),
                    records,
                };
                (own, layout.ranges, layout.len)
            }
            _ => (Own::default(), Vec::new(), 0),
        };
        let has_own = data_end > 0 || !own.records.is_empty() || !own.file_attrs.is_empty();
        let footer = adopting_footer(header, own, parts)?;
        let tail = bytes::Bytes::from(format::encode_tail(&footer));
        drop(footer);
        let path = self.store.layer_path(seq);
        let size = data_end + tail.len() as u64;
        let footer = tail.slice(..tail.len().saturating_sub(format::TRAILER_LEN));
        // What readers will check, checked before anything is visible.
        let candidate = LayerReader::written(
            &self.store,
            path.clone(),
            size,
            footer.clone(),
            data_end,
            ObjectPin::default(),
        )?;
        candidate.records().check()?;
        drop(candidate);
        let pin = match self.pending.as_ref() {
            Some(pending) if !ranges.is_empty() => {
                self.store
                    .create_from_parts(&path, pending.spill(), &ranges, &tail)
                    .await?
            }
            _ => self.store.create_object(&path, tail.into()).await?,
        };
        let reader = LayerReader::written(&self.store, path, size, footer, data_end, pin)?;
        match self.check_not_orphaned(&reader).await {
            Ok(()) => {}
            Err(e @ Error::Conflict { .. }) => return Err(e),
            // Whether the layer stays is not known: the handle's own changes
            // must not be committed again by a later flush, which settles
            // it first. (Parts alone are found adopted when repeated.)
            Err(e) if has_own => {
                self.unconfirmed = Some(Unconfirmed {
                    seq: reader.header.seq,
                    layer_id: reader.header.layer_id,
                    path: reader.path.clone(),
                });
                return Err(e);
            }
            Err(e) => return Err(e),
        }
        self.index.apply(reader)?;
        self.pending = None;
        Ok(())
    }
}
