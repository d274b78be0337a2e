//! Crash points of durable local files: the fsynced, linked commits of a
//! file opened by path, interrupted at every mutating call of the storage
//! seam ([`Faulty`]), as the tests interrupt every other store at every
//! request.
//!
//! A workload (create, commits of small and large layers, an attribute,
//! a delete, a compaction and a vacuum, both with zero retention so that
//! they delete) runs once healthy, recording the state after `create` and
//! after every acknowledged step: S0 .. Sn. Then for every call k, in both
//! fault modes (call k refused; call k performed and its reply lost), it
//! reruns on a fresh directory, stops at the first error, reopens the file
//! by path and requires S_i or S_{i+1} (the step in flight), then a new
//! commit, and finally that a vacuum leaves nothing but layers.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use ndarray::{ArrayD, IxDyn};
use object_store::local::LocalFileSystem;
use object_store::path::Path;

use super::create::Replace;
use super::{ArrayFile, FileConfig};
use crate::codec::Lz4Codec;
use crate::error::{Error, Result};
use crate::storage::FileStore;
use crate::storage::objects::{Faulty, LocalDir};
use crate::value::AttributeValue;

/// What a reader can observe: each array's elements, and the file's
/// attributes.
type State = (BTreeMap<String, Vec<i32>>, Vec<(String, AttributeValue)>);

fn config() -> FileConfig<Lz4Codec> {
    FileConfig {
        frame_target_size: 4096,
        ..FileConfig::new(Lz4Codec)
    }
}

async fn state(f: &ArrayFile) -> State {
    let mut arrays = BTreeMap::new();
    for meta in f.list_arrays() {
        let values = f.read_array::<i32>(&meta.name, vec![], vec![]).await;
        arrays.insert(meta.name.clone(), values.unwrap().iter().copied().collect());
    }
    (arrays, f.file_attributes().unwrap())
}

/// Array `a{i}`: `len` elements from `i`.
async fn put(f: &mut ArrayFile, i: usize, len: usize) -> Result<()> {
    let name = format!("a{i}");
    f.define_array::<i32>(&name, vec!["x".into()], vec![len], Some(vec![1024]), None)?;
    let data = ArrayD::from_shape_fn(IxDyn(&[len]), |ix| (ix[0] * 7 + i) as i32);
    f.write_array(&name, vec![0], data.view()).await?;
    f.flush().await
}

/// The workload; `seen` gets the state after create and after every
/// acknowledged step, and the run stops at the first error.
async fn workload(f: &mut ArrayFile, seen: &mut Vec<State>) -> Result<()> {
    for (i, len) in [(1, 100), (2, 300_000), (3, 5_000)] {
        put(f, i, len).await?;
        seen.push(state(f).await);
    }
    f.set_file_attribute("title", AttributeValue::String("local".into()))?;
    f.flush().await?;
    seen.push(state(f).await);
    f.delete("a1")?;
    f.flush().await?;
    seen.push(state(f).await);
    f.compact_with(Duration::ZERO).await?;
    seen.push(state(f).await);
    put(f, 4, 2_000).await?;
    seen.push(state(f).await);
    f.vacuum_with(Duration::ZERO, Duration::ZERO).await?;
    seen.push(state(f).await);
    Ok(())
}

/// Runs the workload in `dir` through a seam failing from call `k` (never
/// when `k` is 0); the states acknowledged, and the calls made.
async fn run(dir: &std::path::Path, k: u64, lost_reply: bool) -> (Vec<State>, u64) {
    let fs = Arc::new(LocalFileSystem::new_with_prefix(dir).unwrap());
    let local: Arc<dyn crate::storage::objects::Objects> = Arc::new(LocalDir::new(fs, true));
    let faulty = Arc::new(Faulty::new(
        local,
        if k == 0 { u64::MAX } else { k },
        lost_reply,
    ));
    let store = FileStore::with_objects(faulty.clone(), Path::from("f.af")).unwrap();
    let mut seen = Vec::new();
    if let Ok(mut f) = ArrayFile::create_in(store, config(), Replace::Any).await {
        seen.push(state(&f).await);
        let _ = workload(&mut f, &mut seen).await;
    }
    (seen, faulty.calls())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn durable_local_commits_survive_a_fault_at_every_call() {
    let healthy = tempfile::tempdir().unwrap();
    let (states, calls) = run(healthy.path(), 0, false).await;
    assert_eq!(states.len(), 9, "the healthy run acknowledges every step");
    assert!(calls > 10, "{calls} mutating calls");
    let mut recovered = [0usize; 2];
    for lost_reply in [false, true] {
        for k in 1..=calls + 1 {
            let dir = tempfile::tempdir().unwrap();
            let (seen, _) = run(dir.path(), k, lost_reply).await;
            let at = format!("call {k} (lost reply: {lost_reply})");
            let path = dir.path().join("f.af");
            let mut f = match ArrayFile::open_path(&path, config()).await {
                Ok(f) => f,
                Err(Error::FileNotFound { .. }) if seen.is_empty() => continue,
                Err(e) => panic!("{at}: the file does not open: {e}"),
            };
            let now = state(&f).await;
            let i = seen.len();
            let fits = i > 0 && now == states[i - 1] || states.get(i) == Some(&now);
            assert!(fits, "{at}: not the state after step {i} or {}", i + 1);
            put(&mut f, 9, 10)
                .await
                .unwrap_or_else(|e| panic!("{at}: {e}"));
            let after = ArrayFile::open_path(&path, config()).await.unwrap();
            assert_eq!(
                state(&after).await.0.get("a9").map(Vec::len),
                Some(10),
                "{at}"
            );
            f.vacuum_with(Duration::ZERO, Duration::ZERO).await.unwrap();
            for entry in std::fs::read_dir(dir.path()).unwrap() {
                let name = entry.unwrap().file_name().into_string().unwrap();
                assert!(name.ends_with(".af"), "{at}: {name} left behind");
            }
            recovered[usize::from(lost_reply)] += 1;
        }
    }
    eprintln!(
        "durable local crash points: {calls} calls; recovered {} refused, {} lost replies",
        recovered[0], recovered[1]
    );
}
