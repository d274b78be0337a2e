//! The HDF5 peer: libhdf5 (Debian's 1.10) through the `hdf5-metno` crate.
//!
//! How the workloads map onto HDF5:
//!
//! - **W1, many small arrays.** HDF5 could hold n small arrays as n datasets
//!   of one file, but every dataset carries an object header and its own
//!   chunk index, and creating and opening 25,000 of them is a known slow
//!   path that nobody would pick for this profile. The layout HDF5 users pick
//!   is *one* 2-D dataset `[n, len]` chunked by single rows `[1, len]`:
//!   "array i" is chunk `(i, 0)`, an independent compressed unit found
//!   through the dataset's chunk index, just as an array-format array is
//!   found through the file's index. It is the same mapping as the zarrs
//!   peer's, which keeps the two comparable. Writes go in the same slabs of
//!   [`W1_ROWS_PER_SHARD`] rows as zarrs' shards. Reads are sequential: the
//!   library serialises every call behind one global lock, so threads would
//!   only add contention (`threads` is accepted and ignored).
//! - **W2, random windows.** One chunked 2-D f32 dataset `[side, side]` with
//!   chunks `[chunk, chunk]`, blosc-zstd level 3. HDF5 offers no count of
//!   the bytes it reads, so `bytes_per_window` is NaN.
//! - **W3, ingest.** A chunked 3-D f32 dataset written slab by slab with
//!   hyperslab selections; HDF5 reads, modifies and rewrites partial chunks
//!   through its chunk cache.
//!
//! Filters ([`Codec`]): `None` is no filter; `Lz4` is the blosc filter
//! (id 32001, compiled in and registered by `hdf5-metno`) with LZ4, level 5,
//! byte shuffle; `Zstd(l)` is the blosc filter with Zstandard at level `l`
//! (capped at blosc's 9) *without* shuffle, to compress the same byte stream
//! as zarrs' plain `zstd` codec (libhdf5 has no built-in zstd filter).
//!
//! Settings: files are created with `libver_latest` (on 1.10: the v110
//! format, whose fixed-array chunk index is what a tuned HDF5 user gets);
//! chunk caches are libhdf5's defaults (1 MiB per dataset). A write ends with
//! `H5Fflush`, `H5Fclose` and an `fsync` of the file, matching zarrs'
//! filesystem store, which `fsync`s every file it writes.

use std::path::Path;
use std::time::{Duration, Instant};

use hdf5::filters::{BloscShuffle, Filter};
use hdf5::{Dataset, File};
use ndarray::{ArrayView2, ArrayView3};

use crate::Data;
use crate::zarrs_peer::{Codec, W1_ROWS_PER_SHARD, W2_ZSTD_LEVEL, W2Result, W3Result, mean_p99};

const W1_FILE: &str = "w1.h5";
const W2_FILE: &str = "w2.h5";
const W3_FILE: &str = "w3.h5";
const DATASET: &str = "data";

/// The HDF5 filters standing for `codec`.
fn filters(codec: Codec) -> Vec<Filter> {
    match codec {
        Codec::None => vec![],
        Codec::Lz4 => vec![Filter::blosc_lz4(5, BloscShuffle::Byte)],
        Codec::Zstd(level) => vec![Filter::blosc_zstd(
            level.clamp(0, 9) as u8,
            BloscShuffle::None,
        )],
    }
}

fn create_file(path: &Path) -> File {
    File::with_options()
        .with_fapl(|p| p.libver_latest())
        .create(path)
        .expect("create the HDF5 file")
}

fn open_dataset(path: &Path) -> (File, Dataset) {
    let file = File::open(path).expect("open the HDF5 file");
    let ds = file.dataset(DATASET).expect("open the HDF5 dataset");
    (file, ds)
}

/// Flushes and closes `file`, then `fsync`s it.
fn finish(file: File, ds: Dataset, path: &Path) {
    file.flush().expect("flush the HDF5 file");
    drop(ds);
    file.close().expect("close the HDF5 file");
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .expect("fsync the HDF5 file");
}

