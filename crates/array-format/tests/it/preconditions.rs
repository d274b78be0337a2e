//! Stores that ignore create-only puts are refused at `create`: two
//! writers there would overwrite each other's layers, so the library
//! checks, when it creates a file, that a second create of the base is
//! refused, and otherwise removes the base and fails.
//!
//! Runs on a wrapper that turns `PutMode::Create` into an overwrite, as an
//! S3-compatible store that ignores `If-None-Match` does (and as the GCS
//! emulator `gcp-storage-emulator` does with GCS's generation
//! precondition).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fmt;
use std::sync::Arc;

use array_format::{ArrayFile, Error, FileConfig, Lz4Codec};
use futures::TryStreamExt;
use futures::stream::BoxStream;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMode, PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions, Result,
};

/// Performs every create-only put as an overwrite.
#[derive(Debug)]
struct Unconditional(Arc<dyn ObjectStore>);

impl fmt::Display for Unconditional {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Unconditional({})", self.0)
    }
}

#[async_trait::async_trait]
impl ObjectStore for Unconditional {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        mut opts: PutOptions,
    ) -> Result<PutResult> {
        if opts.mode == PutMode::Create {
            opts.mode = PutMode::Overwrite;
        }
        self.0.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        self.0.put_multipart_opts(location, opts).await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        self.0.get_opts(location, options).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        self.0.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        self.0.list(prefix)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.0.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.0.copy_opts(from, to, options).await
    }

    async fn rename_opts(&self, from: &Path, to: &Path, options: RenameOptions) -> Result<()> {
        self.0.rename_opts(from, to, options).await
    }
}

/// `create` on `store` fails naming the base and the reason, and leaves
/// no object behind.
async fn refused(store: Arc<dyn ObjectStore>) {
    let path = Path::from("dir/f.af");
    let e = ArrayFile::create(Arc::clone(&store), path, FileConfig::new(Lz4Codec))
        .await
        .unwrap_err();
    match &e {
        Error::Storage { path, .. } => assert_eq!(path, "dir/f.af", "{e}"),
        other => panic!("expected a storage error, got {other:?}"),
    }
    assert!(e.to_string().contains("ignores create-only puts"), "{e}");
    let left: Vec<ObjectMeta> = store.list(None).try_collect().await.unwrap();
    assert!(left.is_empty(), "{left:?}");
}

#[tokio::test]
async fn a_store_that_ignores_create_only_puts_is_refused() {
    refused(Arc::new(Unconditional(Arc::new(InMemory::new())))).await;
}

#[tokio::test]
async fn a_store_that_honours_them_takes_the_file() {
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let path = Path::from("dir/f.af");
    ArrayFile::create(Arc::clone(&store), path.clone(), FileConfig::new(Lz4Codec))
        .await
        .unwrap();
    ArrayFile::open(store, path, FileConfig::new(Lz4Codec))
        .await
        .unwrap();
}
