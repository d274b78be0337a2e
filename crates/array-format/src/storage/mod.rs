//! Storage: where layer objects live and how they are committed.
//!
//! [`ArrayFile`](crate::ArrayFile) works on any [`object_store::ObjectStore`]
//! (local disk, S3, GCS, Azure, memory) through `FileStore`, which names the
//! layer objects and commits them with a conditional create. The
//! single-object [`Storage`] trait, [`InMemoryStorage`] and
//! [`ObjectStoreBackend`] are the 0.9 API, kept for code written against it
//! (`flush_memory` writes a copy of the committed layer into an
//! [`InMemoryStorage`]).

mod local_detect;
pub(crate) mod location;
pub(crate) mod objects;
mod parts;
pub(crate) mod spill;
pub(crate) mod store;

use std::ops::Range;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::{Bytes, BytesMut};
use futures::future::BoxFuture;
use object_store::{ObjectStore, ObjectStoreExt};

use crate::error::{Error, Result};

pub use location::Location;
pub(crate) use objects::ObjectPin;
pub(crate) use spill::SpillFile;
pub(crate) use store::{FileStore, LayerObject};

/// Streams the parts of one object being written.
pub trait MultipartWriter: Send {
    /// Appends `data` to the object.
    fn write_chunk(&mut self, data: Bytes) -> BoxFuture<'_, Result<()>>;

    /// Makes the object visible with everything written so far.
    fn complete(self: Box<Self>) -> BoxFuture<'static, Result<()>>;
}

/// One object that can be read by range and written whole.
pub trait Storage: Send + Sync {
    /// Reads `range` of the object.
    fn read_range(&self, range: Range<u64>) -> BoxFuture<'_, Result<Bytes>>;

    /// Replaces the object with `data`.
    fn write(&self, data: Bytes) -> BoxFuture<'_, Result<()>>;

    /// The object's size in bytes.
    fn size(&self) -> BoxFuture<'_, Result<u64>>;

    /// Starts replacing the object part by part.
    fn write_multipart(&self) -> BoxFuture<'_, Result<Box<dyn MultipartWriter>>>;
}

/// An object held in memory; clones share the same bytes.
#[derive(Debug, Clone, Default)]
pub struct InMemoryStorage {
    data: Arc<Mutex<Bytes>>,
}

fn lock(m: &Mutex<Bytes>) -> MutexGuard<'_, Bytes> {
    // A panic while holding this lock cannot leave the Bytes half-written.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl InMemoryStorage {
    /// An empty object.
    pub fn new() -> Self {
        Self::default()
    }

    /// An object holding `data`.
    pub fn from_bytes(data: Vec<u8>) -> Self {
        Self {
            data: Arc::new(Mutex::new(Bytes::from(data))),
        }
    }

    /// The object's current bytes (a cheap, shared handle).
    pub fn to_bytes(&self) -> Bytes {
        lock(&self.data).clone()
    }
}

fn range_of(data: &Bytes, range: Range<u64>, path: &str) -> Result<Bytes> {
    let len = data.len() as u64;
    if range.start > range.end || range.end > len {
        return Err(Error::corrupted(
            path,
            format!(
                "read of {}..{} past the end ({len} bytes)",
                range.start, range.end
            ),
        ));
    }
    Ok(data.slice(range.start as usize..range.end as usize))
}

impl Storage for InMemoryStorage {
    fn read_range(&self, range: Range<u64>) -> BoxFuture<'_, Result<Bytes>> {
        let data = self.to_bytes();
        Box::pin(async move { range_of(&data, range, "<memory>") })
    }

    fn write(&self, data: Bytes) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            *lock(&self.data) = data;
            Ok(())
        })
    }

    fn size(&self) -> BoxFuture<'_, Result<u64>> {
        Box::pin(async move { Ok(lock(&self.data).len() as u64) })
    }

    fn write_multipart(&self) -> BoxFuture<'_, Result<Box<dyn MultipartWriter>>> {
        Box::pin(async move {
            Ok(Box::new(MemoryUpload {
                target: Arc::clone(&self.data),
                buf: BytesMut::new(),
            }) as Box<dyn MultipartWriter>)
        })
    }
}

struct MemoryUpload {
    target: Arc<Mutex<Bytes>>,
    buf: BytesMut,
}

