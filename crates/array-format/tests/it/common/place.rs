//! [`Place`]: where a test's file lives, one type for every test file: a
//! store of [`af_testkit::Backend`] (memory, disk through
//! `LocalFileSystem`, the S3 servers, azurite) reached with
//! `ArrayFile::create` / `open`, or a local directory reached with
//! `create_path` / `open_path` (durable commits, layers linked into place,
//! read with `pread`).

use std::sync::Arc;

use af_testkit::{Backend, Kind};
use array_format::{ArrayFile, CompressionCodec, FileConfig, Result};
use futures::TryStreamExt;
use object_store::ObjectStore;
use object_store::path::Path;

/// Where a test's file lives, and the file's name there.
pub struct Place {
    backend: Backend,
    by_path: bool,
    file: &'static str,
}

impl Place {
    /// The file `c.af` in `backend`'s store.
    pub fn on(backend: Backend) -> Self {
        Place {
            backend,
            by_path: false,
            file: "c.af",
        }
    }

    /// The file `c.af` in a fresh store of `kind`.
    pub fn kind(kind: Kind) -> Self {
        Self::on(Backend::fresh(kind))
    }

    /// The file `c.af` in a fresh local directory, through `create_path` /
    /// `open_path`.
    pub fn by_path() -> Self {
        Place {
            by_path: true,
            ..Self::kind(Kind::Disk)
        }
    }

    /// The same place, the file named `file`.
    pub fn named(self, file: &'static str) -> Self {
        Place { file, ..self }
    }

    /// Memory, then local disk through `LocalFileSystem`.
    pub fn all() -> Vec<Place> {
        vec![Self::kind(Kind::Memory), Self::kind(Kind::Disk)]
    }

    /// `open_path` for a directory reached by path, else the store's kind
    /// (`memory`, `disk`, `s3s`, `moto`, `azurite`).
    pub fn name(&self) -> &'static str {
        if self.by_path {
            "open_path"
        } else {
            self.backend.name()
        }
    }

    /// The store (for a directory reached by path, a `LocalFileSystem` of
    /// it).
    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.backend.store
    }

    /// The local directory behind the place, if it is one.
    pub fn dir(&self) -> Option<&std::path::Path> {
        self.backend.dir.as_deref()
    }

    /// The file's base on local disk (places with a directory only).
    pub fn file_path(&self) -> std::path::PathBuf {
        self.dir().expect("a place on local disk").join(self.file)
    }

    /// The file's base as an object path.
    pub fn object(&self) -> Path {
        Path::from(self.file)
    }

    /// Whether a handle keeps reading layers deleted (or replaced) under
    /// it: it reads them from files it keeps open.
    pub fn reads_outlive_delete(&self) -> bool {
        self.by_path || self.backend.capabilities().reads_outlive_delete
    }

    /// Creates the file with `config`.
    pub async fn try_create_with<C: CompressionCodec + 'static>(
        &self,
        config: FileConfig<C>,
    ) -> Result<ArrayFile> {
        if self.by_path {
            ArrayFile::create_path(self.file_path(), config).await
        } else {
            ArrayFile::create(Arc::clone(self.store()), self.object(), config).await
        }
    }

    /// Creates the file with `config`; any error fails the test.
    pub async fn create_with<C: CompressionCodec + 'static>(
        &self,
        config: FileConfig<C>,
    ) -> ArrayFile {
        self.try_create_with(config).await.unwrap()
    }

    /// Opens the file with `config`.
    pub async fn try_open_with<C: CompressionCodec + 'static>(
        &self,
        config: FileConfig<C>,
    ) -> Result<ArrayFile> {
        if self.by_path {
            ArrayFile::open_path(self.file_path(), config).await
        } else {
            ArrayFile::open(Arc::clone(self.store()), self.object(), config).await
        }
    }

    /// Opens the file with `config`; any error fails the test.
    pub async fn open_with<C: CompressionCodec + 'static>(
        &self,
        config: FileConfig<C>,
    ) -> ArrayFile {
        self.try_open_with(config).await.unwrap()
    }

    /// The names of every layer object (`*.af`) at the place's root.
    pub async fn layers(&self) -> std::collections::BTreeSet<String> {
        let names: Vec<String> = self
            .store()
            .list(None)
            .map_ok(|m| m.location.to_string())
            .try_collect()
            .await
            .unwrap();
        names.into_iter().filter(|n| n.ends_with(".af")).collect()
    }
}
