//! The stores a conformance test runs on, and what each can do.
//!
//! Every test that claims to hold "on every backend" iterates
//! [`Backend::all`]: memory and local disk (always), the in-process S3
//! server (always), moto and azurite (when the environment names them;
//! `SKIP` otherwise, a failure under `REQUIRE_S3=1` / `REQUIRE_AZURITE=1`).
//! What a backend cannot do is written in its [`Capabilities`], so a test
//! that must leave a case out says so by checking a named capability
//! ([`Backend::supports`] prints `SKIP <case> on <backend>: <capability>`),
//! never by leaving the backend out silently.
//!
//! A test written once per kind takes its store with
//! [`Backend::available`]; [`Backend::cases`] and [`Backend::sample`] cut
//! its cases on remote backends by `AF_TEST_REMOTE_SHARE`;
//! [`Backend::client`] opens a second client of the same store, as another
//! process would.

use std::path::PathBuf;
use std::sync::Arc;

use object_store::ObjectStore;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;

use crate::{azurite, s3};

/// Which kind of store a [`Backend`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `object_store`'s `InMemory`.
    Memory,
    /// `object_store`'s `LocalFileSystem` over a temporary directory.
    Disk,
    /// The in-process `s3s-fs` server ([`s3::shared`]).
    S3s,
    /// The moto server named by `AF_TEST_MOTO_ENDPOINT`.
    Moto,
    /// The azurite container named by `AF_TEST_AZURITE_CONTAINER`.
    Azurite,
}

/// What a backend can and cannot do, as found on this machine kind (the
/// conformance suite's `capabilities` test probes every field on every
/// backend, so the table cannot drift from what the stores do).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// Requests cross a network (loopback): each costs a round trip, so
    /// tests run fewer cases there ([`remote_cases`]).
    pub remote: bool,
    /// Conditional GETs (`If-Match`) are honoured. `s3s-fs` ignores them:
    /// a reader pinned to a deleted and re-created object is served the
    /// new bytes, and only the response's tag tells.
    pub conditional_get: bool,
    /// Keys `a` and `a/b` can exist together. `s3s-fs` and local disk keep
    /// objects as files, so a file and a directory of one name cannot.
    pub nested_keys: bool,
    /// Suffix ranges (`bytes=-N`) are served. `object_store`'s Azure client
    /// refuses them before sending anything.
    pub suffix_ranges: bool,
    /// A reader keeps reading a layer deleted under it (open files outlive
    /// the unlink): local disk, whose layers are read with `pread` from
    /// files kept open, whether the file was opened with `open_path` or
    /// through `LocalFileSystem`.
    pub reads_outlive_delete: bool,
}

/// One capability a test case may need, by name, so that a case left out
/// on a backend says which capability it lacks ([`Backend::supports`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capability {
    /// [`Capabilities::conditional_get`].
    ConditionalGet,
    /// [`Capabilities::nested_keys`].
    NestedKeys,
    /// [`Capabilities::suffix_ranges`].
    SuffixRanges,
    /// [`Capabilities::reads_outlive_delete`].
    ReadsOutliveDelete,
}

impl Capability {
    /// Every capability.
    pub const ALL: [Capability; 4] = [
        Capability::ConditionalGet,
        Capability::NestedKeys,
        Capability::SuffixRanges,
        Capability::ReadsOutliveDelete,
    ];

    /// Its field's name in [`Capabilities`].
    pub fn name(self) -> &'static str {
        match self {
            Capability::ConditionalGet => "conditional_get",
            Capability::NestedKeys => "nested_keys",
            Capability::SuffixRanges => "suffix_ranges",
            Capability::ReadsOutliveDelete => "reads_outlive_delete",
        }
    }
}

impl Capabilities {
    /// Whether `capability` is there.
    pub fn has(&self, capability: Capability) -> bool {
        match capability {
            Capability::ConditionalGet => self.conditional_get,
            Capability::NestedKeys => self.nested_keys,
            Capability::SuffixRanges => self.suffix_ranges,
            Capability::ReadsOutliveDelete => self.reads_outlive_delete,
        }
    }
}

