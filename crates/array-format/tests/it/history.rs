//! A file's history and upkeep: `versions()`, time travel with
//! `FileConfig::as_of`, `vacuum()`, `verify()` against flipped bytes, and
//! durable local commits through `create_path`/`open_path`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::common::FaultyStore;
use array_format::{
    ArrayFile, ArrayStats, AttributeValue, CompressionCodec, DEFAULT_PART_GRACE, DType, Error,
    FileConfig, FillValue, Lz4Codec, MergedArrayMeta, NoCompression, Result, VacuumReport, Version,
    ZstdCodec,
};
use ndarray::{ArrayD, IxDyn};
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};

fn small<C: CompressionCodec>(codec: C) -> FileConfig<C> {
    FileConfig {
        block_target_size: 4096,
        frame_target_size: 64,
        ..FileConfig::new(codec)
    }
}

fn config() -> FileConfig<Lz4Codec> {
    small(Lz4Codec)
}

/// Replaced layers deleted as soon as a compaction commits.
fn immediate() -> FileConfig<Lz4Codec> {
    FileConfig {
        retention: Duration::ZERO,
        ..config()
    }
}

fn as_of(layer: u64) -> FileConfig<Lz4Codec> {
    FileConfig {
        as_of: Some(layer),
        ..config()
    }
}

fn arr<T: Clone>(values: &[T]) -> ArrayD<T> {
    ArrayD::from_shape_vec(IxDyn(&[values.len()]), values.to_vec()).unwrap()
}

// ── Observable state ────────────────────────────────────────────────

#[derive(Debug, Clone, PartialEq)]
enum Data {
    I32(Vec<i32>),
    F64(Vec<f64>),
    Str(Vec<String>),
}

#[derive(Debug, Clone, PartialEq)]
struct ArrayState {
    meta: MergedArrayMeta,
    attrs: Vec<(String, AttributeValue)>,
    data: Data,
    stats: Option<ArrayStats>,
}

async fn data(f: &ArrayFile, name: &str) -> Result<Data> {
    let dtype = f.get_array(name)?.dtype;
    Ok(match dtype {
        DType::Int32 => Data::I32(
            f.read_array::<i32>(name, vec![], vec![])
                .await?
                .iter()
                .copied()
                .collect(),
        ),
        DType::Float64 => Data::F64(
            f.read_array::<f64>(name, vec![], vec![])
                .await?
                .iter()
                .copied()
                .collect(),
        ),
        DType::String => Data::Str(
            f.read_array::<String>(name, vec![], vec![])
                .await?
                .iter()
                .cloned()
                .collect(),
        ),
        other => panic!("no test array has dtype {other:?}"),
    })
}

/// Everything observable through a handle, statistics included.
async fn state(f: &ArrayFile) -> Vec<ArrayState> {
    let mut out = Vec::new();
    for meta in f.list_arrays() {
        out.push(ArrayState {
            attrs: f.attributes(&meta.name).unwrap(),
            data: data(f, &meta.name).await.unwrap(),
            stats: f.array_stats(&meta.name).cloned(),
            meta,
        });
    }
    out
}

fn layers(versions: &[Version]) -> Vec<u64> {
    versions.iter().map(|v| v.layer).collect()
}

async fn object_size(store: &Arc<dyn ObjectStore>, path: &str) -> u64 {
    store.head(&Path::from(path)).await.unwrap().size
}

/// The three commits every history test starts with; returns the state
/// after `create` and after each commit.
async fn three_commits(f: &mut ArrayFile) -> Vec<Vec<ArrayState>> {
    let mut states = vec![state(f).await];
    // Layer 1.
    f.define_array::<i32>(
        "a",
        vec!["t".into()],
        vec![12],
        Some(vec![4]),
        Some(FillValue::Int(-1)),
    )
    .unwrap();
    f.write_array("a", vec![0], arr(&[1, 2, 3, 4]).view())
        .await
        .unwrap();
    f.set_attribute("a", "step", AttributeValue::Int64(1))
        .unwrap();
    f.define_array::<f64>("b", vec![], vec![3], None, None)
        .unwrap();
    f.write_array("b", vec![0], arr(&[0.5, 1.5, 2.5]).view())
        .await
        .unwrap();
    f.flush().await.unwrap();
    states.push(state(f).await);
    // Layer 2.
    f.write_array("a", vec![4], arr(&[5, 6, 7, 8]).view())
        .await
        .unwrap();
    f.set_attribute("a", "step", AttributeValue::Int64(2))
        .unwrap();
    f.set_attribute("b", "note", "two".into()).unwrap();
    f.flush().await.unwrap();
    states.push(state(f).await);
    // Layer 3.
    f.write_array("a", vec![1], arr(&[30, 31]).view())
        .await
        .unwrap();
    f.set_attribute("a", "step", AttributeValue::Int64(3))
        .unwrap();
    f.delete("b").unwrap();
    f.define_array::<String>("c", vec![], vec![2], None, None)
        .unwrap();
    f.write_array("c", vec![0], arr(&["x".to_string(), "yz".into()]).view())
        .await
        .unwrap();
    f.flush().await.unwrap();
    states.push(state(f).await);
    // Every state differs from the one before.
    for w in states.windows(2) {
        assert_ne!(w[0], w[1]);
    }
    states
}

