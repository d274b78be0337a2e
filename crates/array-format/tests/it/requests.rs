//! What reads cost in requests, counted by `CountingStore` in memory and
//! on the S3 server: an open lists once and reads two tails (the base's,
//! for the file's identity, and the newest layer's), a third only for a
//! footer past the first 64 KiB; a one-chunk read of an uncached file is
//! one ranged GET of that frame; a read of many frames coalesces the ones
//! closer than `coalesce_gap` into one GET and keeps at most
//! `requests_per_read` GETs in flight.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::Arc;
use std::time::Duration;

use array_format::{ArrayFile, FileConfig, Lz4Codec};
use ndarray::{ArrayD, IxDyn};
use object_store::path::Path;
use object_store::{GetRange, ObjectStore};

use crate::common::{CountingStore, RequestKind, Rng};

const NAME: &str = "q.af";
/// Elements of a chunk: 16 KiB of i32, a frame of its own.
const CHUNK: usize = 4096;
/// Rows of the grids: chunks down a column.
const ROWS: usize = 16;

/// Each scenario in memory and on the in-process S3 server.
macro_rules! on_stores {
    ($($scenario:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    super::$scenario(std::sync::Arc::new(object_store::memory::InMemory::new())).await;
                }
            )*
        }
        mod s3s {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    super::$scenario(crate::common::s3::shared().fresh_store()).await;
                }
            )*
        }
    };
}

on_stores!(
    an_open_lists_once_and_reads_two_tails,
    a_large_footer_costs_one_more_get,
    a_one_chunk_read_is_one_get_of_its_frame,
    neighbouring_frames_share_a_get_as_the_gap_allows,
    requests_in_flight_are_bounded_per_read,
);

/// Deterministic noise: lz4 leaves it as it is, so a chunk's frame is about
/// its 16 KiB.
fn noise(len: usize, seed: u32) -> Vec<i32> {
    let mut rng = Rng::new(u64::from(seed));
    (0..len).map(|_| rng.next() as i32).collect()
}

/// Creates the file with `arrays` one-chunk arrays `a0`.. and the grids
/// `g2` and `g4` (`ROWS` rows of 2 and 4 chunks, written whole, so their
/// frames lie in index order), committed as one layer.
async fn make(store: &Arc<dyn ObjectStore>, arrays: usize) {
    let mut f = ArrayFile::create(
        Arc::clone(store),
        Path::from(NAME),
        FileConfig::new(Lz4Codec),
    )
    .await
    .unwrap();
    for i in 0..arrays {
        let name = format!("a{i}");
        f.define_array::<i32>(&name, vec![], vec![CHUNK], None, None)
            .unwrap();
        let data = ArrayD::from_shape_vec(IxDyn(&[CHUNK]), noise(CHUNK, i as u32)).unwrap();
        f.write_array(&name, vec![0], data.view()).await.unwrap();
    }
    for cols in [2usize, 4] {
        let name = format!("g{cols}");
        let shape = vec![ROWS, cols * CHUNK];
        f.define_array::<i32>(&name, vec![], shape.clone(), Some(vec![1, CHUNK]), None)
            .unwrap();
        let data =
            ArrayD::from_shape_vec(IxDyn(&shape), noise(ROWS * cols * CHUNK, cols as u32)).unwrap();
        f.write_array(&name, vec![0, 0], data.view()).await.unwrap();
    }
    f.flush().await.unwrap();
}

/// No caches: every read goes to the store.
fn uncached() -> FileConfig<Lz4Codec> {
    FileConfig {
        cache_capacity: 0,
        io_cache_capacity: 0,
        ..FileConfig::new(Lz4Codec)
    }
}

async fn open(counting: &CountingStore, config: FileConfig<Lz4Codec>) -> ArrayFile {
    let store: Arc<dyn ObjectStore> = Arc::new(counting.clone());
    ArrayFile::open(store, Path::from(NAME), config)
        .await
        .unwrap()
}

fn lists(c: &CountingStore) -> usize {
    c.count(RequestKind::List) + c.count(RequestKind::ListWithDelimiter)
}

async fn an_open_lists_once_and_reads_two_tails(store: Arc<dyn ObjectStore>) {
    make(&store, 50).await;
    let counting = CountingStore::new(store);
    let f = open(&counting, uncached()).await;
    assert_eq!(f.list_arrays().len(), 52);
    let requests = counting.requests();
    assert_eq!(lists(&counting), 1, "{requests:#?}");
    assert_eq!(counting.count(RequestKind::Head), 0, "{requests:#?}");
    let gets: Vec<_> = requests
        .iter()
        .filter(|r| r.kind == RequestKind::Get)
        .collect();
    let mut paths: Vec<&str> = gets.iter().map(|r| r.path.as_str()).collect();
    paths.sort();
    assert_eq!(paths, ["q.1.af", "q.af"], "{requests:#?}");
    for get in gets {
        assert!(
            matches!(get.range, Some(GetRange::Suffix(n)) if n <= 64 * 1024),
            "{get:?}"
        );
    }
    assert_eq!(requests.len(), 3, "{requests:#?}");
}

