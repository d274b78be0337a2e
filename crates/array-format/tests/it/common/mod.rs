//! Test-support `ObjectStore` wrappers.
//!
//! * [`FaultyStore`] numbers every mutating request and fails every one from
//!   the k-th on without performing it: a process that crashed (or lost its
//!   connection) at that point. Reads and listings always pass through, so
//!   the wrapped store shows exactly what the "crashed" writer left behind.
//!   [`FaultyStore::new_lost_reply`] instead performs request k and then
//!   reports it failed (the reply was lost), refusing the later ones;
//!   [`FaultyStore::new_retried_create`] performs request k and reports it
//!   refused as existing (a retry that found what the lost attempt made).
//! * [`Place`] is where a test's file lives: an `InMemory` store or local
//!   disk, both of which reopen.
//! * [`CountingStore`] records every request (kind, path, byte range, bytes)
//!   so tests and benchmarks can assert request counts and bytes read.
//!
//! `object_store::ObjectStore` is an `#[async_trait]` trait; this crate does
//! not depend on `async-trait`, so the methods below are written in the form
//! that macro expands to (explicit lifetimes, boxed `Send` futures).

#![allow(dead_code)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

pub mod azurite;
pub mod s3;

use std::fmt;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use array_format::{ArrayFile, CompressionCodec, FileConfig};
use bytes::Bytes;
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use futures::{FutureExt, StreamExt};
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetRange, GetResult, ListResult, MultipartUpload, ObjectMeta,
    ObjectStore, ObjectStoreExt, PutMultipartOptions, PutOptions, PutPayload, PutResult,
    RenameOptions, Result, UploadPart,
};

// ── FaultyStore ─────────────────────────────────────────────────────

/// `fail_from` value meaning "never fail".
const NEVER: u64 = u64::MAX;

/// One mutating request seen by a [`FaultyStore`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mutation {
    /// Its number, from 1.
    pub n: u64,
    /// What it was, e.g. `put crash.3.af` or `part 2 of crash.4.….staging`.
    pub what: String,
    /// Whether it was refused with an injected fault (and not performed).
    pub failed: bool,
}

#[derive(Debug)]
struct FaultState {
    count: AtomicU64,
    fail_from: AtomicU64,
    /// Whether request `fail_from` itself is performed (its reply lost).
    lost_reply: bool,
    /// Whether request `fail_from` is performed and then reported as a
    /// create refused because the name is taken, every other one passing:
    /// a client whose create landed, whose reply was lost, and whose retry
    /// found the object it had made.
    retried_create: bool,
    log: Mutex<Vec<Mutation>>,
}

/// What to do with one mutating request.
enum Verdict {
    /// Perform it.
    Pass,
    /// Perform it, then report this error.
    PerformThenFail(object_store::Error),
    /// Report this error without performing it.
    Refuse(object_store::Error),
}

fn injected(n: u64) -> object_store::Error {
    object_store::Error::Generic {
        store: "FaultyStore",
        source: format!("injected fault at op {n}").into(),
    }
}

impl FaultState {
    /// Numbers one mutating request and decides its fate.
    fn check(&self, what: impl FnOnce() -> String) -> Verdict {
        let n = self.count.fetch_add(1, Ordering::SeqCst) + 1;
        let from = self.fail_from.load(Ordering::SeqCst);
        let failed = if self.retried_create {
            n == from
        } else {
            n >= from
        };
        let what = what();
        self.log.lock().unwrap().push(Mutation {
            n,
            what: what.clone(),
            failed,
        });
        if !failed {
            Verdict::Pass
        } else if self.retried_create {
            Verdict::PerformThenFail(object_store::Error::AlreadyExists {
                path: what,
                source: format!("the retry of request {n} found the object it made").into(),
            })
        } else if self.lost_reply && n == from {
            Verdict::PerformThenFail(injected(n))
        } else {
            Verdict::Refuse(injected(n))
        }
    }

    /// Runs `op` as one mutating request described by `what`.
    async fn run<T>(
        &self,
        what: impl FnOnce() -> String,
        op: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        match self.check(what) {
            Verdict::Pass => op.await,
            Verdict::PerformThenFail(e) => {
                let _ = op.await;
                Err(e)
            }
            Verdict::Refuse(e) => Err(e),
        }
    }
}

