//! [`Faulty`]: a seam that fails every mutating call from the k-th on, so
//! that the backends with no `object_store` under them (a durable local
//! directory) get the fault injection every store gets in the tests.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use bytes::Bytes;
use object_store::path::Path;
use object_store::{ObjectMeta, PutPayload};

use super::{ObjectPin, Objects, RequestCost};
use crate::error::{Error, Result};
use crate::storage::SpillFile;

/// Wraps a seam; mutating calls (creates and deletes), numbered from 1,
/// fail from `fail_from` on without being performed, except that with
/// `lost_reply` call `fail_from` itself is performed and then reported
/// failed (the reply was lost). Reads and listings always pass.
#[derive(Debug)]
pub(crate) struct Faulty {
    inner: Arc<dyn Objects>,
    count: AtomicU64,
    fail_from: u64,
    lost_reply: bool,
}

impl Faulty {
    /// Wraps `inner`.
    pub(crate) fn new(inner: Arc<dyn Objects>, fail_from: u64, lost_reply: bool) -> Self {
        Self {
            inner,
            count: AtomicU64::new(0),
            fail_from,
            lost_reply,
        }
    }

    /// Mutating calls seen so far.
    pub(crate) fn calls(&self) -> u64 {
        self.count.load(Ordering::SeqCst)
    }

    /// Runs mutating call `op` on `path`, or fails it.
    async fn run<T>(
        &self,
        path: &Path,
        op: impl std::future::Future<Output = Result<T>>,
    ) -> Result<T> {
        let n = self.count.fetch_add(1, Ordering::SeqCst) + 1;
        let injected = || {
            Error::io(
                format!("injected fault at call {n} on {path}"),
                std::io::ErrorKind::Other.into(),
            )
        };
        if n < self.fail_from {
            op.await
        } else if n == self.fail_from && self.lost_reply {
            let _ = op.await;
            Err(injected())
        } else {
            Err(injected())
        }
    }
}

impl fmt::Display for Faulty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Faulty({})", self.inner)
    }
}

#[async_trait]
impl Objects for Faulty {
    fn request_cost(&self) -> RequestCost {
        self.inner.request_cost()
    }

    fn tail_probe(&self) -> u64 {
        self.inner.tail_probe()
    }

    async fn read_tail(&self, path: &Path, pin: &ObjectPin, n: u64) -> Result<(Bytes, u64)> {
        self.inner.read_tail(path, pin, n).await
    }

    async fn read_range(&self, path: &Path, pin: &ObjectPin, range: Range<u64>) -> Result<Bytes> {
        self.inner.read_range(path, pin, range).await
    }

    fn read_into(&self, path: &Path, pin: &ObjectPin, offset: u64, out: &mut [u8]) -> Result<bool> {
        self.inner.read_into(path, pin, offset, out)
    }

    async fn list_names(
        &self,
        dir: Option<&Path>,
        keep: &(dyn for<'n> Fn(&'n str) -> bool + Send + Sync),
    ) -> Result<Vec<Path>> {
        self.inner.list_names(dir, keep).await
    }

    async fn list(&self, dir: Option<&Path>) -> Result<Vec<ObjectMeta>> {
        self.inner.list(dir).await
    }

    async fn create(&self, path: &Path, staging: &Path, payload: PutPayload) -> Result<ObjectPin> {
        self.run(path, self.inner.create(path, staging, payload))
            .await
    }

    async fn create_from_parts(
        &self,
        path: &Path,
        staging: &Path,
        file: &SpillFile,
        ranges: &[Range<u64>],
        tail: &[u8],
    ) -> Result<ObjectPin> {
        let op = self
            .inner
            .create_from_parts(path, staging, file, ranges, tail);
        self.run(path, op).await
    }

    async fn delete(&self, path: &Path) -> Result<()> {
        self.run(path, self.inner.delete(path)).await
    }

    async fn get(&self, path: &Path) -> Result<Bytes> {
        self.inner.get(path).await
    }

    fn spill_dir(&self, base: &Path) -> Option<std::path::PathBuf> {
        self.inner.spill_dir(base)
    }
}
