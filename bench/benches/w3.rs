//! W3, ingest: 2 GiB of f32 into one 3-D array `[depth, 1024, 1024]`
//! (depth 512) with chunks `[8, 256, 256]`, written by slabs of
//! `[5, 1024, 1024]` that do not align with the chunks (slab `k` starts at
//! depth `5k`; the last one is shorter), slab `k` = `f32_signal(k)`. Codecs
//! lz4 and zstd level 3.
//!
//! array-format and 0.10 write into a new file and flush (compaction is not
//! part of the ingest); reported: throughput (MiB of f32 per second of the
//! `write_array` and `flush` calls; generating the data is excluded), the
//! growth of the process's peak resident set during the ingest and the
//! stored size. Peers in the same run: zarrs (plain chunked array) and HDF5
//! (chunked dataset; both blosc). Limit: the codec's own single-thread
//! compression of the same data in chunk-sized pieces (the target: ours
//! >= 80% of it; peak RSS <= 512 MiB for 2 GiB).
//!
//! array-format's ingest is the median of `AF_BENCH_REPS` runs (its size
//! from the last, its RSS growth the largest of the runs: memory freed by
//! one run stays with the allocator, so later runs start higher and seem
//! to grow less); the others run once each, to keep the run within minutes.
//!
//! `cargo bench --bench w3`; `AF_BENCH_SCALE=0.1` shrinks the depth;
//! `AF_BENCH_SYSTEMS=ours` measures array-format (and the limits) alone,
//! `AF_BENCH_CASES=lz4` one codec.

use af_bench::zarrs_peer::{self, Codec};
#[cfg(feature = "hdf5")]
use af_bench::{HDF5, hdf5_peer};
use af_bench::{OURS, Table, V010, ZARRS, fresh_dir, median_of, ours, v010, wants};

/// Rows and columns of the array.
const PLANE: usize = 1024;
/// Chunk side in rows and columns.
const CHUNK: usize = 256;
/// Depth of a slab.
const SLAB: usize = 5;
/// At most this many bytes of slabs feed the codec limit.
const LIMIT_BYTES: usize = 256 << 20;

/// Removes a system's files once measured: at full size each holds about
/// 2 GiB, and keeping all four can fill the disk.
fn drop_dir(name: &str) {
    let _ = std::fs::remove_dir_all(af_bench::dir_of(name));
}

/// The slabs (start, shape) covering `depth`.
fn slabs(depth: usize) -> Vec<([usize; 3], [usize; 3])> {
    (0..depth)
        .step_by(SLAB)
        .map(|z| ([z, 0, 0], [SLAB.min(depth - z), PLANE, PLANE]))
        .collect()
}

/// Compresses `values` in pieces of `piece` elements with `codec`; returns
/// the seconds taken and the compressed bytes.
fn compress(codec: Codec, values: &[f32], piece: usize) -> (f64, usize) {
    let mut stored = 0;
    let s = af_bench::secs(|| {
        for p in values.chunks(piece) {
            let raw = af_bench::as_bytes(p);
            stored += match codec {
                Codec::Lz4 => lz4_flex::block::compress(raw).len(),
                Codec::Zstd(level) => zstd::bulk::compress(raw, level).expect("zstd").len(),
                Codec::None => raw.len(),
            };
        }
    });
    (s, stored)
}

fn main() {
    let depth = af_bench::scaled(512).max(2);
    let shape = [depth, PLANE, PLANE];
    let chunks = [8.min(depth), CHUNK, CHUNK];
    let slabs = slabs(depth);
    let rt = af_bench::runtime();
    let mut table = Table::default();
    let mib = (1u64 << 20) as f64;
    let data_mib = (depth * PLANE * PLANE * 4) as f64 / mib;
    eprintln!(
        "W3: {shape:?} f32 ({data_mib:.0} MiB) in {chunks:?} chunks, {} slabs of {SLAB}",
        slabs.len()
    );

    for (codec, cname) in [(Codec::Lz4, "lz4"), (Codec::Zstd(3), "zstd 3")] {
        if !af_bench::wants_case(cname) {
            continue;
        }
        let rate = format!("W3 ingest, {cname}");
        let rss = format!("W3 peak RSS growth, {cname}");
        let size = format!("W3 stored size, {cname}");

        if wants(OURS) {
            let (mut s, mut grow, mut bytes) = (0.0, 0u64, 0);
            let t = median_of(|| {
                let dir = fresh_dir("w3-ours");
                let run_grow;
                (s, run_grow, bytes) =
                    rt.block_on(ours::w3_ingest(&dir, codec, shape, chunks, &slabs));
                grow = grow.max(run_grow);
                s
            });
            table.rate(&rate, OURS, data_mib / t, "MiB/s");
            table.push(&rss, OURS, grow as f64 / mib, "MiB", false);
            table.push(&size, OURS, bytes as f64 / mib, "MiB", false);
            drop_dir("w3-ours");
        }

        // The others once each: an ingest of 2 GiB is long enough to be
        // steady, and the run stays within minutes.
        if wants(V010) {
            let dir = fresh_dir("w3-v010");
            let (t, grow, bytes) = rt.block_on(v010::w3_ingest(&dir, codec, shape, chunks, &slabs));
            table.rate(&rate, V010, data_mib / t, "MiB/s");
            table.push(&rss, V010, grow as f64 / mib, "MiB", false);
            table.push(&size, V010, bytes as f64 / mib, "MiB", false);
            drop_dir("w3-v010");
        }
        if wants(ZARRS) {
            let r = zarrs_peer::w3_ingest(&fresh_dir("w3-zarrs"), codec, shape, chunks, &slabs);
            table.rate(&rate, ZARRS, data_mib / r.secs, "MiB/s");
            table.push(&size, ZARRS, r.stored_bytes as f64 / mib, "MiB", false);
            drop_dir("w3-zarrs");
        }
        #[cfg(feature = "hdf5")]
        if wants(HDF5) {
            let r = hdf5_peer::w3_ingest(&fresh_dir("w3-hdf5"), codec, shape, chunks, &slabs);
            table.rate(&rate, HDF5, data_mib / r.secs, "MiB/s");
            table.push(&size, HDF5, r.stored_bytes as f64 / mib, "MiB", false);
            drop_dir("w3-hdf5");
        }

        // Limit: the codec alone on the same data, in chunk-sized pieces
        // (the first slabs, up to LIMIT_BYTES), measured last so that its
        // buffers do not count in the RSS figures above.
        let piece = chunks.iter().product::<usize>();
        let mut values = Vec::new();
        for (k, (_, sh)) in slabs.iter().enumerate() {
            if values.len() * 4 >= LIMIT_BYTES {
                break;
            }
            values.extend(af_bench::f32_signal(k as u64, sh.iter().product()));
        }
        let mut packed = 0;
        let t = median_of(|| {
            let (s, p) = compress(codec, &values, piece);
            packed = p;
            s
        });
        let limit_mib = (values.len() * 4) as f64 / mib;
        let system = format!("limit: {cname} compress, 1 thread");
        table.rate(&rate, &system, limit_mib / t, "MiB/s");
        let system = format!("limit: {cname} alone (scaled)");
        let scaled_mib = packed as f64 / (values.len() * 4) as f64 * data_mib;
        table.push(&size, &system, scaled_mib, "MiB", false);
    }
    table.print(&format!(
        "W3: ingest of {data_mib:.0} MiB of f32 into [{depth}, {PLANE}, {PLANE}] by [{SLAB}, {PLANE}, {PLANE}] slabs"
    ));
}
