//! Where a file lives, named by a local path or a URL.
//!
//! One parser serves every front end (the `af` tool, the Python package), so
//! that `s3://bucket/key.af` means the same store, with the same credentials,
//! wherever it is typed. Credentials and endpoints come from the environment
//! (`AWS_ACCESS_KEY_ID`, `AWS_ENDPOINT_URL`, `AWS_ALLOW_HTTP`, ...) and may be
//! overridden per call by options, as object_store's builders take them.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreScheme};

use crate::error::{Error, Result};

/// A file's location: a local path (read and committed through the local
/// fast path, with durable commits) or an object in an object store.
///
/// ```
/// use array_format::Location;
///
/// let local = Location::parse("data/climate.af")?;
/// assert!(local.is_local());
/// let url = Location::parse("file:///tmp/climate.af")?;
/// assert!(url.is_local());
/// assert!(Location::parse("ftp://host/x.af").is_err());
/// # Ok::<(), array_format::Error>(())
/// ```
#[derive(Clone)]
pub struct Location {
    /// What the caller gave, for messages.
    name: String,
    kind: Kind,
}

/// The two kinds of location.
#[derive(Clone)]
pub(crate) enum Kind {
    Local(PathBuf),
    Store {
        store: Arc<dyn ObjectStore>,
        path: StorePath,
    },
}

impl fmt::Debug for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Location").field(&self.name).finish()
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

fn invalid(path: &str, reason: impl Into<String>) -> Error {
    Error::InvalidPath {
        path: path.to_owned(),
        reason: reason.into(),
    }
}

impl Location {
    /// Parses a local path, a `file://` URL, or an `s3://`, `gs://` or
    /// `az://` URL (and the https forms object_store knows), with
    /// credentials and endpoint from the environment (`AWS_*`,
    /// `GOOGLE_*`, `AZURE_*`, as object_store's builders read them).
    pub fn parse(s: &str) -> Result<Location> {
        Self::parse_with_options(s, std::iter::empty::<(String, String)>())
    }

    /// Like [`parse`](Self::parse), with store options that override the
    /// environment: any key object_store's builder for the scheme accepts
    /// (`AmazonS3ConfigKey`: `endpoint`, `region`, `access_key_id`,
    /// `secret_access_key`, `allow_http`, ...; `GoogleConfigKey`;
    /// `AzureConfigKey`: `account_name`, `access_key`, `use_emulator`,
    /// ...). Options are refused for local paths, and an unknown key is an
    /// [`Error::InvalidPath`] naming it.
    ///
    /// An S3 location commits layers too large for one PUT with a
    /// multipart upload completed only if the name is free (AWS's
    /// `If-None-Match`), unless `copy_if_not_exists` is configured.
    pub fn parse_with_options<I, K, V>(s: &str, options: I) -> Result<Location>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: Into<String>,
    {
        let options: Vec<(String, String)> = options
            .into_iter()
            .map(|(k, v)| (k.as_ref().to_owned(), v.into()))
            .collect();
        if s.is_empty() {
            return Err(invalid(s, "the path is empty"));
        }
        if !s.contains("://") {
            no_options(s, &options)?;
            return Ok(Location {
                name: s.to_owned(),
                kind: Kind::Local(PathBuf::from(s)),
            });
        }
        let url = url::Url::parse(s).map_err(|e| invalid(s, format!("invalid URL: {e}")))?;
        let (scheme, path) = ObjectStoreScheme::parse(&url).map_err(|_| {
            invalid(
                s,
                "unsupported URL: use a local path, file:///absolute/path.af, \
                 s3://bucket/key.af, gs://bucket/key.af or az://container/key.af",
            )
        })?;
        let unsupported = || {
            invalid(
                s,
                format!(
                    "{}:// URLs are not supported (local paths, file://, s3://, gs:// and az:// are)",
                    url.scheme()
                ),
            )
        };
        let kind = match scheme {
            ObjectStoreScheme::Local => {
                no_options(s, &options)?;
                let path = url
                    .to_file_path()
                    .map_err(|()| invalid(s, "a file:// URL needs an absolute local path"))?;
                Kind::Local(path)
            }
            ObjectStoreScheme::AmazonS3 => Kind::Store {
                store: s3(s, &options)?,
                path,
            },
            ObjectStoreScheme::GoogleCloudStorage => Kind::Store {
                store: gcs(s, &options)?,
                path,
            },
            ObjectStoreScheme::MicrosoftAzure => Kind::Store {
                store: azure(s, &options)?,
                path,
            },
            ObjectStoreScheme::Memory => {
                return Err(invalid(
                    s,
                    "a memory:// store lives only as long as one handle; use ArrayFile::create_memory",
                ));
            }
            _ => return Err(unsupported()),
        };
        Ok(Location {
            name: s.to_owned(),
            kind,
        })
    }

    /// A location in `store` at `path`, named `name` in messages.
    pub fn in_store(name: impl Into<String>, store: Arc<dyn ObjectStore>, path: StorePath) -> Self {
        Location {
            name: name.into(),
            kind: Kind::Store { store, path },
        }
    }

    /// Whether the file is on the local filesystem (opened with
    /// [`ArrayFile::open_path`](crate::ArrayFile::open_path)).
    pub fn is_local(&self) -> bool {
        matches!(self.kind, Kind::Local(_))
    }

    /// The local path, for a local location.
    pub fn local_path(&self) -> Option<&std::path::Path> {
        match &self.kind {
            Kind::Local(p) => Some(p),
            Kind::Store { .. } => None,
        }
    }

