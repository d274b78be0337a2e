//! The stores a conformance test runs on, and what each can do.
//!
//! Every test that claims to hold "on every backend" iterates
//! [`Backend::all`]: memory and local disk (always), the in-process S3
//! server (always), moto and azurite (when the environment names them;
//! `SKIP` otherwise, a failure under `REQUIRE_S3=1` / `REQUIRE_AZURITE=1`).
//! What a backend cannot do is written in its [`Capabilities`], so a test
//! that must leave a case out says so by checking a named capability,
//! never by leaving the backend out silently.

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

/// What a backend can and cannot do, as found on this machine kind.
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
    /// the unlink). Only local disk read through `open_path` does.
    pub reads_outlive_delete: bool,
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
        let mut kinds = vec![Kind::Memory, Kind::Disk, Kind::S3s];
        if s3::moto(test).is_some() {
            kinds.push(Kind::Moto);
        }
        if azurite::azurite(test).is_some() {
            kinds.push(Kind::Azurite);
        }
        kinds
    }

    /// A fresh, empty store of `kind`. Moto and azurite must be configured
    /// (see [`Backend::kinds`]).
    pub fn fresh(kind: Kind) -> Backend {
        let (store, dir, place, temp) = match kind {
            Kind::Memory => (
                Arc::new(InMemory::new()) as Arc<dyn ObjectStore>,
                None,
                "memory".to_owned(),
                None,
            ),
            Kind::Disk => {
                let temp = tempfile::tempdir().unwrap();
                let store = LocalFileSystem::new_with_prefix(temp.path()).unwrap();
                let path = temp.path().to_path_buf();
                (
                    Arc::new(store) as Arc<dyn ObjectStore>,
                    Some(path.clone()),
                    path.display().to_string(),
                    Some(temp),
                )
            }
            Kind::S3s => bucket(s3::shared().fresh_bucket()),
            Kind::Moto => bucket(configured(s3::moto("backend"), kind).fresh_bucket()),
            Kind::Azurite => bucket(configured(azurite::azurite("backend"), kind).fresh_bucket()),
        };
        Backend {
            kind,
            store,
            dir,
            place,
            _temp: temp,
        }
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

    /// `count` on local stores, [`remote_cases`]`(count)` on remote ones.
    pub fn cases(&self, count: usize) -> usize {
        if self.capabilities().remote {
            remote_cases(count)
        } else {
            count
        }
    }
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.name(), self.place)
    }
}

impl Kind {
    /// What a store of this kind can do.
    pub fn capabilities(self) -> Capabilities {
        let remote = !matches!(self, Kind::Memory | Kind::Disk);
        Capabilities {
            remote,
            conditional_get: !matches!(self, Kind::S3s),
            nested_keys: matches!(self, Kind::Memory | Kind::Moto | Kind::Azurite),
            suffix_ranges: !matches!(self, Kind::Azurite),
            reads_outlive_delete: false,
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

fn bucket(
    b: s3::Bucket,
) -> (
    Arc<dyn ObjectStore>,
    Option<PathBuf>,
    String,
    Option<tempfile::TempDir>,
) {
    let place = format!("{} at {}", b.name, b.endpoint);
    (b.store, None, place, None)
}

fn configured<T>(server: Option<T>, kind: Kind) -> T {
    server.unwrap_or_else(|| panic!("{} is not configured", kind.name()))
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