/// Wraps a store; makes every mutating request from the `fail_from`-th on
/// fail (without performing it; see [`new_lost_reply`](Self::new_lost_reply)
/// for the variant that performs the first failing one).
///
/// Mutating requests, numbered from 1 in the order they are issued:
/// `put_opts`, each multipart part upload, multipart completion, each path
/// of `delete_stream` (so each `delete`), `copy_opts` (so
/// `copy_if_not_exists`), `rename_opts`. Starting a multipart upload and
/// aborting one are not counted (neither makes anything visible) and always
/// pass through; a refused completion leaves no object. Reads and listings
/// always pass through.
#[derive(Clone)]
pub struct FaultyStore {
    inner: Arc<dyn ObjectStore>,
    state: Arc<FaultState>,
}

impl FaultyStore {
    /// Wraps `inner`; `fail_from: Some(k)` fails mutating request k and all
    /// later ones, `None` never fails.
    pub fn new(inner: Arc<dyn ObjectStore>, fail_from: Option<u64>) -> Self {
        Self::with_mode(inner, fail_from, false)
    }

    /// Like [`new`](Self::new), except that request `fail_from` itself is
    /// performed and then reported as failed, as when a request succeeds
    /// but its reply is lost; the later ones are refused.
    pub fn new_lost_reply(inner: Arc<dyn ObjectStore>, fail_from: Option<u64>) -> Self {
        Self::with_mode(inner, fail_from, true)
    }

    /// [`new_lost_reply`](Self::new_lost_reply) when `lost_reply`, else
    /// [`new`](Self::new).
    pub fn with_mode(
        inner: Arc<dyn ObjectStore>,
        fail_from: Option<u64>,
        lost_reply: bool,
    ) -> Self {
        Self::build(inner, fail_from, lost_reply, false)
    }

    /// Performs mutating request `at` and reports it refused as existing
    /// already (`AlreadyExists`), as a client does whose create landed,
    /// whose reply was lost and whose retry found the object it made;
    /// every other request passes.
    pub fn new_retried_create(inner: Arc<dyn ObjectStore>, at: u64) -> Self {
        Self::build(inner, Some(at), false, true)
    }

    fn build(
        inner: Arc<dyn ObjectStore>,
        fail_from: Option<u64>,
        lost_reply: bool,
        retried_create: bool,
    ) -> Self {
        Self {
            inner,
            state: Arc::new(FaultState {
                count: AtomicU64::new(0),
                fail_from: AtomicU64::new(fail_from.unwrap_or(NEVER)),
                lost_reply,
                retried_create,
                log: Mutex::new(Vec::new()),
            }),
        }
    }

    /// What mutating request `n` was (`no request` if there was none).
    pub fn request(&self, n: u64) -> String {
        self.log()
            .into_iter()
            .find(|m| m.n == n)
            .map_or_else(|| "no request".to_owned(), |m| m.what)
    }

    /// Mutating requests issued so far (performed or refused).
    pub fn mutations(&self) -> u64 {
        self.state.count.load(Ordering::SeqCst)
    }

    /// Changes the first request number to fail (`None`: never).
    pub fn set_fail_from(&self, fail_from: Option<u64>) {
        self.state
            .fail_from
            .store(fail_from.unwrap_or(NEVER), Ordering::SeqCst);
    }

    /// Every mutating request so far, in order.
    pub fn log(&self) -> Vec<Mutation> {
        self.state.log.lock().unwrap().clone()
    }

    /// The wrapped store.
    pub fn inner(&self) -> &Arc<dyn ObjectStore> {
        &self.inner
    }
}

impl fmt::Display for FaultyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FaultyStore({})", self.inner)
    }
}

impl fmt::Debug for FaultyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let from = self.state.fail_from.load(Ordering::SeqCst);
        f.debug_struct("FaultyStore")
            .field("inner", &self.inner)
            .field("mutations", &self.mutations())
            .field("fail_from", &(from != NEVER).then_some(from))
            .finish()
    }
}

/// A multipart upload whose part uploads and completion are counted and
/// may be refused.
#[derive(Debug)]
struct FaultyUpload {
    inner: Box<dyn MultipartUpload>,
    state: Arc<FaultState>,
    path: Path,
    parts: u64,
}

