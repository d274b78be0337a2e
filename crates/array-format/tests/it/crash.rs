//! Crash points: a commit interrupted at any storage request leaves a file
//! that opens in either the last acknowledged state or the state the
//! interrupted commit was committing, and that accepts new commits.
//!
//! `crash_points` (run on every backend by `conformance::crash`) runs a
//! deterministic workload (defines of several dtypes,
//! aligned and unaligned writes, deletes, a redefinition with another dtype,
//! attribute changes, flushes, three compactions, and one layer above the
//! 16 MiB single-put limit, committed with a multipart upload to a staging
//! object and `copy_if_not_exists`) once on a healthy store, recording the
//! observable state after `create` and after every acknowledged commit:
//! S0 .. Sn. Then, for every k from 1 to the number of mutating requests of
//! that run (plus one; on a remote backend an evenly spread sample of them,
//! `AF_TEST_REMOTE_SHARE`), it reruns the workload on a fresh store of the
//! backend's kind through a `FaultyStore` that fails mutating request k and
//! every later one, stops at the first error, reopens the file through
//! another client of that store and requires state
//! S_i (last acknowledged commit) or, when a commit was in flight, S_{i+1} —
//! or, for a `compact` that first had to commit pending changes, the state
//! after that flush half. Then it commits a new array on the healthy store
//! and requires it and the recovered state after reopening. Two fault modes
//! run: request k refused (not performed), and request k performed but its
//! reply lost (reported as failed); later requests are refused in both.
//!
//! With `--nocapture` it prints (`AF_CRASH_VERBOSE=1`: also every request of
//! the healthy run and the outcome of every crash point)
//! `crash points: N tried, N recovered (M at S_i, L at S_{i+1}, H at the flush
//! half of a compact, F with no file after an interrupted create), staging
//! leftovers: X (in R runs)`, then the same figures per fault mode.
//!
//! `two_handles_one_compacts` covers a stale writer: handle A's flush after
//! handle B compacted must either be durable or fail keeping A's changes.
//!
//! `create_over_existing_file_crash_points` interrupts `create` over an
//! existing file at every request: opening must find the old file, the new
//! empty one or no file, never a damaged one.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::hash_map::DefaultHasher;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Instant;

use crate::common::{CountingStore, FaultyStore, RequestKind};
use af_testkit::Backend;
use array_format::{
    ArrayElement, ArrayFile, ArrayStats, AttributeValue, DType, Error, FileConfig, FillValue,
    Lz4Codec, MergedArrayMeta, Result,
};
use futures::FutureExt;
use ndarray::{ArrayD, IxDyn};
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};

const PATH: &str = "crash.af";

/// Elements of the large array: 18 MiB of incompressible f32, so its layer
/// (and the snapshot holding it) exceeds the 16 MiB single-put limit.
const BIG_LEN: usize = 4_718_592;
const BIG_CHUNK: usize = 1 << 20;

fn config() -> FileConfig<Lz4Codec> {
    FileConfig {
        block_target_size: 4096,
        frame_target_size: 256,
        ..FileConfig::new(Lz4Codec)
    }
}

fn path() -> Path {
    Path::from(PATH)
}

// ── Deterministic data ──────────────────────────────────────────────

/// SplitMix64.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

fn gen_values<T>(seed: u64, n: usize, f: impl Fn(u64) -> T) -> Vec<T> {
    let mut rng = Rng::new(seed);
    (0..n).map(|_| f(rng.next())).collect()
}

// ── The workload ────────────────────────────────────────────────────

#[derive(Debug, Clone)]
enum Step {
    Define {
        name: &'static str,
        dtype: DType,
        shape: Vec<usize>,
        chunk: Option<Vec<usize>>,
        fill: Option<FillValue>,
    },
    Write {
        name: &'static str,
        start: Vec<usize>,
        shape: Vec<usize>,
        seed: u64,
    },
    Delete(&'static str),
    SetAttr(&'static str, &'static str, AttributeValue),
    RemoveAttr(&'static str, &'static str),
    Flush,
    Compact,
}

impl Step {
    fn is_commit(&self) -> bool {
        matches!(self, Step::Flush | Step::Compact)
    }

