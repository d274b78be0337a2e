//! The zarrs peer: Zarr v3 through the `zarrs` crate on a filesystem store.
//!
//! How the workloads map onto Zarr:
//!
//! - **W1, many small arrays.** Zarr has no container for thousands of small
//!   arrays other than one directory (and at least one file) per array, which
//!   is the very thing array-format avoids. The idiomatic Zarr v3 layout for
//!   "n arrays of the same length" is therefore *one* 2-D array of shape
//!   `[n, len]` whose inner chunks are single rows `[1, len]`: reading
//!   "array i" is reading inner chunk `[i, 0]`, an independent compressed
//!   unit, just as an array-format array is. The sharding codec packs
//!   [`W1_ROWS_PER_SHARD`] rows into one file (the last shard may be partial),
//!   so 25,000 arrays become 25 files instead of 25,000. Each shard ends with
//!   its index (offset and length of every inner chunk, crc32c-checked as
//!   zarrs does by default). Rows are read with zarrs' sharded-read extension
//!   ([`ArrayShardedReadableExt`]) and its shard-index cache, the fastest way
//!   zarrs offers to read many inner chunks: a shard's index is read once per
//!   opened array, then every row costs one ranged read and one decode. The
//!   cache starts empty at every open, so "cold" reads pay for the indexes.
//! - **W2, random windows.** One 2-D f32 array `[side, side]` in inner
//!   chunks `[chunk, chunk]` compressed with zstd level 3, sharded in shards
//!   of `[8 chunk, 8 chunk]` (clipped to the array for tiny test sizes). The
//!   bytes read are counted by zarrs' own
//!   [`PerformanceMetricsStorageAdapter`] wrapped around the store.
//! - **W3, ingest.** A plain chunked 3-D f32 array (no sharding: partial
//!   writes to a shard would rewrite the whole shard file) written slab by
//!   slab with `store_array_subset`, which reads, modifies and rewrites every
//!   chunk a slab covers only in part.
//!
//! Codec chains (inside the shard where there is one), all after the
//! default `bytes` array-to-bytes codec (little endian):
//!
//! - [`Codec::None`]: no bytes-to-bytes codec;
//! - [`Codec::Lz4`]: `blosc` with `cname = lz4`, `clevel = 5`,
//!   `shuffle = shuffle` (byte shuffle), `typesize = 4`, automatic block size;
//! - [`Codec::Zstd`]: `zstd` at the given level, no checksum.
//!
//! The filesystem store `fsync`s every file it writes, so a finished write
//! is durable; that cost is part of zarrs' write times.

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use zarrs::array::codec::api::BytesToBytesCodecTraits;
use zarrs::array::codec::{
    BloscCodec, BloscCompressionLevel, BloscCompressor, BloscShuffleMode, ZstdCodec,
};
use zarrs::array::{
    Array, ArrayBuilder, ArrayShardedReadableExt, ArrayShardedReadableExtCache, CodecOptions,
    data_type,
};
use zarrs::filesystem::FilesystemStore;
use zarrs::storage::storage_adapter::performance_metrics::PerformanceMetricsStorageAdapter;

use crate::Data;

/// Compression of a peer's chunks.
#[derive(Clone, Copy, Debug)]
pub enum Codec {
    /// Stored as is.
    None,
    /// Blosc with LZ4, level 5, byte shuffle of 4-byte elements.
    Lz4,
    /// Zstandard at the given level (HDF5: blosc-zstd, level capped at 9).
    Zstd(i32),
}

/// Rows of the W1 array per shard (and per write request).
pub const W1_ROWS_PER_SHARD: usize = 1000;

/// Inner chunks per shard side in W2 (shards of `8 chunk x 8 chunk`).
pub const W2_CHUNKS_PER_SHARD_SIDE: usize = 8;

/// Zstandard level of W2.
pub const W2_ZSTD_LEVEL: i32 = 3;

pub(crate) const W1_PATH: &str = "/w1";
pub(crate) const W2_PATH: &str = "/w2";
const W3_PATH: &str = "/w3";

