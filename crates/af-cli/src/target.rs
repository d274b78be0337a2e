//! Where a file lives: a local path or an object-store URL, and opening or
//! creating the file there.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use array_format::{ArrayFile, Error as AfError, FileConfig};
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreScheme};

use crate::codec::CliCodec;
use crate::error::usage;

/// A file's location, as given on the command line.
pub struct Location {
    /// What the user typed, for messages.
    pub name: String,
    kind: Kind,
}

enum Kind {
    Local(PathBuf),
    Store {
        store: Arc<dyn ObjectStore>,
        path: StorePath,
    },
}

impl Location {
    /// Parses a local path or a URL (`file://`, `s3://`).
    pub fn parse(s: &str) -> anyhow::Result<Location> {
        if s.is_empty() {
            return Err(usage("the file path is empty"));
        }
        if !s.contains("://") {
            return Ok(Location {
                name: s.to_owned(),
                kind: Kind::Local(PathBuf::from(s)),
            });
        }
        let url = url::Url::parse(s).map_err(|e| usage(format!("invalid URL {s:?}: {e}")))?;
        let (scheme, path) = ObjectStoreScheme::parse(&url).map_err(|_| {
            usage(format!(
                "unsupported URL {s:?}: use a local path, file:///absolute/path.af or s3://bucket/key.af"
            ))
        })?;
        let store: Arc<dyn ObjectStore> = match scheme {
            ObjectStoreScheme::Local => Arc::new(object_store::local::LocalFileSystem::new()),
            ObjectStoreScheme::AmazonS3 => Arc::new(
                object_store::aws::AmazonS3Builder::from_env()
                    .with_url(s)
                    .build()
                    .map_err(|e| usage(format!("cannot use {s}: {e}")))?,
            ),
            ObjectStoreScheme::Memory => {
                return Err(usage(format!(
                    "{s}: memory:// stores are empty in every run of af; use a local path or s3://"
                )));
            }
            _ => {
                return Err(usage(format!(
                    "{s}: {}:// URLs are not supported by this build of af (local paths, file:// and s3:// are)",
                    url.scheme()
                )));
            }
        };
        Ok(Location {
            name: s.to_owned(),
            kind: Kind::Store { store, path },
        })
    }

    /// Opens the file, as of layer `at` if given.
    pub async fn open(&self, codec: CliCodec, at: Option<u64>) -> anyhow::Result<ArrayFile> {
        let config = FileConfig {
            as_of: at,
            ..FileConfig::new(codec)
        };
        self.open_with(config)
            .await
            .with_context(|| format!("cannot open {}", self.name))
    }

    /// Opens the file with `config`, returning the library's error.
    pub async fn open_with(&self, config: FileConfig<CliCodec>) -> Result<ArrayFile, AfError> {
        match &self.kind {
            Kind::Local(p) => ArrayFile::open_path(p, config).await,
            Kind::Store { store, path } => {
                ArrayFile::open(Arc::clone(store), path.clone(), config).await
            }
        }
    }

    /// Creates the file (replacing any file of that name).
    pub async fn create_with(&self, config: FileConfig<CliCodec>) -> anyhow::Result<ArrayFile> {
        let r = match &self.kind {
            Kind::Local(p) => ArrayFile::create_path(p, config).await,
            Kind::Store { store, path } => {
                ArrayFile::create(Arc::clone(store), path.clone(), config).await
            }
        };
        r.with_context(|| format!("cannot create {}", self.name))
    }

    /// Whether both name the same file (best effort, for `cp` onto itself).
    pub fn same_file(&self, other: &Location) -> bool {
        match (&self.kind, &other.kind) {
            (Kind::Local(a), Kind::Local(b)) => {
                let canon = |p: &PathBuf| {
                    let dir = match p.parent() {
                        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
                        _ => PathBuf::from("."),
                    };
                    dir.canonicalize()
                        .ok()
                        .map(|d| d.join(p.file_name().unwrap_or_default()))
                };
                a == b || (canon(a).is_some() && canon(a) == canon(b))
            }
            _ => self.name == other.name,
        }
    }
}
