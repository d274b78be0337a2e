//! Cost per chunk as the chunk count grows: one 1-D i32 array of `n`
//! chunks of 1,024 elements (4 KiB each, lz4), for `n` = 4,096 ... 65,536
//! (scaled by `AF_BENCH_SCALE`). Timed: writing it (one `write_array` per
//! 1,024 chunks), the flush, an open through a fresh handle, and a whole
//! read. Reported per chunk, with the ratio of the largest count's cost
//! per chunk to the smallest's: 1x is linear, and a quadratic step shows
//! as about the ratio of the counts (16x).
//!
//! array-format and 0.10 run the same code (0.10's flush is quadratic in
//! the chunk count).
//!
//! `cargo bench --bench scaling`.

use std::sync::Arc;
use std::time::Instant;

use af_bench::{OURS, Table, V010, fresh_dir, median_of, wants};

/// Elements per chunk.
const CHUNK: usize = 1024;
/// Chunks written per `write_array` call.
const PER_WRITE: usize = 1024;

macro_rules! scaling {
    ($k:ident, $rt:expr, $n:expr) => {{
        use $k::{ArrayFile, FileConfig, Lz4Codec};
        let n: usize = $n;
        let dir = fresh_dir(&format!("scaling-{}", stringify!($k)));
        let store: Arc<dyn object_store::ObjectStore> = Arc::new(
            object_store::local::LocalFileSystem::new_with_prefix(&dir).expect("local store"),
        );
        let path = || object_store::path::Path::from("s.af");
        let slab: Vec<i32> = (0..(PER_WRITE * CHUNK) as i32).collect();
        $rt.block_on(async {
            let mut f = ArrayFile::create(store.clone(), path(), FileConfig::new(Lz4Codec))
                .await
                .expect("create");
            f.define_array::<i32>("s", vec![], vec![n * CHUNK], Some(vec![CHUNK]), None)
                .expect("define");
            let t = Instant::now();
            for first in (0..n).step_by(PER_WRITE) {
                let chunks = PER_WRITE.min(n - first);
                let data = ndarray::ArrayView::from_shape(
                    ndarray::IxDyn(&[chunks * CHUNK]),
                    &slab[..chunks * CHUNK],
                )
                .expect("slab view");
                f.write_array("s", vec![first * CHUNK], data)
                    .await
                    .expect("write");
            }
            let write = t.elapsed().as_secs_f64();
            let t = Instant::now();
            f.flush().await.expect("flush");
            let flush = t.elapsed().as_secs_f64();
            drop(f);
            let t = Instant::now();
            let f = ArrayFile::open(store.clone(), path(), FileConfig::new(Lz4Codec))
                .await
                .expect("open");
            let open = t.elapsed().as_secs_f64();
            let t = Instant::now();
            let all = f
                .read_array::<i32>("s", vec![], vec![])
                .await
                .expect("read");
            let read = t.elapsed().as_secs_f64();
            assert_eq!(all.len(), n * CHUNK);
            assert_eq!(
                all[[CHUNK + 5]],
                5 + CHUNK as i32 % (PER_WRITE * CHUNK) as i32
            );
            [write, flush, open, read]
        })
    }};
}

fn main() {
    let counts: Vec<usize> = [4_096, 16_384, 65_536]
        .iter()
        .map(|&n| af_bench::scaled(n).max(PER_WRITE))
        .collect();
    let rt = af_bench::runtime();
    let mut table = Table::default();
    let phases = ["write", "flush", "open", "read"];
    eprintln!("scaling: chunk counts {counts:?}, {CHUNK} i32 per chunk");
    for system in [OURS, V010] {
        if !wants(system) {
            continue;
        }
        let mut per_chunk: Vec<[f64; 4]> = Vec::new();
        for &n in &counts {
            let mut runs: Vec<[f64; 4]> = Vec::new();
            median_of(|| {
                let r = if system == OURS {
                    scaling!(array_format, rt, n)
                } else {
                    scaling!(af010, rt, n)
                };
                runs.push(r);
                r.iter().sum()
            });
            let mut med = [0.0; 4];
            for (i, m) in med.iter_mut().enumerate() {
                let mut v: Vec<f64> = runs.iter().map(|r| r[i]).collect();
                v.sort_by(f64::total_cmp);
                *m = v[v.len() / 2] / n as f64;
            }
            eprintln!(
                "  {system}, {n} chunks: {}",
                phases
                    .iter()
                    .zip(med)
                    .map(|(p, s)| format!("{p} {:.2} us", s * 1e6))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            for (p, s) in phases.iter().zip(med) {
                table.time(&format!("{p} per chunk, {n} chunks"), system, s, "us");
            }
            per_chunk.push(med);
        }
        if let (Some(first), Some(last)) = (per_chunk.first(), per_chunk.last()) {
            for (i, p) in phases.iter().enumerate() {
                table.push(
                    &format!(
                        "{p} per chunk, {} / {} chunks",
                        counts.last().copied().unwrap_or(0),
                        counts.first().copied().unwrap_or(0)
                    ),
                    system,
                    last[i] / first[i],
                    "x",
                    false,
                );
            }
        }
    }
    table.print("Scaling: cost per chunk as the chunk count grows (1x: linear)");
}
