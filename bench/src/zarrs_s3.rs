//! The zarrs peer on an object store (W6): the layouts of
//! [`zarrs_peer`](crate::zarrs_peer) (W1: one `[n, len]` i32 array of row
//! chunks in shards of [`W1_ROWS_PER_SHARD`] rows; W2: `[chunk, chunk]`
//! chunks in shards of 8 x 8), written and read with zarrs' async API
//! through `zarrs_object_store`'s adapter over any `object_store` client,
//! and read with the async sharded-read extension and its shard-index cache
//! (the fastest reads zarrs offers, as in the local peer).
//!
//! The adapter's ranged read (`get_partial_many`) asks for the object's
//! size first, so every read of part of a shard is a HEAD followed by the
//! GETs of its ranges; the counts report both.

use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt;
use object_store::ObjectStore;
use zarrs::array::{
    Array, ArrayBuilder, AsyncArrayShardedReadableExt, AsyncArrayShardedReadableExtCache,
    CodecOptions, data_type,
};
use zarrs_object_store::AsyncObjectStore;

use crate::zarrs_peer::{
    Codec, W1_PATH, W1_ROWS_PER_SHARD, W2_PATH, W2_ZSTD_LEVEL, codecs, ranges, w2_shard_side,
};

/// A zarrs store over an `object_store` client.
pub type Store = AsyncObjectStore<Arc<dyn ObjectStore>>;

/// An opened zarrs array of [`Store`], with its shard-index cache (empty
/// when opened).
pub struct Opened {
    /// The array.
    pub array: Array<Store>,
    /// Its shard-index cache.
    pub cache: AsyncArrayShardedReadableExtCache,
}

fn zarrs_store(store: Arc<dyn ObjectStore>) -> Arc<Store> {
    Arc::new(AsyncObjectStore::new(store))
}

/// Opens the array at `path` of `store`; returns the seconds taken and the
/// array with an empty shard-index cache.
pub async fn open(store: Arc<dyn ObjectStore>, path: &str) -> (f64, Opened) {
    let t = Instant::now();
    let array = Array::async_open(zarrs_store(store), path)
        .await
        .expect("open the zarrs array");
    let cache = AsyncArrayShardedReadableExtCache::new(&array);
    (t.elapsed().as_secs_f64(), Opened { array, cache })
}

/// Opens the W1 array of `store` (see [`open`]).
pub async fn w1_open(store: Arc<dyn ObjectStore>) -> (f64, Opened) {
    open(store, W1_PATH).await
}

/// Opens the W2 array of `store` (see [`open`]).
pub async fn w2_open(store: Arc<dyn ObjectStore>) -> (f64, Opened) {
    open(store, W2_PATH).await
}

/// W1 write: creates the `[n, len]` array in `store` (`codec` inside the
/// shard) and writes `arrays` as its rows, one whole shard per request.
/// Returns the seconds taken (joining the rows into shards excluded).
pub async fn w1_write(store: Arc<dyn ObjectStore>, codec: Codec, arrays: &[Vec<i32>]) -> f64 {
    let (n, len) = (arrays.len(), arrays.first().map_or(0, Vec::len));
    let t = Instant::now();
    let array = ArrayBuilder::new(
        vec![n as u64, len as u64],
        vec![W1_ROWS_PER_SHARD as u64, len as u64],
        data_type::int32(),
        0i32,
    )
    .subchunk_shape(vec![1, len as u64])
    .bytes_to_bytes_codecs(codecs(codec))
    .build(zarrs_store(store), W1_PATH)
    .expect("build the zarrs W1 array");
    array
        .async_store_metadata()
        .await
        .expect("store the W1 metadata");
    let mut elapsed = t.elapsed();
    for r0 in (0..n).step_by(W1_ROWS_PER_SHARD) {
        let r1 = (r0 + W1_ROWS_PER_SHARD).min(n);
        let slab: Vec<i32> = arrays[r0..r1].concat();
        let t = Instant::now();
        array
            .async_store_array_subset(&ranges(&[r0, 0], &[r1 - r0, len]), &slab)
            .await
            .expect("store a W1 shard");
        elapsed += t.elapsed();
    }
    elapsed.as_secs_f64()
}

