//! [`Remote`]: layer objects in any `object_store` store, each read a
//! request pinned by entity tag, each create a conditional put.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use object_store::path::Path;
use object_store::{GetRange, ObjectMeta, ObjectStore, ObjectStoreExt, PutMode, PutOptions};
use object_store::{PutPayload, WriteMultipart};

use super::{ObjectPin, Objects, RequestCost};
use crate::error::{Error, Result};
use crate::storage::SpillFile;

/// Layers up to this size are committed with one conditional put from
/// memory; larger ones stream to a staging object that is then linked into
/// place with `copy_if_not_exists`.
pub(crate) const SINGLE_PUT_LIMIT: u64 = 16 * 1024 * 1024;

/// Part size of streamed uploads.
const PART_SIZE: usize = 8 * 1024 * 1024;

/// Bytes read from the end of a layer on open, where a second request
/// costs as much as 64 KiB more in the first.
const TAIL_PROBE: u64 = 64 * 1024;

/// Objects of an `object_store` store.
#[derive(Debug, Clone)]
pub(crate) struct Remote {
    store: Arc<dyn ObjectStore>,
}

impl Remote {
    /// The objects of `store`.
    pub(crate) fn new(store: Arc<dyn ObjectStore>) -> Self {
        Self { store }
    }

    /// Bytes `range` of the object `pin` holds, and the object's size. A
    /// different object under the name fails the `If-Match` and reads as
    /// [`Error::Vanished`]; so does a response that carries another tag
    /// (from a store that ignores `If-Match`).
    async fn get_pinned(
        &self,
        path: &Path,
        pin: &ObjectPin,
        range: GetRange,
    ) -> Result<(Bytes, u64)> {
        let res = match self
            .store
            .get_opts(path, pin.get_options(range.clone()))
            .await
        {
            Ok(res) => res,
            Err(e @ object_store::Error::Generic { .. }) => {
                return self.refused_range(path, pin, range, e).await;
            }
            Err(e) => return Err(read_error(path, e)),
        };
        let size = res.meta.size;
        pin.check_size(path, size)?;
        if !pin.observe(res.meta.e_tag.as_ref()) {
            return Err(vanished(path));
        }
        let bytes = res.bytes().await.map_err(|e| read_error(path, e))?;
        Ok((bytes, size))
    }

    /// A ranged GET that the store refused (`e`): stores refuse ranges
    /// past the end of an object in their own ways (HTTP 416, a whole
    /// empty object for a suffix range, an error of their own), so the
    /// object's size tells whether it is too short for the read, which is
    /// damage to the file as it is on a local disk; otherwise `e` stands.
    async fn refused_range(
        &self,
        path: &Path,
        pin: &ObjectPin,
        range: GetRange,
        e: object_store::Error,
    ) -> Result<(Bytes, u64)> {
        let Ok(meta) = self.store.head(path).await else {
            return Err(read_error(path, e));
        };
        pin.check_size(path, meta.size)?;
        let end = match range {
            // An empty object has no tail: the layer above finds it too
            // short to be a layer.
            GetRange::Suffix(_) if meta.size == 0 => return Ok((Bytes::new(), 0)),
            GetRange::Bounded(r) => r.end,
            GetRange::Offset(start) => start + 1,
            GetRange::Suffix(_) => return Err(read_error(path, e)),
        };
        if end > meta.size {
            return Err(Error::corrupted(
                path.as_ref(),
                format!("the object ends before byte {end} ({} bytes)", meta.size),
            ));
        }
        Err(read_error(path, e))
    }

    /// Streams the `ranges` of `file` and `tail` to `path` as a multipart
    /// upload (which makes nothing visible unless it completes).
    async fn upload(
        &self,
        path: &Path,
        file: &SpillFile,
        ranges: &[Range<u64>],
        tail: &[u8],
    ) -> Result<()> {
        let failed = |e| Error::storage(path.as_ref(), e);
        let upload = self.store.put_multipart(path).await.map_err(failed)?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
        let written: Result<()> = async {
            let mut buf = vec![0u8; PART_SIZE];
            for r in ranges {
                let mut at = r.start;
                while at < r.end {
                    let n = ((r.end - at) as usize).min(PART_SIZE);
                    let chunk = buf.get_mut(..n).ok_or_else(overrun)?;
                    file.read_into(at, chunk)?;
                    // One part uploading while the next is read.
                    writer.wait_for_capacity(1).await.map_err(failed)?;
                    writer.write(chunk);
                    at += n as u64;
                }
            }
            writer.write(tail);
            Ok(())
        }
        .await;
        match written {
            Ok(()) => writer.finish().await.map(|_| ()).map_err(failed),
            Err(e) => {
                let _ = writer.abort().await;
                Err(e)
            }
        }
    }
}

impl fmt::Display for Remote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.store)
    }
}

#[async_trait]
impl Objects for Remote {
    fn request_cost(&self) -> RequestCost {
        RequestCost::Measured
    }

    fn tail_probe(&self) -> u64 {
        TAIL_PROBE
    }