    /// A one-line description without bulky data.
    fn describe(&self) -> String {
        match self {
            Step::Define {
                name,
                dtype,
                shape,
                chunk,
                ..
            } => format!("define {name} {dtype:?} {shape:?} chunks {chunk:?}"),
            Step::Write {
                name, start, shape, ..
            } => format!("write {name} at {start:?} shape {shape:?}"),
            Step::Delete(name) => format!("delete {name}"),
            Step::SetAttr(name, key, _) => format!("set attribute {name}.{key}"),
            Step::RemoveAttr(name, key) => format!("remove attribute {name}.{key}"),
            Step::Flush => "flush".into(),
            Step::Compact => "compact".into(),
        }
    }
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::String(v.into())
}

fn define(
    name: &'static str,
    dtype: DType,
    shape: Vec<usize>,
    chunk: Option<Vec<usize>>,
    fill: Option<FillValue>,
) -> Step {
    Step::Define {
        name,
        dtype,
        shape,
        chunk,
        fill,
    }
}

fn write(name: &'static str, start: Vec<usize>, shape: Vec<usize>, seed: u64) -> Step {
    Step::Write {
        name,
        start,
        shape,
        seed,
    }
}

fn workload() -> Vec<Step> {
    use Step::{Compact, Delete, Flush, RemoveAttr, SetAttr};
    vec![
        define(
            "grid",
            DType::Int32,
            vec![40, 30],
            Some(vec![8, 8]),
            Some(FillValue::Int(-1)),
        ),
        define("series", DType::Float64, vec![500], Some(vec![64]), None),
        define(
            "labels",
            DType::String,
            vec![50],
            Some(vec![16]),
            Some(FillValue::String("?".into())),
        ),
        write("grid", vec![0, 0], vec![16, 16], 1), // aligned
        write("grid", vec![10, 5], vec![13, 17], 2), // unaligned, overlapping
        write("series", vec![0], vec![300], 3),
        write("labels", vec![3], vec![20], 4),
        SetAttr("grid", "units", s("m")),
        SetAttr("series", "scale", AttributeValue::Float64(0.5)),
        SetAttr(
            "labels",
            "tags",
            AttributeValue::StringList(vec!["a".into(), "b".into()]),
        ),
        Flush,
        write("series", vec![250], vec![200], 5), // unaligned over a committed chunk
        SetAttr("grid", "version", AttributeValue::Int32(2)),
        Flush,
        define("flags", DType::UInt8, vec![100], Some(vec![32]), None),
        write("flags", vec![0], vec![100], 6),
        Compact, // with pending changes: a flush, then the snapshot
        Delete("series"),
        RemoveAttr("grid", "units"),
        write("grid", vec![32, 24], vec![8, 6], 7), // aligned edge chunk
        Flush,
        // Redefinition of a deleted name with another dtype.
        define(
            "series",
            DType::Int64,
            vec![64],
            Some(vec![16]),
            Some(FillValue::Int(7)),
        ),
        write("series", vec![5], vec![20], 8),
        SetAttr("series", "kind", s("counter")),
        write("labels", vec![40], vec![10], 9),
        RemoveAttr("labels", "tags"),
        SetAttr("labels", "tags", AttributeValue::Int64List(vec![1, 2, 3])),
        Flush,
        Delete("flags"),
        write("grid", vec![3, 3], vec![2, 2], 10),
        Flush,
        Compact, // nothing pending
        // One layer above the single-put limit: multipart + copy_if_not_exists.
        define(
            "big",
            DType::Float32,
            vec![BIG_LEN],
            Some(vec![BIG_CHUNK]),
            None,
        ),
        write("big", vec![0], vec![BIG_LEN], 11),
        Flush,
        write("big", vec![1_000_000], vec![100], 12),
        SetAttr("big", "note", s("patched")),
        Flush,
        Compact, // the snapshot exceeds 16 MiB as well
        define("tail", DType::Bool, vec![10], None, None),
        write("tail", vec![2], vec![5], 13),
        Delete("big"),
        Flush,
        Compact, // drops the large layers
        SetAttr("tail", "done", AttributeValue::Bool(true)),
        Flush,
    ]
}

fn define_typed<T: ArrayElement>(
    file: &mut ArrayFile,
    name: &str,
    shape: &[usize],
    chunk: &Option<Vec<usize>>,
    fill: &Option<FillValue>,
) -> Result<()> {
    let dims = (0..shape.len()).map(|d| format!("d{d}")).collect();
    file.define_array::<T>(name, dims, shape.to_vec(), chunk.clone(), fill.clone())
}

async fn write_typed<T: ArrayElement>(
    file: &mut ArrayFile,
    name: &str,
    start: &[usize],
    shape: &[usize],
    data: Vec<T>,
) -> Result<()> {
    let array = ArrayD::from_shape_vec(IxDyn(shape), data).unwrap();
    file.write_array(name, start.to_vec(), array.view()).await
}

async fn apply(file: &mut ArrayFile, step: &Step) -> Result<()> {
    match step {
        Step::Define {
            name,
            dtype,
            shape,
            chunk,
            fill,
        } => match dtype {
            DType::Int32 => define_typed::<i32>(file, name, shape, chunk, fill),
            DType::Int64 => define_typed::<i64>(file, name, shape, chunk, fill),
            DType::UInt8 => define_typed::<u8>(file, name, shape, chunk, fill),
            DType::Float32 => define_typed::<f32>(file, name, shape, chunk, fill),
            DType::Float64 => define_typed::<f64>(file, name, shape, chunk, fill),
            DType::String => define_typed::<String>(file, name, shape, chunk, fill),
            DType::Bool => define_typed::<bool>(file, name, shape, chunk, fill),
            other => panic!("the workload does not use {other:?}"),
        },
        Step::Write {
            name,
            start,
            shape,
            seed,
        } => {
            let n: usize = shape.iter().product();
            let seed = *seed;
            match file.get_array(name)?.dtype {
                DType::Int32 => {
                    let v = gen_values(seed, n, |r| (r % 2000) as i32 - 1000);
                    write_typed(file, name, start, shape, v).await
                }
                DType::Int64 => {
                    let v = gen_values(seed, n, |r| (r >> 20) as i64 - (1 << 42));
                    write_typed(file, name, start, shape, v).await
                }
                DType::UInt8 => {
                    let v = gen_values(seed, n, |r| r as u8);
                    write_typed(file, name, start, shape, v).await
                }
                DType::Float32 => {
                    // Random mantissas in [1, 2): LZ4 finds nothing to compress.
                    let v = gen_values(seed, n, |r| {
                        f32::from_bits(0x3F80_0000 | (r as u32 & 0x007F_FFFF))
                    });
                    write_typed(file, name, start, shape, v).await
                }
                DType::Float64 => {
                    let v = gen_values(seed, n, |r| (r % 1_000_000) as f64 / 7.0 - 5000.0);
                    write_typed(file, name, start, shape, v).await
                }
                DType::String => {
                    let v = gen_values(seed, n, |r| {
                        format!("s{}{}", r % 1000, "x".repeat((r >> 32) as usize % 5))
                    });
                    write_typed(file, name, start, shape, v).await
                }
                DType::Bool => {
                    let v = gen_values(seed, n, |r| r & 1 == 1);
                    write_typed(file, name, start, shape, v).await
                }
                other => panic!("the workload does not use {other:?}"),
            }
        }
        Step::Delete(name) => file.delete(name),
        Step::SetAttr(name, key, value) => file.set_attribute(name, key, value.clone()),
        Step::RemoveAttr(name, key) => file.remove_attribute(name, key).map(|_| ()),
        Step::Flush => file.flush().await,
        Step::Compact => file.compact().await,
    }
}

// ── Observable state ────────────────────────────────────────────────

/// An array's full contents; floats by bit pattern.
#[derive(Clone, PartialEq)]
enum Data {
    I32(Vec<i32>),
    I64(Vec<i64>),
    U8(Vec<u8>),
    F32(Vec<u32>),
    F64(Vec<u64>),
    Str(Vec<String>),
    Bool(Vec<bool>),
}

fn digest<T: Hash>(v: &[T]) -> u64 {
    let mut h = DefaultHasher::new();
    v.hash(&mut h);
    h.finish()
}

fn first_difference<T: PartialEq + fmt::Debug>(e: &[T], a: &[T]) -> String {
    if e.len() != a.len() {
        return format!("{} elements expected, {} found", e.len(), a.len());
    }
    let differing: Vec<usize> = (0..e.len()).filter(|&i| e[i] != a[i]).collect();
    match differing.first() {
        Some(&i) => format!(
            "{} of {} elements differ; first at {i}: expected {:?}, found {:?}",
            differing.len(),
            e.len(),
            e[i],
            a[i]
        ),
        None => "equal".into(),
    }
}

impl Data {
    fn difference(&self, actual: &Data) -> String {
        match (self, actual) {
            (Data::I32(e), Data::I32(a)) => first_difference(e, a),
            (Data::I64(e), Data::I64(a)) => first_difference(e, a),
            (Data::U8(e), Data::U8(a)) => first_difference(e, a),
            (Data::F32(e), Data::F32(a)) => first_difference(e, a),
            (Data::F64(e), Data::F64(a)) => first_difference(e, a),
            (Data::Str(e), Data::Str(a)) => first_difference(e, a),
            (Data::Bool(e), Data::Bool(a)) => first_difference(e, a),
            (e, a) => format!("expected {e:?}, found {a:?}"),
        }
    }
}

impl fmt::Debug for Data {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (kind, len, hash) = match self {
            Data::I32(v) => ("i32", v.len(), digest(v)),
            Data::I64(v) => ("i64", v.len(), digest(v)),
            Data::U8(v) => ("u8", v.len(), digest(v)),
            Data::F32(v) => ("f32", v.len(), digest(v)),
            Data::F64(v) => ("f64", v.len(), digest(v)),
            Data::Str(v) => ("string", v.len(), digest(v)),
            Data::Bool(v) => ("bool", v.len(), digest(v)),
        };
        write!(f, "{kind} x {len} (hash {hash:016x})")
    }
}

