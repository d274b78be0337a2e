//! A stable, in-process stand-in for the cargo-fuzz targets of `fuzz/`, so
//! that CI (stable Rust, minutes) runs them too.
//!
//! It runs the very same target functions (`fuzz/targets_common.rs`, which
//! this test and the fuzz targets both `include!`): `open_read`,
//! `open_layers` and `footer_decode`, on inputs derived from the committed
//! seed corpus `fuzz/corpus/<target>/` by random mutations (bit flips, byte
//! overwrites with random and boundary values, insertions, deletions,
//! duplications, truncations, splices with another seed, and now and then
//! wholly random bytes), with a fixed RNG seed so every run executes the
//! same inputs. Any panic fails the test: the input is saved to a temporary
//! file and its hex is in the failure message. A watchdog fails the test if
//! one execution takes longer than `AF_FUZZ_HANG_SECS` (default 30 s).
//!
//! Knobs (environment): `AF_FUZZ_EXECS` (default 100000), `AF_FUZZ_SECS`
//! (time bound, default 60), `AF_FUZZ_SEED` (default 0x5eed).
//! With `--nocapture` it prints
//! `fuzz driver: N executions, 0 panics` and per-target figures.
//!
//! `generate_fuzz_seeds` (ignored) rewrites `fuzz/base_layer.bin` (only with
//! `AF_NEW_BASE=1`) and the seed corpus; see `fuzz/README.md`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use crate::common::Rng;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[allow(dead_code)]
mod targets {
    include!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fuzz/targets_common.rs"
    ));
}

type Target = fn(&[u8]) -> bool;

const TARGETS: [(&str, Target); 3] = [
    ("open_read", targets::open_read),
    ("open_layers", targets::open_layers),
    ("footer_decode", targets::footer_decode),
];

fn fuzz_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

fn env_u64(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => {
            let v = v.trim();
            match v.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16),
                None => v.parse(),
            }
            .unwrap_or_else(|_| panic!("{name}={v} is not a number"))
        }
        Err(_) => default,
    }
}

/// The committed seeds of `target`, sorted by file name.
fn load_corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = fuzz_dir().join("corpus").join(target);
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("seed corpus {} missing: {e}", dir.display()))
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    out.sort();
    assert!(!out.is_empty(), "seed corpus {} is empty", dir.display());
    out
}

const INTERESTING: [u8; 8] = [0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff, 0x40, 0x10];

/// One random mutation of `input` in place; `other` is another seed of the
/// same target for splices.
fn mutate_once(rng: &mut Rng, input: &mut Vec<u8>, other: &[u8]) {
    let len = input.len();
    match rng.below(12) {
        // Flip one bit.
        0 | 1 if len > 0 => {
            let i = rng.below(len);
            input[i] ^= 1 << rng.below(8);
        }
        // Overwrite a byte with a random or a boundary value.
        2 if len > 0 => {
            let i = rng.below(len);
            input[i] = rng.byte();
        }
        3 if len > 0 => {
            let i = rng.below(len);
            input[i] = INTERESTING[rng.below(INTERESTING.len())];
        }
        // Add or subtract a little.
        4 if len > 0 => {
            let i = rng.below(len);
            let d = (rng.below(16) + 1) as u8;
            input[i] = if rng.below(2) == 0 {
                input[i].wrapping_add(d)
            } else {
                input[i].wrapping_sub(d)
            };
        }
        // Insert 1..=8 random bytes.
        5 => {
            let at = rng.below(len + 1);
            let n = rng.below(8) + 1;
            let bytes: Vec<u8> = (0..n).map(|_| rng.byte()).collect();
            input.splice(at..at, bytes);
        }
        // Delete 1..=16 bytes.
        6 if len > 0 => {
            let at = rng.below(len);
            let n = (rng.below(16) + 1).min(len - at);
            input.drain(at..at + n);
        }
        // Truncate.
        7 => {
            let n = rng.below(len + 1);
            input.truncate(n);
        }
        // Duplicate a range somewhere else.
        8 if len > 0 => {
            let from = rng.below(len);
            let n = (rng.below(32) + 1).min(len - from);
            let piece = input[from..from + n].to_vec();
            let at = rng.below(len + 1);
            input.splice(at..at, piece);
        }
        // Splice: a prefix of this input and a suffix of the other seed.
        9 if !other.is_empty() => {
            let cut = rng.below(len + 1);
            let from = rng.below(other.len());
            input.truncate(cut);
            input.extend_from_slice(&other[from..]);
        }
        // Overwrite a little-endian u32/u64 with a boundary value.
        10 if len >= 8 => {
            let i = rng.below(len - 7);
            let v: u64 = match rng.below(5) {
                0 => 0,
                1 => u64::MAX,
                2 => u64::from(u32::MAX),
                3 => 1 << 32,
                _ => rng.next() >> rng.below(64),
            };
            let w = if rng.below(2) == 0 { 4 } else { 8 };
            input[i..i + w].copy_from_slice(&v.to_le_bytes()[..w]);
        }
        // Now and then: random bytes.
        11 if rng.below(8) == 0 => {
            let n = rng.below(256);
            *input = (0..n).map(|_| rng.byte()).collect();
        }
        _ => {
            if len > 0 {
                let i = rng.below(len);
                input[i] ^= 0xff;
            }
        }
    }
}