/// One fresh, empty store of some kind.
pub struct Backend {
    /// Which kind it is.
    pub kind: Kind,
    /// A client of it.
    pub store: Arc<dyn ObjectStore>,
    /// The directory behind it, for [`Kind::Disk`].
    pub dir: Option<PathBuf>,
    /// Where it is, for messages: a bucket, a prefix, a directory.
    pub place: String,
    /// The bucket (or azurite prefix) behind it, for [`Backend::client`].
    bucket: Option<s3::Bucket>,
    _temp: Option<tempfile::TempDir>,
}

impl Backend {
    /// A fresh store of every kind available, in the order of [`Kind`].
    pub fn all(test: &str) -> Vec<Backend> {
        Self::kinds(test).into_iter().map(Backend::fresh).collect()
    }

    /// The kinds available to `test`: memory, disk and s3s always; moto
    /// and azurite when configured (each prints `SKIP` when not, and fails
    /// when its `REQUIRE_*` variable is `1`).
    pub fn kinds(test: &str) -> Vec<Kind> {
        Kind::ALL
            .into_iter()
            .filter(|kind| kind.available(test))
            .collect()
    }

    /// A fresh store of `kind` if it is available to `test` (see
    /// [`Backend::kinds`]: `None` after printing `SKIP`, a panic under
    /// `REQUIRE_*=1`). For tests written once per kind, so that each
    /// backend is a test of its own (run in parallel, filtered by name).
    pub fn available(kind: Kind, test: &str) -> Option<Backend> {
        kind.available(test).then(|| Backend::fresh(kind))
    }

    /// A fresh, empty store of `kind`. Moto and azurite must be configured
    /// (see [`Backend::kinds`]).
    pub fn fresh(kind: Kind) -> Backend {
        let bucket = match kind {
            Kind::Memory | Kind::Disk => None,
            Kind::S3s => Some(s3::shared().fresh_bucket()),
            Kind::Moto => Some(configured(s3::moto("backend"), kind).fresh_bucket()),
            Kind::Azurite => Some(configured(azurite::azurite("backend"), kind).fresh_bucket()),
        };
        let temp = (kind == Kind::Disk).then(|| tempfile::tempdir().unwrap());
        let dir = temp.as_ref().map(|t| t.path().to_path_buf());
        let (store, place) = match (&bucket, &dir) {
            (Some(b), _) => (
                Arc::clone(&b.store),
                format!("{} at {}", b.name, b.endpoint),
            ),
            (None, Some(dir)) => (local(dir), dir.display().to_string()),
            (None, None) => (
                Arc::new(InMemory::new()) as Arc<dyn ObjectStore>,
                "memory".to_owned(),
            ),
        };
        Backend {
            kind,
            store,
            dir,
            place,
            bucket,
            _temp: temp,
        }
    }

    /// Another client of the same store, with connections of its own (as
    /// another process would have): a new client of the bucket, a new
    /// `LocalFileSystem` of the directory; for memory, the store itself.
    pub fn client(&self) -> Arc<dyn ObjectStore> {
        self.connector()()
    }

    /// What makes [`Backend::client`]s, to take to another thread (whose
    /// runtime the new client's connections then belong to).
    pub fn connector(&self) -> impl Fn() -> Arc<dyn ObjectStore> + Send + Sync + 'static {
        let (bucket, dir, store) = (
            self.bucket.clone(),
            self.dir.clone(),
            Arc::clone(&self.store),
        );
        move || match (&bucket, &dir) {
            (Some(b), _) => b.client(),
            (None, Some(dir)) => local(dir),
            (None, None) => Arc::clone(&store),
        }
    }

    /// The same backend reached through `store`, a wrapper of its own
    /// store (a [`CountingStore`](crate::CountingStore), say). Memory's
    /// [`Backend::client`] is then the wrapper; other kinds' new clients
    /// bypass it.
    pub fn with_store(self, store: Arc<dyn ObjectStore>) -> Backend {
        Backend { store, ..self }
    }

    /// A second, independent store of the same kind (a fresh bucket or
    /// directory).
    pub fn another(&self) -> Backend {
        Backend::fresh(self.kind)
    }

    /// What this backend can do.
    pub fn capabilities(&self) -> Capabilities {
        self.kind.capabilities()
    }

    /// Its kind's name: `memory`, `disk`, `s3s`, `moto`, `azurite`.
    pub fn name(&self) -> &'static str {
        self.kind.name()
    }

    /// Whether this backend has `capability`; if not, prints
    /// `SKIP <case> on <backend>: <capability>`, so that a case left out
    /// is never silently passed.
    pub fn supports(&self, case: &str, capability: Capability) -> bool {
        let has = self.capabilities().has(capability);
        if !has {
            eprintln!("SKIP {case} on {}: {}", self.name(), capability.name());
        }
        has
    }

    /// `count` on local stores, [`remote_cases`]`(count)` on remote ones.
    pub fn cases(&self, count: usize) -> usize {
        if self.capabilities().remote {
            remote_cases(count)
        } else {
            count
        }
    }

    /// Which of `count` cases (by index) to run: every one on local
    /// stores; on remote ones [`Backend::cases`]`(count)` of them, spread
    /// evenly over the list, the first and the last included.
    pub fn sample(&self, count: usize) -> Vec<usize> {
        spread(count, self.cases(count))
    }
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.name(), self.place)
    }
}