#[derive(Debug, Clone, PartialEq)]
struct ArrayState {
    meta: MergedArrayMeta,
    data: Data,
    attrs: Vec<(String, AttributeValue)>,
    stats: Option<ArrayStats>,
}

#[derive(Debug, Clone, PartialEq)]
struct State {
    arrays: Vec<ArrayState>,
    num_layers: usize,
}

async fn read_all<T: ArrayElement>(file: &ArrayFile, name: &str) -> Result<Vec<T>> {
    Ok(file
        .read_array::<T>(name, vec![], vec![])
        .await?
        .iter()
        .cloned()
        .collect())
}

async fn capture(file: &ArrayFile) -> Result<State> {
    let mut arrays = Vec::new();
    for meta in file.list_arrays() {
        let name = meta.name.as_str();
        let data = match meta.dtype {
            DType::Int32 => Data::I32(read_all(file, name).await?),
            DType::Int64 => Data::I64(read_all(file, name).await?),
            DType::UInt8 => Data::U8(read_all(file, name).await?),
            DType::Float32 => Data::F32(
                read_all::<f32>(file, name)
                    .await?
                    .iter()
                    .map(|x| x.to_bits())
                    .collect(),
            ),
            DType::Float64 => Data::F64(
                read_all::<f64>(file, name)
                    .await?
                    .iter()
                    .map(|x| x.to_bits())
                    .collect(),
            ),
            DType::String => Data::Str(read_all(file, name).await?),
            DType::Bool => Data::Bool(read_all(file, name).await?),
            other => panic!("the workload does not use {other:?}"),
        };
        arrays.push(ArrayState {
            attrs: file.attributes(name)?,
            stats: file.array_stats(name).cloned(),
            data,
            meta,
        });
    }
    Ok(State {
        arrays,
        num_layers: file.num_layers(),
    })
}

