//! W1, the seeds' profile: 25,000 arrays of 10,000 i32, one chunk each.
//! Write + flush + compact, open, read every array whole with 24 tasks x 8
//! concurrent reads (from disk and in memory), and cold random reads; codecs
//! lz4 and none; the seeds' all-ones pattern and random values.
//!
//! Peers in the same run: array-format 0.10, zarrs (one [n, 10000] array,
//! row chunks in shards of 1000 rows), HDF5 (one chunked dataset), and the
//! limits: single-thread memcpy and lz4's own throughput on the same data.
//! array-format opens local files with `open_path` (layers read with
//! `pread`); a second row reads through `object_store`'s `LocalFileSystem`,
//! as code written for 0.10 does.
//!
//! `cargo bench --bench w1`; `AF_BENCH_SCALE=0.1` for a tenth of the arrays.

use af_bench::zarrs_peer::{self, Codec};
use af_bench::{
    Data, OURS, OURS_STORE, Table, V010, ZARRS, dir_bytes, dir_of, fresh_dir, median_of, ours,
    random_indices, v010, wants,
};
#[cfg(feature = "hdf5")]
use af_bench::{HDF5, hdf5_peer};

const LEN: usize = 10_000;
const COLD_READS: usize = 2_000;

fn main() {
    let n = af_bench::scaled(25_000);
    let rt = af_bench::runtime();
    let mut table = Table::default();
    let bytes = (n * LEN * 4) as f64;
    let gib = (1u64 << 30) as f64;
    eprintln!("W1: {n} arrays x {LEN} i32 ({:.2} GiB)", bytes / gib);

    let memcpy = af_bench::memcpy_bandwidth(n * LEN * 4, LEN * 4);
    table.rate("W1 limit", "memcpy, 1 thread", memcpy / gib, "GiB/s");

    for data in [Data::Pattern, Data::Random] {
        let arrays: Vec<Vec<i32>> = (0..n).map(|i| data.i32s(i, LEN)).collect();
        codec_limits(&mut table, data, &arrays);
        let cold_rows = random_indices(n, COLD_READS.min(n), 7);
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        for (codec, cname) in [(Codec::Lz4, "lz4"), (Codec::None, "none")] {
            let tag = format!("{cname}, {}", data.label());
            if !af_bench::wants_case(&tag) {
                continue;
            }
            let case = |what: &str| format!("W1 {what}, {tag}");

            // Write + flush + compact; the last repetition leaves each
            // system's file in place for the reads below.
            let mut phases = (0.0, 0.0, 0.0);
            let w = median_of(|| {
                let d = fresh_dir("w1-ours");
                phases = rt.block_on(ours::w1_write(&d, codec, &arrays));
                phases.0 + phases.1 + phases.2
            });
            table.time(&case("write+flush+compact"), OURS, w, "s");
            eprintln!(
                "    ours: write {:.3} s, flush {:.3} s, compact {:.3} s",
                phases.0, phases.1, phases.2
            );
            if wants(V010) {
                let w = median_of(|| {
                    let d = fresh_dir("w1-v010");
                    let p = rt.block_on(v010::w1_write(&d, codec, &arrays));
                    p.0 + p.1 + p.2
                });
                table.time(&case("write+flush+compact"), V010, w, "s");
            }
            if wants(ZARRS) {
                let w =
                    median_of(|| zarrs_peer::w1_write(&fresh_dir("w1-zarrs"), codec, data, n, LEN));
                table.time(&case("write+flush+compact"), ZARRS, w, "s");
            }
            #[cfg(feature = "hdf5")]
            if wants(HDF5) {
                let w =
                    median_of(|| hdf5_peer::w1_write(&fresh_dir("w1-hdf5"), codec, data, n, LEN));
                table.time(&case("write+flush+compact"), HDF5, w, "s");
            }
            let (d_ours, d_v010, d_zarrs) =
                (dir_of("w1-ours"), dir_of("w1-v010"), dir_of("w1-zarrs"));
            let mib = (1u64 << 20) as f64;
            for (dir, system) in [(&d_ours, OURS), (&d_v010, V010), (&d_zarrs, ZARRS)] {
                if !wants(system) {
                    continue;
                }
                table.push(
                    &case("stored size"),
                    system,
                    dir_bytes(dir) as f64 / mib,
                    "MiB",
                    false,
                );
            }
            #[cfg(feature = "hdf5")]
            if wants(HDF5) {
                table.push(
                    &case("stored size"),
                    HDF5,
                    dir_bytes(&dir_of("w1-hdf5")) as f64 / mib,
                    "MiB",
                    false,
                );
            }

            // Open.
            let t = median_of(|| rt.block_on(ours::w1_open(&d_ours, codec)));
            table.time(&case("open"), OURS, t, "ms");
            if wants(V010) {
                let t = median_of(|| rt.block_on(v010::w1_open(&d_v010, codec)));
                table.time(&case("open"), V010, t, "ms");
            }

            // Read every array from disk (OS page cache warm), fresh handle.
            let read = case("read all, disk");
            let t = median_of(|| rt.block_on(ours::w1_read_disk(&d_ours, codec, n)));
            table.rate(&read, OURS, bytes / t / gib, "GiB/s");
            let t = median_of(|| rt.block_on(ours::w1_read_disk_via_store(&d_ours, codec, n)));
            table.rate(&read, OURS_STORE, bytes / t / gib, "GiB/s");
            if wants(V010) {
                let t = median_of(|| rt.block_on(v010::w1_read_disk(&d_v010, codec, n)));
                table.rate(&read, V010, bytes / t / gib, "GiB/s");
            }
            if wants(ZARRS) {
                let t = median_of(|| zarrs_peer::w1_read_all(&d_zarrs, n, LEN, threads));
                table.rate(&read, ZARRS, bytes / t / gib, "GiB/s");
            }
            #[cfg(feature = "hdf5")]
            if wants(HDF5) {
                let t = median_of(|| hdf5_peer::w1_read_all(&dir_of("w1-hdf5"), n, LEN, threads));
                table.rate(&read, HDF5, bytes / t / gib, "GiB/s");
            }

            // Cold random whole-array reads through a fresh handle.
            let cold = case("cold random read");
            let t = median_of(|| rt.block_on(ours::w1_cold_random(&d_ours, codec, &cold_rows)));
            table.time(&cold, OURS, t, "ms");
            if wants(V010) {
                let t = median_of(|| rt.block_on(v010::w1_cold_random(&d_v010, codec, &cold_rows)));
                table.time(&cold, V010, t, "ms");
            }
            if wants(ZARRS) {
                let t = median_of(|| zarrs_peer::w1_cold_random(&d_zarrs, &cold_rows, LEN));
                table.time(&cold, ZARRS, t, "ms");
            }
            #[cfg(feature = "hdf5")]
            if wants(HDF5) {
                let t =
                    median_of(|| hdf5_peer::w1_cold_random(&dir_of("w1-hdf5"), &cold_rows, LEN));
                table.time(&cold, HDF5, t, "ms");
            }

            // Read every array of an in-memory file.
            let mem = case("read all, memory");
            let reps = af_bench::reps();
            let t = median(rt.block_on(ours::w1_read_memory(codec, &arrays, reps)));
            table.rate(&mem, OURS, bytes / t / gib, "GiB/s");
            if wants(V010) {
                let t = median(rt.block_on(v010::w1_read_memory(codec, &arrays, reps)));
                table.rate(&mem, V010, bytes / t / gib, "GiB/s");
            }
            table.rate(&mem, "limit: memcpy, 1 thread", memcpy / gib, "GiB/s");
        }
    }
    table.print("W1: 25,000 arrays x 10,000 i32, one chunk each");
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// lz4's own single-thread throughput on the W1 arrays, one array per call,
/// with the implementations array-format uses: lz4_flex to compress, liblz4
/// to decompress.
fn codec_limits(table: &mut Table, data: Data, arrays: &[Vec<i32>]) {
    let gib = (1u64 << 30) as f64;
    let bytes: usize = arrays.iter().map(|a| a.len() * 4).sum();
    let mut compressed: Vec<Vec<u8>> = Vec::new();
    let c = median_of(|| {
        af_bench::secs(|| {
            compressed = arrays
                .iter()
                .map(|a| lz4_flex::block::compress(af_bench::as_bytes(a)))
                .collect();
        })
    });
    let mut out = vec![0u8; LEN * 4];
    let d = median_of(|| {
        af_bench::secs(|| {
            for c in &compressed {
                lz4::block::decompress_to_buffer(c, Some(out.len() as i32), &mut out).expect("lz4");
            }
            std::hint::black_box(&out);
        })
    });
    let stored: usize = compressed.iter().map(Vec::len).sum();
    let case = format!("W1 limit, lz4, {}", data.label());
    table.rate(
        &case,
        "lz4 compress, 1 thread",
        bytes as f64 / c / gib,
        "GiB/s",
    );
    table.rate(
        &case,
        "lz4 decompress, 1 thread",
        bytes as f64 / d / gib,
        "GiB/s",
    );
    table.push(&case, "lz4 ratio", bytes as f64 / stored as f64, "x", true);
}