impl MultipartUpload for FaultyUpload {
    fn put_part(&mut self, data: PutPayload) -> UploadPart {
        self.parts += 1;
        let (part, path, len) = (self.parts, &self.path, data.content_length());
        match self
            .state
            .check(|| format!("part {part} of {path} ({len} bytes)"))
        {
            Verdict::Pass => self.inner.put_part(data),
            Verdict::PerformThenFail(e) => self.inner.put_part(data).map(|_| Err(e)).boxed(),
            Verdict::Refuse(e) => futures::future::ready(Err(e)).boxed(),
        }
    }

    fn complete<'life0, 'async_trait>(
        &'life0 mut self,
    ) -> BoxFuture<'async_trait, Result<PutResult>>
    where
        'life0: 'async_trait,
        Self: 'async_trait,
    {
        async move {
            let Self {
                inner, state, path, ..
            } = self;
            state
                .run(|| format!("complete {path}"), inner.complete())
                .await
        }
        .boxed()
    }

    fn abort<'life0, 'async_trait>(&'life0 mut self) -> BoxFuture<'async_trait, Result<()>>
    where
        'life0: 'async_trait,
        Self: 'async_trait,
    {
        self.inner.abort()
    }
}

impl ObjectStore for FaultyStore {
    fn put_opts<'life0, 'life1, 'async_trait>(
        &'life0 self,
        location: &'life1 Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> BoxFuture<'async_trait, Result<PutResult>>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        Self: 'async_trait,
    {
        async move {
            let what = format!(
                "put {location} ({} bytes, {:?})",
                payload.content_length(),
                opts.mode
            );
            self.state
                .run(|| what, self.inner.put_opts(location, payload, opts))
                .await
        }
        .boxed()
    }

    fn put_multipart_opts<'life0, 'life1, 'async_trait>(
        &'life0 self,
        location: &'life1 Path,
        opts: PutMultipartOptions,
    ) -> BoxFuture<'async_trait, Result<Box<dyn MultipartUpload>>>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        Self: 'async_trait,
    {
        async move {
            let inner = self.inner.put_multipart_opts(location, opts).await?;
            Ok(Box::new(FaultyUpload {
                inner,
                state: Arc::clone(&self.state),
                path: location.clone(),
                parts: 0,
            }) as Box<dyn MultipartUpload>)
        }
        .boxed()
    }

    fn get_opts<'life0, 'life1, 'async_trait>(
        &'life0 self,
        location: &'life1 Path,
        options: GetOptions,
    ) -> BoxFuture<'async_trait, Result<GetResult>>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        Self: 'async_trait,
    {
        self.inner.get_opts(location, options)
    }

    fn get_ranges<'life0, 'life1, 'life2, 'async_trait>(
        &'life0 self,
        location: &'life1 Path,
        ranges: &'life2 [Range<u64>],
    ) -> BoxFuture<'async_trait, Result<Vec<Bytes>>>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        'life2: 'async_trait,
        Self: 'async_trait,
    {
        self.inner.get_ranges(location, ranges)
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        let inner = Arc::clone(&self.inner);
        let state = Arc::clone(&self.state);
        locations
            .then(move |location| {
                let inner = Arc::clone(&inner);
                let state = Arc::clone(&state);
                async move {
                    let location = location?;
                    state
                        .run(|| format!("delete {location}"), inner.delete(&location))
                        .await?;
                    Ok(location)
                }
            })
            .boxed()
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list_with_offset(prefix, offset)
    }

    fn list_with_delimiter<'life0, 'life1, 'async_trait>(
        &'life0 self,
        prefix: Option<&'life1 Path>,
    ) -> BoxFuture<'async_trait, Result<ListResult>>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        Self: 'async_trait,
    {
        self.inner.list_with_delimiter(prefix)
    }

    fn copy_opts<'life0, 'life1, 'life2, 'async_trait>(
        &'life0 self,
        from: &'life1 Path,
        to: &'life2 Path,
        options: CopyOptions,
    ) -> BoxFuture<'async_trait, Result<()>>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        'life2: 'async_trait,
        Self: 'async_trait,
    {
        async move {
            let what = format!("copy {from} -> {to} ({:?})", options.mode);
            self.state
                .run(|| what, self.inner.copy_opts(from, to, options))
                .await
        }
        .boxed()
    }

    fn rename_opts<'life0, 'life1, 'life2, 'async_trait>(
        &'life0 self,
        from: &'life1 Path,
        to: &'life2 Path,
        options: RenameOptions,
    ) -> BoxFuture<'async_trait, Result<()>>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        'life2: 'async_trait,
        Self: 'async_trait,
    {
        async move {
            let what = format!("rename {from} -> {to} ({:?})", options.target_mode);
            self.state
                .run(|| what, self.inner.rename_opts(from, to, options))
                .await
        }
        .boxed()
    }
}