/// Row `i` of the W1 array, checked to hold `len` values.
async fn read_row(z: &Opened, i: usize, len: usize) {
    let row: Vec<i32> = z
        .array
        .async_retrieve_subchunk_opt(&z.cache, &[i as u64, 0], &CodecOptions::default())
        .await
        .expect("read a W1 row");
    assert_eq!(row.len(), len, "W1 row {i}");
}

/// W1 read: every row `0..n` as a read of its own, `tasks` tasks of
/// `concurrency` reads each (row `i` in task `i % tasks`), as array-format
/// reads them. Returns the seconds taken.
pub async fn w1_read_all(
    z: Arc<Opened>,
    n: usize,
    len: usize,
    tasks: usize,
    concurrency: usize,
) -> f64 {
    let t = Instant::now();
    let mut handles = Vec::with_capacity(tasks);
    for part in crate::partitions(n, tasks) {
        let z = Arc::clone(&z);
        handles.push(tokio::spawn(async move {
            futures::stream::iter(part)
                .map(|i| {
                    let z = Arc::clone(&z);
                    async move { read_row(&z, i, len).await }
                })
                .buffered(concurrency)
                .collect::<Vec<()>>()
                .await;
        }));
    }
    for h in handles {
        h.await.expect("a W1 read task");
    }
    t.elapsed().as_secs_f64()
}

/// Seconds to read W1 row `i` through `z`.
pub async fn w1_read_one(z: &Opened, i: usize, len: usize) -> f64 {
    let t = Instant::now();
    read_row(z, i, len).await;
    t.elapsed().as_secs_f64()
}

/// W2 write: creates the `[side, side]` f32 array in `store` (chunks
/// `[chunk, chunk]`, zstd, shards of 8 x 8 chunks) and writes it one band
/// of whole shards per request; row `r` is `f32_signal(r, side)`. Returns
/// the seconds taken by the creation and the writes.
pub async fn w2_write(store: Arc<dyn ObjectStore>, side: usize, chunk: usize) -> f64 {
    let shard = w2_shard_side(side, chunk);
    let t = Instant::now();
    let array = ArrayBuilder::new(
        vec![side as u64, side as u64],
        vec![shard as u64, shard as u64],
        data_type::float32(),
        0.0f32,
    )
    .subchunk_shape(vec![chunk as u64, chunk as u64])
    .bytes_to_bytes_codecs(codecs(Codec::Zstd(W2_ZSTD_LEVEL)))
    .build(zarrs_store(store), W2_PATH)
    .expect("build the zarrs W2 array");
    array
        .async_store_metadata()
        .await
        .expect("store the W2 metadata");
    let mut elapsed = t.elapsed();
    for r0 in (0..side).step_by(shard) {
        let r1 = (r0 + shard).min(side);
        let mut band = Vec::with_capacity((r1 - r0) * side);
        for r in r0..r1 {
            band.extend_from_slice(&crate::f32_signal(r as u64, side));
        }
        let t = Instant::now();
        array
            .async_store_array_subset(&ranges(&[r0, 0], &[r1 - r0, side]), &band)
            .await
            .expect("store a W2 band");
        elapsed += t.elapsed();
    }
    elapsed.as_secs_f64()
}

/// Seconds to read the `chunk x chunk` window at `(r0, c0)` through `z`.
pub async fn w2_window(z: &Opened, r0: usize, c0: usize, chunk: usize) -> f64 {
    let t = Instant::now();
    let v: Vec<f32> = z
        .array
        .async_retrieve_array_subset_sharded_opt(
            &z.cache,
            &ranges(&[r0, c0], &[chunk, chunk]),
            &CodecOptions::default(),
        )
        .await
        .expect("read a W2 window");
    let s = t.elapsed().as_secs_f64();
    assert_eq!(v.len(), chunk * chunk, "W2 window");
    s
}
