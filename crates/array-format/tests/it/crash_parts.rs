//! Crash points of writes from many handles: several handles stage parts
//! (one above the 16 MiB single-put limit, so it streams to a staging
//! object first), a coordinator commits them as one layer, then compacts
//! (copying the adopted frames, deleting the layer and the parts). For
//! every mutating request k of that run, once refused and once performed
//! with its reply lost, the run stops at the first error and the file,
//! reopened on the healthy store, must hold the old version or the new one
//! (never a layer whose parts are missing: every value is read and `verify`
//! must find nothing damaged). Then the run is finished as a real
//! coordinator would after a crash: the workers whose `stage` did not
//! return stage again, the coordinator repeats `commit_parts` with every
//! part unless it was acknowledged (then it repeats the compaction), and
//! the result must be the new version; `vacuum` with no grace then leaves
//! no part that no layer adopted.
//!
//! With `--nocapture` it prints `staged-part crash points: N tried, N
//! recovered (A at the old version, B at the new one: C with the layer
//! adopting the parts, D compacted), parts left by crashed runs: P (in R
//! runs)`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::Arc;
use std::time::Duration;

use crate::common::FaultyStore;
use array_format::{ArrayFile, FileConfig, Lz4Codec, NoCompression, Result, StagedPart};
use ndarray::{ArrayD, IxDyn};
use object_store::ObjectStore;
use object_store::memory::InMemory;
use object_store::path::Path;

const PATH: &str = "cp.af";
const WORKERS: usize = 3;
const ROWS: usize = 4;
const COLS: usize = 4;
/// f32 elements of the big worker's array: 17 MiB, so its part streams
/// through a staging object.
const BIG_LEN: usize = 17 * 1024 * 1024 / 4;

fn config() -> FileConfig<Lz4Codec> {
    FileConfig {
        frame_target_size: 64,
        // Replaced layers are deleted at once: the harshest case for the
        // protocol (a reader or a stale writer finds its layers gone).
        retention: Duration::ZERO,
        ..FileConfig::new(Lz4Codec)
    }
}

async fn open(store: &Arc<dyn ObjectStore>) -> Result<ArrayFile> {
    ArrayFile::open(Arc::clone(store), Path::from(PATH), config()).await
}

/// The file before the run: `grid` (i32, WORKERS * 2 chunks of rows) and
/// `big` (f32), committed, nothing written.
async fn setup(store: &Arc<dyn ObjectStore>) {
    let mut f = ArrayFile::create(Arc::clone(store), Path::from(PATH), config())
        .await
        .unwrap();
    f.define_array::<i32>(
        "grid",
        vec![],
        vec![WORKERS * 2 * ROWS, COLS],
        Some(vec![ROWS, COLS]),
        None,
    )
    .unwrap();
    f.define_array::<f32>("big", vec![], vec![BIG_LEN], Some(vec![BIG_LEN]), None)
        .unwrap();
    f.flush().await.unwrap();
}

fn big_values() -> Vec<f32> {
    // Incompressible: the part stays above the single-put limit.
    let mut x = 0x2545_f491_4f6c_dd1du64;
    (0..BIG_LEN)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            f32::from_bits((x as u32 & 0x3fff_ffff) | 0x0080_0000)
        })
        .collect()
}

/// Worker `w` writes its two chunks of rows of `grid`; the last worker
/// also writes `big` (through an uncompressed handle).
async fn stage(store: &Arc<dyn ObjectStore>, w: usize, big: &[f32]) -> Result<StagedPart> {
    if w == WORKERS {
        let config = FileConfig::new(NoCompression);
        let mut f = ArrayFile::open(Arc::clone(store), Path::from(PATH), config).await?;
        let data = ArrayD::from_shape_vec(IxDyn(&[BIG_LEN]), big.to_vec()).unwrap();
        f.write_array("big", vec![0], data.view()).await?;
        return f.stage().await;
    }
    let mut f = open(store).await?;
    let rows = 2 * ROWS;
    let data = ArrayD::from_shape_fn(IxDyn(&[rows, COLS]), |i| {
        (w * 1000 + i[0] * 10 + i[1]) as i32
    });
    f.write_array("grid", vec![w * rows, 0], data.view())
        .await?;
    f.stage().await
}

/// How far a run got.
#[derive(Default)]
struct Run {
    /// The parts whose `stage` returned, by worker (the big one last).
    parts: Vec<Option<StagedPart>>,
    committed: bool,
    compacted: bool,
}

