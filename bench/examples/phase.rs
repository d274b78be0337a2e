//! One phase of a workload, repeated in a process of its own: for `perf`
//! and for before/after comparisons of a change (build the example at each
//! commit and alternate the runs), where a full `cargo bench` run mixes in
//! every other system and phase.
//!
//! ```text
//! cargo run --release --example phase -- w1-write [pattern|random]
//! cargo run --release --example phase -- w2-windows [caches] [path]
//! cargo run --release --example phase -- w4-open
//! ```
//!
//! `w1-write`: W1's 25,000 arrays written, flushed and compacted with lz4,
//! `AF_BENCH_REPS` times (default 3). `w2-windows`: W2's file (written by
//! `cargo bench --bench w2` into `AF_BENCH_DIR`, or here if absent) read
//! through `object_store` (with `path`: opened with `open_path`) in 2,000
//! random windows, caches off unless `caches`; mean and median per window. `w4-open`: W4's 201-layer file
//! (built once into `AF_BENCH_DIR/w4-phase`) opened `AF_BENCH_REPS` times;
//! median and minimum. `AF_BENCH_SCALE` does not apply.

use std::sync::Arc;

use af_bench::{Data, dir_of, fresh_dir, ours, reps, zarrs_peer::Codec};
use object_store::local::LocalFileSystem;
use rand::seq::index;
use rand::{Rng, SeedableRng};

fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(f64::total_cmp);
    v
}

fn w1_write(data: Data) {
    let rt = af_bench::runtime();
    let arrays: Vec<Vec<i32>> = (0..25_000).map(|i| data.i32s(i, 10_000)).collect();
    for _ in 0..reps() {
        let dir = fresh_dir("w1-phase");
        let (w, f, c) = rt.block_on(ours::w1_write(&dir, Codec::Lz4, &arrays));
        println!(
            "write {w:.3} s, flush {f:.3} s, compact {c:.3} s, total {:.3} s",
            w + f + c
        );
    }
}

fn w2_windows(caches: bool, path: bool) {
    let (side, chunk) = (8192, 256);
    let rt = af_bench::runtime();
    let dir = dir_of("w2-ours");
    if !dir.join("bench.af").exists() {
        std::fs::create_dir_all(&dir).expect("create the W2 directory");
        rt.block_on(ours::w2_write(&dir, side, chunk));
    }
    let file = if path {
        rt.block_on(ours::open_grid_local(&dir, caches))
    } else {
        let store = Arc::new(LocalFileSystem::new_with_prefix(&dir).expect("local store"));
        rt.block_on(ours::open_store(store, caches))
    };
    let mut rng = rand::rngs::StdRng::seed_from_u64(2);
    let origins: Vec<(usize, usize)> = (0..2_000)
        .map(|_| {
            (
                rng.random_range(0..=side - chunk),
                rng.random_range(0..=side - chunk),
            )
        })
        .collect();
    let times = sorted(rt.block_on(ours::w2_windows(&file, side, &origins, chunk)));
    let mean = times.iter().sum::<f64>() / times.len() as f64;
    println!(
        "window mean {:.4} ms, median {:.4} ms",
        mean * 1e3,
        times[times.len() / 2] * 1e3
    );
}

fn w4_open() {
    let rt = af_bench::runtime();
    let dir = dir_of("w4-phase");
    if !dir.join("bench.af").exists() {
        std::fs::create_dir_all(&dir).expect("create the W4 directory");
        let n = 32;
        let mut rng = rand::rngs::StdRng::seed_from_u64(4);
        let rounds: Vec<Vec<(usize, usize)>> = (0..200)
            .map(|_| {
                index::sample(&mut rng, n * n, 10)
                    .into_iter()
                    .map(|i| (i / n, i % n))
                    .collect()
            })
            .collect();
        rt.block_on(ours::w4_build(&dir, 8192, 256, &rounds));
    }
    rt.block_on(ours::timed_open(&dir)); // warm-up
    let times = sorted(
        (0..reps())
            .map(|_| rt.block_on(ours::timed_open(&dir)).0)
            .collect(),
    );
    println!(
        "open median {:.3} ms, min {:.3} ms",
        times[times.len() / 2] * 1e3,
        times[0] * 1e3
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |s: &str| args.iter().any(|a| a == s);
    match args.first().map(String::as_str) {
        Some("w1-write") => w1_write(if flag("random") {
            Data::Random
        } else {
            Data::Pattern
        }),
        Some("w2-windows") => w2_windows(flag("caches"), flag("path")),
        Some("w4-open") => w4_open(),
        _ => {
            eprintln!(
                "usage: phase w1-write [pattern|random] | w2-windows [caches] [path] | w4-open"
            );
            std::process::exit(2);
        }
    }
}
