//! One system's bucket on an object store, as W6 reaches it: the client,
//! wrapped in a [`TimedStore`] (latency of every GET) and that in af-testkit's
//! [`CountingStore`] (every request, its kind, range and bytes); and
//! replays of recorded GETs straight on the bare client, the physical limit
//! of the server and the client for the same byte ranges.

use std::sync::Arc;
use std::time::Instant;

use af_testkit::{CountingStore, Request, RequestKind};
use futures::StreamExt;
use object_store::path::Path;
use object_store::{GetOptions, ObjectStore};

use crate::timed_store::{Span, SpanStats, TimedStore};

/// A bucket reached through the counting and timing wrappers.
pub struct Remote {
    counting: Arc<CountingStore>,
    timed: Arc<TimedStore>,
    bare: Arc<dyn ObjectStore>,
}

/// What one phase sent to the store.
#[derive(Clone, Debug, Default)]
pub struct Traffic {
    /// Every request, in the order they completed.
    pub requests: Vec<Request>,
    /// The GETs' spans.
    pub spans: Vec<Span>,
}

impl Traffic {
    /// Requests of every kind.
    pub fn total(&self) -> usize {
        self.requests.len()
    }

    /// Requests of `kind`.
    pub fn count(&self, kind: RequestKind) -> usize {
        self.requests.iter().filter(|r| r.kind == kind).count()
    }

    /// Bytes the GETs returned.
    pub fn bytes_read(&self) -> u64 {
        self.requests
            .iter()
            .filter(|r| r.kind == RequestKind::Get)
            .map(|r| r.bytes)
            .sum()
    }

    /// Bytes sent by puts and parts.
    pub fn bytes_written(&self) -> u64 {
        self.requests
            .iter()
            .filter(|r| matches!(r.kind, RequestKind::Put | RequestKind::MultipartPart))
            .map(|r| r.bytes)
            .sum()
    }

    /// The GETs' latencies added up.
    pub fn get_stats(&self) -> SpanStats {
        SpanStats::of(&self.spans)
    }

    /// The GET requests, for a replay.
    pub fn gets(&self) -> Vec<Request> {
        self.requests
            .iter()
            .filter(|r| r.kind == RequestKind::Get)
            .cloned()
            .collect()
    }

    /// "N requests: k GET, m HEAD, ...; B read, B written", for the log.
    pub fn describe(&self) -> String {
        let mut kinds: Vec<(String, usize)> = Vec::new();
        for r in &self.requests {
            let name = format!("{:?}", r.kind);
            match kinds.iter_mut().find(|(k, _)| *k == name) {
                Some((_, n)) => *n += 1,
                None => kinds.push((name, 1)),
            }
        }
        let kinds: Vec<String> = kinds.iter().map(|(k, n)| format!("{n} {k}")).collect();
        format!(
            "{} requests ({}), {} B read, {} B written",
            self.total(),
            kinds.join(", "),
            self.bytes_read(),
            self.bytes_written()
        )
    }
}

impl Remote {
    /// Wraps the client `bare` of a bucket.
    pub fn new(bare: Arc<dyn ObjectStore>) -> Self {
        let timed = Arc::new(TimedStore::new(Arc::clone(&bare)));
        let counting = Arc::new(CountingStore::new(
            Arc::clone(&timed) as Arc<dyn ObjectStore>
        ));
        Remote {
            counting,
            timed,
            bare,
        }
    }

    /// The store the systems use: counted and timed.
    pub fn store(&self) -> Arc<dyn ObjectStore> {
        Arc::clone(&self.counting) as Arc<dyn ObjectStore>
    }

    /// The client alone.
    pub fn bare(&self) -> Arc<dyn ObjectStore> {
        Arc::clone(&self.bare)
    }

    /// Forgets what was sent so far.
    pub fn reset(&self) {
        self.counting.reset();
        self.timed.take();
    }

    /// What was sent since the last [`reset`](Self::reset) or `take`, and
    /// forgets it.
    pub fn take(&self) -> Traffic {
        let t = Traffic {
            requests: self.counting.requests(),
            spans: self.timed.take(),
        };
        self.counting.reset();
        t
    }

    /// The most GETs ever in flight at once since the last reset.
    pub fn max_in_flight(&self) -> usize {
        self.counting.max_in_flight()
    }
}