/// The result of [`w2_windows`] (and of the HDF5 peer's).
#[derive(Clone, Copy, Debug)]
pub struct W2Result {
    /// Mean seconds per window.
    pub mean_secs: f64,
    /// 99th percentile of the seconds per window.
    pub p99_secs: f64,
    /// Bytes read from storage per window (NaN where the peer cannot tell).
    pub bytes_per_window: f64,
}

/// The result of [`w3_ingest`] (and of the HDF5 peer's).
#[derive(Clone, Copy, Debug)]
pub struct W3Result {
    /// Seconds to create the array and write every slab.
    pub secs: f64,
    /// Bytes of the files the array occupies afterwards.
    pub stored_bytes: u64,
}

/// The bytes-to-bytes codecs standing for `codec`.
pub(crate) fn codecs(codec: Codec) -> Vec<Arc<dyn BytesToBytesCodecTraits>> {
    match codec {
        Codec::None => vec![],
        Codec::Lz4 => vec![Arc::new(
            BloscCodec::new(
                BloscCompressor::LZ4,
                BloscCompressionLevel::try_from(5u8).expect("blosc level 5"),
                None,
                BloscShuffleMode::Shuffle,
                Some(4),
            )
            .expect("blosc lz4 codec"),
        )],
        Codec::Zstd(level) => vec![Arc::new(ZstdCodec::new(level, false))],
    }
}

fn open_store(dir: &Path) -> Arc<FilesystemStore> {
    Arc::new(FilesystemStore::new(dir).expect("zarrs filesystem store"))
}

fn open_array(dir: &Path, path: &str) -> Array<FilesystemStore> {
    Array::open(open_store(dir), path).expect("open the zarrs array")
}

pub(crate) fn ranges(start: &[usize], shape: &[usize]) -> Vec<Range<u64>> {
    start
        .iter()
        .zip(shape)
        .map(|(&s, &n)| s as u64..(s + n) as u64)
        .collect()
}

/// Mean and 99th percentile of `times`, in seconds.
pub(crate) fn mean_p99(times: &mut [Duration]) -> (f64, f64) {
    if times.is_empty() {
        return (0.0, 0.0);
    }
    let total: Duration = times.iter().sum();
    times.sort();
    let k = ((times.len() as f64 * 0.99).ceil() as usize).clamp(1, times.len()) - 1;
    (
        total.as_secs_f64() / times.len() as f64,
        times[k].as_secs_f64(),
    )
}

/// W1 write: creates the `[n, len]` i32 array (row inner chunks, shards of
/// [`W1_ROWS_PER_SHARD`] rows, `codec` inside the shard) under `dir` and
/// writes it one whole shard per request. Returns the seconds taken by the
/// creation and the writes; generating the values is not timed.
pub fn w1_write(dir: &Path, codec: Codec, data: Data, n: usize, len: usize) -> f64 {
    let t = Instant::now();
    let array = ArrayBuilder::new(
        vec![n as u64, len as u64],
        vec![W1_ROWS_PER_SHARD as u64, len as u64],
        data_type::int32(),
        0i32,
    )
    .subchunk_shape(vec![1, len as u64])
    .bytes_to_bytes_codecs(codecs(codec))
    .build(open_store(dir), W1_PATH)
    .expect("build the zarrs W1 array");
    array.store_metadata().expect("store the W1 metadata");
    let mut elapsed = t.elapsed();

    for r0 in (0..n).step_by(W1_ROWS_PER_SHARD) {
        let r1 = (r0 + W1_ROWS_PER_SHARD).min(n);
        let mut slab = Vec::with_capacity((r1 - r0) * len);
        for i in r0..r1 {
            slab.extend_from_slice(&data.i32s(i, len));
        }
        let t = Instant::now();
        array
            .store_array_subset(&ranges(&[r0, 0], &[r1 - r0, len]), &slab)
            .expect("store a W1 shard");
        elapsed += t.elapsed();
    }
    elapsed.as_secs_f64()
}

fn read_row_with(
    array: &Array<FilesystemStore>,
    cache: &ArrayShardedReadableExtCache,
    i: usize,
) -> Vec<i32> {
    array
        .retrieve_subchunk_opt::<Vec<i32>>(cache, &[i as u64, 0], &CodecOptions::default())
        .expect("read a W1 row")
}

