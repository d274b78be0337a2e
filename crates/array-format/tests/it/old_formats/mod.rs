//! Files written in older format versions open and read exactly as
//! written, take layers of the current version on top, and compact into
//! the current version. Each version's fixtures are in
//! `tests/fixtures/format-vN/`, with a README giving the steps that wrote
//! them; `v3.rs`, `v4.rs` and `v5.rs` hold the programs that wrote the
//! version 3, 4 and 5 ones.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod v2;
mod v3;
mod v4;
mod v5;

use std::path::Path as FsPath;
use std::sync::Arc;

use array_format::{
    ArrayElement, ArrayFile, AttributeValue as A, CompressionCodec, FileConfig, Lz4Codec, StatValue,
};
use ndarray::{Array, ArrayD, IxDyn};
use object_store::local::LocalFileSystem;

/// A copy of fixture `name` of format version `version` in a fresh
/// directory, so that tests can add layers to it.
fn fixture(version: u16, name: &str) -> tempfile::TempDir {
    let from = FsPath::new(env!("CARGO_MANIFEST_DIR"))
        .join(format!("tests/fixtures/format-v{version}"))
        .join(name);
    let dir = tempfile::tempdir().unwrap();
    copy_objects(&from, dir.path());
    dir
}

/// Copies the objects of a fixture directory: its layers and, from format
/// version 5, its staged parts (`fixture.parts/`).
fn copy_objects(from: &FsPath, to: &FsPath) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".parts") {
            std::fs::create_dir_all(to.join(&name)).unwrap();
            copy_objects(&entry.path(), &to.join(&name));
        } else if name.ends_with(".af") {
            std::fs::copy(entry.path(), to.join(&name)).unwrap();
        }
    }
}

async fn open(dir: &FsPath) -> ArrayFile {
    let store = Arc::new(LocalFileSystem::new_with_prefix(dir).unwrap());
    ArrayFile::open(store, "fixture.af".into(), FileConfig::new(Lz4Codec))
        .await
        .unwrap()
}

async fn values<T: ArrayElement>(f: &ArrayFile, name: &str) -> Vec<T> {
    f.read_array::<T>(name, vec![], vec![])
        .await
        .unwrap()
        .iter()
        .cloned()
        .collect()
}

fn attrs(f: &ArrayFile, name: &str) -> Vec<(String, A)> {
    f.attributes(name).unwrap()
}

fn s(v: &str) -> A {
    A::String(v.into())
}

/// `verify` and `versions` find no damage.
async fn check_undamaged(f: &ArrayFile) {
    let report = f.verify().await.unwrap();
    assert!(report.is_ok(), "{:?}", report.damaged);
    assert!(
        f.versions()
            .await
            .unwrap()
            .iter()
            .all(|v| v.damage.is_none())
    );
}

fn arr<T>(shape: &[usize], v: Vec<T>) -> ArrayD<T> {
    Array::from_shape_vec(IxDyn(shape), v).unwrap()
}

/// Opens `dir/fixture.af` with a handle writing with `codec`.
async fn open_with<C: CompressionCodec + 'static>(dir: &FsPath, codec: C) -> ArrayFile {
    let store = Arc::new(LocalFileSystem::new_with_prefix(dir).unwrap());
    ArrayFile::open(store, "fixture.af".into(), FileConfig::new(codec))
        .await
        .unwrap()
}

/// An array's statistics: min, max, nulls, rows.
fn stats(f: &ArrayFile, name: &str) -> (Option<StatValue>, Option<StatValue>, u64, u64) {
    let s = f.array_stats(name).unwrap();
    (s.min.clone(), s.max.clone(), s.null_count, s.row_count)
}

/// Runs a version's fixture steps (`write_steps(dir, compact)`) into
/// `AF_FIXTURE_OUT/layered` and `AF_FIXTURE_OUT/compacted`.
async fn write_fixture_dirs<F: std::future::Future<Output = ()>>(
    write_steps: impl Fn(std::path::PathBuf, bool) -> F,
) {
    let out = std::path::PathBuf::from(std::env::var("AF_FIXTURE_OUT").unwrap());
    for (name, compact) in [("layered", false), ("compacted", true)] {
        let dir = out.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        write_steps(dir, compact).await;
    }
}