/// Every difference between two states, one per line.
fn diff(expected: &State, actual: &State) -> String {
    let mut out = Vec::new();
    if expected.num_layers != actual.num_layers {
        out.push(format!(
            "num_layers: expected {}, found {}",
            expected.num_layers, actual.num_layers
        ));
    }
    let names =
        |s: &State| -> Vec<String> { s.arrays.iter().map(|a| a.meta.name.clone()).collect() };
    if names(expected) != names(actual) {
        out.push(format!(
            "arrays: expected {:?}, found {:?}",
            names(expected),
            names(actual)
        ));
    }
    for e in &expected.arrays {
        let Some(a) = actual.arrays.iter().find(|a| a.meta.name == e.meta.name) else {
            continue;
        };
        let name = &e.meta.name;
        if e.meta != a.meta {
            out.push(format!(
                "{name} metadata: expected {:?}, found {:?}",
                e.meta, a.meta
            ));
        }
        if e.attrs != a.attrs {
            out.push(format!(
                "{name} attributes: expected {:?}, found {:?}",
                e.attrs, a.attrs
            ));
        }
        if e.stats != a.stats {
            out.push(format!(
                "{name} stats: expected {:?}, found {:?}",
                e.stats, a.stats
            ));
        }
        if e.data != a.data {
            out.push(format!("{name} data: {}", e.data.difference(&a.data)));
        }
    }
    if out.is_empty() {
        "no difference".into()
    } else {
        out.join("\n      ")
    }
}

// ── Reference run ───────────────────────────────────────────────────

/// A state the file may be found in.
struct Committed {
    /// The workload step that acknowledged it (`None`: `create`).
    step: Option<usize>,
    state: State,
    /// For a `compact` that had pending changes: the state after its flush
    /// half (committed before the snapshot is written).
    half: Option<State>,
}

async fn open_state(store: &Arc<dyn ObjectStore>) -> Result<State> {
    let file = ArrayFile::open(Arc::clone(store), path(), config()).await?;
    capture(&file).await
}

/// Runs the workload on a healthy store (`inner`, empty); returns S0..Sn
/// (each read back by reopening, and checked against the writing handle's
/// own view) and the mutating requests the run made.
async fn reference_run(
    inner: Arc<dyn ObjectStore>,
    steps: &[Step],
) -> (Vec<Committed>, FaultyStore) {
    let faulty = FaultyStore::new(Arc::clone(&inner), None);
    let mut file = ArrayFile::create(Arc::new(faulty.clone()), path(), config())
        .await
        .unwrap();
    let reopened = open_state(&inner).await.unwrap();
    let live = capture(&file).await.unwrap();
    assert_eq!(live, reopened, "S0: {}", diff(&live, &reopened));
    let mut commits = vec![Committed {
        step: None,
        state: reopened,
        half: None,
    }];
    for (idx, step) in steps.iter().enumerate() {
        // `compact` is `flush` + snapshot; split it here (same requests) to
        // learn the state between the two.
        let mut half = None;
        if matches!(step, Step::Compact) && file.has_pending_changes() {
            file.flush().await.unwrap();
            half = Some(open_state(&inner).await.unwrap());
        }
        apply(&mut file, step)
            .await
            .unwrap_or_else(|e| panic!("healthy run, step {idx} ({}): {e}", step.describe()));
        if step.is_commit() {
            let reopened = open_state(&inner).await.unwrap();
            let live = capture(&file).await.unwrap();
            assert_eq!(
                live,
                reopened,
                "step {idx} ({}): the writing handle and a reopened one disagree: {}",
                step.describe(),
                diff(&live, &reopened)
            );
            commits.push(Committed {
                step: Some(idx),
                state: reopened,
                half,
            });
        }
    }
    (commits, faulty)
}

// ── Crash points ────────────────────────────────────────────────────

/// How the workload ended under a fault.
enum Ended {
    /// Every step succeeded.
    Completed,
    /// `step` (`None`: `create`) returned this error.
    Failed(Option<usize>, Error),
    /// `step` panicked.
    Panicked(Option<usize>, String),
}

async fn faulty_run(
    store: Arc<dyn ObjectStore>,
    steps: &[Step],
    acked: &mut Option<usize>,
) -> Ended {
    let mut current: Option<usize> = None;
    let run = AssertUnwindSafe(async {
        let mut file = match ArrayFile::create(store, path(), config()).await {
            Ok(f) => f,
            Err(e) => return Ended::Failed(None, e),
        };
        *acked = Some(0);
        for (idx, step) in steps.iter().enumerate() {
            current = Some(idx);
            if let Err(e) = apply(&mut file, step).await {
                return Ended::Failed(Some(idx), e);
            }
            if step.is_commit() {
                *acked = acked.map(|i| i + 1);
            }
        }
        Ended::Completed
    })
    .catch_unwind()
    .await;
    match run {
        Ok(ended) => ended,
        Err(panic) => {
            let msg = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default();
            Ended::Panicked(current, msg)
        }
    }
}

async fn count_staging(store: &Arc<dyn ObjectStore>) -> usize {
    store
        .list_with_delimiter(None)
        .await
        .unwrap()
        .objects
        .iter()
        .filter(|m| m.location.as_ref().ends_with(".staging"))
        .count()
}

/// Where a crashed run's file was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Found {
    /// The last acknowledged state.
    Acked,
    /// The state of the interrupted commit.
    Next,
    /// The flush half of an interrupted `compact`.
    Half,
    /// No file: `create` itself was interrupted.
    NoFile,
}

const AFTER: &str = "after_crash";

