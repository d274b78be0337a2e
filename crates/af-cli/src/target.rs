//! Where a file lives (a local path or an object-store URL, parsed by the
//! library's [`array_format::Location`]), and opening or creating it there.

use std::path::PathBuf;

use anyhow::Context;
use array_format::{ArrayFile, Error as AfError, FileConfig};

use array_format::BuiltinCodec;

/// A file's location, as given on the command line.
pub struct Location {
    /// What the user typed, for messages.
    pub name: String,
    inner: array_format::Location,
}

impl Location {
    /// Parses a local path or a URL (`file://`, `s3://`, `gs://`, `az://`).
    pub fn parse(s: &str) -> anyhow::Result<Location> {
        Ok(Location {
            name: s.to_owned(),
            inner: array_format::Location::parse(s)?,
        })
    }

    /// Opens the file, as of layer `at` if given.
    pub async fn open(&self, codec: BuiltinCodec, at: Option<u64>) -> anyhow::Result<ArrayFile> {
        let config = FileConfig {
            as_of: at,
            ..FileConfig::new(codec)
        };
        self.open_with(config)
            .await
            .with_context(|| format!("cannot open {}", self.name))
    }

    /// Opens the file with `config`, returning the library's error.
    pub async fn open_with(&self, config: FileConfig<BuiltinCodec>) -> Result<ArrayFile, AfError> {
        ArrayFile::open_at(&self.inner, config).await
    }

    /// Creates the file (replacing any file of that name).
    pub async fn create_with(&self, config: FileConfig<BuiltinCodec>) -> anyhow::Result<ArrayFile> {
        ArrayFile::create_at(&self.inner, config)
            .await
            .with_context(|| format!("cannot create {}", self.name))
    }

    /// Whether both name the same file (best effort, for `cp` onto itself).
    pub fn same_file(&self, other: &Location) -> bool {
        match (self.inner.local_path(), other.inner.local_path()) {
            (Some(a), Some(b)) => {
                let canon = |p: &std::path::Path| {
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