async fn open_memory(
    store: &Arc<dyn ObjectStore>,
    config: FileConfig<Lz4Codec>,
) -> Result<ArrayFile> {
    ArrayFile::open(Arc::clone(store), Path::from("h.af"), config).await
}

/// Opens `as_of(layer)` and requires `expected` (data, attributes,
/// statistics).
async fn assert_as_of(store: &Arc<dyn ObjectStore>, layer: u64, expected: &[ArrayState]) {
    let old = open_memory(store, as_of(layer)).await.unwrap();
    assert_eq!(state(&old).await, expected, "as_of {layer}");
    for a in expected {
        assert_eq!(
            old.array_stats(&a.meta.name),
            a.stats.as_ref(),
            "as_of {layer}"
        );
    }
}

fn assert_version_not_found(r: Result<ArrayFile>, layer: u64) {
    match r {
        Err(Error::VersionNotFound { layer: l, .. }) => assert_eq!(l, layer),
        Err(e) => panic!("as_of {layer}: expected VersionNotFound, got {e}"),
        Ok(_) => panic!("as_of {layer}: expected VersionNotFound, the open succeeded"),
    }
}

// ── versions() and time travel ──────────────────────────────────────

#[tokio::test]
async fn versions_and_time_travel_through_a_compaction() {
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let mut f = ArrayFile::create(Arc::clone(&store), Path::from("h.af"), config())
        .await
        .unwrap();
    assert_eq!(layers(&f.versions().await.unwrap()), vec![0]);
    let mut states = three_commits(&mut f).await;

    let before = f.versions().await.unwrap();
    assert_eq!(layers(&before), vec![0, 1, 2, 3]);
    for v in &before {
        // The first commit is written as a snapshot over the empty base.
        assert_eq!(v.snapshot, v.layer <= 1, "{v:?}");
        assert_eq!(v.generation, v.layer.min(1), "{v:?}");
        assert_eq!(v.visible, v.layer >= 1, "{v:?}");
        assert_eq!(v.damage, None);
        assert_eq!(v.size, object_size(&store, &v.path).await, "{v:?}");
    }
    for (n, s) in states.iter().enumerate() {
        assert_as_of(&store, n as u64, s).await;
    }
    assert!(
        open_memory(&store, as_of(0))
            .await
            .unwrap()
            .array_stats("a")
            .is_none()
    );
    assert_version_not_found(open_memory(&store, as_of(4)).await, 4);

    f.compact().await.unwrap();
    states.push(state(&f).await); // layer 4 = state 3
    assert_eq!(states[4], states[3]);
    f.write_array("a", vec![8], arr(&[9, 10, 11, 12]).view())
        .await
        .unwrap();
    assert!(f.remove_attribute("a", "step").unwrap());
    f.set_attribute("c", "after", AttributeValue::Float64(0.25))
        .unwrap();
    f.flush().await.unwrap();
    states.push(state(&f).await); // layer 5

    // The replaced layers stay for the retention: listed, not visible, and
    // time travel reaches them.
    let retained = f.versions().await.unwrap();
    assert_eq!(layers(&retained), vec![0, 1, 2, 3, 4, 5]);
    let visible: Vec<bool> = retained.iter().map(|v| v.visible).collect();
    assert_eq!(visible, vec![false, false, false, false, true, true]);
    for (n, s) in states.iter().enumerate() {
        assert_as_of(&store, n as u64, s).await;
    }
    assert_eq!(f.vacuum().await.unwrap(), VacuumReport::default());
    // With no retention, vacuum deletes them.
    let mut report = f
        .vacuum_with(Duration::ZERO, DEFAULT_PART_GRACE)
        .await
        .unwrap();
    report.deleted.sort();
    assert_eq!(report.deleted, vec!["h.1.af", "h.2.af", "h.3.af"]);

    let after = f.versions().await.unwrap();
    assert_eq!(
        layers(&after),
        vec![0, 4, 5],
        "compaction's layers are not listed"
    );
    let paths: Vec<&str> = after.iter().map(|v| v.path.as_str()).collect();
    assert_eq!(paths, vec!["h.af", "h.4.af", "h.5.af"]);
    let snapshots: Vec<bool> = after.iter().map(|v| v.snapshot).collect();
    assert_eq!(snapshots, vec![true, true, false]);
    let generations: Vec<u64> = after.iter().map(|v| v.generation).collect();
    assert_eq!(generations, vec![0, 4, 4]);
    let visible: Vec<bool> = after.iter().map(|v| v.visible).collect();
    assert_eq!(
        visible,
        vec![false, true, true],
        "layer 0 is below the snapshot"
    );
    for v in &after {
        assert_eq!(v.size, object_size(&store, &v.path).await, "{v:?}");
        assert_eq!(v.damage, None);
    }
    // Commit times increase with the layer number, across the compaction.
    let times: Vec<i64> = before
        .iter()
        .chain(&after[1..])
        .map(|v| v.created_ns)
        .collect();
    assert!(times.windows(2).all(|w| w[0] < w[1]), "{times:?}");
    assert!(times[0] > 1_600_000_000_000_000_000, "{times:?}");
    // The base keeps its identity and commit time.
    assert_eq!(
        after[0],
        Version {
            visible: false,
            ..before[0].clone()
        }
    );

    // A fresh handle lists the same.
    let fresh = open_memory(&store, config()).await.unwrap();
    assert_eq!(fresh.versions().await.unwrap(), after);

    for n in [0u64, 4, 5] {
        assert_as_of(&store, n, &states[n as usize]).await;
    }
    for n in [1u64, 2, 3, 6, 100] {
        assert_version_not_found(open_memory(&store, as_of(n)).await, n);
    }
    // as_of the newest layer equals the current state.
    assert_eq!(state(&fresh).await, states[5]);
}