/// Commits a new array on the recovered file and checks it and the
/// recovered state after reopening.
async fn commit_after_crash(
    store: &Arc<dyn ObjectStore>,
    mut file: ArrayFile,
    recovered: &State,
) -> std::result::Result<(), String> {
    let data: Vec<i32> = (0..10).map(|i| i * 3 - 7).collect();
    file.define_array::<i32>(AFTER, vec!["x".into()], vec![10], Some(vec![4]), None)
        .map_err(|e| format!("define {AFTER}: {e}"))?;
    let view = ArrayD::from_shape_vec(IxDyn(&[10]), data.clone()).unwrap();
    file.write_array(AFTER, vec![0], view.view())
        .await
        .map_err(|e| format!("write {AFTER}: {e}"))?;
    file.flush()
        .await
        .map_err(|e| format!("flush after the crash failed: {e}"))?;
    drop(file);
    let mut after = open_state(store)
        .await
        .map_err(|e| format!("reopen after the post-crash commit failed: {e}"))?;
    let Some(pos) = after.arrays.iter().position(|a| a.meta.name == AFTER) else {
        return Err(format!("{AFTER} is missing after reopening"));
    };
    if pos + 1 != after.arrays.len() {
        return Err(format!("{AFTER} is not the last array ({pos})"));
    }
    let new = after.arrays.remove(pos);
    if new.data != Data::I32(data.clone()) {
        return Err(format!(
            "{AFTER} data: {}",
            Data::I32(data).difference(&new.data)
        ));
    }
    let want_stats = ArrayStats {
        name: AFTER.into(),
        min: Some(array_format::StatValue::Int(-7)),
        max: Some(array_format::StatValue::Int(20)),
        null_count: 0,
        row_count: 10,
    };
    if new.stats.as_ref() != Some(&want_stats) {
        return Err(format!(
            "{AFTER} stats: expected {want_stats:?}, found {:?}",
            new.stats
        ));
    }
    let mut expected = recovered.clone();
    // A commit adds a layer, but the first one on a new file, which is a
    // snapshot over the (empty) base.
    if !(recovered.num_layers == 1 && recovered.arrays.is_empty()) {
        expected.num_layers += 1;
    }
    if after != expected {
        return Err(format!(
            "state after the post-crash commit: {}",
            diff(&expected, &after)
        ));
    }
    Ok(())
}

/// How the k-th mutating request fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Refused, not performed (and every later one refused).
    Refused,
    /// Performed, then reported failed: its reply was lost (every later one
    /// refused).
    LostReply,
}

/// Outcomes of the crash points of one mode.
#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    tried: u64,
    recovered: u64,
    at_acked: u64,
    at_next: u64,
    at_half: u64,
    no_file: u64,
    staging: usize,
    staging_runs: usize,
}

impl Tally {
    fn add(&mut self, o: &Tally) {
        self.tried += o.tried;
        self.recovered += o.recovered;
        self.at_acked += o.at_acked;
        self.at_next += o.at_next;
        self.at_half += o.at_half;
        self.no_file += o.no_file;
        self.staging += o.staging;
        self.staging_runs += o.staging_runs;
    }
}

impl fmt::Display for Tally {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} tried, {} recovered ({} at S_i, {} at S_{{i+1}}, {} at the flush half of a compact, \
             {} with no file after an interrupted create), staging leftovers: {} (in {} runs)",
            self.tried,
            self.recovered,
            self.at_acked,
            self.at_next,
            self.at_half,
            self.no_file,
            self.staging,
            self.staging_runs
        )
    }
}

/// Runs crash point `k` of `mode` on `fresh` (an empty store); on success
/// returns where the file was found and how many staging objects were
/// left, else the violation. The file is reopened through another client
/// of the store, as by another process.
async fn crash_point(
    fresh: &Backend,
    mode: Mode,
    k: u64,
    total: u64,
    steps: &[Step],
    commits: &[Committed],
) -> std::result::Result<(Found, usize, String), String> {
    let commit_of_step = |idx: usize| -> usize {
        commits
            .iter()
            .position(|c| c.step == Some(idx))
            .expect("commit step")
    };
    let step_name = |s: Option<usize>| match s {
        None => "create".to_owned(),
        Some(i) => format!("step {i} ({})", steps[i].describe()),
    };
    let faulty = match mode {
        Mode::Refused => FaultyStore::new(Arc::clone(&fresh.store), Some(k)),
        Mode::LostReply => FaultyStore::new_lost_reply(Arc::clone(&fresh.store), Some(k)),
    };
    let mut acked: Option<usize> = None;
    let ended = faulty_run(Arc::new(faulty.clone()), steps, &mut acked).await;
    let op = faulty.request(k);
    let mode_name = match mode {
        Mode::Refused => "refused",
        Mode::LostReply => "performed, reply lost",
    };
    // The failing step, and the commit it had in flight.
    let (failed_step, in_flight, error) = match &ended {
        Ended::Completed => (None, None, String::new()),
        Ended::Failed(s, e) => {
            let flight = match s {
                Some(i) if steps[*i].is_commit() => Some(commit_of_step(*i)),
                _ => None,
            };
            (Some(*s), flight, format!(" with {e}"))
        }
        Ended::Panicked(s, msg) => {
            return Err(format!(
                "k={k} ({mode_name}: `{op}`): {} panicked instead of returning an error: {msg}",
                step_name(*s)
            ));
        }
    };
    let context = format!(
        "k={k} ({mode_name}: `{op}`), {}",
        match failed_step {
            None => "no step failed".to_owned(),
            Some(s) => format!("{} failed{error}", step_name(s)),
        }
    );
    if failed_step.is_none() && k <= total {
        return Err(format!(
            "{context}: the workload completed despite the fault"
        ));
    }

    let inner = fresh.client();
    let staging = count_staging(&inner).await;
    let opened = ArrayFile::open(Arc::clone(&inner), path(), config()).await;
    let (file, found, base_state) = match (opened, acked) {
        (Err(Error::FileNotFound { .. }), None) => {
            // `create` never finished; a new create must work.
            let file = ArrayFile::create(Arc::clone(&inner), path(), config())
                .await
                .map_err(|e| format!("{context}: create after the crash failed: {e}"))?;
            (file, Found::NoFile, commits[0].state.clone())
        }
        (Err(e), _) => {
            return Err(format!(
                "{context}: open failed after {} acknowledged commits: {e}",
                acked.unwrap_or(0)
            ));
        }
        (Ok(file), acked) => {
            let state = capture(&file)
                .await
                .map_err(|e| format!("{context}: reading the reopened file: {e}"))?;
            let acked_idx = acked.unwrap_or(0);
            let acked_state = &commits[acked_idx].state;
            let next = in_flight.map(|c| &commits[c]);
            let found = if acked.is_some() && state == *acked_state {
                Some(Found::Acked)
            } else if acked.is_none() && state == commits[0].state {
                // `create` wrote its base but reported a failure.
                Some(Found::Next)
            } else if next.is_some_and(|c| c.half.as_ref() == Some(&state)) {
                Some(Found::Half)
            } else if next.is_some_and(|c| c.state == state) {
                Some(Found::Next)
            } else {
                None
            };
            let Some(found) = found else {
                let mut msg = format!(
                    "{context}: the reopened state matches neither S_{acked_idx} (last acknowledged)"
                );
                if let Some(c) = in_flight {
                    msg += &format!(" nor S_{c} (in flight)");
                }
                msg += &format!("\n    vs S_{acked_idx}: {}", diff(acked_state, &state));
                if let Some(c) = next {
                    if let Some(h) = &c.half {
                        msg += &format!("\n    vs the flush half: {}", diff(h, &state));
                    }
                    msg += &format!("\n    vs the in-flight state: {}", diff(&c.state, &state));
                }
                return Err(msg);
            };
            (file, found, state)
        }
    };
    commit_after_crash(&inner, file, &base_state)
        .await
        .map_err(|e| format!("{context}: {e}"))?;
    Ok((found, staging, context))
}

