//! Opening and creating a file by [`Location`]: a local path or a URL.

use super::{ArrayFile, FileConfig};
use crate::codec::CompressionCodec;
use crate::error::Result;
use crate::storage::FileStore;
use crate::storage::Location;
use crate::storage::location::Kind;

use super::create::Replace;

impl ArrayFile {
    /// Opens the file at `location`: a local path through
    /// [`open_path`](Self::open_path) (direct reads, durable commits), an
    /// object-store URL through [`open`](Self::open).
    pub async fn open_at<C: CompressionCodec + 'static>(
        location: &Location,
        config: FileConfig<C>,
    ) -> Result<Self> {
        match location.kind() {
            Kind::Local(path) => Self::open_path(path, config).await,
            Kind::Store { store, path } => Self::open(store.clone(), path.clone(), config).await,
        }
    }

    /// Creates a new, empty file at `location`, replacing any file of that
    /// name; see [`open_at`](Self::open_at).
    pub async fn create_at<C: CompressionCodec + 'static>(
        location: &Location,
        config: FileConfig<C>,
    ) -> Result<Self> {
        match location.kind() {
            Kind::Local(path) => Self::create_path(path, config).await,
            Kind::Store { store, path } => Self::create(store.clone(), path.clone(), config).await,
        }
    }

    /// Creates a new, empty file at `location`, failing with
    /// [`Error::FileExists`](crate::Error::FileExists) if there is one,
    /// also when another process creates it at the same time (the base
    /// object is created only if absent).
    pub async fn create_new_at<C: CompressionCodec + 'static>(
        location: &Location,
        config: FileConfig<C>,
    ) -> Result<Self> {
        let fs = match location.kind() {
            Kind::Local(path) => super::open::local_store(path, config.durable, true)?,
            Kind::Store { store, path } => FileStore::new(store.clone(), path.clone())?,
        };
        Self::create_in(fs, config, Replace::Nothing).await
    }

    /// Opens the file named by a local path or a URL (`file://`, `s3://`),
    /// with credentials from the environment; see [`Location::parse`].
    ///
    /// ```no_run
    /// use array_format::{ArrayFile, FileConfig, Lz4Codec};
    /// # async fn f() -> array_format::Result<()> {
    /// let file = ArrayFile::open_url("s3://bucket/climate.af", FileConfig::new(Lz4Codec)).await?;
    /// # let _ = file; Ok(()) }
    /// ```
    pub async fn open_url<C: CompressionCodec + 'static>(
        url: &str,
        config: FileConfig<C>,
    ) -> Result<Self> {
        Self::open_at(&Location::parse(url)?, config).await
    }

    /// Creates a file named by a local path or a URL; see
    /// [`open_url`](Self::open_url).
    pub async fn create_url<C: CompressionCodec + 'static>(
        url: &str,
        config: FileConfig<C>,
    ) -> Result<Self> {
        Self::create_at(&Location::parse(url)?, config).await
    }
}