// ── CountingStore ───────────────────────────────────────────────────

/// The kind of a request seen by a [`CountingStore`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequestKind {
    /// `get_opts` fetching data (`get`, `get_range`, and each coalesced
    /// range of `get_ranges`).
    Get,
    /// `get_opts` with `head: true`.
    Head,
    /// `put_opts`.
    Put,
    /// Starting a multipart upload.
    MultipartStart,
    /// One part of a multipart upload.
    MultipartPart,
    /// Completing a multipart upload.
    MultipartComplete,
    /// Aborting a multipart upload.
    MultipartAbort,
    /// One path of `delete_stream`.
    Delete,
    /// `list` / `list_with_offset`.
    List,
    /// `list_with_delimiter`.
    ListWithDelimiter,
    /// `copy_opts`.
    Copy,
    /// `rename_opts`.
    Rename,
}

/// One request seen by a [`CountingStore`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// What kind of request.
    pub kind: RequestKind,
    /// The object (or listing prefix, `""` for the root; for copy and rename
    /// `from -> to`).
    pub path: String,
    /// The byte range asked for (`None`: the whole object).
    pub range: Option<GetRange>,
    /// Bytes transferred: for gets the length of the range the store
    /// returned, for puts and parts the payload length, otherwise 0.
    pub bytes: u64,
}

#[derive(Debug, Default)]
struct CountLog {
    requests: Mutex<Vec<Request>>,
    /// GETs in flight now, and the most ever.
    in_flight: std::sync::atomic::AtomicUsize,
    max_in_flight: std::sync::atomic::AtomicUsize,
}

impl CountLog {
    fn push(&self, kind: RequestKind, path: String, range: Option<GetRange>, bytes: u64) {
        self.requests.lock().unwrap().push(Request {
            kind,
            path,
            range,
            bytes,
        });
    }
}

/// Wraps a store and records every request it passes on.
///
/// `get_ranges` is not forwarded as one call: the trait's default
/// implementation coalesces the ranges and issues one `get_opts` per
/// coalesced range, as a remote store would, and each is recorded as a
/// [`RequestKind::Get`].
#[derive(Clone)]
pub struct CountingStore {
    inner: Arc<dyn ObjectStore>,
    log: Arc<CountLog>,
    /// Added to every get, as a remote store's request cost.
    latency: Option<std::time::Duration>,
    /// Added to every get without holding a thread (a timer), so that
    /// concurrent gets overlap however few threads run them.
    delay: Option<std::time::Duration>,
    /// Whether suffix ranges are refused, as object_store's Azure client
    /// refuses them (before sending anything).
    no_suffix: bool,
}

impl CountingStore {
    /// Wraps `inner` with an empty log.
    pub fn new(inner: Arc<dyn ObjectStore>) -> Self {
        Self {
            inner,
            log: Arc::new(CountLog::default()),
            latency: None,
            delay: None,
            no_suffix: false,
        }
    }

    /// Refuses suffix ranges (`NotSupported`, nothing sent), as
    /// object_store's client of Azure Blob Storage does.
    pub fn without_suffix_ranges(mut self) -> Self {
        self.no_suffix = true;
        self
    }

    /// Makes every get take at least `latency` longer, as on a remote
    /// object store.
    pub fn with_latency(mut self, latency: std::time::Duration) -> Self {
        self.latency = Some(latency);
        self
    }

    /// Makes every get wait `delay` on a timer before it is served.
    pub fn with_delay(mut self, delay: std::time::Duration) -> Self {
        self.delay = Some(delay);
        self
    }