/// The crash points of the workload on `backend` (a store of each kind
/// for the reference run and for every crash point): all of them, or on a
/// remote backend an evenly spread sample of each mode's
/// ([`Backend::sample`]). Run by `conformance::crash`.
pub(crate) async fn crash_points(backend: &Backend) {
    let started = Instant::now();
    let steps = workload();
    let (commits, reference) = reference_run(Arc::clone(&backend.store), &steps).await;
    let total = reference.mutations();
    let log = reference.log();
    // The run must exercise the large-layer path: parts, completion of a
    // staging object, copy_if_not_exists, and the staging delete.
    let staging_request = |prefix: &str| {
        log.iter()
            .any(|m| m.what.starts_with(prefix) && m.what.contains(".staging"))
    };
    for what in ["part ", "complete ", "copy ", "delete "] {
        assert!(
            staging_request(what),
            "the healthy run made no `{what}` request on a staging object: {log:#?}"
        );
    }
    let reference_time = started.elapsed();

    let verbose = std::env::var_os("AF_CRASH_VERBOSE").is_some();
    if verbose {
        for m in &log {
            println!("healthy run: request {}: {}", m.n, m.what);
        }
    }
    let mut violations: Vec<String> = Vec::new();
    let mut tallies = Vec::new();
    for mode in [Mode::Refused, Mode::LostReply] {
        let mut tally = Tally::default();
        // Refused: 1..=total+1 (the last run meets no fault).
        let last = match mode {
            Mode::Refused => total + 1,
            Mode::LostReply => total,
        };
        for i in backend.sample(last as usize) {
            let k = i as u64 + 1;
            tally.tried += 1;
            let fresh = backend.another();
            match crash_point(&fresh, mode, k, total, &steps, &commits).await {
                Ok((found, staging, context)) => {
                    if verbose {
                        println!("{context}: recovered {found:?}, {staging} staging objects");
                    }
                    tally.recovered += 1;
                    if staging > 0 {
                        tally.staging += staging;
                        tally.staging_runs += 1;
                    }
                    match found {
                        Found::Acked => tally.at_acked += 1,
                        Found::Next => tally.at_next += 1,
                        Found::Half => tally.at_half += 1,
                        Found::NoFile => tally.no_file += 1,
                    }
                }
                Err(violation) => violations.push(violation),
            }
        }
        tallies.push((mode, tally));
    }
    let mut all = Tally::default();
    for (_, t) in &tallies {
        all.add(t);
    }

    let elapsed = started.elapsed();
    println!("crash points on {backend:?}: {all}");
    for (mode, t) in &tallies {
        let what = match mode {
            Mode::Refused => "request k refused",
            Mode::LostReply => "request k performed, its reply lost",
        };
        println!("  {what}: {t}");
    }
    println!(
        "  workload: {} steps, {} commits, {total} mutating requests in the healthy run; \
         reference run {:.1} s, total {:.1} s",
        steps.len(),
        commits.len() - 1,
        reference_time.as_secs_f64(),
        elapsed.as_secs_f64()
    );
    if !violations.is_empty() {
        panic!(
            "{} of {} crash points violated the crash contract:\n  {}",
            violations.len(),
            all.tried,
            violations.join("\n  ")
        );
    }
}

// ── Two handles, one compacts ───────────────────────────────────────

async fn read_i32(file: &ArrayFile, name: &str) -> Vec<i32> {
    read_all::<i32>(file, name).await.unwrap()
}

async fn define_and_write(file: &mut ArrayFile, name: &str, data: &[i32]) {
    file.define_array::<i32>(name, vec![], vec![data.len()], None, None)
        .unwrap();
    let a = ArrayD::from_shape_vec(IxDyn(&[data.len()]), data.to_vec()).unwrap();
    file.write_array(name, vec![0], a.view()).await.unwrap();
}