#[tokio::test]
async fn as_of_handles_are_read_only() {
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let mut f = ArrayFile::create(Arc::clone(&store), Path::from("h.af"), config())
        .await
        .unwrap();
    let states = three_commits(&mut f).await;
    let mut old = open_memory(&store, as_of(2)).await.unwrap();
    let read_only = |what: &str, r: Result<()>| match r {
        Err(Error::InvalidOperation { .. }) => {}
        other => panic!("{what} on an as_of handle: expected InvalidOperation, got {other:?}"),
    };
    read_only(
        "define_array",
        old.define_array::<i32>("new", vec![], vec![3], None, None),
    );
    read_only(
        "write_array",
        old.write_array("a", vec![0], arr(&[9, 9, 9, 9]).view())
            .await,
    );
    read_only(
        "partial write_array",
        old.write_array("a", vec![1], arr(&[9]).view()).await,
    );
    read_only(
        "set_attribute",
        old.set_attribute("a", "step", AttributeValue::Int64(9)),
    );
    read_only(
        "remove_attribute",
        old.remove_attribute("a", "step").map(|_| ()),
    );
    read_only("delete", old.delete("b"));
    read_only("flush", old.flush().await);
    read_only("compact", old.compact().await);
    read_only("vacuum", old.vacuum().await.map(|_| ()));
    read_only("refresh", old.refresh().await);
    assert!(!old.has_pending_changes());
    assert_eq!(state(&old).await, states[2]);

    // Reading, verifying and listing work; the view is layers 0..=2.
    assert!(old.verify().await.unwrap().is_ok());
    let visible: Vec<(u64, bool)> = old
        .versions()
        .await
        .unwrap()
        .iter()
        .map(|v| (v.layer, v.visible))
        .collect();
    // The first commit is a snapshot: the base is below it.
    assert_eq!(visible, vec![(0, false), (1, true), (2, true), (3, false)]);
    // Nothing was written.
    let fresh = open_memory(&store, config()).await.unwrap();
    assert_eq!(layers(&fresh.versions().await.unwrap()), vec![0, 1, 2, 3]);
    assert_eq!(state(&fresh).await, states[3]);
}

// ── vacuum() ────────────────────────────────────────────────────────

/// Compaction through a store that refuses the deletes after the snapshot
/// commit: layers 1..3 stay behind as redundant objects. They remain
/// reachable by time travel until `vacuum` removes them.
#[tokio::test]
async fn vacuum_removes_layers_a_failed_compaction_delete_left() {
    let inner: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let faulty = FaultyStore::new(Arc::clone(&inner), None);
    let store: Arc<dyn ObjectStore> = Arc::new(faulty.clone());
    let mut f = ArrayFile::create(Arc::clone(&store), Path::from("h.af"), immediate())
        .await
        .unwrap();
    let states = three_commits(&mut f).await;
    let sizes: Vec<u64> = {
        let mut s = Vec::new();
        for n in 1..=3 {
            s.push(object_size(&inner, &format!("h.{n}.af")).await);
        }
        s
    };
    // The snapshot's put succeeds; every delete after it fails.
    faulty.set_fail_from(Some(faulty.mutations() + 2));
    f.compact().await.unwrap();
    let log = faulty.log();
    let failed: Vec<&str> = log
        .iter()
        .filter(|m| m.failed)
        .map(|m| m.what.as_str())
        .collect();
    assert_eq!(
        failed,
        vec!["delete h.1.af", "delete h.2.af", "delete h.3.af"]
    );
    faulty.set_fail_from(None);

    let versions = f.versions().await.unwrap();
    assert_eq!(layers(&versions), vec![0, 1, 2, 3, 4]);
    let flags: Vec<(bool, bool)> = versions.iter().map(|v| (v.snapshot, v.visible)).collect();
    assert_eq!(
        flags,
        vec![
            (true, false),
            (true, false),
            (false, false),
            (false, false),
            (true, true)
        ]
    );
    // Readers ignore the redundant layers; time travel still reaches them.
    assert_eq!(
        state(&open_memory(&store, config()).await.unwrap()).await,
        states[3]
    );
    for n in 0..=3u64 {
        assert_as_of(&store, n, &states[n as usize]).await;
    }
    assert_as_of(&store, 4, &states[3]).await;

    let report = f.vacuum().await.unwrap();
    let mut deleted = report.deleted.clone();
    deleted.sort();
    assert_eq!(deleted, vec!["h.1.af", "h.2.af", "h.3.af"]);
    assert_eq!(report.bytes, sizes.iter().sum::<u64>());
    assert_eq!(state(&f).await, states[3]);
    let reopened = open_memory(&store, config()).await.unwrap();
    assert_eq!(state(&reopened).await, states[3]);
    assert_eq!(layers(&reopened.versions().await.unwrap()), vec![0, 4]);
    assert!(
        inner.head(&Path::from("h.af")).await.is_ok(),
        "layer 0 must stay"
    );
    assert_version_not_found(open_memory(&store, as_of(2)).await, 2);
    assert_as_of(&store, 0, &states[0]).await;
    // Nothing left to do.
    let again = f.vacuum().await.unwrap();
    assert!(again.deleted.is_empty() && again.bytes == 0, "{again:?}");
}

