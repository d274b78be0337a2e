//! Test-support `ObjectStore` wrappers.
//!
//! * [`FaultyStore`] numbers every mutating request and fails every one from
//!   the k-th on without performing it: a process that crashed (or lost its
//!   connection) at that point. Reads and listings always pass through, so
//!   the wrapped store shows exactly what the "crashed" writer left behind.
//!   [`FaultyStore::new_lost_reply`] instead performs request k and then
//!   reports it failed (the reply was lost), refusing the later ones;
//!   [`FaultyStore::new_retried_create`] performs request k and reports it
//!   refused as existing (a retry that found what the lost attempt made).
//! * [`Place`] is where a test's file lives: an `InMemory` store or local
//!   disk, both of which reopen.
//! * [`CountingStore`] records every request (kind, path, byte range, bytes)
//!   so tests and benchmarks can assert request counts and bytes read.
//!
//! `object_store::ObjectStore` is an `#[async_trait]` trait; this crate does
//! not depend on `async-trait`, so the methods below are written in the form
//! that macro expands to (explicit lifetimes, boxed `Send` futures).

#![allow(dead_code)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

pub mod azurite;
mod counting;
mod faulty;
pub mod s3;

pub use counting::{CountingStore, RequestKind};

/// The test server that the environment variable `var` names (`what` it
/// is, for the message). Without one, `test` prints `SKIP` and gets
/// `None`; with `require` set to `1` (as in CI) it fails instead.
pub fn server(var: &str, require: &str, test: &str, what: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(value) if !value.is_empty() => Some(value),
        _ if std::env::var(require).as_deref() == Ok("1") => {
            panic!("{test}: {require}=1 but {var} names no {what}")
        }
        _ => {
            eprintln!("SKIP {test}: no {what} (set {var})");
            None
        }
    }
}
pub use faulty::FaultyStore;

use std::fmt;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use array_format::{ArrayFile, CompressionCodec, FileConfig};
use bytes::Bytes;
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use futures::{FutureExt, StreamExt};
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetRange, GetResult, ListResult, MultipartUpload, ObjectMeta,
    ObjectStore, ObjectStoreExt, PutMultipartOptions, PutOptions, PutPayload, PutResult,
    RenameOptions, Result, UploadPart,
};

/// Deterministic random numbers, so that every generated case can be
/// reproduced from its seed.
pub struct Rng(rand::rngs::StdRng);

impl Rng {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        use rand::SeedableRng;
        Self(rand::rngs::StdRng::seed_from_u64(seed))
    }

    /// A uniformly random `u64`.
    pub fn next(&mut self) -> u64 {
        rand::RngCore::next_u64(&mut self.0)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        rand::Rng::random_range(&mut self.0, 0..n)
    }

    /// A uniformly random byte.
    pub fn byte(&mut self) -> u8 {
        rand::Rng::random(&mut self.0)
    }
}

// ── Place ───────────────────────────────────────────────────────────

/// Where a test's file lives; both reopen.
pub struct Place {
    pub store: Arc<dyn ObjectStore>,
    pub dir: Option<tempfile::TempDir>,
}

impl Place {
    /// An `object_store` `InMemory` store, then local disk.
    pub fn all() -> [Place; 2] {
        let dir = tempfile::tempdir().unwrap();
        [
            Place {
                store: Arc::new(InMemory::new()),
                dir: None,
            },
            Place {
                store: Arc::new(LocalFileSystem::new_with_prefix(dir.path()).unwrap()),
                dir: Some(dir),
            },
        ]
    }

    pub fn name(&self) -> &'static str {
        if self.dir.is_some() { "disk" } else { "memory" }
    }

    pub async fn create<C: CompressionCodec + 'static>(&self, config: FileConfig<C>) -> ArrayFile {
        ArrayFile::create(self.store.clone(), Path::from("c.af"), config)
            .await
            .unwrap()
    }

    pub async fn open<C: CompressionCodec + 'static>(&self, config: FileConfig<C>) -> ArrayFile {
        self.try_open(config).await.unwrap()
    }

    pub async fn try_open<C: CompressionCodec + 'static>(
        &self,
        config: FileConfig<C>,
    ) -> array_format::Result<ArrayFile> {
        ArrayFile::open(self.store.clone(), Path::from("c.af"), config).await
    }
}

// ── Damage ──────────────────────────────────────────────────────────

/// Rewrites the footer of the layer object at `path` with `patch` and
/// recomputes the footer and trailer checksums, so that only what the patch
/// damaged is damaged.
pub fn patch_footer(path: &std::path::Path, patch: impl FnOnce(&mut [u8])) {
    let mut bytes = std::fs::read(path).unwrap();
    let n = bytes.len();
    let footer_len = u64::from_le_bytes(bytes[n - 32..n - 24].try_into().unwrap()) as usize;
    let footer = n - 32 - footer_len..n - 32;
    patch(&mut bytes[footer.clone()]);
    let crc = crc32c::crc32c(&bytes[footer]);
    bytes[n - 24..n - 20].copy_from_slice(&crc.to_le_bytes());
    let crc = crc32c::crc32c(&bytes[n - 32..n - 16]);
    bytes[n - 16..n - 12].copy_from_slice(&crc.to_le_bytes());
    std::fs::write(path, bytes).unwrap();
}

/// The message of an [`Error::Corrupted`] about layer `layer`; any other
/// error fails the test.
pub fn corrupted(e: array_format::Error, layer: &str) -> String {
    match e {
        array_format::Error::Corrupted { path, what } => {
            assert!(path.ends_with(layer), "{path}");
            what
        }
        other => panic!("expected Corrupted, got {other:?}"),
    }
}

/// Damages the layer object at `path` where the string attribute value
/// `marker` (shorter than 128 bytes) is stored: its tag (12, before the
/// length) becomes the unknown tag 99, the checksums stay valid.
pub fn damage_string_attribute(path: &std::path::Path, marker: &[u8]) {
    patch_footer(path, |footer| {
        let at = footer
            .windows(marker.len())
            .position(|w| w == marker)
            .unwrap();
        assert_eq!(&footer[at - 2..at], &[12, marker.len() as u8]);
        footer[at - 2] = 99;
    });
}

/// `verify` and `versions` report damage in the footer of layer `layer`
/// (named `file`) only, and `compact` refuses to drop it.
pub async fn assert_footer_damage_reported(f: &mut ArrayFile, layer: u64, file: &str) {
    let report = f.verify().await.unwrap();
    assert!(!report.is_ok());
    assert!(
        report
            .damaged
            .iter()
            .all(|d| d.frame.is_none() && d.path.ends_with(file)),
        "{:?}",
        report.damaged
    );
    let versions = f.versions().await.unwrap();
    for v in &versions {
        assert_eq!(v.damage.is_some(), v.layer == layer, "{v:?}");
    }
    let layers = f.num_layers();
    corrupted(f.compact().await.unwrap_err(), file);
    assert_eq!(f.num_layers(), layers);
}