impl MultipartWriter for MemoryUpload {
    fn write_chunk(&mut self, data: Bytes) -> BoxFuture<'_, Result<()>> {
        self.buf.extend_from_slice(&data);
        Box::pin(async { Ok(()) })
    }

    fn complete(self: Box<Self>) -> BoxFuture<'static, Result<()>> {
        Box::pin(async move {
            *lock(&self.target) = self.buf.freeze();
            Ok(())
        })
    }
}

/// One object of an [`ObjectStore`].
#[derive(Debug, Clone)]
pub struct ObjectStoreBackend {
    store: Arc<dyn ObjectStore>,
    path: object_store::path::Path,
}

impl ObjectStoreBackend {
    /// The object at `path` in `store`.
    pub fn new(store: Arc<dyn ObjectStore>, path: object_store::path::Path) -> Self {
        Self { store, path }
    }
}

impl Storage for ObjectStoreBackend {
    fn read_range(&self, range: Range<u64>) -> BoxFuture<'_, Result<Bytes>> {
        Box::pin(async move {
            self.store
                .get_range(&self.path, range)
                .await
                .map_err(|e| Error::storage(self.path.as_ref(), e))
        })
    }

    fn write(&self, data: Bytes) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            self.store
                .put(&self.path, data.into())
                .await
                .map(|_| ())
                .map_err(|e| Error::storage(self.path.as_ref(), e))
        })
    }

    fn size(&self) -> BoxFuture<'_, Result<u64>> {
        Box::pin(async move {
            self.store
                .head(&self.path)
                .await
                .map(|m| m.size)
                .map_err(|e| Error::storage(self.path.as_ref(), e))
        })
    }

    fn write_multipart(&self) -> BoxFuture<'_, Result<Box<dyn MultipartWriter>>> {
        Box::pin(async move {
            let upload = self
                .store
                .put_multipart(&self.path)
                .await
                .map_err(|e| Error::storage(self.path.as_ref(), e))?;
            Ok(Box::new(StoreUpload {
                upload,
                path: self.path.to_string(),
            }) as Box<dyn MultipartWriter>)
        })
    }
}

struct StoreUpload {
    upload: Box<dyn object_store::MultipartUpload>,
    path: String,
}

impl MultipartWriter for StoreUpload {
    fn write_chunk(&mut self, data: Bytes) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            self.upload
                .put_part(data.into())
                .await
                .map_err(|e| Error::storage(self.path.clone(), e))
        })
    }

    fn complete(mut self: Box<Self>) -> BoxFuture<'static, Result<()>> {
        Box::pin(async move {
            self.upload
                .complete()
                .await
                .map(|_| ())
                .map_err(|e| Error::storage(self.path.clone(), e))
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn in_memory_storage_reads_writes_and_streams() {
        let s = InMemoryStorage::new();
        s.write(Bytes::from_static(b"hello world")).await.unwrap();
        assert_eq!(s.size().await.unwrap(), 11);
        assert_eq!(&s.read_range(0..5).await.unwrap()[..], b"hello");
        assert!(s.read_range(5..20).await.is_err());
        let mut w = s.write_multipart().await.unwrap();
        w.write_chunk(Bytes::from_static(b"ab")).await.unwrap();
        w.write_chunk(Bytes::from_static(b"cd")).await.unwrap();
        // Not visible before completion.
        assert_eq!(s.size().await.unwrap(), 11);
        w.complete().await.unwrap();
        assert_eq!(&s.to_bytes()[..], b"abcd");
    }

    #[tokio::test]
    async fn object_store_backend() {
        let store: Arc<dyn ObjectStore> = Arc::new(object_store::memory::InMemory::new());
        let b = ObjectStoreBackend::new(store, "x/y.bin".into());
        assert!(b.size().await.is_err());
        b.write(Bytes::from_static(b"0123456789")).await.unwrap();
        assert_eq!(&b.read_range(2..4).await.unwrap()[..], b"23");
        let mut w = b.write_multipart().await.unwrap();
        w.write_chunk(Bytes::from(vec![7u8; 10])).await.unwrap();
        w.complete().await.unwrap();
        assert_eq!(b.size().await.unwrap(), 10);
    }
}