/// One GET of `r`'s path and range on `store`, body read; its bytes.
async fn get(store: &dyn ObjectStore, r: &Request) -> u64 {
    let options = GetOptions {
        range: r.range.clone(),
        ..GetOptions::default()
    };
    let path = Path::from(r.path.as_str());
    let body = store
        .get_opts(&path, options)
        .await
        .expect("replay a GET")
        .bytes()
        .await
        .expect("replay a GET's body");
    body.len() as u64
}

/// Seconds to send `gets` on `store` with at most `in_flight` at once,
/// every body read (the physical limit of the store for those requests).
pub async fn replay(store: Arc<dyn ObjectStore>, gets: &[Request], in_flight: usize) -> f64 {
    let t = Instant::now();
    let bytes: u64 = futures::stream::iter(gets)
        .map(|r| {
            let store = Arc::clone(&store);
            async move { get(store.as_ref(), r).await }
        })
        .buffer_unordered(in_flight.max(1))
        .fold(0, |a, b| async move { a + b })
        .await;
    assert!(bytes > 0 || gets.is_empty());
    t.elapsed().as_secs_f64()
}

/// Mean seconds of one GET of `gets` on `store`, sent one at a time.
pub async fn one_by_one(store: Arc<dyn ObjectStore>, gets: &[Request]) -> f64 {
    let t = Instant::now();
    for r in gets {
        get(store.as_ref(), r).await;
    }
    t.elapsed().as_secs_f64() / gets.len().max(1) as f64
}

/// The server's own cost for one GET of each of `sizes` bytes (from the
/// start of an object of the largest size, put first), one at a time on the
/// bare client: median seconds of `reps` GETs per size.
pub async fn get_cost(store: Arc<dyn ObjectStore>, sizes: &[u64], reps: usize) -> Vec<f64> {
    let max = sizes.iter().copied().max().unwrap_or(0);
    let path = Path::from("calibration");
    let body: Vec<u8> = (0..max).map(|i| (i * 7 + i / 4093) as u8).collect();
    store
        .put_opts(&path, body.into(), object_store::PutOptions::default())
        .await
        .expect("put the calibration object");
    let mut out = Vec::with_capacity(sizes.len());
    for &size in sizes {
        let r = Request {
            kind: RequestKind::Get,
            path: path.to_string(),
            range: Some((0..size).into()),
            bytes: size,
        };
        let mut times = Vec::with_capacity(reps);
        for _ in 0..reps {
            let t = Instant::now();
            assert_eq!(get(store.as_ref(), &r).await, size);
            times.push(t.elapsed().as_secs_f64());
        }
        times.sort_by(f64::total_cmp);
        out.push(times[times.len() / 2]);
    }
    out
}

/// The server's own cost for the writes a flush makes, on the bare client:
/// seconds of one PUT of `put_mib` MiB, of a multipart upload of
/// `upload_mib` MiB in parts of `part_mib` MiB sent one at a time, and of
/// a `copy_if_not_exists` of that object to a new name.
pub async fn write_cost(
    store: Arc<dyn ObjectStore>,
    put_mib: usize,
    upload_mib: usize,
    part_mib: usize,
) -> (f64, f64, f64) {
    use object_store::ObjectStoreExt;
    let mib = 1 << 20;
    let body = |n: usize| -> Vec<u8> { (0..n * mib).map(|i| (i * 13 + i / 4093) as u8).collect() };
    let t = Instant::now();
    store
        .put(&Path::from("put"), body(put_mib).into())
        .await
        .expect("put");
    let put = t.elapsed().as_secs_f64();

    let parts: Vec<Vec<u8>> = (0..upload_mib.div_ceil(part_mib))
        .map(|_| body(part_mib))
        .collect();
    let staged = Path::from("staged");
    let t = Instant::now();
    let mut upload = store.put_multipart(&staged).await.expect("multipart");
    for part in parts {
        upload.put_part(part.into()).await.expect("part");
    }
    upload.complete().await.expect("complete");
    let multipart = t.elapsed().as_secs_f64();

    let t = Instant::now();
    store
        .copy_if_not_exists(&staged, &Path::from("linked"))
        .await
        .expect("copy_if_not_exists");
    (put, multipart, t.elapsed().as_secs_f64())
}