fn dir_files(dir: &std::path::Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

fn write_aged(path: PathBuf, len: usize, age: Duration) -> u64 {
    std::fs::write(&path, vec![0x5a; len]).unwrap();
    let f = std::fs::File::options().write(true).open(&path).unwrap();
    f.set_modified(SystemTime::now() - age).unwrap();
    len as u64
}

/// On local disk: redundant layers (restored after the compaction deleted
/// them, as if the deletes had failed) and staging leftovers. Only staging
/// objects of this file older than an hour go; fresh ones, other files'
/// and names that merely look similar stay.
#[tokio::test]
async fn vacuum_on_disk_removes_redundant_layers_and_old_staging_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v.af");
    let mut f = ArrayFile::create_path(&path, immediate()).await.unwrap();
    let states = three_commits(&mut f).await;
    let saved: Vec<(PathBuf, Vec<u8>)> = (1..=3)
        .map(|n| {
            let p = dir.path().join(format!("v.{n}.af"));
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect();
    f.compact().await.unwrap();
    assert_eq!(
        dir_files(dir.path()),
        BTreeSet::from(["v.af".into(), "v.4.af".into()])
    );
    let mut expected_bytes = 0u64;
    for (p, bytes) in &saved {
        std::fs::write(p, bytes).unwrap();
        expected_bytes += bytes.len() as u64;
    }
    let hour = Duration::from_secs(3600);
    expected_bytes += write_aged(
        dir.path().join("v.7.0123456789abcdef.staging"),
        100,
        2 * hour,
    );
    write_aged(
        dir.path().join("v.8.fedcba9876543210.staging"),
        50,
        Duration::ZERO,
    );
    write_aged(
        dir.path().join("v.9.0000000000000001.staging"),
        10,
        hour / 2,
    );
    write_aged(
        dir.path().join("other.3.0123456789abcdef.staging"),
        20,
        2 * hour,
    );
    write_aged(dir.path().join("v.5.xyz.staging"), 30, 2 * hour);
    write_aged(dir.path().join("v.0.af"), 40, 2 * hour);
    write_aged(dir.path().join("v.012.af"), 40, 2 * hour);

    // The restored layers are reachable by time travel before the vacuum.
    let old = ArrayFile::open_path(
        &path,
        FileConfig {
            as_of: Some(2),
            ..config()
        },
    )
    .await
    .unwrap();
    assert_eq!(state(&old).await, states[2]);
    drop(old);

    let report = f.vacuum().await.unwrap();
    let deleted: BTreeSet<String> = report.deleted.iter().cloned().collect();
    assert_eq!(
        deleted,
        BTreeSet::from([
            "v.1.af".into(),
            "v.2.af".into(),
            "v.3.af".into(),
            "v.7.0123456789abcdef.staging".into(),
        ])
    );
    assert_eq!(report.deleted.len(), 4);
    assert_eq!(report.bytes, expected_bytes);
    assert_eq!(
        dir_files(dir.path()),
        BTreeSet::from([
            "v.af".into(),
            "v.4.af".into(),
            "v.8.fedcba9876543210.staging".into(),
            "v.9.0000000000000001.staging".into(),
            "other.3.0123456789abcdef.staging".into(),
            "v.5.xyz.staging".into(),
            "v.0.af".into(),
            "v.012.af".into(),
        ])
    );
    assert_eq!(state(&f).await, states[3]);
    let reopened = ArrayFile::open_path(&path, config()).await.unwrap();
    assert_eq!(state(&reopened).await, states[3]);
    assert!(reopened.verify().await.unwrap().is_ok());
    assert_version_not_found(
        ArrayFile::open_path(
            &path,
            FileConfig {
                as_of: Some(2),
                ..config()
            },
        )
        .await,
        2,
    );
}

// ── verify() ────────────────────────────────────────────────────────

/// `footer_len` from the trailer of a layer object: the data region is
/// `0 .. size - 32 - footer_len`.
fn data_end(bytes: &[u8]) -> u64 {
    let trailer = &bytes[bytes.len() - 32..];
    assert_eq!(&trailer[24..], b"ARRAYFMT");
    let footer_len = u64::from_le_bytes(trailer[..8].try_into().unwrap());
    bytes.len() as u64 - 32 - footer_len
}

const BIG: usize = 64;
const BIG_CHUNK: usize = 16;

fn big_values() -> Vec<i32> {
    (0..BIG as i32).map(|i| i * 7 - 100).collect()
}

/// Three layers written with three codecs:
/// 1 (LZ4): `ints`, `strs`, `floats`; 2 (Zstd): only `big`, whose four
/// 64-byte chunks each fill a frame of their own; 3 (none): partial
/// overwrites of `ints` and `floats`.
async fn build_verify_file(path: &std::path::Path) -> Vec<ArrayState> {
    let mut f = ArrayFile::create_path(path, config()).await.unwrap();
    f.define_array::<i32>("ints", vec![], vec![40], Some(vec![8]), None)
        .unwrap();
    let ints: Vec<i32> = (0..40).map(|i| i * 3).collect();
    f.write_array("ints", vec![0], arr(&ints).view())
        .await
        .unwrap();
    f.define_array::<String>("strs", vec![], vec![6], Some(vec![4]), None)
        .unwrap();
    let strs: Vec<String> = ["a", "", "ccc", "dddd", "é", "f"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    f.write_array("strs", vec![0], arr(&strs).view())
        .await
        .unwrap();
    f.define_array::<f64>("floats", vec![], vec![30], Some(vec![10]), None)
        .unwrap();
    let floats: Vec<f64> = (0..30).map(|i| f64::from(i) / 4.0).collect();
    f.write_array("floats", vec![0], arr(&floats).view())
        .await
        .unwrap();
    f.define_array::<i32>("big", vec![], vec![BIG], Some(vec![BIG_CHUNK]), None)
        .unwrap();
    f.flush().await.unwrap();
    drop(f);

    let mut f = ArrayFile::open_path(path, small(ZstdCodec::new(3)))
        .await
        .unwrap();
    f.write_array("big", vec![0], arr(&big_values()).view())
        .await
        .unwrap();
    f.flush().await.unwrap();
    drop(f);

    let mut f = ArrayFile::open_path(path, small(NoCompression))
        .await
        .unwrap();
    f.write_array(
        "ints",
        vec![3],
        arr(&[-1, -2, -3, -4, -5, -6, -7, -8]).view(),
    )
    .await
    .unwrap();
    f.write_array("floats", vec![0], arr(&[9.5; 10]).view())
        .await
        .unwrap();
    f.set_attribute("ints", "k", AttributeValue::Int32(3))
        .unwrap();
    f.flush().await.unwrap();
    state(&f).await
}

/// Chunks of the verify file: ints 5, strs 2, floats 3, big 4.
const VERIFY_CHUNKS: u64 = 14;

#[tokio::test]
async fn verify_passes_a_clean_file_written_with_every_codec() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v.af");
    let expected = build_verify_file(&path).await;
    let mut f = ArrayFile::open_path(&path, config()).await.unwrap();
    assert_eq!(state(&f).await, expected);

    let report = f.verify().await.unwrap();
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(report.layers, 3);
    assert!(report.frames >= VERIFY_CHUNKS / 2, "{report:?}");
    assert_eq!(report.chunks, VERIFY_CHUNKS, "{report:?}");
    let data_bytes: u64 = (0..=3)
        .map(|n| {
            let name = if n == 0 {
                "v.af".to_string()
            } else {
                format!("v.{n}.af")
            };
            data_end(&std::fs::read(dir.path().join(name)).unwrap())
        })
        .sum();
    assert!(report.bytes > 0);
    assert_eq!(report.bytes, data_bytes, "verify reads every frame once");

    // A snapshot copying frames of three codecs verifies too.
    f.compact().await.unwrap();
    let report = f.verify().await.unwrap();
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(report.layers, 1);
    assert_eq!(report.chunks, VERIFY_CHUNKS);
    assert_eq!(
        report.bytes,
        data_end(&std::fs::read(dir.path().join("v.4.af")).unwrap())
    );
    let reopened = ArrayFile::open_path(&path, config()).await.unwrap();
    assert_eq!(state(&reopened).await, expected);
    assert!(reopened.verify().await.unwrap().is_ok());
}

fn flip(path: &std::path::Path, offset: u64) {
    let mut bytes = std::fs::read(path).unwrap();
    assert!(
        offset < data_end(&bytes),
        "offset {offset} is outside the data region"
    );
    bytes[offset as usize] ^= 0xff;
    std::fs::write(path, bytes).unwrap();
}

/// Reads each chunk of `big` on its own through a fresh, uncached handle:
/// returns how many are `Corrupted`; every other read must be exact.
async fn corrupted_big_chunks(path: &std::path::Path) -> usize {
    let f = ArrayFile::open_path(
        path,
        FileConfig {
            cache_capacity: 0,
            io_cache_capacity: 0,
            ..config()
        },
    )
    .await
    .unwrap();
    let expected = big_values();
    let mut corrupted = 0;
    for c in 0..BIG / BIG_CHUNK {
        match f
            .read_array::<i32>("big", vec![c * BIG_CHUNK], vec![BIG_CHUNK])
            .await
        {
            Ok(got) => assert_eq!(
                got.iter().copied().collect::<Vec<_>>(),
                &expected[c * BIG_CHUNK..(c + 1) * BIG_CHUNK],
                "chunk {c} read wrong data"
            ),
            Err(Error::Corrupted { path, .. }) => {
                assert!(path.ends_with("v.2.af"), "{path}");
                corrupted += 1;
            }
            Err(e) => panic!("chunk {c}: unexpected error {e}"),
        }
    }
    if corrupted > 0 {
        let e = f
            .read_array::<i32>("big", vec![], vec![])
            .await
            .unwrap_err();
        assert!(matches!(e, Error::Corrupted { .. }), "{e}");
    }
    // The other arrays are unaffected.
    for name in ["ints", "strs", "floats"] {
        data(&f, name).await.unwrap();
    }
    corrupted
}

#[tokio::test]
async fn verify_lists_exactly_the_damaged_frames() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v.af");
    build_verify_file(&path).await;
    let layer2 = dir.path().join("v.2.af");
    let size = std::fs::metadata(&layer2).unwrap().len();
    assert_eq!(corrupted_big_chunks(&path).await, 0);

    // One flipped byte at the start of the data region: frame 0.
    flip(&layer2, 0);
    let f = ArrayFile::open_path(&path, config()).await.unwrap();
    let report = f.verify().await.unwrap();
    assert!(!report.is_ok());
    assert_eq!(report.damaged.len(), 1, "{report:?}");
    let d0 = report.damaged[0].clone();
    assert_eq!(d0.path, "v.2.af");
    assert_eq!(d0.frame, Some(0));
    assert_eq!(d0.offset, 0);
    assert!(d0.len > 0 && d0.len < size, "{d0:?}");
    assert_eq!(report.layers, 3);
    assert_eq!(corrupted_big_chunks(&path).await, 1);

    // A second flipped byte, at the first byte of the next frame.
    flip(&layer2, d0.len);
    let f = ArrayFile::open_path(&path, config()).await.unwrap();
    let report = f.verify().await.unwrap();
    assert_eq!(report.damaged.len(), 2, "{report:?}");
    let frames: Vec<(Option<u32>, u64, &str)> = report
        .damaged
        .iter()
        .map(|d| (d.frame, d.offset, d.path.as_str()))
        .collect();
    assert_eq!(
        frames,
        vec![(Some(0), 0, "v.2.af"), (Some(1), d0.len, "v.2.af")]
    );
    assert_eq!(report.damaged[0], d0);
    assert_eq!(corrupted_big_chunks(&path).await, 2);
    for d in &report.damaged {
        assert!(!d.what.is_empty());
        assert!(d.to_string().contains("v.2.af"), "{d}");
    }

    // The last byte of the last frame of layer 1 (LZ4).
    let layer1 = dir.path().join("v.1.af");
    let end1 = data_end(&std::fs::read(&layer1).unwrap());
    flip(&layer1, end1 - 1);
    let f = ArrayFile::open_path(&path, config()).await.unwrap();
    let report = f.verify().await.unwrap();
    assert_eq!(report.damaged.len(), 3, "{report:?}");
    let d = report.damaged.iter().find(|d| d.path == "v.1.af").unwrap();
    assert_eq!(d.offset + d.len, end1, "{d:?}");
    assert!(d.frame.is_some());
}

// ── Durable local commits ───────────────────────────────────────────

fn local(durable: bool) -> FileConfig<Lz4Codec> {
    FileConfig {
        durable,
        ..immediate()
    }
}

/// Only the base and layer objects: no staging files, no temporary files
/// of `object_store`'s local backend.
fn assert_only_layers(dir: &std::path::Path, expected: &[u64]) {
    let want: BTreeSet<String> = expected
        .iter()
        .map(|&n| {
            if n == 0 {
                "d.af".to_string()
            } else {
                format!("d.{n}.af")
            }
        })
        .collect();
    assert_eq!(dir_files(dir), want);
}

async fn durable_round_trip(durable: bool) {
    let root = tempfile::tempdir().unwrap();
    // create_path makes missing directories.
    let dir = root.path().join("sub").join("deeper");
    let path = dir.join("d.af");
    let mut f = ArrayFile::create_path(&path, local(durable)).await.unwrap();
    assert_only_layers(&dir, &[0]);
    let states = three_commits(&mut f).await;
    assert_only_layers(&dir, &[0, 1, 2, 3]);
    f.compact().await.unwrap();
    assert_only_layers(&dir, &[0, 4]);
    f.set_attribute("a", "final", AttributeValue::Bool(true))
        .unwrap();
    f.flush().await.unwrap();
    assert_only_layers(&dir, &[0, 4, 5]);
    let last = state(&f).await;
    drop(f);
    let reopened = ArrayFile::open_path(&path, local(durable)).await.unwrap();
    assert_eq!(state(&reopened).await, last);
    let old = ArrayFile::open_path(
        &path,
        FileConfig {
            as_of: Some(4),
            ..local(durable)
        },
    )
    .await
    .unwrap();
    assert_eq!(state(&old).await, states[3]);
    // The same file through the other setting and through an object store.
    let other = ArrayFile::open_path(&path, local(!durable)).await.unwrap();
    assert_eq!(state(&other).await, last);
    let store: Arc<dyn ObjectStore> =
        Arc::new(object_store::local::LocalFileSystem::new_with_prefix(&dir).unwrap());
    let via_store = ArrayFile::open(store, Path::from("d.af"), config())
        .await
        .unwrap();
    assert_eq!(state(&via_store).await, last);
    assert!(via_store.verify().await.unwrap().is_ok());
}

#[tokio::test]
async fn durable_local_round_trip() {
    durable_round_trip(true).await;
}

#[tokio::test]
async fn non_durable_local_round_trip() {
    durable_round_trip(false).await;
}

async fn local_conflict(durable: bool) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("d.af");
    let mut f = ArrayFile::create_path(&path, local(durable)).await.unwrap();
    f.define_array::<i32>("x", vec![], vec![8], Some(vec![4]), None)
        .unwrap();
    f.define_array::<i32>("y", vec![], vec![8], Some(vec![4]), None)
        .unwrap();
    f.flush().await.unwrap();
    drop(f);
    let mut a = ArrayFile::open_path(&path, local(durable)).await.unwrap();
    let mut b = ArrayFile::open_path(&path, local(durable)).await.unwrap();
    a.write_array("x", vec![0], arr(&[1, 2, 3, 4]).view())
        .await
        .unwrap();
    b.write_array("y", vec![4], arr(&[5, 6, 7, 8]).view())
        .await
        .unwrap();
    a.flush().await.unwrap();
    let e = b.flush().await.unwrap_err();
    assert!(matches!(e, Error::Conflict { .. }), "{e}");
    assert!(b.has_pending_changes());
    assert_only_layers(dir.path(), &[0, 1, 2]);
    b.refresh().await.unwrap();
    b.flush().await.unwrap();
    assert_only_layers(dir.path(), &[0, 1, 2, 3]);
    // A now loses the race for layer 3 and retries after refreshing.
    a.write_array("x", vec![4], arr(&[9, 9, 9, 9]).view())
        .await
        .unwrap();
    let e = a.flush().await.unwrap_err();
    assert!(matches!(e, Error::Conflict { .. }), "{e}");
    a.refresh().await.unwrap();
    a.flush().await.unwrap();
    assert_only_layers(dir.path(), &[0, 1, 2, 3, 4]);
    let reopened = ArrayFile::open_path(&path, local(durable)).await.unwrap();
    assert_eq!(
        data(&reopened, "x").await.unwrap(),
        Data::I32(vec![1, 2, 3, 4, 9, 9, 9, 9])
    );
    assert_eq!(
        data(&reopened, "y").await.unwrap(),
        Data::I32(vec![0, 0, 0, 0, 5, 6, 7, 8])
    );
}

