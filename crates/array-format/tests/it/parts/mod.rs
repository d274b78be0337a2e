//! Writes from many handles committed as one layer: handles `stage` their
//! chunk writes as parts no reader sees, a coordinator `commit_parts` them
//! as one delta layer that adopts their frames where they are.
//!
//! `mod.rs` holds where files live and the round trips (four writers, on
//! memory, on local disk through `open_path` and through `LocalFileSystem`,
//! and on the test binary's S3 server);
//! `conflicts.rs` the collisions with each other and with other writers;
//! `defining.rs` parts that write arrays the coordinator defines in the same
//! commit, with its own pending changes;
//! `errors.rs` what cannot be staged and parts that are missing, damaged or
//! foreign; `lifecycle.rs` compaction, vacuum, verify and request counts.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod conflicts;
mod defining;
mod errors;
mod lifecycle;

use std::time::Duration;

use af_testkit::Kind;
use array_format::{ArrayFile, FileConfig, Lz4Codec, StagedPart, StatValue};
use ndarray::{ArrayD, IxDyn};

pub(super) use crate::common::Place;

const NAME: &str = "p.af";

/// Rows of `grid` per chunk, and rows in all: four writers write four
/// chunks of rows each.
const ROWS: usize = 4;
const ALL_ROWS: usize = 64;
const COLS: usize = 8;

fn config() -> FileConfig<Lz4Codec> {
    FileConfig {
        frame_target_size: 64,
        // Replaced layers are deleted at once: the harshest case for the
        // protocol (a reader or a stale writer finds its layers gone).
        retention: Duration::ZERO,
        ..FileConfig::new(Lz4Codec)
    }
}

/// Every place a parts test runs in: memory, a directory by path, the
/// same through `LocalFileSystem`, and the S3 server.
fn places() -> Vec<Place> {
    [
        Place::kind(Kind::Memory),
        Place::by_path(),
        Place::kind(Kind::Disk),
        Place::kind(Kind::S3s),
    ]
    .into_iter()
    .map(|p| p.named(NAME))
    .collect()
}

/// A fresh memory place.
fn memory() -> Place {
    Place::kind(Kind::Memory).named(NAME)
}

/// Creates the file with its arrays, committed: `grid` (i32, 64 x 8 in
/// chunks of 4 x 8, fill -1) and `names` (strings, 16 in chunks of 2).
async fn define(place: &Place) -> ArrayFile {
    let mut f = place.create_with(config()).await;
    f.define_array::<i32>(
        "grid",
        vec!["y".into(), "x".into()],
        vec![ALL_ROWS, COLS],
        Some(vec![ROWS, COLS]),
        Some(array_format::FillValue::Int(-1)),
    )
    .unwrap();
    f.define_array::<String>("names", vec![], vec![16], Some(vec![2]), None)
        .unwrap();
    f.flush().await.unwrap();
    f
}

/// Element (y, x) of `grid` as writer `w` writes it.
fn value(w: usize, y: usize, x: usize) -> i32 {
    (w * 100_000 + y * 100 + x) as i32
}

/// Worker `w` of four writes rows `16w .. 16w + 16` of `grid` (four
/// chunks) and elements `4w .. 4w + 4` of `names` (two chunks).
async fn work(f: &mut ArrayFile, w: usize) {
    let rows = ALL_ROWS / 4;
    let data = ArrayD::from_shape_fn(IxDyn(&[rows, COLS]), |i| value(w, rows * w + i[0], i[1]));
    f.write_array("grid", vec![rows * w, 0], data.view())
        .await
        .unwrap();
    let names: Vec<String> = (0..4).map(|i| format!("w{w}-{i}")).collect();
    let names = ArrayD::from_shape_vec(IxDyn(&[4]), names).unwrap();
    f.write_array("names", vec![4 * w], names.view())
        .await
        .unwrap();
}

/// What `grid` holds once the workers in `done` committed.
fn expected_grid(done: &[usize]) -> Vec<i32> {
    let rows = ALL_ROWS / 4;
    (0..ALL_ROWS * COLS)
        .map(|i| {
            let (y, x) = (i / COLS, i % COLS);
            if done.contains(&(y / rows)) {
                value(y / rows, y, x)
            } else {
                -1
            }
        })
        .collect()
}

async fn grid(f: &ArrayFile) -> Vec<i32> {
    f.read_array::<i32>("grid", vec![], vec![])
        .await
        .unwrap()
        .iter()
        .copied()
        .collect()
}

async fn names(f: &ArrayFile) -> Vec<String> {
    f.read_array::<String>("names", vec![], vec![])
        .await
        .unwrap()
        .iter()
        .cloned()
        .collect()
}

/// Four handles each write their share and stage it; the parts' bytes
/// (as a worker process would send them).
async fn stage_four(place: &Place) -> Vec<Vec<u8>> {
    let mut sent = Vec::new();
    for w in 0..4 {
        let mut f = place.open_with(config()).await;
        work(&mut f, w).await;
        let part = f.stage().await.unwrap();
        assert!(!f.has_pending_changes());
        assert_eq!(part.chunk_count(), 6);
        sent.push(part.to_bytes());
    }
    sent
}

fn decode(sent: &[Vec<u8>]) -> Vec<StagedPart> {
    sent.iter()
        .map(|b| StagedPart::from_bytes(b).unwrap())
        .collect()
}