/// The run: every worker stages, the coordinator commits and compacts.
async fn run(store: &Arc<dyn ObjectStore>, big: &[f32], done: &mut Run) -> Result<()> {
    done.parts = vec![None; WORKERS + 1];
    for w in 0..=WORKERS {
        done.parts[w] = Some(stage(store, w, big).await?);
    }
    let parts: Vec<StagedPart> = done.parts.iter().flatten().cloned().collect();
    let mut coordinator = open(store).await?;
    coordinator.commit_parts(&parts).await?;
    done.committed = true;
    coordinator.compact().await?;
    done.compacted = true;
    Ok(())
}

/// What a reopened file holds: the values of both arrays (fingerprinted),
/// and its layers.
#[derive(Debug, Clone, PartialEq)]
struct State {
    grid: Vec<i32>,
    big: u64,
    layers: usize,
}

async fn state(store: &Arc<dyn ObjectStore>) -> std::result::Result<State, String> {
    let f = open(store).await.map_err(|e| format!("open: {e}"))?;
    let report = f.verify().await.map_err(|e| format!("verify: {e}"))?;
    if !report.is_ok() {
        return Err(format!("verify found damage: {:?}", report.damaged));
    }
    let grid = f
        .read_array::<i32>("grid", vec![], vec![])
        .await
        .map_err(|e| format!("reading grid: {e}"))?
        .iter()
        .copied()
        .collect();
    let big = f
        .read_array::<f32>("big", vec![], vec![])
        .await
        .map_err(|e| format!("reading big: {e}"))?;
    let big = big.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, v| {
        (h ^ u64::from(v.to_bits())).wrapping_mul(0x0100_0000_01b3)
    });
    Ok(State {
        grid,
        big,
        layers: f.num_layers(),
    })
}

async fn part_objects(store: &Arc<dyn ObjectStore>) -> usize {
    store
        .list_with_delimiter(Some(&Path::from("cp.parts")))
        .await
        .unwrap()
        .objects
        .len()
}

/// Where a crashed run's file was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Found {
    Old,
    Adopting,
    Compacted,
}

/// The old and the new version's content and layers.
struct Versions {
    old: State,
    adopting: State,
    compacted: State,
}

