//! [`TimedStore`]: an `ObjectStore` wrapper that records, for every GET,
//! when it was sent and when its last byte arrived.
//!
//! A GET's latency is only known once its body has been read, and the
//! reader of a `GetResult` may read the body much later (or on another
//! task). So the wrapper reads the body itself, inside `get_opts`, and
//! hands the caller a stream of the one buffer: what it records is the
//! request's whole cost as the client sees it (sending, the server's work,
//! the transfer), not when the caller got round to it. Every reader in the
//! benchmarks collects bodies whole anyway.
//!
//! `get_ranges` is left to the trait's default, which coalesces the ranges
//! and issues one `get_opts` each (as the S3 client does), so each request
//! on the wire is one span. HEADs, listings and writes pass through
//! untimed.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_trait::async_trait;
use futures::StreamExt;
use futures::stream::BoxStream;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, GetResultPayload, ListResult, MultipartUpload, ObjectMeta,
    ObjectStore, PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions,
};

/// One GET: when it was sent, when its body was complete, and its size.
#[derive(Clone, Copy, Debug)]
pub struct Span {
    /// When `get_opts` was called.
    pub start: Instant,
    /// When the last byte of the body arrived.
    pub end: Instant,
    /// Bytes of the body.
    pub bytes: u64,
}

impl Span {
    /// Seconds from sending to the last byte.
    pub fn secs(&self) -> f64 {
        (self.end - self.start).as_secs_f64()
    }
}

/// Forwards to another store and records a [`Span`] per GET.
#[derive(Debug)]
pub struct TimedStore {
    inner: Arc<dyn ObjectStore>,
    spans: Mutex<Vec<Span>>,
}

impl TimedStore {
    /// Wraps `inner` with an empty record.
    pub fn new(inner: Arc<dyn ObjectStore>) -> Self {
        Self {
            inner,
            spans: Mutex::new(Vec::new()),
        }
    }

    /// The spans recorded since the last call, in order of completion.
    pub fn take(&self) -> Vec<Span> {
        std::mem::take(&mut *self.spans.lock().expect("spans lock"))
    }
}

/// What a set of GET spans adds up to.
#[derive(Clone, Copy, Debug, Default)]
pub struct SpanStats {
    /// Number of GETs.
    pub count: usize,
    /// Sum of their latencies, in seconds.
    pub sum_secs: f64,
    /// The longest latency, in seconds.
    pub max_secs: f64,
    /// Seconds during which at least one GET was in flight (the union of
    /// the spans): the part of a read's wall time that waited on requests.
    pub union_secs: f64,
    /// Bytes of their bodies.
    pub bytes: u64,
}

impl SpanStats {
    /// The stats of `spans`.
    pub fn of(spans: &[Span]) -> Self {
        let mut sorted: Vec<Span> = spans.to_vec();
        sorted.sort_by_key(|s| s.start);
        let mut union = 0.0;
        let mut current: Option<(Instant, Instant)> = None;
        for s in &sorted {
            current = match current {
                Some((a, b)) if s.start <= b => Some((a, b.max(s.end))),
                Some((a, b)) => {
                    union += (b - a).as_secs_f64();
                    Some((s.start, s.end))
                }
                None => Some((s.start, s.end)),
            };
        }
        if let Some((a, b)) = current {
            union += (b - a).as_secs_f64();
        }
        SpanStats {
            count: spans.len(),
            sum_secs: spans.iter().map(Span::secs).sum(),
            max_secs: spans.iter().map(Span::secs).fold(0.0, f64::max),
            union_secs: union,
            bytes: spans.iter().map(|s| s.bytes).sum(),
        }
    }

    /// Mean latency of one GET, in seconds.
    pub fn mean_secs(&self) -> f64 {
        self.sum_secs / self.count.max(1) as f64
    }
}

impl fmt::Display for TimedStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timed({})", self.inner)
    }
}

#[async_trait]
impl ObjectStore for TimedStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        if options.head {
            return self.inner.get_opts(location, options).await;
        }
        let start = Instant::now();
        let result = self.inner.get_opts(location, options).await?;
        let (meta, range, attributes) = (
            result.meta.clone(),
            result.range.clone(),
            result.attributes.clone(),
        );
        let body = result.bytes().await?;
        let span = Span {
            start,
            end: Instant::now(),
            bytes: body.len() as u64,
        };
        self.spans.lock().expect("spans lock").push(span);
        Ok(GetResult {
            payload: GetResultPayload::Stream(futures::stream::once(async { Ok(body) }).boxed()),
            meta,
            range,
            attributes,
        })
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.inner.list_with_offset(prefix, offset)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(
        &self,
        from: &Path,
        to: &Path,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        self.inner.copy_opts(from, to, options).await
    }

    async fn rename_opts(
        &self,
        from: &Path,
        to: &Path,
        options: RenameOptions,
    ) -> object_store::Result<()> {
        self.inner.rename_opts(from, to, options).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn union_merges_overlaps() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let span = |a, b| Span {
            start: at(a),
            end: at(b),
            bytes: 1,
        };
        let s = SpanStats::of(&[span(0, 10), span(5, 20), span(30, 40)]);
        assert_eq!(s.count, 3);
        assert!((s.union_secs - 0.030).abs() < 1e-9);
        assert!((s.sum_secs - 0.035).abs() < 1e-9);
        assert!((s.max_secs - 0.015).abs() < 1e-9);
        assert_eq!(s.bytes, 3);
    }
}
