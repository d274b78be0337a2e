//! W2, random access: one 8192 x 8192 f32 array in 256 x 256 chunks, zstd
//! level 3, row `r` = `f32_signal(r)`. Each system writes it once (timed);
//! then a fresh handle reads 2,000 chunk-sized windows at random,
//! non-aligned origins (the same list for every system), one after the
//! other. Reported per window: mean and p99 latency and the bytes fetched
//! from storage (counted by an `ObjectStore` wrapper for array-format and
//! 0.10, by zarrs' metrics adapter for zarrs; HDF5 cannot tell).
//!
//! array-format and 0.10 are measured with both caches off and with the
//! default caches; array-format opens the file with `open_path` (layers read
//! with `pread`, bytes fetched not counted), and a second row reads it
//! through a plain `LocalFileSystem`, as code written for 0.10 does (the
//! library recognises it and reads the directory with `pread` too; the
//! bytes fetched come from a second pass through the counting wrapper,
//! which reads through `object_store`); zarrs (shards of 8 x 8 chunks,
//! shard-index cache) and
//! HDF5 (default chunk cache) with their defaults. Limits: zstd's own
//! single-thread decompression of one chunk, and the compressed size of the
//! chunks a window touches (the target: bytes fetched <= 1.2x that).
//!
//! `cargo bench --bench w2`; `AF_BENCH_SCALE=0.1` shrinks the array (the
//! side scales with the square root, chunks stay 256 x 256) and the number
//! of windows.

use std::sync::Arc;

use af_testkit::CountingStore;
use object_store::local::LocalFileSystem;
use rand::{Rng, SeedableRng};

use af_bench::zarrs_peer::{self, W2Result};
#[cfg(feature = "hdf5")]
use af_bench::{HDF5, hdf5_peer};
use af_bench::{
    OURS, OURS_STORE, Table, V010, ZARRS, dir_bytes, fresh_dir, median_of, ours, v010, wants,
};

/// Side of a chunk (and of a window).
const CHUNK: usize = 256;
/// Windows read at scale 1.
const WINDOWS: usize = 2_000;
/// Decompressions timed for the zstd limit.
const DECODES: usize = 100;

/// A counting store over the directory `dir`.
fn counting(dir: &std::path::Path) -> CountingStore {
    let local = LocalFileSystem::new_with_prefix(dir).expect("local store");
    CountingStore::new(Arc::new(local))
}

/// Bytes and GETs `store` saw since the last call, clearing its log.
fn take(store: &CountingStore) -> (u64, u64) {
    let seen = (store.bytes_read(), store.gets() as u64);
    store.reset();
    seen
}

/// The array's side: 8192 at scale 1, scaled by the square root of the
/// scale so that the element count scales linearly; a multiple of `CHUNK`.
fn side() -> usize {
    CHUNK * ((32.0 * af_bench::scale().sqrt()).round() as usize).max(1)
}

/// `n` random window origins, each in `0..=side - CHUNK` in both axes.
fn windows(side: usize, n: usize, seed: u64) -> Vec<(usize, usize)> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            (
                rng.random_range(0..=side - CHUNK),
                rng.random_range(0..=side - CHUNK),
            )
        })
        .collect()
}

/// Mean and 99th percentile of `times`.
fn mean_p99(times: &[f64]) -> (f64, f64) {
    let mut v = times.to_vec();
    v.sort_by(f64::total_cmp);
    let mean = v.iter().sum::<f64>() / v.len().max(1) as f64;
    let i = ((v.len() as f64 * 0.99).ceil() as usize).clamp(1, v.len().max(1)) - 1;
    (mean, v.get(i).copied().unwrap_or(f64::NAN))
}

/// Chunks a `CHUNK x CHUNK` window at `(r0, c0)` overlaps.
fn chunks_touched((r0, c0): (usize, usize)) -> usize {
    // Chunks from the first element's to the last one's.
    let span = |first: usize| {
        let last = first + CHUNK - 1;
        last / CHUNK - first / CHUNK + 1
    };
    span(r0) * span(c0)
}