    /// The most GETs (heads included) ever in flight at once.
    pub fn max_in_flight(&self) -> usize {
        self.log
            .max_in_flight
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Every request recorded since creation or the last [`reset`](Self::reset).
    pub fn requests(&self) -> Vec<Request> {
        self.log.requests.lock().unwrap().clone()
    }

    /// Number of recorded requests of `kind`.
    pub fn count(&self, kind: RequestKind) -> usize {
        self.log
            .requests
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.kind == kind)
            .count()
    }

    /// Data-fetching GET requests (heads excluded).
    pub fn gets(&self) -> usize {
        self.count(RequestKind::Get)
    }

    /// Bytes returned by GET requests.
    pub fn bytes_read(&self) -> u64 {
        self.log
            .requests
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.kind == RequestKind::Get)
            .map(|r| r.bytes)
            .sum()
    }

    /// PUT requests: single puts plus multipart part uploads.
    pub fn puts(&self) -> usize {
        self.count(RequestKind::Put) + self.count(RequestKind::MultipartPart)
    }

    /// Bytes sent by single puts and multipart parts.
    pub fn bytes_written(&self) -> u64 {
        self.log
            .requests
            .lock()
            .unwrap()
            .iter()
            .filter(|r| matches!(r.kind, RequestKind::Put | RequestKind::MultipartPart))
            .map(|r| r.bytes)
            .sum()
    }

    /// Clears the log and the most GETs in flight.
    pub fn reset(&self) {
        self.log.requests.lock().unwrap().clear();
        self.log
            .max_in_flight
            .store(0, std::sync::atomic::Ordering::SeqCst);
    }

    /// The wrapped store.
    pub fn inner(&self) -> &Arc<dyn ObjectStore> {
        &self.inner
    }
}

impl fmt::Display for CountingStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CountingStore({})", self.inner)
    }
}

impl fmt::Debug for CountingStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CountingStore")
            .field("inner", &self.inner)
            .field("requests", &self.log.requests.lock().unwrap().len())
            .finish()
    }
}

/// A multipart upload whose parts, completion and abort are recorded.
#[derive(Debug)]
struct CountingUpload {
    inner: Box<dyn MultipartUpload>,
    log: Arc<CountLog>,
    path: Path,
}

impl MultipartUpload for CountingUpload {
    fn put_part(&mut self, data: PutPayload) -> UploadPart {
        let len = data.content_length() as u64;
        self.log
            .push(RequestKind::MultipartPart, self.path.to_string(), None, len);
        self.inner.put_part(data)
    }

    fn complete<'life0, 'async_trait>(
        &'life0 mut self,
    ) -> BoxFuture<'async_trait, Result<PutResult>>
    where
        'life0: 'async_trait,
        Self: 'async_trait,
    {
        self.log.push(
            RequestKind::MultipartComplete,
            self.path.to_string(),
            None,
            0,
        );
        self.inner.complete()
    }

    fn abort<'life0, 'async_trait>(&'life0 mut self) -> BoxFuture<'async_trait, Result<()>>
    where
        'life0: 'async_trait,
        Self: 'async_trait,
    {
        self.log
            .push(RequestKind::MultipartAbort, self.path.to_string(), None, 0);
        self.inner.abort()
    }
}

impl ObjectStore for CountingStore {
    fn put_opts<'life0, 'life1, 'async_trait>(
        &'life0 self,
        location: &'life1 Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> BoxFuture<'async_trait, Result<PutResult>>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        Self: 'async_trait,
    {
        self.log.push(
            RequestKind::Put,
            location.to_string(),
            None,
            payload.content_length() as u64,
        );
        self.inner.put_opts(location, payload, opts)
    }

    fn put_multipart_opts<'life0, 'life1, 'async_trait>(
        &'life0 self,
        location: &'life1 Path,
        opts: PutMultipartOptions,
    ) -> BoxFuture<'async_trait, Result<Box<dyn MultipartUpload>>>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        Self: 'async_trait,
    {
        async move {
            self.log
                .push(RequestKind::MultipartStart, location.to_string(), None, 0);
            let inner = self.inner.put_multipart_opts(location, opts).await?;
            Ok(Box::new(CountingUpload {
                inner,
                log: Arc::clone(&self.log),
                path: location.clone(),
            }) as Box<dyn MultipartUpload>)
        }
        .boxed()
    }