impl Kind {
    /// Every kind, in order.
    pub const ALL: [Kind; 5] = [
        Kind::Memory,
        Kind::Disk,
        Kind::S3s,
        Kind::Moto,
        Kind::Azurite,
    ];

    /// Whether a store of this kind can be had: memory, disk and s3s
    /// always; moto and azurite when the environment names them (`SKIP`
    /// printed for `test` when not, a panic under `REQUIRE_*=1`).
    pub fn available(self, test: &str) -> bool {
        match self {
            Kind::Memory | Kind::Disk | Kind::S3s => true,
            Kind::Moto => s3::moto(test).is_some(),
            Kind::Azurite => azurite::azurite(test).is_some(),
        }
    }

    /// What a store of this kind can do.
    pub fn capabilities(self) -> Capabilities {
        let remote = !matches!(self, Kind::Memory | Kind::Disk);
        Capabilities {
            remote,
            conditional_get: !matches!(self, Kind::S3s),
            nested_keys: matches!(self, Kind::Memory | Kind::Moto | Kind::Azurite),
            suffix_ranges: !matches!(self, Kind::Azurite),
            reads_outlive_delete: matches!(self, Kind::Disk),
        }
    }

    /// `memory`, `disk`, `s3s`, `moto` or `azurite`.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Memory => "memory",
            Kind::Disk => "disk",
            Kind::S3s => "s3s",
            Kind::Moto => "moto",
            Kind::Azurite => "azurite",
        }
    }
}

fn local(dir: &std::path::Path) -> Arc<dyn ObjectStore> {
    Arc::new(LocalFileSystem::new_with_prefix(dir).unwrap())
}

fn configured<T>(server: Option<T>, kind: Kind) -> T {
    server.unwrap_or_else(|| panic!("{} is not configured", kind.name()))
}

/// `n` of the indices `0..count`, evenly spread, the first and the last
/// included (all of them when `n >= count`).
fn spread(count: usize, n: usize) -> Vec<usize> {
    match n {
        _ if n >= count => (0..count).collect(),
        0 => Vec::new(),
        1 => vec![0],
        _ => (0..n).map(|i| i * (count - 1) / (n - 1)).collect(),
    }
}

/// How many of `count` cases a test runs on a remote backend: all of them
/// by default, `count * AF_TEST_REMOTE_SHARE` (a fraction, at least one
/// case) when that variable is set, so that CI can bound the time remote
/// round trips cost.
pub fn remote_cases(count: usize) -> usize {
    let share = std::env::var("AF_TEST_REMOTE_SHARE")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0);
    match share {
        Some(share) => ((count as f64 * share).ceil() as usize).clamp(1, count.max(1)),
        None => count,
    }
}

#[cfg(test)]
mod tests {
    use super::spread;

    #[test]
    fn spread_picks_distinct_indices_from_first_to_last() {
        assert_eq!(spread(5, 9), [0, 1, 2, 3, 4]);
        assert_eq!(spread(5, 5), [0, 1, 2, 3, 4]);
        assert_eq!(spread(27, 3), [0, 13, 26]);
        assert_eq!(spread(10, 1), [0]);
        assert_eq!(spread(0, 0), Vec::<usize>::new());
        for count in 1..60 {
            for n in 2..count {
                let picked = spread(count, n);
                assert_eq!(picked.len(), n);
                assert_eq!((picked[0], picked[n - 1]), (0, count - 1));
                assert!(picked.windows(2).all(|w| w[0] < w[1]), "{picked:?}");
            }
        }
    }
}