/// W1 write: creates the `[n, len]` i32 dataset (chunks `[1, len]`, the
/// filter of `codec`) in `dir` and writes it in slabs of
/// [`W1_ROWS_PER_SHARD`] rows. Returns the seconds taken by the creation,
/// the writes and the flush, close and fsync; generating values is not timed.
pub fn w1_write(dir: &Path, codec: Codec, data: Data, n: usize, len: usize) -> f64 {
    let path = dir.join(W1_FILE);
    let t = Instant::now();
    let file = create_file(&path);
    let ds = file
        .new_dataset::<i32>()
        .shape([n, len])
        .chunk([1, len])
        .set_filters(&filters(codec))
        .create(DATASET)
        .expect("create the HDF5 W1 dataset");
    let mut elapsed = t.elapsed();

    for r0 in (0..n).step_by(W1_ROWS_PER_SHARD) {
        let r1 = (r0 + W1_ROWS_PER_SHARD).min(n);
        let mut slab = Vec::with_capacity((r1 - r0) * len);
        for i in r0..r1 {
            slab.extend_from_slice(&data.i32s(i, len));
        }
        let view = ArrayView2::from_shape((r1 - r0, len), &slab).expect("slab shape");
        let t = Instant::now();
        ds.write_slice(view, (r0..r1, ..)).expect("write a W1 slab");
        elapsed += t.elapsed();
    }
    let t = Instant::now();
    finish(file, ds, &path);
    (elapsed + t.elapsed()).as_secs_f64()
}

fn read_row_with(ds: &Dataset, i: usize) -> Vec<i32> {
    ds.read_slice_1d::<i32, _>((i, ..))
        .expect("read a W1 row")
        .into_raw_vec_and_offset()
        .0
}

/// W1 read: opens the file and reads every row `0..n` as its own request
/// (one `Vec<i32>` each), sequentially: libhdf5 serialises all calls, so
/// `threads` is ignored. Returns the seconds taken, open included.
pub fn w1_read_all(dir: &Path, n: usize, len: usize, threads: usize) -> f64 {
    let _ = threads;
    let t = Instant::now();
    let (_file, ds) = open_dataset(&dir.join(W1_FILE));
    for i in 0..n {
        let row = read_row_with(&ds, i);
        assert_eq!(row.len(), len, "W1 row {i} has the wrong length");
    }
    t.elapsed().as_secs_f64()
}

/// W1 cold random reads: opens the file afresh, then reads each of `rows`
/// once, in order. Returns the mean seconds per row, the open excluded.
pub fn w1_cold_random(dir: &Path, rows: &[usize], len: usize) -> f64 {
    let (_file, ds) = open_dataset(&dir.join(W1_FILE));
    let t = Instant::now();
    for &i in rows {
        let row = read_row_with(&ds, i);
        assert_eq!(row.len(), len, "W1 row {i} has the wrong length");
    }
    t.elapsed().as_secs_f64() / rows.len().max(1) as f64
}

/// Row `i` of the W1 dataset under `dir` (for checks).
#[cfg(test)]
fn w1_row(dir: &Path, i: usize) -> Vec<i32> {
    let (_file, ds) = open_dataset(&dir.join(W1_FILE));
    read_row_with(&ds, i)
}

/// W2 write: creates the `[side, side]` f32 dataset (chunks
/// `[chunk, chunk]`, blosc-zstd level 3) and writes it in bands of 8 chunk
/// rows (zarrs' shard rows); row `r` is `f32_signal(r, side)`. Returns the
/// seconds taken by the creation, the writes and the flush, close and fsync.
pub fn w2_write(dir: &Path, side: usize, chunk: usize) -> f64 {
    let path = dir.join(W2_FILE);
    let t = Instant::now();
    let file = create_file(&path);
    let ds = file
        .new_dataset::<f32>()
        .shape([side, side])
        .chunk([chunk, chunk])
        .set_filters(&filters(Codec::Zstd(W2_ZSTD_LEVEL)))
        .create(DATASET)
        .expect("create the HDF5 W2 dataset");
    let mut elapsed = t.elapsed();

    let band_rows = crate::zarrs_peer::W2_CHUNKS_PER_SHARD_SIDE * chunk;
    for r0 in (0..side).step_by(band_rows) {
        let r1 = (r0 + band_rows).min(side);
        let mut band = Vec::with_capacity((r1 - r0) * side);
        for r in r0..r1 {
            band.extend_from_slice(&crate::f32_signal(r as u64, side));
        }
        let view = ArrayView2::from_shape((r1 - r0, side), &band).expect("band shape");
        let t = Instant::now();
        ds.write_slice(view, (r0..r1, ..)).expect("write a W2 band");
        elapsed += t.elapsed();
    }
    let t = Instant::now();
    finish(file, ds, &path);
    (elapsed + t.elapsed()).as_secs_f64()
}

