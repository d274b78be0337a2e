//! Shared machinery of the side-by-side benchmarks: workload sizes, timing,
//! peak memory, data generators, the machine's limits and the result table.
//!
//! Every bench binary (`benches/w*.rs`) measures array-format, its peers and
//! the relevant physical limit in one run and prints one Markdown table, so
//! that the ratios compare numbers taken on the same machine minutes apart.

use std::path::PathBuf;
use std::time::Instant;

use rand::{Rng, SeedableRng};

pub mod af;
pub mod af_remote;
#[cfg(feature = "hdf5")]
pub mod hdf5_peer;
pub mod remote;
pub mod timed_store;
pub mod zarrs_peer;
pub mod zarrs_s3;

af_drivers!(ours, array_format, open_path);
af_drivers!(v010, af010, open_store);

/// The factor `AF_BENCH_SCALE` applies to every workload's size (default 1).
pub fn scale() -> f64 {
    std::env::var("AF_BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| *s > 0.0)
        .unwrap_or(1.0)
}

/// `n` scaled by [`scale`], at least 1.
pub fn scaled(n: usize) -> usize {
    ((n as f64 * scale()).round() as usize).max(1)
}

/// Repetitions per measurement (`AF_BENCH_REPS`, default 3); the median is
/// reported.
pub fn reps() -> usize {
    std::env::var("AF_BENCH_REPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|&n: &usize| n > 0)
        .unwrap_or(3)
}

/// Whether this run measures `system` (one of [`OURS`], [`V010`], [`ZARRS`],
/// [`HDF5`]): `AF_BENCH_SYSTEMS` names the ones to run, comma-separated, as
/// `ours`, `v010`, `zarrs` and `hdf5`; unset runs them all. Limits always
/// run. Meant for quick iterations on one system; published tables come
/// from full runs.
pub fn wants(system: &str) -> bool {
    let Ok(list) = std::env::var("AF_BENCH_SYSTEMS") else {
        return true;
    };
    let short = match system {
        OURS => "ours",
        V010 => "v010",
        ZARRS => "zarrs",
        HDF5 => "hdf5",
        other => other,
    };
    list.split(',').any(|s| s.trim() == short)
}

/// Whether this run measures the case labelled `tag` (as "lz4, pattern"):
/// `AF_BENCH_CASES` lists, separated by `;`, the text that a wanted label
/// contains; unset runs every case.
pub fn wants_case(tag: &str) -> bool {
    std::env::var("AF_BENCH_CASES")
        .map_or(true, |list| list.split(';').any(|c| tag.contains(c.trim())))
}

/// A fresh, empty directory for one system's files: under `AF_BENCH_DIR` if
/// set, else under the system's temporary directory.
pub fn fresh_dir(name: &str) -> PathBuf {
    let dir = dir_of(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create the bench directory");
    dir
}

/// The directory [`fresh_dir`] gives out for `name`, as it is.
pub fn dir_of(name: &str) -> PathBuf {
    std::env::var_os("AF_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("af-bench"))
        .join(name)
}

/// Runs `f` [`reps`] times and returns the median of the seconds it reports.
/// `f` times itself so that it can leave set-up out.
pub fn median_of(mut f: impl FnMut() -> f64) -> f64 {
    let mut v: Vec<f64> = (0..reps()).map(|_| f()).collect();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Seconds taken by `f`.
pub fn secs(f: impl FnOnce()) -> f64 {
    let t = Instant::now();
    f();
    t.elapsed().as_secs_f64()
}

/// Peak resident set size of this process so far, in bytes (Linux).
pub fn peak_rss() -> u64 {
    proc_status_kib("VmHWM:") * 1024
}

/// Current resident set size, in bytes (Linux).
pub fn current_rss() -> u64 {
    proc_status_kib("VmRSS:") * 1024
}

/// Resets the peak resident set size to the current one (Linux), so that a
/// phase's peak can be read with [`peak_rss`] afterwards.
pub fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn proc_status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// A multi-threaded runtime with as many workers as the seeds' profile uses.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(32)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// How the values of a workload are generated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Data {
    /// The seeds' profile: every element is 1 (compresses extremely well).
    Pattern,
    /// Uniformly random values (incompressible, like most measured data).
    Random,
}

impl Data {
    /// Short label for tables.
    pub fn label(self) -> &'static str {
        match self {
            Data::Pattern => "pattern",
            Data::Random => "random",
        }
    }

    /// The `i`-th array of `n` elements.
    pub fn i32s(self, i: usize, n: usize) -> Vec<i32> {
        match self {
            Data::Pattern => vec![1; n],
            Data::Random => {
                let mut rng = rand::rngs::StdRng::seed_from_u64(i as u64);
                (0..n).map(|_| rng.random()).collect()
            }
        }
    }
}

/// `n` f32 values that compress like measured data: a smooth signal plus
/// noise in the low mantissa bits (zstd reaches roughly 1.2-1.5x).
pub fn f32_signal(seed: u64, n: usize) -> Vec<f32> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    (0..n)
        .map(|i| (i as f32 * 0.001).sin() * 100.0 + rng.random::<f32>())
        .collect()
}

/// Reinterprets a slice of plain numbers as bytes.
pub fn as_bytes<T: Copy>(v: &[T]) -> &[u8] {
    // SAFETY: only used with i32/f32, which have no padding and whose every
    // byte is initialised.
    #[allow(unsafe_code)]
    unsafe {
        std::slice::from_raw_parts(v.as_ptr().cast::<u8>(), std::mem::size_of_val(v))
    }
}

/// Single-thread memcpy bandwidth in bytes per second, copying `total` bytes
/// in pieces of `piece` bytes into a buffer that is already mapped: the
/// ceiling for reads that only move bytes.
pub fn memcpy_bandwidth(total: usize, piece: usize) -> f64 {
    let src: Vec<u8> = (0..total).map(|i| i as u8).collect();
    let mut dst = vec![0u8; total];
    median_of(|| {
        secs(|| {
            for (d, s) in dst.chunks_mut(piece).zip(src.chunks(piece)) {
                d.copy_from_slice(s);
            }
            std::hint::black_box(&mut dst);
        })
    })
    .recip()
        * total as f64
}

/// One line of a result table.
pub struct Row {
    /// Workload and variant, e.g. "W1 read, lz4, pattern".
    pub case: String,
    /// The system measured.
    pub system: String,
    /// The measured value.
    pub value: f64,
    /// Its unit, e.g. "s", "GiB/s", "ms".
    pub unit: &'static str,
    /// Whether a larger value is better (throughput) or worse (time).
    pub higher_is_better: bool,
}

/// Rows of one bench run, printed as a Markdown table whose last column
/// compares each system with array-format in the same case.
#[derive(Default)]
pub struct Table {
    rows: Vec<Row>,
}

/// The name array-format goes by in the tables.
pub const OURS: &str = "array-format";
/// array-format reading local files through `object_store`'s
/// `LocalFileSystem`, as code written for 0.10 does (its main row opens them
/// with `open_path`).
pub const OURS_STORE: &str = "array-format, object_store local";
/// Its previous release.
pub const V010: &str = "array-format 0.10";
/// zarrs with the sharding codec.
pub const ZARRS: &str = "zarrs sharded";
/// HDF5 through hdf5-metno.
pub const HDF5: &str = "HDF5";

impl Table {
    /// Adds a time in seconds (lower is better), shown in `unit`.
    pub fn time(&mut self, case: &str, system: &str, secs: f64, unit: &'static str) {
        let value = match unit {
            "ms" => secs * 1e3,
            "us" => secs * 1e6,
            _ => secs,
        };
        self.push(case, system, value, unit, false);
    }

    /// Adds a throughput (higher is better).
    pub fn rate(&mut self, case: &str, system: &str, value: f64, unit: &'static str) {
        self.push(case, system, value, unit, true);
    }

    /// Adds any value.
    pub fn push(
        &mut self,
        case: &str,
        system: &str,
        value: f64,
        unit: &'static str,
        higher_is_better: bool,
    ) {
        eprintln!("  {case:<44} {system:<34} {value:>12.4} {unit}");
        self.rows.push(Row {
            case: case.into(),
            system: system.into(),
            value,
            unit,
            higher_is_better,
        });
    }

    /// Prints the table. "ours / this" is how many times better array-format
    /// is than the row's system (>1: array-format wins).
    pub fn print(&self, title: &str) {
        println!("\n### {title}\n");
        println!(
            "machine: {} cores, scale {}, median of {} runs\n",
            std::thread::available_parallelism().map_or(0, |n| n.get()),
            scale(),
            reps()
        );
        println!("| case | system | value | unit | array-format advantage |");
        println!("| --- | --- | ---: | --- | ---: |");
        for r in &self.rows {
            let ours = self
                .rows
                .iter()
                .find(|o| o.case == r.case && o.system == OURS)
                .map(|o| o.value);
            let ratio = match ours {
                Some(o) if r.system != OURS && o > 0.0 && r.value > 0.0 => {
                    let x = if r.higher_is_better {
                        o / r.value
                    } else {
                        r.value / o
                    };
                    format!("{x:.2}x")
                }
                _ => String::new(),
            };
            println!(
                "| {} | {} | {} | {} | {} |",
                r.case,
                r.system,
                fmt_value(r.value),
                r.unit,
                ratio
            );
        }
    }
}

fn fmt_value(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.4}")
    }
}

/// Splits `0..n` into `parts` interleaved partitions, as the seeds' profile
/// distributes arrays over its tasks.
pub fn partitions(n: usize, parts: usize) -> Vec<Vec<usize>> {
    let mut out: Vec<Vec<usize>> = (0..parts).map(|_| Vec::new()).collect();
    for i in 0..n {
        out[i % parts].push(i);
    }
    out
}

/// `k` distinct indices below `n` in random order (all of `0..n` if `k >= n`).
pub fn random_indices(n: usize, k: usize, seed: u64) -> Vec<usize> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut v: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let j = rng.random_range(0..=i);
        v.swap(i, j);
    }
    v.truncate(k.min(n));
    v
}

/// Sum of a directory's file sizes in bytes.
pub fn dir_bytes(dir: &std::path::Path) -> u64 {
    let mut total = 0;
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            match e.metadata() {
                Ok(m) if m.is_dir() => total += dir_bytes(&e.path()),
                Ok(m) => total += m.len(),
                Err(_) => {}
            }
        }
    }
    total
}