/// Crash point `k` (`lost`: request k performed, its reply lost): where
/// the file was found, and the part objects the crashed run left that no
/// layer adopted.
async fn crash_point(
    k: u64,
    lost: bool,
    big: &[f32],
    v: &Versions,
) -> std::result::Result<(Found, usize), String> {
    let inner: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    setup(&inner).await;
    let faulty = FaultyStore::with_mode(Arc::clone(&inner), Some(k), lost);
    let store: Arc<dyn ObjectStore> = Arc::new(faulty.clone());
    let mut done = Run::default();
    let ended = run(&store, big, &mut done).await;
    let op = faulty.request(k);
    let context = format!(
        "k={k} ({}: `{op}`)",
        if lost { "reply lost" } else { "refused" }
    );
    // Only the deletes after a compaction's snapshot may fail unnoticed:
    // they leave garbage, not a different file.
    if ended.is_ok() && !done.compacted {
        return Err(format!("{context}: the run completed despite the fault"));
    }
    let found = state(&inner)
        .await
        .map_err(|e| format!("{context}: after the crash: {e}"))?;
    let in_flight_commit = done.parts.iter().all(Option::is_some) && !done.committed;
    let found = if found == v.old && !done.committed {
        Found::Old
    } else if found == v.adopting && (done.committed || in_flight_commit) {
        Found::Adopting
    } else if found == v.compacted && done.committed {
        Found::Compacted
    } else {
        return Err(format!(
            "{context}: found {} layers, grid {:?}..., neither the old nor the new version",
            found.layers,
            &found.grid[..4]
        ));
    };

    // Finish the run as a coordinator would.
    if !done.committed {
        let mut parts = Vec::new();
        for (w, part) in done.parts.iter().enumerate() {
            parts.push(match part {
                Some(p) => p.clone(),
                None => stage(&inner, w, big)
                    .await
                    .map_err(|e| format!("{context}: staging again: {e}"))?,
            });
        }
        open(&inner)
            .await
            .map_err(|e| format!("{context}: {e}"))?
            .commit_parts(&parts)
            .await
            .map_err(|e| format!("{context}: the retried commit failed: {e}"))?;
        let now = state(&inner).await?;
        if now != v.adopting {
            return Err(format!(
                "{context}: after the retried commit: {} layers, not the new version",
                now.layers
            ));
        }
    }
    open(&inner)
        .await
        .map_err(|e| format!("{context}: {e}"))?
        .compact()
        .await
        .map_err(|e| format!("{context}: the retried compaction failed: {e}"))?;
    if state(&inner).await? != v.compacted {
        return Err(format!(
            "{context}: the compacted file is not the new version"
        ));
    }
    // Parts of the crashed run that no layer adopted.
    let left = part_objects(&inner).await;
    let mut f = open(&inner).await.map_err(|e| e.to_string())?;
    f.vacuum_with_grace(Duration::ZERO)
        .await
        .map_err(|e| format!("{context}: vacuum: {e}"))?;
    if part_objects(&inner).await != 0 {
        return Err(format!("{context}: vacuum left parts behind"));
    }
    if state(&inner).await? != v.compacted {
        return Err(format!("{context}: vacuum changed the file"));
    }
    Ok((found, left))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staged_part_crash_points() {
    let big = big_values();
    // The healthy run, and the versions it goes through.
    let inner: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    setup(&inner).await;
    let old = state(&inner).await.unwrap();
    let reference = FaultyStore::new(Arc::clone(&inner), None);
    let store: Arc<dyn ObjectStore> = Arc::new(reference.clone());
    let mut parts = Vec::new();
    for w in 0..=WORKERS {
        parts.push(stage(&store, w, &big).await.unwrap());
    }
    let mut coordinator = open(&store).await.unwrap();
    coordinator.commit_parts(&parts).await.unwrap();
    let adopting = state(&inner).await.unwrap();
    coordinator.compact().await.unwrap();
    let compacted = state(&inner).await.unwrap();
    assert_eq!((old.layers, adopting.layers, compacted.layers), (1, 2, 1));
    assert_eq!(adopting.grid, compacted.grid);
    assert_ne!(old.grid, adopting.grid);
    let total = reference.mutations();
    let log = reference.log();
    for what in ["part ", "complete ", "copy ", "delete "] {
        assert!(
            log.iter()
                .any(|m| m.what.starts_with(what) && m.what.contains(".staging")),
            "the healthy run made no `{what}` request on a staging object: {log:#?}"
        );
    }
    assert!(log.iter().any(|m| m.what.contains("cp.parts/")));
    let versions = Versions {
        old,
        adopting,
        compacted,
    };

    let mut violations = Vec::new();
    let (mut tried, mut found_at, mut left, mut left_runs) = (0, [0u64; 3], 0, 0);
    for lost in [false, true] {
        for k in 1..=total {
            tried += 1;
            match crash_point(k, lost, &big, &versions).await {
                Ok((found, parts)) => {
                    found_at[found as usize] += 1;
                    left += parts;
                    left_runs += usize::from(parts > 0);
                }
                Err(v) => violations.push(v),
            }
        }
    }
    println!(
        "staged-part crash points: {tried} tried, {} recovered ({} at the old version, {} at the \
         new one: {} with the layer adopting the parts, {} compacted), part objects left for vacuum \
         (unadopted, or adopted by a layer a compaction replaced): {left} (in {left_runs} runs); {total} mutating requests in the healthy run",
        found_at.iter().sum::<u64>(),
        found_at[0],
        found_at[1] + found_at[2],
        found_at[1],
        found_at[2],
    );
    assert!(
        violations.is_empty(),
        "{} crash points violated the contract:\n  {}",
        violations.len(),
        violations.join("\n  ")
    );
}

#[tokio::test]
async fn a_commit_whose_reply_was_lost_is_not_committed_twice() {
    let inner: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    setup(&inner).await;
    let mut parts = Vec::new();
    for w in 0..WORKERS {
        parts.push(stage(&inner, w, &[]).await.unwrap());
    }
    // The commit's create is performed, its reply lost.
    let faulty = FaultyStore::new_lost_reply(Arc::clone(&inner), Some(1));
    let mut coordinator = ArrayFile::open(Arc::new(faulty), Path::from(PATH), config())
        .await
        .unwrap();
    assert!(coordinator.commit_parts(&parts).await.is_err());
    // The same handle, its store healed, and a fresh one: both find the
    // parts adopted.
    let mut again = open(&inner).await.unwrap();
    let layer = again.latest_layer();
    again.commit_parts(&parts).await.unwrap();
    assert_eq!(again.latest_layer(), layer);
    let grid = again
        .read_array::<i32>("grid", vec![0, 0], vec![1, COLS])
        .await
        .unwrap();
    assert_eq!(grid.iter().copied().collect::<Vec<_>>(), [0, 1, 2, 3]);
    again.commit_parts(&parts[..1]).await.unwrap();
    assert_eq!(again.latest_layer(), layer);
}
