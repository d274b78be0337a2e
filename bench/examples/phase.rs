//! One phase of a workload, repeated in a process of its own: for `perf`
//! and for before/after comparisons of a change (build the example at each
//! commit and alternate the runs), where a full `cargo bench` run mixes in
//! every other system and phase.
//!
//! ```text
//! cargo run --release --example phase -- w1-write [pattern|random]
//! cargo run --release --example phase -- w2-windows [caches] [path]
//! cargo run --release --example phase -- w4-open
//! cargo run --release --example phase -- w1-parts [pattern|random] [none]
//! ```
//!
//! `w1-write`: W1's 25,000 arrays written, flushed and compacted with lz4,
//! `AF_BENCH_REPS` times (default 3). `w2-windows`: W2's file (written by
//! `cargo bench --bench w2` into `AF_BENCH_DIR`, or here if absent) read
//! through `object_store` (with `path`: opened with `open_path`) in 2,000
//! random windows, caches off unless `caches`; mean and median per window. `w4-open`: W4's 201-layer file
//! (built once into `AF_BENCH_DIR/w4-phase`) opened `AF_BENCH_REPS` times;
//! median and minimum. `w1-parts`: W1's 25,000 arrays (lz4, or `none`)
//! committed in two ways, both as a layer of definitions and a layer of
//! data: flushed by one handle, and staged by 8 handles whose parts one
//! `commit_parts` adopts; then every array read (24 tasks x 8 reads), from
//! each file in turn, `AF_BENCH_REPS` times (default 3), with `open_path`,
//! through `object_store`'s `LocalFileSystem` and in memory; medians.
//! `AF_BENCH_SCALE` does not apply.

use std::sync::Arc;

use af_bench::{Data, dir_of, fresh_dir, ours, reps, zarrs_peer::Codec};
use object_store::ObjectStore;
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

/// Writes W1 arrays `range` into `f`.
async fn write_range(
    f: &mut array_format::ArrayFile,
    arrays: &[Vec<i32>],
    range: std::ops::Range<usize>,
) {
    for i in range {
        let v = ndarray::ArrayView::from_shape(vec![arrays[i].len()], &arrays[i])
            .expect("shape")
            .into_dyn();
        f.write_array(&ours::name(i), vec![0], v)
            .await
            .expect("write");
    }
}

/// W1's arrays committed through 8 staged parts (`parts`) or by one
/// flush, into a file whose arrays were defined (and flushed) first: two
/// layers either way.
async fn w1_commit(store: Arc<dyn ObjectStore>, codec: Codec, arrays: &[Vec<i32>], parts: bool) {
    use array_format::{ArrayFile, Lz4Codec, NoCompression};
    let path = || object_store::path::Path::from("bench.af");
    let open = || async {
        match codec {
            Codec::None => {
                ArrayFile::open(Arc::clone(&store), path(), ours::config(NoCompression)).await
            }
            _ => ArrayFile::open(Arc::clone(&store), path(), ours::config(Lz4Codec)).await,
        }
        .expect("open")
    };
    let mut file = match codec {
        Codec::None => {
            ArrayFile::create(Arc::clone(&store), path(), ours::config(NoCompression)).await
        }
        _ => ArrayFile::create(Arc::clone(&store), path(), ours::config(Lz4Codec)).await,
    }
    .expect("create");
    for (i, values) in arrays.iter().enumerate() {
        file.define_array::<i32>(
            ours::name(i),
            vec!["x".into()],
            vec![values.len()],
            None,
            None,
        )
        .expect("define");
    }
    file.flush().await.expect("flush the definitions");
    if !parts {
        write_range(&mut file, arrays, 0..arrays.len()).await;
        file.flush().await.expect("flush");
        return;
    }
    let per = arrays.len().div_ceil(8);
    let mut staged = Vec::new();
    for w in 0..8 {
        let mut worker = open().await;
        write_range(
            &mut worker,
            arrays,
            w * per..((w + 1) * per).min(arrays.len()),
        )
        .await;
        staged.push(worker.stage().await.expect("stage"));
    }
    file.commit_parts(&staged).await.expect("commit_parts");
    assert_eq!(file.num_layers(), 2);
}

fn w1_parts(data: Data, codec: Codec) {
    use object_store::memory::InMemory;
    let rt = af_bench::runtime();
    let arrays: Vec<Vec<i32>> = (0..25_000).map(|i| data.i32s(i, 10_000)).collect();
    let n = arrays.len();
    let mut dirs = Vec::new();
    let mut memory = Vec::new();
    for (name, parts) in [("w1-flushed", false), ("w1-parts", true)] {
        let dir = fresh_dir(name);
        let store = Arc::new(LocalFileSystem::new_with_prefix(&dir).expect("local store"));
        rt.block_on(w1_commit(store, codec, &arrays, parts));
        dirs.push((name, dir));
        let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        rt.block_on(w1_commit(Arc::clone(&store), codec, &arrays, parts));
        let file = rt
            .block_on(array_format::ArrayFile::open(
                store,
                object_store::path::Path::from("bench.af"),
                ours::config(array_format::Lz4Codec),
            ))
            .expect("open in memory");
        memory.push(Arc::new(file));
    }
    let gib = (n * 10_000 * 4) as f64 / f64::from(1u32 << 30);
    let mut table: Vec<(String, Vec<f64>)> = Vec::new();
    let mut record = |label: String, secs: f64| match table.iter_mut().find(|(l, _)| *l == label) {
        Some((_, v)) => v.push(secs),
        None => table.push((label, vec![secs])),
    };
    for _ in 0..reps() {
        // Each way in turn, so that both meet the same machine.
        for (k, (name, dir)) in dirs.iter().enumerate() {
            record(
                format!("{name}, open_path"),
                rt.block_on(ours::w1_read_disk(dir, codec, n)),
            );
            record(
                format!("{name}, LocalFileSystem"),
                rt.block_on(ours::w1_read_disk_via_store(dir, codec, n)),
            );
            let file = Arc::clone(&memory[k]);
            let t = std::time::Instant::now();
            rt.block_on(ours::read_all(file, n, 24, 8));
            record(format!("{name}, memory"), t.elapsed().as_secs_f64());
        }
    }
    for (label, times) in table {
        let times = sorted(times);
        let median = times[times.len() / 2];
        println!(
            "read all {label}: median {:.3} s ({:.2} GiB/s), min {:.3} s",
            median,
            gib / median,
            times[0]
        );
    }
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
        Some("w1-parts") => w1_parts(
            if flag("random") {
                Data::Random
            } else {
                Data::Pattern
            },
            if flag("none") {
                Codec::None
            } else {
                Codec::Lz4
            },
        ),
        _ => {
            eprintln!(
                "usage: phase w1-write [pattern|random] | w2-windows [caches] [path] | w4-open | w1-parts [pattern|random] [none]"
            );
            std::process::exit(2);
        }
    }
}