fn mutate(rng: &mut Rng, seed: &[u8], other: &[u8]) -> Vec<u8> {
    let mut input = seed.to_vec();
    let rounds = 1 + rng.below(4);
    for _ in 0..rounds {
        mutate_once(rng, &mut input, other);
    }
    input
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "<non-string panic payload>".to_owned()
    }
}

/// Saves a failing input where a developer can find it; returns the path.
fn save_input(target: &str, n: u64, input: &[u8]) -> PathBuf {
    let path = std::env::temp_dir().join(format!("af-fuzz-{target}-{n}.bin"));
    std::fs::write(&path, input).unwrap();
    path
}

/// What the worker is running, for the watchdog.
struct Current {
    target: &'static str,
    n: u64,
    input: Vec<u8>,
}

#[derive(Default, Clone, Copy)]
struct TargetCounts {
    executions: u64,
    opened: u64,
}

#[test]
fn fuzz_driver() {
    let max_execs = env_u64("AF_FUZZ_EXECS", 100_000);
    let max_secs = env_u64("AF_FUZZ_SECS", 60);
    let hang_secs = env_u64("AF_FUZZ_HANG_SECS", 30);
    let seed = env_u64("AF_FUZZ_SEED", 0x5eed);

    let corpora: Vec<Vec<(String, Vec<u8>)>> =
        TARGETS.iter().map(|(name, _)| load_corpus(name)).collect();

    let done = Arc::new(AtomicU64::new(0));
    let current = Arc::new(Mutex::new(Current {
        target: "",
        n: 0,
        input: Vec::new(),
    }));
    let worker = {
        let done = done.clone();
        let current = current.clone();
        std::thread::spawn(move || -> Result<[TargetCounts; 3], String> {
            let start = Instant::now();
            let mut counts = [TargetCounts::default(); 3];
            let mut rng = Rng::new(seed);
            let run = |t: usize, n: u64, input: Vec<u8>, counts: &mut [TargetCounts; 3]| {
                let (name, target) = TARGETS[t];
                *current.lock().unwrap() = Current {
                    target: name,
                    n,
                    input: input.clone(),
                };
                let result = catch_unwind(AssertUnwindSafe(|| target(&input)));
                done.fetch_add(1, Ordering::SeqCst);
                counts[t].executions += 1;
                match result {
                    Ok(opened) => {
                        counts[t].opened += u64::from(opened);
                        Ok(opened)
                    }
                    Err(p) => {
                        let path = save_input(name, n, &input);
                        Err(format!(
                            "target {name} panicked on execution {n} (seed {seed:#x}): {}\n\
                             input ({} bytes) saved to {}\nhex: {}",
                            panic_message(p.as_ref()),
                            input.len(),
                            path.display(),
                            hex(&input)
                        ))
                    }
                }
            };
            // Every seed unmutated first: the seeds built on the base must
            // open and read back completely, or the corpus is stale.
            let mut n = 0u64;
            for (t, corpus) in corpora.iter().enumerate() {
                for (file, bytes) in corpus {
                    let opened = run(t, n, bytes.clone(), &mut counts)?;
                    n += 1;
                    let name = TARGETS[t].0;
                    // Every seed but the layers fed to open_read as a base
                    // must open: they are real files built on the base. The
                    // footers of seeds an older version wrote (`v3-…`) are
                    // given a trailer of the current one, so they need not.
                    let older = older_seed(file);
                    let stem = match file.split_once('-') {
                        Some((_, stem)) if older => stem,
                        _ => file.as_str(),
                    };
                    let must_open = (name != "open_read" || stem.starts_with("base"))
                        && !(name == "footer_decode" && older);
                    if must_open && !opened {
                        return Err(format!(
                            "seed {name}/{file} does not open and read back: regenerate the \
                             corpus (fuzz/README.md)"
                        ));
                    }
                }
            }
            while n < max_execs && start.elapsed() < Duration::from_secs(max_secs) {
                let t = (n % TARGETS.len() as u64) as usize;
                let corpus = &corpora[t];
                let a = &corpus[rng.below(corpus.len())].1;
                let b = &corpus[rng.below(corpus.len())].1;
                let input = mutate(&mut rng, a, b);
                run(t, n, input, &mut counts)?;
                n += 1;
            }
            Ok(counts)
        })
    };

    // Watchdog: fail if one execution hangs.
    let started = Instant::now();
    let mut last = (0u64, Instant::now());
    while !worker.is_finished() {
        std::thread::sleep(Duration::from_millis(50));
        let now = done.load(Ordering::SeqCst);
        if now != last.0 {
            last = (now, Instant::now());
        } else if last.1.elapsed() > Duration::from_secs(hang_secs) {
            let cur = current.lock().unwrap();
            let path = save_input(cur.target, cur.n, &cur.input);
            panic!(
                "target {} hangs (> {hang_secs} s) on execution {}: input ({} bytes) saved to {}\nhex: {}",
                cur.target,
                cur.n,
                cur.input.len(),
                path.display(),
                hex(&cur.input)
            );
        }
    }
    let counts = match worker.join() {
        Ok(Ok(counts)) => counts,
        Ok(Err(failure)) => panic!("{failure}"),
        Err(p) => panic!("fuzz driver worker panicked: {}", panic_message(p.as_ref())),
    };
    let total: u64 = counts.iter().map(|c| c.executions).sum();
    let secs = started.elapsed().as_secs_f64();
    for ((name, _), c) in TARGETS.iter().zip(&counts) {
        println!(
            "  {name}: {} executions, {} opened and read back completely",
            c.executions, c.opened
        );
    }
    println!(
        "fuzz driver: {total} executions, 0 panics ({secs:.1} s, {:.0} exec/s, seed {seed:#x})",
        total as f64 / secs
    );
}

