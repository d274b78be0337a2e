//! S3 servers for the tests: `s3s-fs` in the test process, serving a
//! temporary directory on 127.0.0.1 (always there), and a moto server
//! outside it when `AF_TEST_MOTO_ENDPOINT` names one ([`moto`]); and
//! `object_store` clients for them.
//!
//! What the server needs to behave as a test server (and what it cannot
//! do), as found on this machine kind:
//!
//! * signed requests are checked ([`SimpleAuth`] with one key), as AWS does;
//!   without it every signed request is refused and the client retries;
//! * `TCP_NODELAY` on every accepted socket, or each small response waits
//!   ~45 ms for the client's delayed ACK;
//! * its conditional puts are checked and then performed, not atomically:
//!   requests that change objects are served one at a time, so that two
//!   creates of one key cannot both succeed;
//! * a listing that races a delete fails where S3 lists what it finds:
//!   listings are served one at a time with the changes;
//! * it ignores conditional GET headers (`If-Match`: a reader pinned to an
//!   object that was deleted and created again is served the new bytes;
//!   the library finds the new tag in the response), and cannot hold keys
//!   `a` and `a/b` at once (a file and a directory of one name);
//! * a suffix range longer than the object (`Range: bytes=-4096` of a
//!   122-byte object) fails with a 500 where S3 returns the whole object:
//!   `Fs` asks it for the whole object instead.
//!
//! The server runs on a runtime of its own, on a thread of its own, so
//! that it serves whatever runtime (or none) the test uses; it stops when
//! the [`S3Server`] is dropped.

use std::sync::Arc;

use hyper::Method;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use object_store::ObjectStore;
use object_store::aws::{AmazonS3Builder, S3ConditionalPut, S3CopyIfNotExists};
use object_store::{ClientOptions, RetryConfig};
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;
use s3s::{S3, S3Request, S3Response, S3Result};
use tokio::sync::oneshot;

/// The access key and secret every client of the test server signs with.
pub const ACCESS_KEY: &str = "array-format-test";
/// See [`ACCESS_KEY`].
pub const SECRET_KEY: &str = "array-format-test-secret";
/// The region the clients sign for (the server takes any).
pub const REGION: &str = "us-east-1";

/// A running S3 server and the directory it serves.
pub struct S3Server {
    endpoint: String,
    dir: tempfile::TempDir,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// One server for the whole test binary, started on first use; a test
/// takes a bucket of its own with [`S3Server::fresh_store`].
pub fn shared() -> &'static S3Server {
    static SERVER: std::sync::OnceLock<S3Server> = std::sync::OnceLock::new();
    SERVER.get_or_init(S3Server::start)
}

impl S3Server {
    /// Starts a server on a free port of 127.0.0.1.
    pub fn start() -> S3Server {
        let dir = tempfile::tempdir().unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let fs = s3s_fs::FileSystem::new(dir.path()).unwrap();
        let root = dir.path().to_path_buf();
        let (stop, stopped) = oneshot::channel();
        let thread = std::thread::Builder::new()
            .name("s3-test-server".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(serve(listener, fs, root, stopped));
            })
            .unwrap();
        S3Server {
            endpoint,
            dir,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Creates an empty bucket.
    pub fn create_bucket(&self, bucket: &str) {
        std::fs::create_dir(self.dir.path().join(bucket)).unwrap();
    }

    /// A client of `bucket` (see [`client`]).
    pub fn store(&self, bucket: &str) -> Arc<dyn ObjectStore> {
        client(&self.endpoint, bucket)
    }

    /// A fresh bucket and a client of it.
    pub fn fresh_store(&self) -> Arc<dyn ObjectStore> {
        self.fresh_bucket().store
    }

    /// A fresh bucket, its name, and a client of it.
    pub fn fresh_bucket(&self) -> Bucket {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("bucket-{n}");
        self.create_bucket(&name);
        Bucket {
            store: self.store(&name),
            endpoint: self.endpoint.clone(),
            name,
            azure: None,
        }
    }
}

/// A bucket of its own for a test: where it is, and a client of it.
#[derive(Clone)]
pub struct Bucket {
    /// `http://HOST:PORT` of its server.
    pub endpoint: String,
    /// Its name.
    pub name: String,
    /// A client of it ([`client`]).
    pub store: Arc<dyn ObjectStore>,
    /// For a prefix of an azurite container: the container and the prefix.
    pub(crate) azure: Option<(String, String)>,
}

impl Bucket {
    /// Another client of the same bucket, with connections of its own (as
    /// another process would have).
    pub fn client(&self) -> Arc<dyn ObjectStore> {
        match &self.azure {
            None => client(&self.endpoint, &self.name),
            Some((container, prefix)) => crate::azurite::client(container, prefix),
        }
    }

