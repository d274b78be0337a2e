//! [`FaultyStore`]: a store that fails (or loses the reply of) every
//! mutating request from the k-th on.

use super::*;

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

#[async_trait::async_trait]
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

    async fn complete(&mut self) -> Result<PutResult> {
        let Self {
            inner, state, path, ..
        } = self;
        state
            .run(|| format!("complete {path}"), inner.complete())
            .await
    }

    async fn abort(&mut self) -> Result<()> {
        self.inner.abort().await
    }
}

#[async_trait::async_trait]
impl ObjectStore for FaultyStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        let what = format!(
            "put {location} ({} bytes, {:?})",
            payload.content_length(),
            opts.mode
        );
        self.state
            .run(|| what, self.inner.put_opts(location, payload, opts))
            .await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        let inner = self.inner.put_multipart_opts(location, opts).await?;
        Ok(Box::new(FaultyUpload {
            inner,
            state: Arc::clone(&self.state),
            path: location.clone(),
            parts: 0,
        }) as Box<dyn MultipartUpload>)
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        self.inner.get_opts(location, options).await
    }

    async fn get_ranges(&self, location: &Path, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        self.inner.get_ranges(location, ranges).await
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

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        let what = format!("copy {from} -> {to} ({:?})", options.mode);
        self.state
            .run(|| what, self.inner.copy_opts(from, to, options))
            .await
    }

    async fn rename_opts(&self, from: &Path, to: &Path, options: RenameOptions) -> Result<()> {
        let what = format!("rename {from} -> {to} ({:?})", options.target_mode);
        self.state
            .run(|| what, self.inner.rename_opts(from, to, options))
            .await
    }
}