/// W1 read: opens the array and reads every row `0..n` as its own request
/// (one `Vec<i32>` each), rows spread over `threads` threads (row `i` on
/// thread `i % threads`). Returns the seconds taken, open included.
pub fn w1_read_all(dir: &Path, n: usize, len: usize, threads: usize) -> f64 {
    let threads = threads.max(1);
    let t = Instant::now();
    let array = open_array(dir, W1_PATH);
    let cache = ArrayShardedReadableExtCache::new(&array);
    std::thread::scope(|s| {
        for first in 0..threads {
            let (array, cache) = (&array, &cache);
            s.spawn(move || {
                for i in (first..n).step_by(threads) {
                    let row = read_row_with(array, cache, i);
                    assert_eq!(row.len(), len, "W1 row {i} has the wrong length");
                }
            });
        }
    });
    t.elapsed().as_secs_f64()
}

/// W1 cold random reads: opens the array afresh (empty shard-index cache),
/// then reads each of `rows` once, in order, on this thread. Returns the
/// mean seconds per row, the open excluded.
pub fn w1_cold_random(dir: &Path, rows: &[usize], len: usize) -> f64 {
    let array = open_array(dir, W1_PATH);
    let cache = ArrayShardedReadableExtCache::new(&array);
    let t = Instant::now();
    for &i in rows {
        let row = read_row_with(&array, &cache, i);
        assert_eq!(row.len(), len, "W1 row {i} has the wrong length");
    }
    t.elapsed().as_secs_f64() / rows.len().max(1) as f64
}

/// Row `i` of the W1 array under `dir` (for checks).
#[cfg(test)]
fn w1_row(dir: &Path, i: usize) -> Vec<i32> {
    let array = open_array(dir, W1_PATH);
    let cache = ArrayShardedReadableExtCache::new(&array);
    read_row_with(&array, &cache, i)
}

/// The W2 shard side: [`W2_CHUNKS_PER_SHARD_SIDE`] chunks, but no more
/// chunks than the array needs.
pub(crate) fn w2_shard_side(side: usize, chunk: usize) -> usize {
    (W2_CHUNKS_PER_SHARD_SIDE * chunk).min(side.div_ceil(chunk) * chunk)
}

/// W2 write: creates the `[side, side]` f32 array (inner chunks
/// `[chunk, chunk]`, zstd level 3, shards of 8x8 chunks) and writes it one
/// band of whole shards per request; row `r` is `f32_signal(r, side)`.
/// Returns the seconds taken by the creation and the writes.
pub fn w2_write(dir: &Path, side: usize, chunk: usize) -> f64 {
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
    .build(open_store(dir), W2_PATH)
    .expect("build the zarrs W2 array");
    array.store_metadata().expect("store the W2 metadata");
    let mut elapsed = t.elapsed();

    for r0 in (0..side).step_by(shard) {
        let r1 = (r0 + shard).min(side);
        let mut band = Vec::with_capacity((r1 - r0) * side);
        for r in r0..r1 {
            band.extend_from_slice(&crate::f32_signal(r as u64, side));
        }
        let t = Instant::now();
        array
            .store_array_subset(&ranges(&[r0, 0], &[r1 - r0, side]), &band)
            .expect("store a W2 band");
        elapsed += t.elapsed();
    }
    elapsed.as_secs_f64()
}

/// W2 windows: opens the array afresh, then reads each window
/// `[r0..r0+chunk, c0..c0+chunk]` (origins need not be chunk-aligned) in
/// order. Reports the mean and p99 seconds per window and the bytes read
/// from the store per window (metadata excluded, shard indexes included).
pub fn w2_windows(dir: &Path, side: usize, windows: &[(usize, usize)], chunk: usize) -> W2Result {
    let store = Arc::new(PerformanceMetricsStorageAdapter::new(open_store(dir)));
    let array = Array::open(store.clone(), W2_PATH).expect("open the zarrs W2 array");
    let cache = ArrayShardedReadableExtCache::new(&array);
    store.reset();
    let mut times = Vec::with_capacity(windows.len());
    for &(r0, c0) in windows {
        assert!(
            r0 + chunk <= side && c0 + chunk <= side,
            "window out of the array"
        );
        let t = Instant::now();
        let v: Vec<f32> = array
            .retrieve_array_subset_sharded_opt(
                &cache,
                &ranges(&[r0, c0], &[chunk, chunk]),
                &CodecOptions::default(),
            )
            .expect("read a W2 window");
        times.push(t.elapsed());
        assert_eq!(v.len(), chunk * chunk, "W2 window has the wrong size");
    }
    let (mean_secs, p99_secs) = mean_p99(&mut times);
    W2Result {
        mean_secs,
        p99_secs,
        bytes_per_window: store.bytes_read() as f64 / windows.len().max(1) as f64,
    }
}

