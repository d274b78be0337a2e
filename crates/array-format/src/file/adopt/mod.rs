//! `commit_parts`: commits staged parts (`stage.rs`) as one delta layer
//! whose blocks stay in the parts, with one conditional create and no data
//! copied (`docs/ARCHITECTURE.md`, "Writes from many processes").
//!
//! The coordinator reads each part's footer (one request each), checks that
//! it is the part described, of this file, and that its chunks collide
//! neither with each other nor with what other writers committed since the
//! part's base, then writes a footer that lists the parts in its object
//! table, their blocks and frames as its own, and one update record per
//! array with the chunks of every part. A lost race for the layer number is
//! retried after a refresh, as long as the changes do not collide.

mod footer;
mod read;

use std::collections::HashSet;

use super::ArrayFile;
use super::open::{WRITER, now_ns, random_id};
use super::staged::StagedPart;
use crate::error::{Error, Result};
use crate::format::{self, Id, LayerHeader, LayerKind};
use crate::layer::LayerReader;
use crate::storage::ObjectPin;
use footer::adopting_footer;
use read::Part;

/// Attempts at a layer number before a commit of parts gives up on writers
/// that keep committing first.
const COMMIT_ATTEMPTS: usize = 16;

impl ArrayFile {
    /// Commits the staged `parts` (and nothing else: this handle's own
    /// pending changes stay pending) as **one** new delta layer whose
    /// blocks live in the parts: one conditional create of a layer that
    /// holds only a footer, no data copied. Readers see all the parts at
    /// once or none of them.
    ///
    /// Checked like [`flush`](Self::flush): a chunk that another writer
    /// committed since the base of the part that writes it, a chunk written
    /// by two parts, or an array deleted or redefined since, is
    /// [`Error::Conflict`], and nothing becomes visible. A layer number
    /// taken by another writer first is retried internally (after a
    /// [`refresh`](Self::refresh)) as long as the changes do not collide.
    ///
    /// Parts that a visible layer adopted already are left out, so a call
    /// repeated after a crash, or after [`Error::CommitUnconfirmed`],
    /// succeeds without committing them twice. With no part left that
    /// holds a chunk, nothing is written.
    ///
    /// Errors: [`Error::ForeignPart`] (a part of another file, or an object
    /// that is not the part described), [`Error::PartNotFound`] (never
    /// written, or reclaimed), [`Error::Corrupted`] (a damaged part, named),
    /// [`Error::InvalidOperation`] (a part listed twice, a read-only handle,
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
                return Ok(());
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
            self.check_part_conflicts(&staged)?;
            let holding: Vec<&Part> = staged
                .iter()
                .filter(|p| p.arrays.iter().any(|(_, c)| !c.is_empty()))
                .collect();
            if holding.is_empty() {
                return Ok(());
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

    /// Commits one delta layer adopting `parts` at the next number, checks
    /// that no concurrent compaction orphaned it, and applies it to the
    /// index. [`Error::Conflict`] when the number was taken or the layer
    /// orphaned (and removed again).
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
        let footer = adopting_footer(header, parts)?;
        let tail = bytes::Bytes::from(format::encode_tail(&footer));
        drop(footer);
        let path = self.store.layer_path(seq);
        let size = tail.len() as u64;
        let footer = tail.slice(..tail.len().saturating_sub(format::TRAILER_LEN));
        // What readers will check, checked before anything is visible.
        let candidate = LayerReader::written(
            &self.store,
            path.clone(),
            size,
            footer.clone(),
            0,
            ObjectPin::default(),
        )?;
        candidate.records().check()?;
        drop(candidate);
        let pin = self.store.create_object(&path, tail.into()).await?;
        let reader = LayerReader::written(&self.store, path, size, footer, 0, pin)?;
        self.check_not_orphaned(&reader).await?;
        self.index.apply(reader)
    }
}
