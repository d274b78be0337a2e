//! `stage`: writes a handle's pending chunk writes (and definitions of
//! arrays) as a staged part, an object no reader sees, for a coordinator to
//! commit with the parts of other writers as one layer (`adopt/`).

use super::ArrayFile;
use super::commit::{LayerParts, created_by_us, write_object};
use super::open::{WRITER, now_ns, random_id};
use super::staged::StagedPart;
use crate::error::{Error, Result};
use crate::format::{LayerHeader, LayerKind};
use crate::layer::PendingOp;

impl ArrayFile {
    /// Writes this handle's pending chunk writes as a *staged part*, an
    /// object `{stem}.parts/{hex}.af` that no reader sees, clears them, and
    /// returns the part's description. [`commit_parts`](Self::commit_parts)
    /// (in this process or another, after
    /// [`StagedPart::to_bytes`]/[`from_bytes`](StagedPart::from_bytes))
    /// makes the parts of many writers visible at once, as one layer.
    ///
    /// Chunk writes and definitions of arrays can be staged; a part that
    /// defines an array is committed only by a handle whose own pending
    /// changes define it the same way (so that a job's new arrays and
    /// their data appear in one commit). A pending deletion or attribute
    /// change (of an array, a new one included, or of the file) is refused
    /// with [`Error::NotStageable`], and nothing is written. Chunk writes
    /// that collide with what other writers committed since this handle's
    /// view are refused as by [`flush`](Self::flush), with
    /// [`Error::Conflict`]. With nothing pending, the part is empty.
    ///
    /// The staged writes leave this handle's pending layer: its reads no
    /// longer see them, until a commit of the part and a
    /// [`refresh`](Self::refresh). A part that is never committed is
    /// reclaimed by [`vacuum`](Self::vacuum) once older than its grace
    /// period (24 hours by default).
    pub async fn stage(&mut self) -> Result<StagedPart> {
        self.check_writable("stage")?;
        self.check_stageable()?;
        // A chunk another writer changed since this view cannot be
        // committed; the coordinator would refuse the part, so say it now.
        self.check_conflicts()?;
        let latest = self.index.latest().ok_or_else(|| Error::InvalidOperation {
            operation: "stage",
            reason: "the file has no base layer".into(),
        })?;
        let (seq, generation, parent_id) = (
            latest.header.seq,
            latest.header.generation,
            latest.header.layer_id,
        );
        let block_target = self.settings.block_target;
        self.pending_mut()?;
        let pending = self
            .pending
            .as_mut()
            .ok_or_else(|| Error::InvalidOperation {
                operation: "stage",
                reason: "the pending layer could not be created".into(),
            })?;
        let (layout, mut records) = pending.finish(block_target, seq)?;
        // Each chunk keeps the layer it was written against: the
        // coordinator's conflict check compares it with what is committed
        // when the part is adopted.
        let mut chunks = 0u64;
        for r in &mut records {
            for c in &mut r.chunks {
                c.seq = pending.chunk_base(&r.name, c.index).unwrap_or(seq);
                chunks += 1;
            }
        }
        let part_id = random_id();
        let header = LayerHeader {
            dataset_id: self.dataset_id,
            layer_id: part_id,
            parent_id,
            seq,
            generation,
            kind: LayerKind::Part,
            created_ns: now_ns(),
            writer: WRITER.into(),
            merged: Vec::new(),
        };
        let parts = LayerParts {
            header,
            layout,
            file_attrs: Vec::new(),
            records,
        };
        let path = self.store.part_path(&part_id);
        // A create refused as taken may be this one, its reply lost.
        let size = match write_object(&self.store, path.clone(), pending.spill(), parts).await {
            Ok(written) => written.size,
            Err(taken @ Error::Conflict { .. }) => {
                created_by_us(&self.store, path, part_id)
                    .await
                    .ok_or(taken)?
                    .size
            }
            Err(e) => return Err(e),
        };
        self.pending = None;
        Ok(StagedPart {
            dataset_id: self.dataset_id,
            part_id,
            size,
            base: seq,
            chunks,
            name: self.store.part_name(&part_id),
        })
    }

    /// Fails with [`Error::NotStageable`] if a pending change is neither a
    /// chunk write nor the definition of an array without attributes.
    fn check_stageable(&self) -> Result<()> {
        let Some(pending) = &self.pending else {
            return Ok(());
        };
        let refuse = |change: String| Err(Error::NotStageable { change });
        if !pending.file_attrs().changes.is_empty() {
            return refuse("a change to the file's attributes".into());
        }
        let mut names: Vec<&String> = pending.arrays().map(|(n, _)| n).collect();
        names.sort();
        for name in names {
            let Some(record) = pending.get(name) else {
                continue;
            };
            match record.op {
                PendingOp::Tombstone => return refuse(format!("the deletion of array {name:?}")),
                PendingOp::Define(_) if !record.attrs.is_empty() => {
                    return refuse(format!("the attributes of new array {name:?}"));
                }
                PendingOp::Update if !record.attrs.is_empty() => {
                    return refuse(format!("a change to the attributes of array {name:?}"));
                }
                PendingOp::Define(_) | PendingOp::Update => {}
            }
        }
        Ok(())
    }
}