    async fn read_tail(&self, path: &Path, pin: &ObjectPin, n: u64) -> Result<(Bytes, u64)> {
        match self.get_pinned(path, pin, GetRange::Suffix(n)).await {
            // Azure Blob Storage takes no suffix ranges: ask for the size,
            // then for the bytes before it (two requests).
            Err(Error::Storage { source, .. })
                if matches!(*source, object_store::Error::NotSupported { .. }) =>
            {
                let size = self
                    .store
                    .head(path)
                    .await
                    .map_err(|e| read_error(path, e))?
                    .size;
                let range = size.saturating_sub(n)..size;
                if range.is_empty() {
                    return Ok((Bytes::new(), size));
                }
                self.get_pinned(path, pin, GetRange::Bounded(range)).await
            }
            other => other,
        }
    }

    async fn read_range(&self, path: &Path, pin: &ObjectPin, range: Range<u64>) -> Result<Bytes> {
        let want = range.end - range.start;
        let (bytes, _) = self
            .get_pinned(path, pin, GetRange::Bounded(range.clone()))
            .await?;
        if bytes.len() as u64 != want {
            return Err(Error::corrupted(
                path.as_ref(),
                format!(
                    "read of bytes {}..{} returned {} bytes",
                    range.start,
                    range.end,
                    bytes.len()
                ),
            ));
        }
        Ok(bytes)
    }

    fn read_into(&self, _: &Path, _: &ObjectPin, _: u64, _: &mut [u8]) -> Result<bool> {
        Ok(false)
    }

    async fn list_names(
        &self,
        dir: Option<&Path>,
        keep: &(dyn for<'n> Fn(&'n str) -> bool + Send + Sync),
    ) -> Result<Vec<Path>> {
        Ok(self
            .list(dir)
            .await?
            .into_iter()
            .map(|m| m.location)
            .filter(|p| p.filename().is_some_and(keep))
            .collect())
    }

    async fn list(&self, dir: Option<&Path>) -> Result<Vec<ObjectMeta>> {
        // One directory level only: a file at the root of a bucket must not
        // list the whole bucket.
        match self.store.list_with_delimiter(dir).await {
            Ok(listing) => Ok(listing.objects),
            Err(object_store::Error::NotFound { .. }) => Ok(Vec::new()),
            Err(e) => Err(Error::storage(
                dir.map_or("<root>".to_owned(), |d| d.to_string()),
                e,
            )),
        }
    }

    async fn create(&self, path: &Path, _: &Path, payload: PutPayload) -> Result<ObjectPin> {
        let opts = PutOptions {
            mode: PutMode::Create,
            ..Default::default()
        };
        match self.store.put_opts(path, payload, opts).await {
            Ok(put) => Ok(ObjectPin::tagged(put.e_tag)),
            Err(e) => Err(conflict_or_storage(path, e)),
        }
    }

    async fn create_from_parts(
        &self,
        path: &Path,
        staging: &Path,
        file: &SpillFile,
        ranges: &[Range<u64>],
        tail: &[u8],
    ) -> Result<ObjectPin> {
        let data_len: u64 = ranges.iter().map(|r| r.end - r.start).sum();
        let len = data_len + tail.len() as u64;
        if len <= SINGLE_PUT_LIMIT {
            let mut buf = vec![0u8; len as usize];
            let mut at = 0usize;
            for r in ranges {
                let n = (r.end - r.start) as usize;
                let dst = buf.get_mut(at..at + n).ok_or_else(overrun)?;
                file.read_into(r.start, dst)?;
                at += n;
            }
            if let Some(dst) = buf.get_mut(at..) {
                dst.copy_from_slice(tail);
            }
            return self.create(path, staging, PutPayload::from(buf)).await;
        }
        self.upload(staging, file, ranges, tail).await?;
        let linked = self.store.copy_if_not_exists(staging, path).await;
        // The staging object is garbage either way; a failed delete leaves it
        // for vacuum.
        let _ = self.store.delete(staging).await;
        linked.map_err(|e| conflict_or_storage(path, e))?;
        Ok(ObjectPin::default())
    }

    async fn delete(&self, path: &Path) -> Result<()> {
        match self.store.delete(path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(Error::storage(path.as_ref(), e)),
        }
    }

    async fn get(&self, path: &Path) -> Result<Bytes> {
        let failed = |e| read_error(path, e);
        self.store
            .get(path)
            .await
            .map_err(failed)?
            .bytes()
            .await
            .map_err(failed)
    }

    fn spill_dir(&self, _: &Path) -> Option<std::path::PathBuf> {
        None
    }
}

fn overrun() -> Error {
    Error::io("assembling a layer", std::io::ErrorKind::InvalidData.into())
}

fn vanished(path: &Path) -> Error {
    Error::Vanished {
        path: path.to_string(),
    }
}

/// A layer that disappears under a reader (or is replaced by an object of
/// the same name) has been reclaimed: say so rather than pass on a bare
/// "not found" or "precondition".
fn read_error(path: &Path, e: object_store::Error) -> Error {
    match e {
        object_store::Error::NotFound { .. } | object_store::Error::Precondition { .. } => {
            vanished(path)
        }
        e => Error::storage(path.as_ref(), e),
    }
}

/// A name already taken, whoever took it.
pub(super) fn taken(path: &Path) -> Error {
    Error::Conflict {
        path: path.to_string(),
        reason: "another writer created this layer first".into(),
    }
}

fn conflict_or_storage(path: &Path, e: object_store::Error) -> Error {
    match e {
        object_store::Error::AlreadyExists { .. } | object_store::Error::Precondition { .. } => {
            taken(path)
        }
        e => Error::storage(path.as_ref(), e),
    }
}
