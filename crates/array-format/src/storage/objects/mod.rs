//! The storage seam: what the library asks of wherever layer objects live.
//!
//! Everything above this module reads and commits layers through
//! [`Objects`], which has two implementations:
//!
//! * [`Remote`]: any [`object_store::ObjectStore`] (S3, GCS, Azure,
//!   memory, and local directories given as a store that is not
//!   recognised as one). Each read is a request, pinned to the object its
//!   first read found by its entity tag; creates are conditional puts, or a
//!   streamed upload linked into place with a create-only copy.
//! * [`LocalDir`]: a local directory read directly, with `pread` on files
//!   opened relative to the listed directory, listed with one `readdir`;
//!   its creates are fsynced and linked into place only where the name is
//!   free when the file must be durable (files opened by path).
//!
//! The seam knows object names and bytes, nothing of layers: the naming of
//! a file's objects and the mapping of "gone" to "file not found" stay in
//! [`FileStore`](super::FileStore).

#[cfg(test)]
mod faulty;
mod local;
mod pin;
mod remote;

use std::fmt;
use std::ops::Range;

use async_trait::async_trait;
use bytes::Bytes;
use object_store::path::Path;
use object_store::{ObjectMeta, PutPayload};

use super::SpillFile;
use crate::error::Result;

#[cfg(test)]
pub(crate) use faulty::Faulty;
pub(crate) use local::{INLINE_READ, LocalDir, raw_path};
pub(crate) use pin::ObjectPin;
pub(crate) use remote::Remote;
#[cfg(test)]
pub(crate) use remote::SINGLE_PUT_LIMIT;

/// What a request to a backend costs, which decides how reads are planned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RequestCost {
    /// A system call on an open file: microseconds, served on the calling
    /// thread into the caller's buffer ([`Objects::read_into`]). Reads
    /// fetch exactly the frames they need.
    SystemCall,
    /// A request through a client: from microseconds (memory) to tens of
    /// milliseconds (object stores). The cost is measured on the reads
    /// themselves, and reads coalesce neighbouring frames by it.
    Measured,
}

/// Where layer objects live: read a range, read into a caller's buffer,
/// create only if absent, list, delete, and what a request costs.
///
/// A missing object reads as [`Error::Vanished`](crate::Error::Vanished)
/// naming it; a name already taken creates as
/// [`Error::Conflict`](crate::Error::Conflict).
#[async_trait]
pub(crate) trait Objects: Send + Sync + fmt::Debug + fmt::Display {
    /// What a request costs here.
    fn request_cost(&self) -> RequestCost;

    /// Bytes to read from the end of a layer when opening it: enough for
    /// most footers in one request where a second request costs as much as
    /// many bytes more in the first, little where a second read is a
    /// system call and every byte of the first is copied.
    fn tail_probe(&self) -> u64;

    /// The last `n` bytes of the object `pin` holds (fewer if it is
    /// shorter), and its size; the first read pins the object.
    async fn read_tail(&self, path: &Path, pin: &ObjectPin, n: u64) -> Result<(Bytes, u64)>;

    /// Bytes `range` (not empty) of the object `pin` holds, exactly.
    async fn read_range(&self, path: &Path, pin: &ObjectPin, range: Range<u64>) -> Result<Bytes>;

    /// Reads `out.len()` bytes at `offset` of the object `pin` holds into
    /// `out` on the calling thread; `false`, with `out` untouched, where
    /// reads are requests ([`RequestCost::Measured`]).
    fn read_into(&self, path: &Path, pin: &ObjectPin, offset: u64, out: &mut [u8]) -> Result<bool>;

    /// The objects directly in `dir` (the root when `None`) whose name (the
    /// last segment of the path) `keep` holds for, without sizes or dates:
    /// what opening a file needs, in as few requests as the backend allows.
    /// The name is tested before a path is built, so a directory of many
    /// other files costs little.
    async fn list_names(
        &self,
        dir: Option<&Path>,
        keep: &(dyn for<'n> Fn(&'n str) -> bool + Send + Sync),
    ) -> Result<Vec<Path>>;

    /// The objects directly in `dir`, with sizes and modification times; an
    /// absent directory lists as empty.
    async fn list(&self, dir: Option<&Path>) -> Result<Vec<ObjectMeta>>;

    /// Creates `path` holding `payload`, only if the name is free; the pin
    /// holds the object created. `staging` is a fresh name beside it that
    /// a multi-step create may use (and removes).
    async fn create(&self, path: &Path, staging: &Path, payload: PutPayload) -> Result<ObjectPin>;

    /// Creates `path` from the `ranges` of `file` followed by `tail`,
    /// atomically and only if the name is free; `staging` as for
    /// [`create`](Self::create).
    async fn create_from_parts(
        &self,
        path: &Path,
        staging: &Path,
        file: &SpillFile,
        ranges: &[Range<u64>],
        tail: &[u8],
    ) -> Result<ObjectPin>;

    /// Deletes `path`; a missing object is not an error.
    async fn delete(&self, path: &Path) -> Result<()>;

    /// Reads the whole object `path` (the 0.9 `flush_memory` copy).
    async fn get(&self, path: &Path) -> Result<Bytes>;

    /// The directory a pending layer should spill into so that its spill
    /// file can become the layer without a copy (durable local files),
    /// else `None`.
    fn spill_dir(&self, base: &Path) -> Option<std::path::PathBuf>;
}