async fn a_large_footer_costs_one_more_get(store: Arc<dyn ObjectStore>) {
    make(&store, 3000).await;
    let counting = CountingStore::new(store);
    let f = open(&counting, uncached()).await;
    assert_eq!(f.list_arrays().len(), 3002);
    let requests = counting.requests();
    assert_eq!(lists(&counting), 1, "{requests:#?}");
    let layer: Vec<_> = requests.iter().filter(|r| r.path == "q.1.af").collect();
    assert_eq!(layer.len(), 2, "{requests:#?}");
    // The tail, then the rest of the footer before it.
    assert!(
        matches!(layer[0].range, Some(GetRange::Suffix(_))),
        "{layer:?}"
    );
    assert!(
        matches!(layer[1].range, Some(GetRange::Bounded(_))),
        "{layer:?}"
    );
    assert_eq!(counting.gets(), 3, "{requests:#?}");
}

async fn a_one_chunk_read_is_one_get_of_its_frame(store: Arc<dyn ObjectStore>) {
    make(&store, 10).await;
    let counting = CountingStore::new(store);
    let f = open(&counting, uncached()).await;
    let stored = f.array_storage("a7").unwrap().stored_bytes;
    counting.reset();
    let v = f.read_array::<i32>("a7", vec![], vec![]).await.unwrap();
    assert_eq!(v.as_slice().unwrap(), noise(CHUNK, 7));
    let requests = counting.requests();
    assert_eq!(requests.len(), 1, "{requests:#?}");
    assert_eq!(requests[0].kind, RequestKind::Get);
    assert_eq!(requests[0].path, "q.1.af");
    assert!(matches!(requests[0].range, Some(GetRange::Bounded(_))));
    assert_eq!(requests[0].bytes, stored, "{requests:#?}");
    assert!(stored >= (CHUNK * 4) as u64);
}

/// A column of `ROWS` chunks of grid `g{cols}`: frames `cols` apart.
async fn read_column(f: &ArrayFile, cols: usize) -> ArrayD<i32> {
    f.read_array::<i32>(&format!("g{cols}"), vec![0, 0], vec![ROWS, CHUNK])
        .await
        .unwrap()
        .into_owned()
}

/// Grid `g{cols}` as written.
fn grid(cols: usize) -> ArrayD<i32> {
    let n = ROWS * cols * CHUNK;
    ArrayD::from_shape_vec(IxDyn(&[ROWS, cols * CHUNK]), noise(n, cols as u32)).unwrap()
}

/// The GETs that reading a column of grid `g{cols}` takes through a fresh
/// handle opened with `coalesce_gap: gap`, checking what it reads.
async fn column_gets(store: &Arc<dyn ObjectStore>, gap: u64, cols: usize) -> usize {
    let counting = CountingStore::new(Arc::clone(store));
    let config = FileConfig {
        coalesce_gap: gap,
        ..uncached()
    };
    let f = open(&counting, config).await;
    counting.reset();
    let column = grid(cols).slice_move(ndarray::s![.., 0..CHUNK]).into_dyn();
    assert_eq!(read_column(&f, cols).await, column);
    counting.gets()
}

async fn neighbouring_frames_share_a_get_as_the_gap_allows(store: Arc<dyn ObjectStore>) {
    make(&store, 1).await;
    let default = array_format::DEFAULT_COALESCE_GAP;
    // One frame (16 KiB) between those read: within the default 32 KiB.
    assert_eq!(column_gets(&store, default, 2).await, 1);
    // Three frames between: a GET each.
    assert_eq!(column_gets(&store, default, 4).await, ROWS);
    // No gap allowed: a GET per frame; a wide one: one GET.
    assert_eq!(column_gets(&store, 0, 2).await, ROWS);
    assert_eq!(column_gets(&store, 64 * 1024, 4).await, 1);
    // A whole grid: its frames back to back, one GET.
    let counting = CountingStore::new(store);
    let f = open(&counting, uncached()).await;
    counting.reset();
    let g = f
        .read_array::<i32>("g4", vec![], vec![])
        .await
        .unwrap()
        .into_owned();
    assert_eq!(g, grid(4));
    assert_eq!(counting.gets(), 1, "{:#?}", counting.requests());
}

async fn requests_in_flight_are_bounded_per_read(store: Arc<dyn ObjectStore>) {
    make(&store, 1).await;
    for (limit, bound) in [(1usize, 1usize), (3, 3), (16, 16)] {
        let counting = CountingStore::new(Arc::clone(&store)).with_delay(Duration::from_millis(5));
        let config = FileConfig {
            requests_per_read: limit,
            ..uncached()
        };
        let f = open(&counting, config).await;
        counting.reset();
        let v = read_column(&f, 4).await;
        assert_eq!(v.shape(), [ROWS, CHUNK]);
        assert_eq!(counting.gets(), ROWS);
        let most = counting.max_in_flight();
        assert!(most <= bound, "{limit}: {most} in flight");
        // They do overlap, up to the limit (all ROWS of them start at
        // once on a timer).
        assert_eq!(most, bound.min(ROWS), "{limit}");
    }
}