/// The W2 window at `(r0, c0)` of `size x size` (for checks).
#[cfg(test)]
fn w2_window(dir: &Path, r0: usize, c0: usize, size: usize) -> Vec<f32> {
    open_array(dir, W2_PATH)
        .retrieve_array_subset::<Vec<f32>>(&ranges(&[r0, c0], &[size, size]))
        .expect("read a W2 window")
}

/// W3 ingest: creates a plain chunked `shape` f32 array with `chunks` and
/// `codec` and writes the `slabs` (start, shape) in order; slab `k` holds
/// `f32_signal(k, elements)`. Partial chunks are read, modified and
/// rewritten by zarrs. Returns the seconds taken by the creation and the
/// writes and the bytes the array's files occupy afterwards.
pub fn w3_ingest(
    dir: &Path,
    codec: Codec,
    shape: [usize; 3],
    chunks: [usize; 3],
    slabs: &[([usize; 3], [usize; 3])],
) -> W3Result {
    let t = Instant::now();
    let array = ArrayBuilder::new(
        shape.map(|x| x as u64).to_vec(),
        chunks.map(|x| x as u64).to_vec(),
        data_type::float32(),
        0.0f32,
    )
    .bytes_to_bytes_codecs(codecs(codec))
    .build(open_store(dir), W3_PATH)
    .expect("build the zarrs W3 array");
    array.store_metadata().expect("store the W3 metadata");
    let mut elapsed = t.elapsed();

    for (k, (start, sh)) in slabs.iter().enumerate() {
        let values = crate::f32_signal(k as u64, sh.iter().product());
        let t = Instant::now();
        array
            .store_array_subset(&ranges(start, sh), &values)
            .expect("store a W3 slab");
        elapsed += t.elapsed();
    }
    W3Result {
        secs: elapsed.as_secs_f64(),
        stored_bytes: crate::dir_bytes(&dir.join(W3_PATH.trim_start_matches('/'))),
    }
}

/// The whole W3 array (for checks).
#[cfg(test)]
fn w3_all(dir: &Path, shape: [usize; 3]) -> Vec<f32> {
    open_array(dir, W3_PATH)
        .retrieve_array_subset::<Vec<f32>>(&ranges(&[0, 0, 0], &shape))
        .expect("read the W3 array")
}

/// Checks shared with the HDF5 peer's tests.
#[cfg(test)]
pub(crate) mod checks {
    /// Slabs of a `[4, 32, 32]` array that cut across `[2, 16, 16]` chunks
    /// and overlap (later slabs win).
    pub const W3_SHAPE: [usize; 3] = [4, 32, 32];
    /// Chunks of the W3 test array.
    pub const W3_CHUNKS: [usize; 3] = [2, 16, 16];

    /// The test slabs.
    pub fn w3_slabs() -> Vec<([usize; 3], [usize; 3])> {
        vec![
            ([0, 0, 0], [3, 20, 32]),
            ([3, 0, 0], [1, 32, 32]),
            ([0, 20, 0], [3, 12, 32]),
            ([1, 5, 7], [2, 10, 9]),
        ]
    }

    /// The expected W3 array after writing `slabs`.
    pub fn w3_expected(shape: [usize; 3], slabs: &[([usize; 3], [usize; 3])]) -> Vec<f32> {
        let mut out = vec![0.0f32; shape.iter().product()];
        for (k, (st, sh)) in slabs.iter().enumerate() {
            let v = crate::f32_signal(k as u64, sh.iter().product());
            let mut idx = 0;
            for a in 0..sh[0] {
                for b in 0..sh[1] {
                    for c in 0..sh[2] {
                        let o = ((st[0] + a) * shape[1] + st[1] + b) * shape[2] + st[2] + c;
                        out[o] = v[idx];
                        idx += 1;
                    }
                }
            }
        }
        out
    }

