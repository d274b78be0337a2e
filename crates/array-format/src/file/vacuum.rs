//! `vacuum`: reclaims what no version needs: layers that a snapshot
//! replaced longer ago than the retention, staging objects of interrupted
//! commits, and staged parts no layer adopted (`docs/FORMAT.md` 13.4).

use std::collections::{HashMap, HashSet};
use std::time::{Duration, SystemTime};

use object_store::ObjectMeta;
use object_store::path::Path;

use super::ArrayFile;
use crate::error::{Error, Result};
use crate::format::{Id, LayerKind};
use crate::layer::LayerReader;

/// Staging objects younger than this may belong to a commit in progress.
const STAGING_GRACE: Duration = Duration::from_secs(3600);

/// How old a staged part no layer adopted must be before
/// [`ArrayFile::vacuum`] deletes it (24 hours): younger ones may belong to a
/// run whose parts are not committed yet.
pub const DEFAULT_PART_GRACE: Duration = Duration::from_secs(24 * 3600);

/// The layers of a listing sorted by [`ArrayFile::expiry`].
#[derive(Default)]
struct Expiry {
    /// Replaced longer ago than the retention.
    expired: Vec<ObjectMeta>,
    /// The others: visible, the base, or replaced more recently.
    kept: Vec<ObjectMeta>,
    /// The parts the expired layers adopted.
    freed: HashSet<Id>,
    /// The kept layers read to date the others.
    read: HashMap<Path, LayerReader>,
}

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
    /// Deletes the objects no version needs any more, keeping for the
    /// configured [`FileConfig::retention`](super::FileConfig::retention)
    /// (24 hours by default) the layers a compaction replaced: layers below
    /// the newest snapshot of this handle's view (except the base, layer 0)
    /// once the snapshot that replaced them is older than the retention,
    /// staging objects of interrupted commits older than an hour, and
    /// staged parts that no remaining layer adopted: at once when a deleted
    /// layer had adopted them, else once older than [`DEFAULT_PART_GRACE`]
    /// (24 hours; see [`vacuum_with`](Self::vacuum_with)).
    ///
    /// Handles of other processes that read a version whose layers were
    /// deleted get [`Error::Vanished`]; within the retention they read on,
    /// and time travel reaches back through it.
    pub async fn vacuum(&mut self) -> Result<VacuumReport> {
        self.vacuum_with(self.settings.retention, DEFAULT_PART_GRACE)
            .await
    }

    /// Like [`vacuum`](Self::vacuum), deleting staged parts that no layer
    /// adopted once they are older than `part_grace`.
    pub async fn vacuum_with_grace(&mut self, part_grace: Duration) -> Result<VacuumReport> {
        self.vacuum_with(self.settings.retention, part_grace).await
    }

    /// Like [`vacuum`](Self::vacuum), with the retention of replaced layers
    /// and the grace of unadopted parts given: a layer is deleted once the
    /// snapshot that replaced it is older than `retention` (at once for
    /// `Duration::ZERO`); a staged part that no layer adopted, once it is
    /// older than `part_grace`.
    ///
    /// Parts of a run still in progress are adopted by no layer until its
    /// commit: a grace shorter than the longest run between
    /// [`stage`](Self::stage) and [`commit_parts`](Self::commit_parts) can
    /// delete parts that a commit then refers to, and their chunks become
    /// unreadable. A retention shorter than the longest read of a version
    /// (a job that opened the file before a compaction) breaks that read
    /// with [`Error::Vanished`]. Ages are measured against the store's
    /// modification times: a clock far ahead of the store's shortens them.
    pub async fn vacuum_with(
        &mut self,
        retention: Duration,
        part_grace: Duration,
    ) -> Result<VacuumReport> {
        self.check_writable("vacuum")?;
        let now = SystemTime::now();
        let older_than = |obj: &ObjectMeta, grace: Duration| {
            let modified: SystemTime = obj.last_modified.into();
            now.duration_since(modified).is_ok_and(|age| age >= grace)
        };
        // Parts are listed first: a commit that adopts one after this
        // listing creates a layer that the layer listing below sees.
        let parts = self.store.list_parts().await?;
        let mut report = VacuumReport::default();
        let mut layers = Vec::new();
        for obj in self.store.list_all().await? {
            if let Some(seq) = self.store.parse_layer(&obj.location) {
                layers.push((seq, obj));
            } else if older_than(&obj, STAGING_GRACE) {
                self.store.delete(&obj.location).await?;
                report.add(&obj);
            }
        }
        let Expiry {
            expired,
            kept,
            freed,
            read,
        } = self.expiry(layers, retention, now).await?;
        for obj in &expired {
            self.store.delete(&obj.location).await?;
            report.add(obj);
        }
        if parts.is_empty() {
            return Ok(report);
        }
        let Some(adopted) = self.adopted_by(&kept, &read).await? else {
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

    /// After a compaction: deletes the layers replaced longer than
    /// `retention` ago, and the parts they adopted. Failures leave garbage
    /// for [`vacuum`](Self::vacuum).
    pub(super) async fn delete_expired(&self, retention: Duration) -> Result<()> {
        let layers = self
            .store
            .list_all()
            .await?
            .into_iter()
            .filter_map(|obj| Some((self.store.parse_layer(&obj.location)?, obj)))
            .collect();
        let expiry = self.expiry(layers, retention, SystemTime::now()).await?;
        // Layers go first, so that no layer outlives its parts.
        for obj in &expiry.expired {
            self.store.delete(&obj.location).await?;
        }
        for obj in self.store.list_parts().await? {
            if self
                .store
                .parse_part(&obj.location)
                .is_some_and(|id| expiry.freed.contains(&id))
            {
                self.store.delete(&obj.location).await?;
            }
        }
        Ok(())
    }

    /// Sorts the listed `layers` into those replaced more than `retention`
    /// before `now` and the others. A layer below the newest snapshot of
    /// this view was replaced when the lowest snapshot above it was
    /// committed (its modification time): the layers are read newest first,
    /// each snapshot dating the layers below it. A layer that cannot be read
    /// dates nothing, which only makes the layers below it wait longer.
    async fn expiry(
        &self,
        mut layers: Vec<(u64, ObjectMeta)>,
        retention: Duration,
        now: SystemTime,
    ) -> Result<Expiry> {
        let generation = self.index.layers.first().map_or(0, |l| l.header.seq);
        layers.sort_by_key(|(seq, _)| std::cmp::Reverse(*seq));
        let mut replaced_at: Option<SystemTime> = None;
        let mut out = Expiry::default();
        for (seq, obj) in layers {
            if seq == generation {
                replaced_at = Some(obj.last_modified.into());
            }
            if seq == 0 || seq >= generation {
                out.kept.push(obj);
                continue;
            }
            let expired = retention.is_zero()
                || replaced_at
                    .is_some_and(|at| now.duration_since(at).is_ok_and(|age| age >= retention));
            // Its header: whether it is a snapshot, and the parts it
            // adopted (which go with it).
            let layer = LayerReader::open(&self.store, obj.location.clone()).await;
            if let Ok(layer) = &layer
                && layer.header.kind == LayerKind::Snapshot
            {
                replaced_at = Some(obj.last_modified.into());
            }
            if expired {
                if let Ok(layer) = &layer {
                    out.freed
                        .extend(layer.adopted().iter().map(|a| a.entry.part_id));
                }
                out.expired.push(obj);
            } else {
                if let Ok(layer) = layer {
                    out.read.insert(obj.location.clone(), layer);
                }
                out.kept.push(obj);
            }
        }
        Ok(out)
    }

    /// The parts that the layers `listed` adopted, from this handle's view
    /// or the layers `read` already where a layer is there, and from its
    /// footer otherwise; `None` if a footer cannot be read.
    async fn adopted_by(
        &self,
        listed: &[ObjectMeta],
        read: &HashMap<Path, LayerReader>,
    ) -> Result<Option<HashSet<Id>>> {
        let mut adopted = HashSet::new();
        for obj in listed {
            let known = self.index.layers.iter().find(|l| l.path == obj.location);
            if let Some(layer) = known.map(|l| &**l).or_else(|| read.get(&obj.location)) {
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