/// Rewrites the seed corpus `fuzz/corpus/<target>/` from real files built on
/// `fuzz/base_layer.bin`; with `AF_NEW_BASE=1` first writes a new base with
/// `ArrayFile::create` (then every seed changes).
#[test]
#[ignore = "rewrites fuzz/corpus (and with AF_NEW_BASE=1 fuzz/base_layer.bin); run by hand"]
fn generate_fuzz_seeds() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let dir = fuzz_dir();
    let base =
        if std::env::var("AF_NEW_BASE").is_ok_and(|v| v == "1") || targets::BASE_LAYER.is_empty() {
            let base = rt.block_on(targets::fresh_base());
            std::fs::write(dir.join("base_layer.bin"), &base).unwrap();
            base
        } else {
            targets::BASE_LAYER.to_vec()
        };
    let seeds = rt.block_on(targets::seed_inputs(&base));
    // Seeds older versions wrote (`v3-…`) stay; the others are replaced.
    for (target, _) in TARGETS {
        let d = dir.join("corpus").join(target);
        std::fs::create_dir_all(&d).unwrap();
        for entry in std::fs::read_dir(&d).unwrap() {
            let entry = entry.unwrap();
            if !older_seed(&entry.file_name().to_string_lossy()) {
                std::fs::remove_file(entry.path()).unwrap();
            }
        }
    }
    for (target, name, bytes) in &seeds {
        let path = dir.join("corpus").join(target).join(name);
        std::fs::write(&path, bytes).unwrap();
        println!("{} ({} bytes)", path.display(), bytes.len());
    }
}

/// Whether seed `file` was written by an older format version and kept
/// (named `v<version>-<name>`).
fn older_seed(file: &str) -> bool {
    file.split_once('-').is_some_and(|(v, _)| {
        v.strip_prefix('v')
            .is_some_and(|n| n.parse::<u16>().is_ok())
    })
}

/// Every input a fuzzer once crashed or tripped on (`fuzz/artifacts/<target>/`)
/// stays a regression test: it must run to completion without a panic.
#[test]
fn past_fuzz_findings_do_not_panic() {
    let mut ran = 0;
    for (name, target) in TARGETS {
        let dir = fuzz_dir().join("artifacts").join(name);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            let input = std::fs::read(&path).unwrap();
            let result = catch_unwind(AssertUnwindSafe(|| target(&input)));
            assert!(result.is_ok(), "{name}: {} panics", path.display());
            ran += 1;
        }
    }
    assert!(
        ran >= 3,
        "expected the recorded findings under fuzz/artifacts, ran {ran}"
    );
}
