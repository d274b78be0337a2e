//! Layers a compaction replaced stay for the retention
//! (`FileConfig::retention`): readers of other handles that opened an
//! earlier version read on while another handle writes, compacts and
//! vacuums, on every backend; compaction and vacuum delete a replaced layer
//! only once the snapshot that replaced it is older than the retention.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeSet;

use crate::common::Place;
use af_testkit::Kind;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use array_format::{ArrayFile, DEFAULT_PART_GRACE, FileConfig, Lz4Codec};
use ndarray::{ArrayD, IxDyn};

const NAME: &str = "r.af";
/// Chunks of the array the writer writes, one per round.
const CHUNKS: usize = 8;
const CHUNK: usize = 16;

fn config() -> FileConfig<Lz4Codec> {
    FileConfig {
        frame_target_size: 64,
        ..FileConfig::new(Lz4Codec)
    }
}

/// Readers see every read at the store: no cache hides a deleted layer.
fn uncached() -> FileConfig<Lz4Codec> {
    FileConfig {
        cache_capacity: 0,
        io_cache_capacity: 0,
        ..config()
    }
}

/// Round `r` (from 1) writes chunk `r % CHUNKS` full of `r`.
async fn write_round(f: &mut ArrayFile, r: usize) {
    let values = ArrayD::from_elem(IxDyn(&[CHUNK]), r as i32);
    f.write_array("v", vec![(r % CHUNKS) * CHUNK], values.view())
        .await
        .unwrap();
    f.flush().await.unwrap();
}

/// Whether `v` is the array as some round left it: every chunk holds the
/// latest round up to the newest one seen that wrote it (0 if none did).
fn committed(v: &ArrayD<i32>) -> bool {
    let chunks: Vec<&[i32]> = v.as_slice().unwrap().chunks(CHUNK).collect();
    if chunks.iter().any(|c| c.iter().any(|&x| x != c[0])) {
        return false;
    }
    let newest = chunks.iter().map(|c| c[0]).max().unwrap_or(0) as usize;
    chunks.iter().enumerate().all(|(i, c)| {
        let want = (1..=newest).rev().find(|r| r % CHUNKS == i).unwrap_or(0);
        c[0] as usize == want
    })
}