fn read_window_with(ds: &Dataset, r0: usize, c0: usize, size: usize) -> Vec<f32> {
    ds.read_slice_2d::<f32, _>((r0..r0 + size, c0..c0 + size))
        .expect("read a W2 window")
        .into_raw_vec_and_offset()
        .0
}

/// W2 windows: opens the file afresh, then reads each window
/// `[r0..r0+chunk, c0..c0+chunk]` in order. Reports the mean and p99
/// seconds per window; `bytes_per_window` is NaN (HDF5 does not tell).
pub fn w2_windows(dir: &Path, side: usize, windows: &[(usize, usize)], chunk: usize) -> W2Result {
    let (_file, ds) = open_dataset(&dir.join(W2_FILE));
    let mut times: Vec<Duration> = Vec::with_capacity(windows.len());
    for &(r0, c0) in windows {
        assert!(
            r0 + chunk <= side && c0 + chunk <= side,
            "window out of the array"
        );
        let t = Instant::now();
        let v = read_window_with(&ds, r0, c0, chunk);
        times.push(t.elapsed());
        assert_eq!(v.len(), chunk * chunk, "W2 window has the wrong size");
    }
    let (mean_secs, p99_secs) = mean_p99(&mut times);
    W2Result {
        mean_secs,
        p99_secs,
        bytes_per_window: f64::NAN,
    }
}

/// W3 ingest: creates a chunked `shape` f32 dataset with `chunks` and the
/// filter of `codec` and writes the `slabs` (start, shape) in order; slab
/// `k` holds `f32_signal(k, elements)`. Returns the seconds taken by the
/// creation, the writes and the flush, close and fsync, and the file's size.
pub fn w3_ingest(
    dir: &Path,
    codec: Codec,
    shape: [usize; 3],
    chunks: [usize; 3],
    slabs: &[([usize; 3], [usize; 3])],
) -> W3Result {
    let path = dir.join(W3_FILE);
    let t = Instant::now();
    let file = create_file(&path);
    let ds = file
        .new_dataset::<f32>()
        .shape(shape)
        .chunk(chunks)
        .set_filters(&filters(codec))
        .create(DATASET)
        .expect("create the HDF5 W3 dataset");
    let mut elapsed = t.elapsed();

    for (k, (st, sh)) in slabs.iter().enumerate() {
        let values = crate::f32_signal(k as u64, sh.iter().product());
        let view = ArrayView3::from_shape((sh[0], sh[1], sh[2]), &values).expect("slab shape");
        let t = Instant::now();
        ds.write_slice(
            view,
            (
                st[0]..st[0] + sh[0],
                st[1]..st[1] + sh[1],
                st[2]..st[2] + sh[2],
            ),
        )
        .expect("write a W3 slab");
        elapsed += t.elapsed();
    }
    let t = Instant::now();
    finish(file, ds, &path);
    W3Result {
        secs: (elapsed + t.elapsed()).as_secs_f64(),
        stored_bytes: std::fs::metadata(&path).expect("W3 file size").len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zarrs_peer::checks::*;

    #[test]
    fn blosc_filter_is_available() {
        assert!(hdf5::filters::blosc_available());
    }

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
    fn w1_compresses() {
        let (n, len) = (50, 1000);
        let plain = tempfile::tempdir().unwrap();
        w1_write(plain.path(), Codec::None, Data::Pattern, n, len);
        let p = crate::dir_bytes(plain.path());
        assert!(p >= (n * len * 4) as u64);
        for codec in [Codec::Lz4, Codec::Zstd(3)] {
            let dir = tempfile::tempdir().unwrap();
            w1_write(dir.path(), codec, Data::Pattern, n, len);
            let c = crate::dir_bytes(dir.path());
            assert!(c * 4 < p, "{codec:?} did not compress: {c} vs {p}");
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
        assert!(r.bytes_per_window.is_nan());
        let (_file, ds) = open_dataset(&dir.path().join(W2_FILE));
        for (r0, c0) in windows {
            assert_eq!(
                read_window_with(&ds, r0, c0, chunk),
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
            let (_file, ds) = open_dataset(&dir.path().join(W3_FILE));
            let all = ds.read_raw::<f32>().expect("read the W3 dataset");
            assert_eq!(all, w3_expected(W3_SHAPE, &slabs), "{codec:?}");
        }
    }
}