    /// The options an `s3://` URL of this bucket needs
    /// (`Location::parse_with_options`): the server, and its credentials.
    pub fn url_options(&self) -> Vec<(&'static str, String)> {
        vec![
            ("endpoint", self.endpoint.clone()),
            ("allow_http", "true".into()),
            ("region", REGION.into()),
            ("access_key_id", ACCESS_KEY.into()),
            ("secret_access_key", SECRET_KEY.into()),
        ]
    }
}

/// A client of `bucket` at `endpoint` that never retries (a refused
/// request is reported at once, not after seconds of back-off), with
/// conditional puts, and copies that create only if absent by a
/// conditional completion of a multipart upload (as on AWS).
pub fn client(endpoint: &str, bucket: &str) -> Arc<dyn ObjectStore> {
    let retry = RetryConfig {
        max_retries: 0,
        ..RetryConfig::default()
    };
    let store = AmazonS3Builder::new()
        .with_endpoint(endpoint)
        .with_allow_http(true)
        .with_bucket_name(bucket)
        .with_region(REGION)
        .with_access_key_id(ACCESS_KEY)
        .with_secret_access_key(SECRET_KEY)
        .with_retry(retry)
        .with_client_options(ClientOptions::new().with_allow_http(true))
        .with_conditional_put(S3ConditionalPut::ETagMatch)
        .with_copy_if_not_exists(S3CopyIfNotExists::Multipart)
        .build()
        .unwrap();
    Arc::new(store)
}

/// The moto server outside this process that `AF_TEST_MOTO_ENDPOINT`
/// names (`.ci/run` starts one: `moto_server -H 127.0.0.1 -p PORT`). It
/// serves conditional GETs and concurrent conditional puts as S3 does, and
/// does not check signatures.
pub struct Moto {
    endpoint: String,
}

/// The moto server, or `None` after printing `SKIP` when none is named;
/// with `REQUIRE_S3=1` (as in CI) a missing server fails the test instead.
pub fn moto(test: &str) -> Option<Moto> {
    crate::server(
        "AF_TEST_MOTO_ENDPOINT",
        "REQUIRE_S3",
        test,
        "a moto server, http://HOST:PORT",
    )
    .map(|endpoint| Moto { endpoint })
}

impl Moto {
    /// A fresh bucket, its name, and a client of it.
    pub fn fresh_bucket(&self) -> Bucket {
        use std::io::{Read, Write};
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let bucket = format!("af-{}-{n}", std::process::id());
        // moto takes unsigned requests: one plain PUT makes the bucket.
        let host = self.endpoint.trim_start_matches("http://");
        let mut conn = std::net::TcpStream::connect(host).unwrap();
        write!(
            conn,
            "PUT /{bucket} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut reply = String::new();
        conn.read_to_string(&mut reply).unwrap();
        assert!(
            reply.starts_with("HTTP/1.1 200"),
            "creating bucket {bucket}: {reply}"
        );
        Bucket {
            store: client(&self.endpoint, &bucket),
            endpoint: self.endpoint.clone(),
            name: bucket,
            azure: None,
        }
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn serve(
    listener: std::net::TcpListener,
    fs: s3s_fs::FileSystem,
    root: std::path::PathBuf,
    mut stopped: oneshot::Receiver<()>,
) {
    let listener = tokio::net::TcpListener::from_std(listener).unwrap();
    let s3 = {
        let mut b = S3ServiceBuilder::new(Fs { fs, root });
        b.set_auth(SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
        b.build()
    };
    // One request that changes objects at a time (see the module doc).
    let changes = Arc::new(tokio::sync::Mutex::new(()));
    let http = ConnBuilder::new(TokioExecutor::new());
    loop {
        let socket = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((socket, _)) => socket,
                Err(_) => continue,
            },
            _ = &mut stopped => return,
        };
        socket.set_nodelay(true).unwrap();
        let (s3, changes) = (s3.clone(), Arc::clone(&changes));
        let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
            let (s3, changes) = (s3.clone(), Arc::clone(&changes));
            async move {
                // A listing reads every object's metadata: one racing a
                // delete fails (500) where S3 lists what it finds.
                let lists = req.uri().path().trim_matches('/').split('/').count() == 1;
                let reads = matches!(*req.method(), Method::GET | Method::HEAD) && !lists;
                let _turn = if reads {
                    None
                } else {
                    Some(changes.lock_owned().await)
                };
                hyper::service::Service::call(&s3, req).await
            }
        });
        let conn = http
            .serve_connection(TokioIo::new(socket), service)
            .into_owned();
        tokio::spawn(async move {
            let _ = conn.await;
        });
    }
}

/// `s3s-fs` with suffix ranges longer than the object served as S3 serves
/// them (the whole object); every other operation as `s3s-fs` does it.
struct Fs {
    fs: s3s_fs::FileSystem,
    root: std::path::PathBuf,
}

/// The `S3` impl of [`Fs`]: `get_object` of its own, every other
/// operation handed to `s3s-fs` (one macro for the whole impl, since
/// `async_trait` must see every method).
macro_rules! fs_impl {
    ($($op:ident: $input:ident -> $output:ident;)*) => {
        #[async_trait::async_trait]
        impl S3 for Fs {
            $(
                async fn $op(
                    &self,
                    req: S3Request<s3s::dto::$input>,
                ) -> S3Result<S3Response<s3s::dto::$output>> {
                    self.fs.$op(req).await
                }
            )*

            async fn get_object(
                &self,
                req: S3Request<s3s::dto::GetObjectInput>,
            ) -> S3Result<S3Response<s3s::dto::GetObjectOutput>> {
                self.fs.get_object(self.whole_if_longer(req)).await
            }
        }
    };
}

impl Fs {
    /// A GET whose suffix range is longer than the object, as a GET of the
    /// whole object.
    fn whole_if_longer(
        &self,
        mut req: S3Request<s3s::dto::GetObjectInput>,
    ) -> S3Request<s3s::dto::GetObjectInput> {
        if let Some(s3s::dto::Range::Suffix { length }) = req.input.range {
            let path = self.root.join(&req.input.bucket).join(&req.input.key);
            if let Ok(len) = std::fs::metadata(path).map(|m| m.len())
                && length > len
            {
                // An empty object: no range at all (S3 serves it whole).
                req.input.range = (len > 0).then(|| s3s::dto::Range::Int {
                    first: 0,
                    last: Some(len - 1),
                });
            }
        }
        req
    }
}

fs_impl! {
    create_bucket: CreateBucketInput -> CreateBucketOutput;
    copy_object: CopyObjectInput -> CopyObjectOutput;
    delete_bucket: DeleteBucketInput -> DeleteBucketOutput;
    delete_object: DeleteObjectInput -> DeleteObjectOutput;
    delete_objects: DeleteObjectsInput -> DeleteObjectsOutput;
    get_bucket_location: GetBucketLocationInput -> GetBucketLocationOutput;
    head_bucket: HeadBucketInput -> HeadBucketOutput;
    head_object: HeadObjectInput -> HeadObjectOutput;
    list_buckets: ListBucketsInput -> ListBucketsOutput;
    list_objects: ListObjectsInput -> ListObjectsOutput;
    list_objects_v2: ListObjectsV2Input -> ListObjectsV2Output;
    put_object: PutObjectInput -> PutObjectOutput;
    create_multipart_upload: CreateMultipartUploadInput -> CreateMultipartUploadOutput;
    upload_part: UploadPartInput -> UploadPartOutput;
    upload_part_copy: UploadPartCopyInput -> UploadPartCopyOutput;
    list_parts: ListPartsInput -> ListPartsOutput;
    complete_multipart_upload: CompleteMultipartUploadInput -> CompleteMultipartUploadOutput;
    abort_multipart_upload: AbortMultipartUploadInput -> AbortMultipartUploadOutput;
}