/// Handle A's view ends at layer n; B flushes n+1, compacts into n+2 and
/// deletes 1..=n+1. A's next flush must either be durable (visible after
/// reopening) or fail keeping A's pending changes. (The version 1 protocol
/// lets A re-create the freed layer n+1 below B's snapshot, where every
/// reader ignores it: FORMAT.md 13.6.)
#[tokio::test]
async fn two_handles_one_compacts() {
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let mut setup = ArrayFile::create(Arc::clone(&store), path(), config())
        .await
        .unwrap();
    define_and_write(&mut setup, "base1", &[1, 2, 3]).await;
    setup.flush().await.unwrap();
    define_and_write(&mut setup, "base2", &[4, 5]).await;
    setup.flush().await.unwrap();
    drop(setup);

    let mut a = ArrayFile::open(Arc::clone(&store), path(), config())
        .await
        .unwrap();
    let mut b = ArrayFile::open(Arc::clone(&store), path(), config())
        .await
        .unwrap();

    define_and_write(&mut b, "from_b", &[10, 20]).await;
    b.flush().await.unwrap();
    b.compact().await.unwrap();
    drop(b);

    define_and_write(&mut a, "from_a", &[7, 8, 9]).await;
    let result = a.flush().await;
    let reopened = ArrayFile::open(Arc::clone(&store), path(), config())
        .await
        .unwrap();
    assert_eq!(read_i32(&reopened, "from_b").await, vec![10, 20]);
    assert_eq!(read_i32(&reopened, "base1").await, vec![1, 2, 3]);
    assert_eq!(read_i32(&reopened, "base2").await, vec![4, 5]);
    match result {
        Ok(()) => {
            let names: Vec<String> = reopened.list_arrays().into_iter().map(|m| m.name).collect();
            assert!(
                names.iter().any(|n| n == "from_a"),
                "A's flush succeeded but its change is not visible after reopening \
                 (arrays: {names:?}): the stale writer's layer was silently ignored"
            );
            assert_eq!(read_i32(&reopened, "from_a").await, vec![7, 8, 9]);
            println!("two handles: A's flush succeeded and is visible after reopening");
        }
        Err(e) => {
            assert!(
                a.has_pending_changes(),
                "A's flush failed ({e}) and dropped its pending changes"
            );
            assert_eq!(read_i32(&a, "from_a").await, vec![7, 8, 9]);
            println!("two handles: A's flush failed ({e}); its changes are still pending");
        }
    }
}

// ── Create over an existing file ────────────────────────────────────

/// An existing file: deltas, a compaction (whose redundant layers are
/// deleted), more deltas and a staging leftover.
async fn existing_file(store: &Arc<dyn ObjectStore>) -> State {
    let mut file = ArrayFile::create(Arc::clone(store), path(), config())
        .await
        .unwrap();
    for i in 0..3 {
        define_and_write(&mut file, &format!("old{i}"), &[i, i + 1, i + 2]).await;
        file.flush().await.unwrap();
    }
    file.compact().await.unwrap();
    for i in 3..5 {
        define_and_write(&mut file, &format!("old{i}"), &[i; 5]).await;
        file.flush().await.unwrap();
    }
    store
        .put(
            &Path::from("crash.3.0123456789abcdef.staging"),
            PutPayload::from_static(b"leftover"),
        )
        .await
        .unwrap();
    open_state(store).await.unwrap()
}

/// `create` over an existing file, interrupted at every request (refused,
/// or performed with its reply lost): opening afterwards must find the old
/// file, the new empty file, or no file (`FileNotFound`) — never a damaged
/// one — and a new `create` must succeed.
#[tokio::test]
async fn create_over_existing_file_crash_points() {
    let healthy_inner: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    existing_file(&healthy_inner).await;
    let healthy = FaultyStore::new(Arc::clone(&healthy_inner), None);
    let empty = {
        let file = ArrayFile::create(Arc::new(healthy.clone()), path(), config())
            .await
            .unwrap();
        capture(&file).await.unwrap()
    };
    let total = healthy.mutations();
    let mut violations = Vec::new();
    let (mut tried, mut old_found, mut new_found, mut none_found) = (0, 0, 0, 0);
    for lost_reply in [false, true] {
        for k in 1..=total {
            tried += 1;
            let inner: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
            let old = existing_file(&inner).await;
            let faulty = FaultyStore::with_mode(Arc::clone(&inner), Some(k), lost_reply);
            let created = ArrayFile::create(Arc::new(faulty.clone()), path(), config()).await;
            let op = faulty.request(k);
            let context = format!(
                "k={k} ({}: `{op}`), create {}",
                if lost_reply {
                    "performed, reply lost"
                } else {
                    "refused"
                },
                match &created {
                    Ok(_) => "succeeded".to_owned(),
                    Err(e) => format!("failed with {e}"),
                }
            );
            if created.is_ok() {
                violations.push(format!("{context}: create succeeded despite the fault"));
            }
            match open_state(&inner).await {
                Ok(state) if state == old => old_found += 1,
                Ok(state) if state == empty => new_found += 1,
                Ok(state) => violations.push(format!(
                    "{context}: opened neither the old nor the new file\n    vs old: {}\n    vs new: {}",
                    diff(&old, &state),
                    diff(&empty, &state)
                )),
                Err(Error::FileNotFound { .. }) => none_found += 1,
                Err(e) => violations.push(format!("{context}: open failed with {e}")),
            }
            match ArrayFile::create(Arc::clone(&inner), path(), config()).await {
                Ok(file) => {
                    let state = capture(&file).await.unwrap();
                    if state != empty || open_state(&inner).await.ok() != Some(empty.clone()) {
                        violations.push(format!(
                            "{context}: the file re-created after the crash is not empty: {}",
                            diff(&empty, &state)
                        ));
                    }
                }
                Err(e) => violations.push(format!("{context}: create after the crash failed: {e}")),
            }
        }
    }
    println!(
        "create over an existing file: {tried} crash points, {old_found} found the old file, \
         {new_found} the new one, {none_found} no file, {} violations",
        violations.len()
    );
    assert!(
        violations.is_empty(),
        "{} of {tried} crash points of create over an existing file failed:\n  {}",
        violations.len(),
        violations.join("\n  ")
    );
}