#[tokio::test]
async fn durable_local_writers_conflict_and_leave_no_staging() {
    local_conflict(true).await;
}

#[tokio::test]
async fn non_durable_local_writers_conflict_and_leave_no_staging() {
    local_conflict(false).await;
}

#[tokio::test]
async fn open_path_of_a_missing_file_is_file_not_found() {
    let dir = tempfile::tempdir().unwrap();
    for path in [
        dir.path().join("none.af"),
        dir.path().join("no/such/dir/none.af"),
    ] {
        match ArrayFile::open_path(&path, config()).await {
            Err(Error::FileNotFound { .. }) => {}
            other => panic!("{}: {other:?}", path.display()),
        }
    }
    let e = ArrayFile::create_path(dir.path().join("bad.bin"), config())
        .await
        .unwrap_err();
    assert!(matches!(e, Error::InvalidPath { .. }), "{e}");
}

/// A torn newest layer (a non-durable commit cut short by a power loss):
/// open fails with `Corrupted`; the previous version opens with `as_of`,
/// its `versions()` names the damaged layer, and deleting that layer
/// restores the previous commit.
#[tokio::test]
async fn torn_newest_layer_is_reported_and_the_previous_version_opens() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("d.af");
    let mut f = ArrayFile::create_path(&path, local(false)).await.unwrap();
    let states = three_commits(&mut f).await;
    drop(f);
    let layer3 = dir.path().join("d.3.af");
    let bytes = std::fs::read(&layer3).unwrap();
    std::fs::write(&layer3, &bytes[..bytes.len() / 2]).unwrap();

    match ArrayFile::open_path(&path, local(false)).await {
        Err(Error::Corrupted { path, .. }) => assert!(path.ends_with("d.3.af"), "{path}"),
        other => panic!("expected Corrupted, got {other:?}"),
    }
    let old = ArrayFile::open_path(
        &path,
        FileConfig {
            as_of: Some(2),
            ..local(false)
        },
    )
    .await
    .unwrap();
    assert_eq!(state(&old).await, states[2]);
    let versions = old.versions().await.unwrap();
    assert_eq!(layers(&versions), vec![0, 1, 2, 3]);
    let torn = &versions[3];
    assert!(torn.damage.is_some(), "{torn:?}");
    assert!(!torn.visible);
    assert_eq!(torn.size, (bytes.len() / 2) as u64);
    assert!(
        versions[1..3]
            .iter()
            .all(|v| v.damage.is_none() && v.visible)
    );

    std::fs::remove_file(&layer3).unwrap();
    let mut f = ArrayFile::open_path(&path, local(false)).await.unwrap();
    assert_eq!(state(&f).await, states[2]);
    f.set_attribute("a", "again", AttributeValue::Int8(1))
        .unwrap();
    f.flush().await.unwrap();
    assert_only_layers(dir.path(), &[0, 1, 2, 3]);
}