    fn get_opts<'life0, 'life1, 'async_trait>(
        &'life0 self,
        location: &'life1 Path,
        options: GetOptions,
    ) -> BoxFuture<'async_trait, Result<GetResult>>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        Self: 'async_trait,
    {
        async move {
            if self.no_suffix && matches!(options.range, Some(object_store::GetRange::Suffix(_))) {
                return Err(object_store::Error::NotSupported {
                    source: "Azure does not support suffix range requests".into(),
                });
            }
            // A thread sleep, not a timer: timers round up to milliseconds,
            // and request costs of tens of microseconds must be modelled too.
            if let Some(latency) = self.latency {
                std::thread::sleep(latency);
            }
            use std::sync::atomic::Ordering::SeqCst;
            let now = self.log.in_flight.fetch_add(1, SeqCst) + 1;
            self.log.max_in_flight.fetch_max(now, SeqCst);
            if let Some(delay) = self.delay {
                tokio::time::sleep(delay).await;
            }
            let head = options.head;
            let range = options.range.clone();
            let result = self.inner.get_opts(location, options).await;
            self.log.in_flight.fetch_sub(1, SeqCst);
            let bytes = match (&result, head) {
                (Ok(r), false) => r.range.end - r.range.start,
                _ => 0,
            };
            let kind = if head {
                RequestKind::Head
            } else {
                RequestKind::Get
            };
            self.log.push(kind, location.to_string(), range, bytes);
            result
        }
        .boxed()
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        let inner = Arc::clone(&self.inner);
        let log = Arc::clone(&self.log);
        locations
            .then(move |location| {
                let inner = Arc::clone(&inner);
                let log = Arc::clone(&log);
                async move {
                    let location = location?;
                    log.push(RequestKind::Delete, location.to_string(), None, 0);
                    inner.delete(&location).await?;
                    Ok(location)
                }
            })
            .boxed()
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        self.log.push(
            RequestKind::List,
            prefix.map(Path::to_string).unwrap_or_default(),
            None,
            0,
        );
        self.inner.list(prefix)
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, Result<ObjectMeta>> {
        self.log.push(
            RequestKind::List,
            prefix.map(Path::to_string).unwrap_or_default(),
            None,
            0,
        );
        self.inner.list_with_offset(prefix, offset)
    }

    fn list_with_delimiter<'life0, 'life1, 'async_trait>(
        &'life0 self,
        prefix: Option<&'life1 Path>,
    ) -> BoxFuture<'async_trait, Result<ListResult>>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        Self: 'async_trait,
    {
        self.log.push(
            RequestKind::ListWithDelimiter,
            prefix.map(Path::to_string).unwrap_or_default(),
            None,
            0,
        );
        self.inner.list_with_delimiter(prefix)
    }

    fn copy_opts<'life0, 'life1, 'life2, 'async_trait>(
        &'life0 self,
        from: &'life1 Path,
        to: &'life2 Path,
        options: CopyOptions,
    ) -> BoxFuture<'async_trait, Result<()>>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        'life2: 'async_trait,
        Self: 'async_trait,
    {
        self.log
            .push(RequestKind::Copy, format!("{from} -> {to}"), None, 0);
        self.inner.copy_opts(from, to, options)
    }

    fn rename_opts<'life0, 'life1, 'life2, 'async_trait>(
        &'life0 self,
        from: &'life1 Path,
        to: &'life2 Path,
        options: RenameOptions,
    ) -> BoxFuture<'async_trait, Result<()>>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        'life2: 'async_trait,
        Self: 'async_trait,
    {
        self.log
            .push(RequestKind::Rename, format!("{from} -> {to}"), None, 0);
        self.inner.rename_opts(from, to, options)
    }
}

/// Deterministic random numbers, so that every generated case can be
/// reproduced from its seed.
pub struct Rng(rand::rngs::StdRng);

impl Rng {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        use rand::SeedableRng;
        Self(rand::rngs::StdRng::seed_from_u64(seed))
    }

    /// A uniformly random `u64`.
    pub fn next(&mut self) -> u64 {
        rand::RngCore::next_u64(&mut self.0)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        rand::Rng::random_range(&mut self.0, 0..n)
    }

    /// A uniformly random byte.
    pub fn byte(&mut self) -> u8 {
        rand::Rng::random(&mut self.0)
    }
}