#[tokio::test]
async fn parts_of_four_handles_commit_as_one_layer_and_read_back_exactly() {
    for place in places() {
        let at = place.name();
        let mut coordinator = define(&place).await;
        let before = coordinator.latest_layer();
        let reader_before = place.open_with(config()).await;
        let sent = stage_four(&place).await;
        // Staged, nothing is visible: not even to a handle opened now.
        let fresh = place.open_with(config()).await;
        assert_eq!(fresh.latest_layer(), before, "{at}");
        assert_eq!(grid(&fresh).await, expected_grid(&[]), "{at}");

        coordinator.commit_parts(&decode(&sent)).await.unwrap();
        assert_eq!(coordinator.latest_layer(), before + 1, "{at}");
        assert_eq!(coordinator.num_layers(), 2, "{at}");
        assert_eq!(
            grid(&coordinator).await,
            expected_grid(&[0, 1, 2, 3]),
            "{at}"
        );

        // One layer, adopting four parts, holding no data of its own.
        let versions = coordinator.versions().await.unwrap();
        let newest = versions.last().unwrap();
        assert_eq!((newest.layer, newest.parts), (before + 1, 4), "{at}");
        assert!(newest.size < 2048, "{at}: {} bytes", newest.size);

        // Readers opened before see nothing of it, until they refresh.
        assert_eq!(grid(&reader_before).await, expected_grid(&[]), "{at}");
        for f in [
            place.open_with(config()).await,
            place.open_with(uncached()).await,
        ] {
            assert_eq!(grid(&f).await, expected_grid(&[0, 1, 2, 3]), "{at}");
            let names = names(&f).await;
            assert_eq!(names[5], "w1-1", "{at}");
            assert_eq!(names[15], "w3-3", "{at}");
            let stats = f.array_stats("grid").unwrap();
            assert_eq!(stats.min, Some(StatValue::Int(0)), "{at}");
            assert_eq!(stats.null_count, 0, "{at}");
            // Windows that cross the parts' rows.
            let w = f
                .read_array::<i32>("grid", vec![14, 3], vec![4, 2])
                .await
                .unwrap();
            assert_eq!(w[[0, 0]], value(0, 14, 3), "{at}");
            assert_eq!(w[[3, 1]], value(1, 17, 4), "{at}");
            let report = f.verify().await.unwrap();
            assert!(report.is_ok(), "{at}: {:?}", report.damaged);
            assert_eq!(report.chunks, 16 + 8, "{at}");
        }
        // Committing the same parts again changes nothing.
        coordinator.commit_parts(&decode(&sent)).await.unwrap();
        assert_eq!(coordinator.latest_layer(), before + 1, "{at}");
        let mut late = place.open_with(config()).await;
        late.commit_parts(&decode(&sent)).await.unwrap();
        assert_eq!(late.latest_layer(), before + 1, "{at}");
    }
}

fn uncached() -> FileConfig<Lz4Codec> {
    FileConfig {
        cache_capacity: 0,
        io_cache_capacity: 0,
        ..config()
    }
}

#[tokio::test]
async fn a_coordinator_behind_the_parts_refreshes_and_one_ahead_keeps_their_bases() {
    let place = memory();
    let mut stale = define(&place).await;
    // Another writer commits a chunk the workers do not write; a worker
    // opened after it stages against the newer layer.
    let mut other = place.open_with(config()).await;
    other
        .write_array(
            "grid",
            vec![0, 0],
            ArrayD::from_elem(IxDyn(&[ROWS, COLS]), 7).view(),
        )
        .await
        .unwrap();
    other.flush().await.unwrap();
    let mut f = place.open_with(config()).await;
    work(&mut f, 2).await;
    let late = f.stage().await.unwrap();
    assert_eq!(late.base_layer(), stale.latest_layer() + 1);
    // The coordinator's view predates the part's base: it catches up.
    stale.commit_parts(&[late]).await.unwrap();
    let mut expected = expected_grid(&[2]);
    expected[..ROWS * COLS].fill(7);
    assert_eq!(grid(&stale).await, expected);
    assert_eq!(stale.num_layers(), 3);

    // A part staged against an older layer than the coordinator's view.
    let mut early = place.open_with(config()).await;
    work(&mut early, 1).await;
    other.refresh().await.unwrap();
    other
        .write_array(
            "grid",
            vec![ALL_ROWS - ROWS, 0],
            ArrayD::from_elem(IxDyn(&[ROWS, COLS]), 8).view(),
        )
        .await
        .unwrap();
    other.flush().await.unwrap();
    let part = early.stage().await.unwrap();
    stale.refresh().await.unwrap();
    stale.commit_parts(&[part]).await.unwrap();
    expected = expected_grid(&[1, 2]);
    expected[..ROWS * COLS].fill(7);
    expected[(ALL_ROWS - ROWS) * COLS..].fill(8);
    assert_eq!(grid(&place.open_with(config()).await).await, expected);
}

#[tokio::test]
async fn staging_nothing_makes_an_empty_part_that_commits_nothing() {
    let place = memory();
    let mut f = define(&place).await;
    let layers = f.latest_layer();
    let empty = f.stage().await.unwrap();
    assert_eq!(empty.chunk_count(), 0);
    f.commit_parts(&[empty]).await.unwrap();
    f.commit_parts(&[]).await.unwrap();
    assert_eq!(f.latest_layer(), layers);
}