/// One handle writes rounds, compacting and vacuuming every fourth (with
/// the default retention); three reader handles, opened before any of it,
/// read the whole array meanwhile, refreshing now and then (one never).
/// Every read must succeed and be a committed version.
async fn readers_never_break(place: Place) {
    let place = Arc::new(place);
    let mut w = place.create_with(config()).await;
    w.define_array::<i32>("v", vec![], vec![CHUNKS * CHUNK], Some(vec![CHUNK]), None)
        .unwrap();
    for r in 1..=CHUNKS {
        write_round(&mut w, r).await;
    }
    let done = Arc::new(AtomicBool::new(false));
    let mut readers = Vec::new();
    for k in 0..3usize {
        let mut f = place.try_open_with(uncached()).await.unwrap();
        let done = Arc::clone(&done);
        readers.push(tokio::spawn(async move {
            let mut reads = 0usize;
            loop {
                let finished = done.load(Ordering::Acquire);
                let v = f
                    .read_array::<i32>("v", vec![], vec![])
                    .await
                    .unwrap_or_else(|e| panic!("reader {k}, read {reads}: {e}"))
                    .into_owned();
                assert!(committed(&v), "reader {k} read no committed version: {v}");
                reads += 1;
                if k > 0 && reads.is_multiple_of(2 * k) {
                    f.refresh().await.unwrap();
                }
                if finished {
                    return reads;
                }
                tokio::task::yield_now().await;
            }
        }));
    }
    for r in CHUNKS + 1..=4 * CHUNKS {
        write_round(&mut w, r).await;
        if r.is_multiple_of(4) {
            w.compact().await.unwrap();
            assert!(w.vacuum().await.unwrap().deleted.is_empty());
        }
    }
    done.store(true, Ordering::Release);
    for reader in readers {
        assert!(reader.await.unwrap() > 0);
    }
    // Everything replaced is still there; past the retention it goes.
    let before = place.layers().await.len();
    let report = w
        .vacuum_with(Duration::ZERO, DEFAULT_PART_GRACE)
        .await
        .unwrap();
    assert_eq!(place.layers().await.len(), before - report.deleted.len());
    assert_eq!(place.layers().await.len(), 2, "{:?}", place.layers().await);
    let f = place.try_open_with(config()).await.unwrap();
    let v = f.read_array::<i32>("v", vec![], vec![]).await.unwrap();
    assert!(committed(&v.into_owned()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_never_break_memory() {
    readers_never_break(Place::kind(Kind::Memory).named(NAME)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_never_break_local_object_store() {
    readers_never_break(Place::kind(Kind::Disk).named(NAME)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_never_break_disk() {
    readers_never_break(Place::by_path().named(NAME)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_never_break_s3s() {
    readers_never_break(Place::kind(Kind::S3s).named(NAME)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_never_break_moto() {
    if crate::common::s3::moto("readers_never_break_moto").is_some() {
        readers_never_break(Place::kind(Kind::Moto).named(NAME)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_never_break_azurite() {
    if crate::common::azurite::azurite("readers_never_break_azurite").is_some() {
        readers_never_break(Place::kind(Kind::Azurite).named(NAME)).await;
    }
}

/// With a retention of 2 s: a compaction deletes the layers that an
/// earlier compaction replaced more than 2 s before, and keeps those it
/// replaces itself; vacuum within the retention deletes nothing.
#[tokio::test]
async fn layers_go_once_their_replacement_is_older_than_the_retention() {
    let place = Place::kind(Kind::Memory).named(NAME);
    let short = FileConfig {
        retention: Duration::from_secs(2),
        ..config()
    };
    let mut f = place.create_with(short).await;
    f.define_array::<i32>("v", vec![], vec![CHUNKS * CHUNK], Some(vec![CHUNK]), None)
        .unwrap();
    f.flush().await.unwrap(); // 1, a snapshot over the empty base
    write_round(&mut f, 1).await; // 2
    write_round(&mut f, 2).await; // 3
    f.compact().await.unwrap(); // 4 replaces 1-3
    let names = |seqs: &[u64]| -> BTreeSet<String> {
        seqs.iter()
            .map(|&n| {
                if n == 0 {
                    NAME.to_string()
                } else {
                    format!("r.{n}.af")
                }
            })
            .collect()
    };
    assert_eq!(place.layers().await, names(&[0, 1, 2, 3, 4]));
    let replaced = SystemTime::now();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    write_round(&mut f, 3).await; // 5
    let compacting = SystemTime::now();
    f.compact().await.unwrap(); // 6 replaces 4 and 5; 1-3 expired
    assert!(replaced.elapsed().unwrap() >= Duration::from_secs(2));
    let layers = place.layers().await;
    assert!(layers.is_disjoint(&names(&[1, 2, 3])), "{layers:?}");
    // Layers 4 and 5 were replaced during this compaction: unless it took
    // the whole retention, they stay.
    if compacting.elapsed().unwrap() < Duration::from_secs(2) {
        assert_eq!(layers, names(&[0, 4, 5, 6]));
        assert!(f.vacuum().await.unwrap().deleted.is_empty());

        // Time travel reaches the layers kept.
        let old = place
            .try_open_with(FileConfig {
                as_of: Some(5),
                ..config()
            })
            .await
            .unwrap();
        let v = old.read_array::<i32>("v", vec![], vec![]).await.unwrap();
        assert!(committed(&v.into_owned()));
        let gone = place
            .try_open_with(FileConfig {
                as_of: Some(3),
                ..config()
            })
            .await;
        assert!(gone.is_err());
        let mut report = f
            .vacuum_with(Duration::ZERO, DEFAULT_PART_GRACE)
            .await
            .unwrap();
        report.deleted.sort();
        assert_eq!(report.deleted, ["r.4.af", "r.5.af"]);
        assert_eq!(place.layers().await, names(&[0, 6]));
    }
}
