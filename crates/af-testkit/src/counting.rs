//! [`CountingStore`]: a store that records every request.

use super::*;

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

#[async_trait::async_trait]
impl MultipartUpload for CountingUpload {
    fn put_part(&mut self, data: PutPayload) -> UploadPart {
        let len = data.content_length() as u64;
        self.log
            .push(RequestKind::MultipartPart, self.path.to_string(), None, len);
        self.inner.put_part(data)
    }

    async fn complete(&mut self) -> Result<PutResult> {
        self.log.push(
            RequestKind::MultipartComplete,
            self.path.to_string(),
            None,
            0,
        );
        self.inner.complete().await
    }

    async fn abort(&mut self) -> Result<()> {
        self.log
            .push(RequestKind::MultipartAbort, self.path.to_string(), None, 0);
        self.inner.abort().await
    }
}

#[async_trait::async_trait]
impl ObjectStore for CountingStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        self.log.push(
            RequestKind::Put,
            location.to_string(),
            None,
            payload.content_length() as u64,
        );
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        self.log
            .push(RequestKind::MultipartStart, location.to_string(), None, 0);
        let inner = self.inner.put_multipart_opts(location, opts).await?;
        Ok(Box::new(CountingUpload {
            inner,
            log: Arc::clone(&self.log),
            path: location.clone(),
        }) as Box<dyn MultipartUpload>)
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
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

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.log.push(
            RequestKind::ListWithDelimiter,
            prefix.map(Path::to_string).unwrap_or_default(),
            None,
            0,
        );
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.log
            .push(RequestKind::Copy, format!("{from} -> {to}"), None, 0);
        self.inner.copy_opts(from, to, options).await
    }

    async fn rename_opts(&self, from: &Path, to: &Path, options: RenameOptions) -> Result<()> {
        self.log
            .push(RequestKind::Rename, format!("{from} -> {to}"), None, 0);
        self.inner.rename_opts(from, to, options).await
    }
}