/// Adds the rows of one system's window reads in configuration `tag`.
fn window_rows(table: &mut Table, tag: &str, system: &str, r: W2Result, touched: f64) {
    table.time(&format!("W2 window mean, {tag}"), system, r.mean_secs, "ms");
    table.time(&format!("W2 window p99, {tag}"), system, r.p99_secs, "ms");
    if r.bytes_per_window.is_finite() {
        let kib = r.bytes_per_window / 1024.0;
        table.push(
            &format!("W2 KiB fetched per window, {tag}"),
            system,
            kib,
            "KiB",
            false,
        );
        if touched > 0.0 {
            let x = r.bytes_per_window / touched;
            table.push(
                &format!("W2 fetched / frames touched, {tag}"),
                system,
                x,
                "x",
                false,
            );
        }
    }
}

/// Opens one array-format version's file in `$dir` through a counting store
/// (with or without caches), reads the windows and returns a `W2Result`.
macro_rules! af_windows {
    ($m:ident, $rt:expr, $dir:expr, $caches:expr, $side:expr, $windows:expr) => {{
        let store = counting($dir);
        let file = $rt.block_on($m::open_store(Arc::new(store.clone()), $caches));
        let (open_bytes, open_requests) = take(&store);
        let times = $rt.block_on($m::w2_windows(&file, $side, $windows, CHUNK));
        let (bytes, requests) = take(&store);
        let n = $windows.len().max(1) as f64;
        eprintln!(
            "    {}: open fetched {open_bytes} B in {open_requests} requests; \
             windows {:.1} requests each",
            stringify!($m),
            requests as f64 / n
        );
        let (mean_secs, p99_secs) = mean_p99(&times);
        W2Result {
            mean_secs,
            p99_secs,
            bytes_per_window: bytes as f64 / n,
        }
    }};
}