/// A file of many layers opened with `open_path` (whose later footers are
/// read on other threads and streamed back): every layer's changes are
/// there, in order; and a damaged layer in the middle is reported by name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_path_of_many_layers_reads_them_all_and_names_a_damaged_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("many.af");
    let layers = 70;
    {
        let mut f = ArrayFile::create_path(&path, config()).await.unwrap();
        f.define_array::<i32>("x", vec![], vec![layers], Some(vec![1]), None)
            .unwrap();
        for i in 0..layers {
            f.write_array("x", vec![i], arr(&[i as i32 * 3]).view())
                .await
                .unwrap();
            f.set_attribute("x", &format!("k{i}"), AttributeValue::Int64(i as i64))
                .unwrap();
            f.flush().await.unwrap();
        }
    }
    // A directory named like a layer is not one (object_store's listing
    // leaves directories out; so must the direct one).
    std::fs::create_dir(dir.path().join("many.999.af")).unwrap();
    let f = ArrayFile::open_path(&path, config()).await.unwrap();
    assert_eq!(f.num_layers(), layers);
    let data = f.read_array::<i32>("x", vec![], vec![]).await.unwrap();
    let expected: Vec<i32> = (0..layers as i32).map(|i| i * 3).collect();
    assert_eq!(data.iter().copied().collect::<Vec<_>>(), expected);
    assert_eq!(f.attributes("x").unwrap().len(), layers);
    drop(f);

    // The last byte of layer 37's footer (just before its 32-byte trailer).
    let damaged = dir.path().join("many.37.af");
    let mut bytes = std::fs::read(&damaged).unwrap();
    let at = bytes.len() - 33;
    bytes[at] ^= 0x40;
    std::fs::write(&damaged, bytes).unwrap();
    match ArrayFile::open_path(&path, config()).await {
        Err(Error::Corrupted { path, .. }) => assert!(path.ends_with("many.37.af"), "{path}"),
        other => panic!("expected Corrupted naming layer 37, got {other:?}"),
    }
}

