//! Test support for array-format, shared by its integration tests and its
//! benchmarks.
//!
//! * [`Backend`]: the stores every conformance test runs on (memory, local
//!   disk, the in-process S3 server, and moto and azurite when the
//!   environment names them), with what each can and cannot do.
//! * [`s3`]: an S3 server in the test process (`s3s-fs`) and clients of
//!   it and of an outside moto server; [`azurite`]: the Azure emulator.
//! * [`FaultyStore`] numbers every mutating request and fails every one from
//!   the k-th on without performing it: a process that crashed (or lost its
//!   connection) at that point. Reads and listings always pass through, so
//!   the wrapped store shows exactly what the "crashed" writer left behind.
//!   [`FaultyStore::new_lost_reply`] instead performs request k and then
//!   reports it failed (the reply was lost), refusing the later ones;
//!   [`FaultyStore::new_retried_create`] performs request k and reports it
//!   refused as existing (a retry that found what the lost attempt made).
//! * [`CountingStore`] records every request (kind, path, byte range, bytes)
//!   so tests and benchmarks can assert request counts and bytes read.
//! * [`damage`] rewrites an object's bytes through the store (a GET and a
//!   PUT), so that corruption tests run on every backend; [`restore`]
//!   puts the original back.
//!
//! Everything here panics on failure: it is test code, and a panic is how a
//! test reports that its own setup broke.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

pub mod azurite;
mod backend;
mod counting;
mod damage;
mod faulty;
pub mod s3;

pub use backend::{Backend, Capabilities, Capability, Kind, remote_cases};
pub use counting::{CountingStore, Request, RequestKind};
pub use damage::{damage, restore};
pub use faulty::{FaultyStore, Mutation};

use std::fmt;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{FutureExt, StreamExt};
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetRange, GetResult, ListResult, MultipartUpload, ObjectMeta,
    ObjectStore, ObjectStoreExt, PutMultipartOptions, PutOptions, PutPayload, PutResult,
    RenameOptions, Result, UploadPart,
};

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

/// Deterministic random numbers, so that every generated case can be
/// reproduced from its seed.
pub struct Rng(rand::rngs::StdRng);

impl Rng {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        use rand::SeedableRng;
        Self(rand::rngs::StdRng::seed_from_u64(seed))
    }

    /// A uniformly random `u64`. (Not an `Iterator`: the stream never
    /// ends, and the tests call it by this short name.)
    #[allow(clippy::should_implement_trait)]
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