fn main() {
    let side = side();
    let n = af_bench::scaled(WINDOWS).max(200);
    let rt = af_bench::runtime();
    let mut table = Table::default();
    let mib = (1u64 << 20) as f64;
    eprintln!(
        "W2: {side} x {side} f32 ({:.0} MiB) in {CHUNK} x {CHUNK} chunks, zstd 3; {n} windows",
        (side * side * 4) as f64 / mib
    );
    let origins = windows(side, n, 2);
    let touched_chunks =
        origins.iter().map(|&w| chunks_touched(w)).sum::<usize>() as f64 / n as f64;

    // Limit: zstd's own decompression of one chunk of the array.
    let chunk: Vec<f32> = (0..CHUNK)
        .flat_map(|r| af_bench::f32_signal(r as u64, side)[..CHUNK].to_vec())
        .collect();
    let raw = af_bench::as_bytes(&chunk);
    let packed =
        zstd::bulk::compress(raw, zarrs_peer::W2_ZSTD_LEVEL).expect("zstd compress a chunk");
    let mut out = vec![0u8; raw.len()];
    let mut decoder = zstd::bulk::Decompressor::new().expect("zstd decompressor");
    let decode = median_of(|| {
        af_bench::secs(|| {
            for _ in 0..DECODES {
                let len = decoder
                    .decompress_to_buffer(&packed, &mut out)
                    .expect("zstd decompress");
                assert_eq!(len, raw.len());
            }
            std::hint::black_box(&out);
        })
    }) / DECODES as f64;
    eprintln!(
        "  one chunk: {} B raw, {} B zstd 3 ({:.2}x); windows touch {touched_chunks:.2} chunks",
        raw.len(),
        packed.len(),
        raw.len() as f64 / packed.len() as f64
    );

    // Write once per system.
    let case = "W2 write (+flush+compact)";
    let d_ours = fresh_dir("w2-ours");
    let (w, f, c) = rt.block_on(ours::w2_write(&d_ours, side, CHUNK));
    eprintln!("    ours: write {w:.3} s, flush {f:.3} s, compact {c:.3} s");
    table.time(case, OURS, w + f + c, "s");
    let d_v010 = fresh_dir("w2-v010");
    if wants(V010) {
        let (w, f, c) = rt.block_on(v010::w2_write(&d_v010, side, CHUNK));
        eprintln!("    0.10: write {w:.3} s, flush {f:.3} s, compact {c:.3} s");
        table.time(case, V010, w + f + c, "s");
    }
    let d_zarrs = fresh_dir("w2-zarrs");
    if wants(ZARRS) {
        let w = zarrs_peer::w2_write(&d_zarrs, side, CHUNK);
        table.time(case, ZARRS, w, "s");
    }
    #[cfg(feature = "hdf5")]
    let d_hdf5 = fresh_dir("w2-hdf5");
    #[cfg(feature = "hdf5")]
    if wants(HDF5) {
        table.time(case, HDF5, hdf5_peer::w2_write(&d_hdf5, side, CHUNK), "s");
    }
    let case = "W2 stored size";
    let dirs = [
        (OURS, &d_ours),
        (V010, &d_v010),
        (ZARRS, &d_zarrs),
        #[cfg(feature = "hdf5")]
        (HDF5, &d_hdf5),
    ];
    for (system, dir) in dirs {
        if wants(system) {
            table.push(case, system, dir_bytes(dir) as f64 / mib, "MiB", false);
        }
    }

    // The compressed size of the chunks a window touches, from ours' index
    // (each 256 KiB chunk is a frame of its own; the index gives the
    // array's total, so a chunk counts as the average).
    let storage = {
        let file = rt.block_on(ours::open_store(Arc::new(counting(&d_ours)), true));
        file.array_storage(ours::GRID).expect("array_storage")
    };
    let per_chunk = storage.stored_bytes as f64 / storage.written_chunks.len().max(1) as f64;
    let touched = per_chunk * touched_chunks;
    eprintln!(
        "  ours stores {} chunks, {:.0} B each on average",
        storage.written_chunks.len(),
        per_chunk
    );

    for (caches, tag) in [(false, "caches off"), (true, "default caches")] {
        eprintln!("  windows, {tag}");
        let file = rt.block_on(ours::open_grid_local(&d_ours, caches));
        let times = rt.block_on(ours::w2_windows(&file, side, &origins, CHUNK));
        let (mean_secs, p99_secs) = mean_p99(&times);
        let r = W2Result {
            mean_secs,
            p99_secs,
            bytes_per_window: f64::NAN,
        };
        window_rows(&mut table, tag, OURS, r, touched);
        let plain = Arc::new(LocalFileSystem::new_with_prefix(&d_ours).expect("local store"));
        let file = rt.block_on(ours::open_store(plain, caches));
        let times = rt.block_on(ours::w2_windows(&file, side, &origins, CHUNK));
        let (mean_secs, p99_secs) = mean_p99(&times);
        let counted = af_windows!(ours, rt, &d_ours, caches, side, &origins);
        let r = W2Result {
            mean_secs,
            p99_secs,
            bytes_per_window: counted.bytes_per_window,
        };
        window_rows(&mut table, tag, OURS_STORE, r, touched);
        if wants(V010) {
            let r = af_windows!(v010, rt, &d_v010, caches, side, &origins);
            window_rows(&mut table, tag, V010, r, touched);
        }
        if caches && wants(ZARRS) {
            let r = zarrs_peer::w2_windows(&d_zarrs, side, &origins, CHUNK);
            window_rows(&mut table, tag, ZARRS, r, touched);
        }
        if caches {
            #[cfg(feature = "hdf5")]
            if wants(HDF5) {
                let r = hdf5_peer::w2_windows(&d_hdf5, side, &origins, CHUNK);
                window_rows(&mut table, tag, HDF5, r, touched);
            }
        }
        let limit = "limit: zstd decode of 1 chunk";
        table.time(&format!("W2 window mean, {tag}"), limit, decode, "ms");
        let limit = format!("limit: zstd decode of {touched_chunks:.2} chunks");
        let case = format!("W2 window mean, {tag}");
        table.time(&case, &limit, decode * touched_chunks, "ms");
        let case = format!("W2 KiB fetched per window, {tag}");
        let limit = "limit: compressed size of frames touched";
        table.push(&case, limit, touched / 1024.0, "KiB", false);
    }
    table.print(&format!(
        "W2: random {CHUNK} x {CHUNK} windows of a {side} x {side} f32 array, zstd 3"
    ));
}