    /// The store and the base object's path, for an object-store location.
    pub fn store(&self) -> Option<(&Arc<dyn ObjectStore>, &StorePath)> {
        match &self.kind {
            Kind::Local(_) => None,
            Kind::Store { store, path } => Some((store, path)),
        }
    }

    /// What the location was parsed from.
    pub fn as_str(&self) -> &str {
        &self.name
    }

    pub(crate) fn kind(&self) -> &Kind {
        &self.kind
    }
}

fn no_options(s: &str, options: &[(String, String)]) -> Result<()> {
    match options.first() {
        None => Ok(()),
        Some((k, _)) => Err(invalid(
            s,
            format!("storage option {k:?} given for a local file, which takes none"),
        )),
    }
}

/// `options` as config keys of type `K`, or an error naming the first one
/// the store does not know.
fn keys<K: std::str::FromStr>(
    s: &str,
    store: &str,
    options: &[(String, String)],
) -> Result<Vec<(K, String)>> {
    options
        .iter()
        .map(|(k, v)| {
            k.parse::<K>()
                .map(|key| (key, v.clone()))
                .map_err(|_| invalid(s, format!("unknown {store} storage option {k:?}")))
        })
        .collect()
}

fn s3(s: &str, options: &[(String, String)]) -> Result<Arc<dyn ObjectStore>> {
    use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey, S3CopyIfNotExists};
    let mut builder = AmazonS3Builder::from_env().with_url(s);
    for (key, v) in keys::<AmazonS3ConfigKey>(s, "S3", options)? {
        builder = builder.with_config(key, v);
    }
    // A layer too large for one PUT is uploaded to a staging object and
    // copied to its name only if the name is free; AWS does that by a
    // multipart upload completed with `If-None-Match`, which object_store
    // uses only when told. Another way (a store's own header) may be set
    // through the environment or the options.
    if builder
        .get_config_value(&AmazonS3ConfigKey::CopyIfNotExists)
        .is_none()
    {
        builder = builder.with_copy_if_not_exists(S3CopyIfNotExists::Multipart);
    }
    let store = builder
        .build()
        .map_err(|e| invalid(s, format!("cannot use this S3 location: {e}")))?;
    Ok(Arc::new(store))
}

fn gcs(s: &str, options: &[(String, String)]) -> Result<Arc<dyn ObjectStore>> {
    use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};
    let mut builder = GoogleCloudStorageBuilder::from_env().with_url(s);
    for (key, v) in keys::<GoogleConfigKey>(s, "GCS", options)? {
        builder = builder.with_config(key, v);
    }
    let store = builder
        .build()
        .map_err(|e| invalid(s, format!("cannot use this GCS location: {e}")))?;
    Ok(Arc::new(store))
}

fn azure(s: &str, options: &[(String, String)]) -> Result<Arc<dyn ObjectStore>> {
    use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
    let mut builder = MicrosoftAzureBuilder::from_env().with_url(s);
    for (key, v) in keys::<AzureConfigKey>(s, "Azure", options)? {
        builder = builder.with_config(key, v);
    }
    let store = builder
        .build()
        .map_err(|e| invalid(s, format!("cannot use this Azure location: {e}")))?;
    Ok(Arc::new(store))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn local_paths_and_file_urls_are_local() {
        let l = Location::parse("a/b.af").unwrap();
        assert_eq!(l.local_path(), Some(std::path::Path::new("a/b.af")));
        let u = Location::parse("file:///tmp/x%20y.af").unwrap();
        assert_eq!(u.local_path(), Some(std::path::Path::new("/tmp/x y.af")));
        assert_eq!(u.to_string(), "file:///tmp/x%20y.af");
    }

    #[test]
    fn s3_urls_take_options_and_refuse_unknown_keys() {
        let l = Location::parse_with_options(
            "s3://bucket/dir/f.af",
            [
                ("endpoint", "http://127.0.0.1:9000"),
                ("allow_http", "true"),
                ("region", "us-east-1"),
            ],
        )
        .unwrap();
        let (_, path) = l.store().unwrap();
        assert_eq!(path.as_ref(), "dir/f.af");
        let err = Location::parse_with_options("s3://bucket/f.af", [("colour", "blue")]);
        assert!(matches!(err, Err(Error::InvalidPath { reason, .. }) if reason.contains("colour")));
    }

    #[test]
    fn gcs_and_azure_urls_are_stores() {
        // Without credentials GCS falls back to the instance's metadata
        // server, asked at the first request.
        let g = Location::parse("gs://bucket/dir/f.af").unwrap();
        assert_eq!(g.store().unwrap().1.as_ref(), "dir/f.af");
        let a = Location::parse_with_options(
            "az://container/dir/f.af",
            [
                ("account_name", "devstoreaccount1"),
                ("use_emulator", "true"),
            ],
        )
        .unwrap();
        assert_eq!(a.store().unwrap().1.as_ref(), "dir/f.af");
        let err = Location::parse_with_options("gs://bucket/f.af", [("colour", "blue")]);
        assert!(matches!(err, Err(Error::InvalidPath { reason, .. }) if reason.contains("GCS")));
        let err = Location::parse_with_options("az://c/f.af", [("colour", "blue")]);
        assert!(matches!(err, Err(Error::InvalidPath { reason, .. }) if reason.contains("Azure")));
    }

    #[test]
    fn bad_input_is_a_typed_error() {
        for bad in ["", "ftp://h/x.af", "memory:///x.af", "http://[::1"] {
            assert!(
                matches!(Location::parse(bad), Err(Error::InvalidPath { .. })),
                "{bad:?}"
            );
        }
        let err = Location::parse_with_options("x.af", [("region", "eu")]);
        assert!(matches!(err, Err(Error::InvalidPath { .. })));
    }
}