// ── The wrappers themselves ─────────────────────────────────────────

#[tokio::test]
async fn faulty_store_counts_and_refuses() {
    let inner: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let faulty = FaultyStore::new(Arc::clone(&inner), Some(4));
    let (p1, p2, p3) = (Path::from("a"), Path::from("b"), Path::from("c"));
    faulty
        .put(&p1, PutPayload::from_static(b"one"))
        .await
        .unwrap(); // 1
    faulty.copy(&p1, &p2).await.unwrap(); // 2
    let mut upload = faulty.put_multipart(&p3).await.unwrap(); // not counted
    upload
        .put_part(PutPayload::from_static(b"xy"))
        .await
        .unwrap(); // 3
    assert!(upload.complete().await.is_err()); // 4: refused
    upload.abort().await.unwrap();
    assert!(
        inner.head(&p3).await.is_err(),
        "a refused completion left an object"
    );
    assert!(faulty.delete(&p1).await.is_err()); // 5
    assert!(inner.head(&p1).await.is_ok(), "a refused delete deleted");
    let create = PutOptions {
        mode: PutMode::Create,
        ..Default::default()
    };
    assert!(
        faulty
            .put_opts(&p3, PutPayload::from_static(b"z"), create)
            .await
            .is_err()
    ); // 6
    assert!(faulty.copy_if_not_exists(&p1, &p3).await.is_err()); // 7
    assert!(faulty.rename(&p1, &p3).await.is_err()); // 8
    assert!(inner.head(&p3).await.is_err());
    assert_eq!(faulty.mutations(), 8);
    // Reads and listings pass through.
    assert_eq!(
        faulty
            .get(&p2)
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap()
            .as_ref(),
        b"one"
    );
    assert_eq!(
        faulty
            .list_with_delimiter(None)
            .await
            .unwrap()
            .objects
            .len(),
        2
    );
    let err = faulty.delete(&p2).await.unwrap_err().to_string();
    assert!(err.contains("injected fault at op 9"), "{err}");
    faulty.set_fail_from(None);
    faulty.delete(&p2).await.unwrap(); // 10
    assert!(inner.head(&p2).await.is_err());
    assert_eq!(faulty.mutations(), 10);
    let log = faulty.log();
    assert_eq!(log.len(), 10);
    assert_eq!(log.iter().filter(|m| m.failed).count(), 6);
    assert!(log[2].what.starts_with("part 1 of c"), "{:?}", log[2]);
}

#[tokio::test]
async fn counting_store_records_requests() {
    let inner: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let counting = CountingStore::new(Arc::clone(&inner));
    let store: Arc<dyn ObjectStore> = Arc::new(counting.clone());
    let mut file = ArrayFile::create(Arc::clone(&store), path(), config())
        .await
        .unwrap();
    // The base, then a second create of it that the store must refuse
    // (the check that it honours create-only puts).
    assert_eq!(counting.puts(), 2, "{:#?}", counting.requests());
    define_and_write(&mut file, "a", &(0..1000).collect::<Vec<i32>>()).await;
    counting.reset();
    file.flush().await.unwrap();
    let puts: Vec<_> = counting
        .requests()
        .into_iter()
        .filter(|r| r.kind == RequestKind::Put)
        .collect();
    assert_eq!(puts.len(), 1, "{puts:#?}");
    assert_eq!(puts[0].path, "crash.1.af");
    let layer_size = inner.head(&Path::from("crash.1.af")).await.unwrap().size;
    assert_eq!(puts[0].bytes, layer_size);
    assert_eq!(counting.bytes_written(), layer_size);
    drop(file);

    counting.reset();
    let file = ArrayFile::open(Arc::clone(&store), path(), config())
        .await
        .unwrap();
    assert!(counting.gets() >= 2, "{:#?}", counting.requests()); // base and layer 1
    assert_eq!(counting.puts(), 0);
    let after_open = counting.bytes_read();
    assert!(after_open > 0);
    assert_eq!(read_i32(&file, "a").await, (0..1000).collect::<Vec<i32>>());
    let read = counting.bytes_read() - after_open;
    assert!(
        read > 0 && read <= layer_size,
        "reading the array fetched {read} bytes of a {layer_size}-byte layer"
    );
    let gets: u64 = counting
        .requests()
        .iter()
        .filter(|r| r.kind == RequestKind::Get)
        .map(|r| r.bytes)
        .sum();
    assert_eq!(gets, counting.bytes_read());

    // get_ranges: recorded as the coalesced GETs a remote store would see.
    counting.reset();
    let far = layer_size.min(10_000_000);
    let got = store
        .get_ranges(&Path::from("crash.1.af"), &[0..10, 20..30, (far - 4)..far])
        .await
        .unwrap();
    assert_eq!(got.iter().map(|b| b.len()).sum::<usize>(), 24);
    assert!(counting.gets() >= 1);
    assert!(counting.bytes_read() >= 24);
}