/// The same on a single-threaded runtime, for a name that `object_store`
/// percent-encodes (layers are listed by their names on disk and opened
/// relative to the directory): every layer is found and read, and damage in
/// a layer this task opens itself (not a helper thread) is reported too.
#[tokio::test]
async fn open_path_of_many_layers_with_an_escaped_name_on_one_thread() {
    let dir = tempfile::tempdir().unwrap();
    let name = "run #1 (100%).af";
    let path = dir.path().join(name);
    let layers = 40;
    {
        let mut f = ArrayFile::create_path(&path, config()).await.unwrap();
        f.define_array::<i32>("x", vec![], vec![layers], Some(vec![1]), None)
            .unwrap();
        for i in 0..layers {
            f.write_array("x", vec![i], arr(&[i as i32 + 7]).view())
                .await
                .unwrap();
            f.flush().await.unwrap();
        }
    }
    // Another file's layers in the same directory are not this file's.
    std::fs::write(dir.path().join("run #2 (100%).5.af"), b"not a layer").unwrap();
    let f = ArrayFile::open_path(&path, config()).await.unwrap();
    assert_eq!(f.num_layers(), layers);
    let data = f.read_array::<i32>("x", vec![], vec![]).await.unwrap();
    let expected: Vec<i32> = (0..layers as i32).map(|i| i + 7).collect();
    assert_eq!(data.iter().copied().collect::<Vec<_>>(), expected);
    drop(f);
    // Through object_store, which names files by the path verbatim.
    let store =
        Arc::new(object_store::local::LocalFileSystem::new_with_prefix(dir.path()).unwrap());
    let f = ArrayFile::open(store, Path::parse(name).unwrap(), config())
        .await
        .unwrap();
    assert_eq!(f.num_layers(), layers);
    let data = f.read_array::<i32>("x", vec![], vec![]).await.unwrap();
    assert_eq!(data.iter().copied().collect::<Vec<_>>(), expected);
    drop(f);

    let damaged = dir.path().join("run #1 (100%).3.af");
    let mut bytes = std::fs::read(&damaged).unwrap();
    let at = bytes.len() - 33;
    bytes[at] ^= 0x40;
    std::fs::write(&damaged, bytes).unwrap();
    match ArrayFile::open_path(&path, config()).await {
        Err(Error::Corrupted { path, .. }) => assert!(path.ends_with(".3.af"), "{path}"),
        other => panic!("expected Corrupted naming layer 3, got {other:?}"),
    }
}