    /// The expected W2 window at `(r0, c0)`.
    pub fn w2_expected(side: usize, r0: usize, c0: usize, size: usize) -> Vec<f32> {
        (r0..r0 + size)
            .flat_map(|r| crate::f32_signal(r as u64, side)[c0..c0 + size].to_vec())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::checks::*;
    use super::*;

    #[test]
    fn w1_round_trip() {
        let (n, len) = (20, 100);
        for (codec, data) in [
            (Codec::None, Data::Random),
            (Codec::Lz4, Data::Random),
            (Codec::Zstd(3), Data::Pattern),
        ] {
            let dir = tempfile::tempdir().unwrap();
            let w = w1_write(dir.path(), codec, data, n, len);
            assert!(w > 0.0 && w.is_finite());
            let r = w1_read_all(dir.path(), n, len, 3);
            assert!(r > 0.0 && r.is_finite());
            let c = w1_cold_random(dir.path(), &[7, 0, 19, 3], len);
            assert!(c > 0.0 && c.is_finite());
            for i in [0, 7, 19] {
                assert_eq!(
                    w1_row(dir.path(), i),
                    data.i32s(i, len),
                    "{codec:?} row {i}"
                );
            }
        }
    }

    #[test]
    fn w1_metadata_is_sharded() {
        let dir = tempfile::tempdir().unwrap();
        w1_write(dir.path(), Codec::Lz4, Data::Pattern, 5, 8);
        let meta = std::fs::read_to_string(dir.path().join("w1/zarr.json")).unwrap();
        for word in [
            "sharding_indexed",
            "blosc",
            "lz4",
            "\"shuffle\"",
            "crc32c",
            "[1,8]",
        ] {
            assert!(
                meta.replace([' ', '\n'], "").contains(word),
                "{word} missing from {meta}"
            );
        }
    }

    #[test]
    fn w1_several_shards() {
        let (n, len) = (2 * W1_ROWS_PER_SHARD + 5, 3);
        let dir = tempfile::tempdir().unwrap();
        w1_write(dir.path(), Codec::Lz4, Data::Random, n, len);
        w1_read_all(dir.path(), n, len, 2);
        for i in [0, 999, 1000, 2004] {
            assert_eq!(w1_row(dir.path(), i), Data::Random.i32s(i, len), "row {i}");
        }
    }

    #[test]
    fn w2_round_trip() {
        let (side, chunk) = (64, 16);
        let dir = tempfile::tempdir().unwrap();
        let w = w2_write(dir.path(), side, chunk);
        assert!(w > 0.0);
        let windows = [(0, 0), (5, 9), (40, 47), (48, 48)];
        let r = w2_windows(dir.path(), side, &windows, chunk);
        assert!(r.mean_secs > 0.0 && r.p99_secs >= r.mean_secs);
        // An unaligned window touches up to 4 compressed chunks of 1 KiB.
        assert!(r.bytes_per_window > 0.0 && r.bytes_per_window < 4.0 * 1100.0 + 1100.0);
        for (r0, c0) in windows {
            assert_eq!(
                w2_window(dir.path(), r0, c0, chunk),
                w2_expected(side, r0, c0, chunk)
            );
        }
    }

    #[test]
    fn w3_round_trip() {
        let slabs = w3_slabs();
        for codec in [Codec::Zstd(3), Codec::Lz4, Codec::None] {
            let dir = tempfile::tempdir().unwrap();
            let r = w3_ingest(dir.path(), codec, W3_SHAPE, W3_CHUNKS, &slabs);
            assert!(r.secs > 0.0 && r.stored_bytes > 0);
            assert_eq!(
                w3_all(dir.path(), W3_SHAPE),
                w3_expected(W3_SHAPE, &slabs),
                "{codec:?}"
            );
        }
    }

    #[test]
    fn p99() {
        let mut t: Vec<Duration> = (1..=200).map(Duration::from_millis).collect();
        let (mean, p99) = mean_p99(&mut t);
        assert!((mean - 0.1005).abs() < 1e-9);
        assert!((p99 - 0.198).abs() < 1e-9);
    }
}
