//! `vacuum`: reclaims what no version needs: layers below the newest
//! snapshot, staging objects of interrupted commits, and staged parts no
//! layer adopted (`docs/FORMAT.md` 13.4).

use std::collections::HashSet;
use std::time::{Duration, SystemTime};

use object_store::ObjectMeta;

use super::ArrayFile;
use crate::error::{Error, Result};
use crate::format::Id;
use crate::layer::LayerReader;

/// Staging objects younger than this may belong to a commit in progress.
const STAGING_GRACE: Duration = Duration::from_secs(3600);

/// How old a staged part no layer adopted must be before
/// [`ArrayFile::vacuum`] deletes it (24 hours): younger ones may belong to a
/// run whose parts are not committed yet.
pub const DEFAULT_PART_GRACE: Duration = Duration::from_secs(24 * 3600);

/// What [`ArrayFile::vacuum`] removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VacuumReport {
    /// Paths of the deleted objects.
    pub deleted: Vec<String>,
    /// Bytes they held.
    pub bytes: u64,
    /// How many of them were staged parts.
    pub parts: usize,
}

impl VacuumReport {
    fn add(&mut self, obj: &ObjectMeta) {
        self.bytes += obj.size;
        self.deleted.push(obj.location.to_string());
    }
}

impl ArrayFile {
    /// Deletes the objects no version reachable from this handle's view
    /// needs: layers below the newest snapshot (except the base, layer 0),
    /// staging objects of interrupted commits older than an hour, and
    /// staged parts that no remaining layer adopted: at once when a deleted
    /// layer had adopted them, else once older than
    /// [`DEFAULT_PART_GRACE`] (24 hours; see
    /// [`vacuum_with_grace`](Self::vacuum_with_grace)).
    ///
    /// Handles of other processes still reading the deleted layers get
    /// [`Error::Vanished`]; time travel to before the newest snapshot is no
    /// longer possible.
    pub async fn vacuum(&mut self) -> Result<VacuumReport> {
        self.vacuum_with_grace(DEFAULT_PART_GRACE).await
    }

    /// Like [`vacuum`](Self::vacuum), deleting staged parts that no layer
    /// adopted once they are older than `part_grace`. Parts of a run still
    /// in progress are adopted by no layer until its commit: a grace
    /// shorter than the longest run between [`stage`](Self::stage) and
    /// [`commit_parts`](Self::commit_parts) can delete parts that a commit
    /// then refers to, and their chunks become unreadable.
    pub async fn vacuum_with_grace(&mut self, part_grace: Duration) -> Result<VacuumReport> {
        self.check_writable("vacuum")?;
        let generation = self.index.layers.first().map_or(0, |l| l.header.seq);
        let now = SystemTime::now();
        let older_than = |obj: &ObjectMeta, grace: Duration| {
            let modified: SystemTime = obj.last_modified.into();
            now.duration_since(modified).is_ok_and(|age| age >= grace)
        };
        // Parts are listed first: a commit that adopts one after this
        // listing creates a layer that the layer listing below sees.
        let parts = self.store.list_parts().await?;
        let mut report = VacuumReport::default();
        let mut kept = Vec::new();
        let mut freed: HashSet<Id> = HashSet::new();
        for obj in self.store.list_all().await? {
            match self.store.parse_layer(&obj.location) {
                Some(seq) if seq > 0 && seq < generation => {
                    // The parts it adopted go with it (if it can be read).
                    if let Ok(layer) = LayerReader::open(&self.store, obj.location.clone()).await {
                        freed.extend(layer.adopted().iter().map(|a| a.entry.part_id));
                    }
                    self.store.delete(&obj.location).await?;
                    report.add(&obj);
                }
                Some(_) => kept.push(obj),
                None if older_than(&obj, STAGING_GRACE) => {
                    self.store.delete(&obj.location).await?;
                    report.add(&obj);
                }
                None => {}
            }
        }
        if parts.is_empty() {
            return Ok(report);
        }
        let Some(adopted) = self.adopted_by(&kept).await? else {
            // A layer that cannot be read may adopt any part: keep them all.
            return Ok(report);
        };
        for obj in parts {
            let Some(id) = self.store.parse_part(&obj.location) else {
                continue;
            };
            if adopted.contains(&id) || !(freed.contains(&id) || older_than(&obj, part_grace)) {
                continue;
            }
            self.store.delete(&obj.location).await?;
            report.add(&obj);
            report.parts += 1;
        }
        Ok(report)
    }

    /// The parts that the layers `listed` adopted, from this handle's view
    /// where a layer is in it and from its footer otherwise; `None` if a
    /// footer cannot be read.
    async fn adopted_by(&self, listed: &[ObjectMeta]) -> Result<Option<HashSet<Id>>> {
        let mut adopted = HashSet::new();
        for obj in listed {
            if let Some(layer) = self.index.layers.iter().find(|l| l.path == obj.location) {
                adopted.extend(layer.adopted().iter().map(|a| a.entry.part_id));
                continue;
            }
            match LayerReader::open(&self.store, obj.location.clone()).await {
                Ok(layer) => adopted.extend(layer.adopted().iter().map(|a| a.entry.part_id)),
                // Deleted meanwhile (by a compaction, which deletes its
                // parts itself).
                Err(Error::Vanished { .. }) => {}
                Err(Error::Corrupted { .. } | Error::UnsupportedVersion { .. }) => {
                    return Ok(None);
                }
                Err(e) => return Err(e),
            }
        }
        Ok(Some(adopted))
    }
}