// ── Place ───────────────────────────────────────────────────────────

/// Where a test's file lives; both reopen.
pub struct Place {
    pub store: Arc<dyn ObjectStore>,
    pub dir: Option<tempfile::TempDir>,
}

impl Place {
    /// An `object_store` `InMemory` store, then local disk.
    pub fn all() -> [Place; 2] {
        let dir = tempfile::tempdir().unwrap();
        [
            Place {
                store: Arc::new(InMemory::new()),
                dir: None,
            },
            Place {
                store: Arc::new(LocalFileSystem::new_with_prefix(dir.path()).unwrap()),
                dir: Some(dir),
            },
        ]
    }

    pub fn name(&self) -> &'static str {
        if self.dir.is_some() { "disk" } else { "memory" }
    }

    pub async fn create<C: CompressionCodec + 'static>(&self, config: FileConfig<C>) -> ArrayFile {
        ArrayFile::create(self.store.clone(), Path::from("c.af"), config)
            .await
            .unwrap()
    }

    pub async fn open<C: CompressionCodec + 'static>(&self, config: FileConfig<C>) -> ArrayFile {
        self.try_open(config).await.unwrap()
    }

    pub async fn try_open<C: CompressionCodec + 'static>(
        &self,
        config: FileConfig<C>,
    ) -> array_format::Result<ArrayFile> {
        ArrayFile::open(self.store.clone(), Path::from("c.af"), config).await
    }
}

// ── Damage ──────────────────────────────────────────────────────────

/// Rewrites the footer of the layer object at `path` with `patch` and
/// recomputes the footer and trailer checksums, so that only what the patch
/// damaged is damaged.
pub fn patch_footer(path: &std::path::Path, patch: impl FnOnce(&mut [u8])) {
    let mut bytes = std::fs::read(path).unwrap();
    let n = bytes.len();
    let footer_len = u64::from_le_bytes(bytes[n - 32..n - 24].try_into().unwrap()) as usize;
    let footer = n - 32 - footer_len..n - 32;
    patch(&mut bytes[footer.clone()]);
    let crc = crc32c::crc32c(&bytes[footer]);
    bytes[n - 24..n - 20].copy_from_slice(&crc.to_le_bytes());
    let crc = crc32c::crc32c(&bytes[n - 32..n - 16]);
    bytes[n - 16..n - 12].copy_from_slice(&crc.to_le_bytes());
    std::fs::write(path, bytes).unwrap();
}

/// The message of an [`Error::Corrupted`] about layer `layer`; any other
/// error fails the test.
pub fn corrupted(e: array_format::Error, layer: &str) -> String {
    match e {
        array_format::Error::Corrupted { path, what } => {
            assert!(path.ends_with(layer), "{path}");
            what
        }
        other => panic!("expected Corrupted, got {other:?}"),
    }
}

/// Damages the layer object at `path` where the string attribute value
/// `marker` (shorter than 128 bytes) is stored: its tag (12, before the
/// length) becomes the unknown tag 99, the checksums stay valid.
pub fn damage_string_attribute(path: &std::path::Path, marker: &[u8]) {
    patch_footer(path, |footer| {
        let at = footer
            .windows(marker.len())
            .position(|w| w == marker)
            .unwrap();
        assert_eq!(&footer[at - 2..at], &[12, marker.len() as u8]);
        footer[at - 2] = 99;
    });
}

/// `verify` and `versions` report damage in the footer of layer `layer`
/// (named `file`) only, and `compact` refuses to drop it.
pub async fn assert_footer_damage_reported(f: &mut ArrayFile, layer: u64, file: &str) {
    let report = f.verify().await.unwrap();
    assert!(!report.is_ok());
    assert!(
        report
            .damaged
            .iter()
            .all(|d| d.frame.is_none() && d.path.ends_with(file)),
        "{:?}",
        report.damaged
    );
    let versions = f.versions().await.unwrap();
    for v in &versions {
        assert_eq!(v.damage.is_some(), v.layer == layer, "{v:?}");
    }
    let layers = f.num_layers();
    corrupted(f.compact().await.unwrap_err(), file);
    assert_eq!(f.num_layers(), layers);
}
