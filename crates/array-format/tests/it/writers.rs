//! Several `ArrayFile` handles on one file: writers racing for a layer
//! number, conflict detection after `refresh`, the orphan check against a
//! concurrent compaction, concurrent writers and readers, and `Vanished`.
//!
//! Most tests run on an `object_store` `InMemory` store shared through an
//! `Arc`. The two-writer scenarios (the race for a layer number, retries
//! after a refresh for disjoint and for colliding changes, stale writers
//! against a compaction, reads after another handle compacted, a layer
//! name taken again) run on every store of `af_testkit::Backend` in
//! `conformance::writers`, and here on local disk through
//! `create_path`/`open_path`; four writers and a compactor, and readers
//! racing writers, run here on memory, disk and the test binary's S3
//! server (`common::s3`).
//!
//! The expected state of a file after two handles' changes both (or only
//! one of them) committed is computed by an oracle: the same changes applied
//! in order through one handle on a fresh file (`sequential`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::{FaultyStore, Place};
use af_testkit::{Backend, Kind};
use array_format::{
    ArrayFile, ArrayStats, AttributeValue, Error, FileConfig, Lz4Codec, MergedArrayMeta, Result,
};
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use futures::{FutureExt, StreamExt};
use ndarray::{ArrayD, IxDyn};
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    ObjectStoreExt, PutMultipartOptions, PutOptions, PutPayload, PutResult,
};

const NAME: &str = "w.af";

fn config() -> FileConfig<Lz4Codec> {
    FileConfig {
        block_target_size: 4096,
        frame_target_size: 64,
        // Replaced layers are deleted at once: the harshest case for the
        // protocol (a reader or a stale writer finds its layers gone).
        retention: Duration::ZERO,
        ..FileConfig::new(Lz4Codec)
    }
}

/// A config without caches: every read goes to the store.
fn uncached() -> FileConfig<Lz4Codec> {
    FileConfig {
        cache_capacity: 0,
        io_cache_capacity: 0,
        ..config()
    }
}

// ── Where the file lives ────────────────────────────────────────────

/// The file `w.af` in `backend`'s store.
pub(crate) fn place_on(backend: Backend) -> Place {
    Place::on(backend).named(NAME)
}

fn memory() -> Place {
    Place::kind(Kind::Memory).named(NAME)
}

/// A local directory, through `create_path` / `open_path`.
fn disk() -> Place {
    Place::by_path().named(NAME)
}

fn s3() -> Place {
    Place::kind(Kind::S3s).named(NAME)
}

// ── Changes and state ───────────────────────────────────────────────

/// One change made through a handle. All arrays are 1-D `i32` with chunks
/// of 5 elements.
#[derive(Debug, Clone)]
pub(crate) enum Op {
    Write(&'static str, usize, Vec<i32>),
    SetAttr(&'static str, &'static str, i64),
    RemoveAttr(&'static str, &'static str),
    Delete(&'static str),
    Define(&'static str, usize),
}

fn vec1(values: &[i32]) -> ArrayD<i32> {
    ArrayD::from_shape_vec(IxDyn(&[values.len()]), values.to_vec()).unwrap()
}

async fn apply(f: &mut ArrayFile, ops: &[Op]) {
    for op in ops {
        match op {
            Op::Write(name, start, values) => f
                .write_array(name, vec![*start], vec1(values).view())
                .await
                .unwrap(),
            Op::SetAttr(name, key, v) => f
                .set_attribute(name, key, AttributeValue::Int64(*v))
                .unwrap(),
            Op::RemoveAttr(name, key) => assert!(f.remove_attribute(name, key).unwrap()),
            Op::Delete(name) => f.delete(name).unwrap(),
            Op::Define(name, len) => f
                .define_array::<i32>(*name, vec![], vec![*len], Some(vec![5]), None)
                .unwrap(),
        }
    }
}

/// Everything observable about one array.
#[derive(Debug, Clone, PartialEq)]
struct ArrayState {
    meta: MergedArrayMeta,
    attrs: Vec<(String, AttributeValue)>,
    data: Vec<i32>,
    stats: Option<ArrayStats>,
}

async fn read_i32(f: &ArrayFile, name: &str) -> Vec<i32> {
    f.read_array::<i32>(name, vec![], vec![])
        .await
        .unwrap()
        .iter()
        .copied()
        .collect()
}

/// The observable state of a handle (pending changes included; statistics
/// are of the committed state).
async fn state(f: &ArrayFile) -> Vec<ArrayState> {
    let mut out = Vec::new();
    for meta in f.list_arrays() {
        out.push(ArrayState {
            attrs: f.attributes(&meta.name).unwrap(),
            data: read_i32(f, &meta.name).await,
            stats: f.array_stats(&meta.name).cloned(),
            meta,
        });
    }
    out
}

/// The committed base every two-handle test starts from (layer 1): arrays
/// `x` = 0..20 and `y` = 100..120 with chunks of 5, and some attributes.
fn base_ops() -> Vec<Op> {
    vec![
        Op::Define("x", 20),
        Op::Define("y", 20),
        Op::Write("x", 0, (0..20).collect()),
        Op::Write("y", 0, (100..120).collect()),
        Op::SetAttr("x", "units", 1),
        Op::SetAttr("x", "scale", 10),
        Op::SetAttr("y", "units", 2),
    ]
}

async fn setup(place: &Place) {
    let mut f = place.create_with(config()).await;
    apply(&mut f, &base_ops()).await;
    f.flush().await.unwrap();
}

/// The state after the base, then `first` committed, then `second`
/// committed, all through one handle on a fresh file.
async fn sequential(first: &[Op], second: &[Op]) -> Vec<ArrayState> {
    let place = memory();
    setup(&place).await;
    let mut f = place.open_with(config()).await;
    apply(&mut f, first).await;
    f.flush().await.unwrap();
    apply(&mut f, second).await;
    f.flush().await.unwrap();
    state(&place.open_with(config()).await).await
}

fn assert_conflict(r: Result<()>, what: &str) {
    assert!(
        matches!(r, Err(Error::Conflict { .. })),
        "{what}: expected Error::Conflict, got {r:?}"
    );
}

/// The layers a fresh handle's `versions()` lists that are not part of its
/// view, except the base: garbage that would confuse `versions()` and
/// time travel.
async fn stray_layers(place: &Place) -> Vec<u64> {
    let f = place.open_with(config()).await;
    f.versions()
        .await
        .unwrap()
        .into_iter()
        .filter(|v| v.layer != 0 && !v.visible)
        .map(|v| v.layer)
        .collect()
}

/// Staging objects left in the file's store.
async fn staging_files(place: &Place) -> Vec<String> {
    place
        .store()
        .list(None)
        .map(|m| m.unwrap().location.to_string())
        .filter(|n| futures::future::ready(n.contains("staging")))
        .collect()
        .await
}

// ── Racing for one layer number ─────────────────────────────────────

pub(crate) async fn race_for_same_layer(place: Place) {
    setup(&place).await;
    let mut a = place.open_with(config()).await;
    let mut b = place.open_with(config()).await;
    let a_ops = vec![
        Op::Write("x", 0, vec![1000, 1001]),
        Op::SetAttr("x", "by_a", 1),
    ];
    let b_ops = vec![
        Op::Write("y", 7, vec![2000, 2001, 2002]),
        Op::SetAttr("y", "by_b", 2),
    ];
    apply(&mut a, &a_ops).await;
    apply(&mut b, &b_ops).await;
    let b_pending = state(&b).await;

    a.flush().await.unwrap();
    assert!(!a.has_pending_changes());
    assert_conflict(b.flush().await, "B commits the layer number A took");
    assert!(b.has_pending_changes(), "a conflict must keep B's changes");
    assert_eq!(
        state(&b).await,
        b_pending,
        "B's view changed by a failed flush"
    );
    assert_eq!(&read_i32(&b, "y").await[7..10], &[2000, 2001, 2002]);
    assert_eq!(
        b.get_attribute("y", "by_b").unwrap(),
        Some(&AttributeValue::Int64(2))
    );
    // B does not see A's commit until it refreshes.
    assert_eq!(read_i32(&b, "x").await[0], 0);

    b.refresh().await.unwrap();
    assert!(b.has_pending_changes(), "refresh must keep pending changes");
    assert_eq!(&read_i32(&b, "x").await[0..2], &[1000, 1001]);
    assert_eq!(&read_i32(&b, "y").await[7..10], &[2000, 2001, 2002]);
    b.flush().await.unwrap();
    assert!(!b.has_pending_changes());

    let expected = sequential(&a_ops, &b_ops).await;
    let reopened = place.open_with(config()).await;
    assert_eq!(state(&reopened).await, expected);
    assert_eq!(state(&b).await, expected);
    let layers: Vec<u64> = reopened
        .versions()
        .await
        .unwrap()
        .iter()
        .map(|v| v.layer)
        .collect();
    assert_eq!(layers, vec![0, 1, 2, 3]);
    // A catches up with a refresh too.
    a.refresh().await.unwrap();
    assert_eq!(state(&a).await, expected);
    let staging = staging_files(&place).await;
    assert!(staging.is_empty(), "{staging:?}");
}

#[tokio::test]
async fn race_for_same_layer_number_loses_no_commit_disk() {
    race_for_same_layer(disk()).await;
}

// ── Conflict rules ──────────────────────────────────────────────────

/// A and B open the base; A commits `a_ops`; B's flush of `b_ops` loses the
/// race for the layer number; after `refresh`, B's retry must succeed and
/// the file must hold both changes.
pub(crate) async fn retry_succeeds(place: Place, case: &str, a_ops: &[Op], b_ops: &[Op]) {
    setup(&place).await;
    let mut a = place.open_with(config()).await;
    let mut b = place.open_with(config()).await;
    apply(&mut a, a_ops).await;
    apply(&mut b, b_ops).await;
    a.flush().await.unwrap();
    assert_conflict(b.flush().await, case);
    assert!(b.has_pending_changes(), "{case}");
    b.refresh().await.unwrap();
    if let Err(e) = b.flush().await {
        panic!("{case}: retry after refresh failed: {e}");
    }
    assert!(!b.has_pending_changes(), "{case}");
    let expected = sequential(a_ops, b_ops).await;
    assert_eq!(
        state(&place.open_with(config()).await).await,
        expected,
        "{case}"
    );
}

/// Changes of A and B that touch different chunks, keys or arrays.
pub(crate) fn disjoint_cases() -> Vec<(&'static str, Vec<Op>, Vec<Op>)> {
    vec![
        (
            "different arrays",
            vec![Op::Write("x", 0, vec![1; 5]), Op::SetAttr("x", "units", 7)],
            vec![Op::Write("y", 0, vec![2; 5]), Op::SetAttr("y", "units", 8)],
        ),
        (
            "different chunks, aligned",
            vec![Op::Write("x", 0, vec![1; 5])],
            vec![
                Op::Write("x", 5, vec![2; 5]),
                Op::Write("x", 15, vec![3; 5]),
            ],
        ),
        (
            "different chunks, partial and unaligned",
            vec![Op::Write("x", 1, vec![-1, -2]), Op::Write("x", 8, vec![-3])],
            vec![
                Op::Write("x", 11, vec![-4, -5, -6]),
                Op::Write("x", 13, vec![-7, -8, -9, -10, -11]),
            ],
        ),
        (
            "different attribute keys of one array",
            vec![Op::SetAttr("x", "units", 11), Op::SetAttr("x", "new_a", 1)],
            vec![
                Op::SetAttr("x", "new_b", 2),
                Op::RemoveAttr("x", "scale"),
                Op::Write("x", 5, vec![9; 5]),
            ],
        ),
        (
            "different new arrays",
            vec![Op::Define("za", 10), Op::Write("za", 2, vec![5])],
            vec![Op::Define("zb", 10), Op::Write("zb", 7, vec![6])],
        ),
        (
            "A deletes one array, B changes another",
            vec![Op::Delete("x")],
            vec![Op::Write("y", 3, vec![4]), Op::SetAttr("y", "k", 1)],
        ),
    ]
}

/// Two of the cases on local disk through `create_path` (every case runs
/// on every store in `conformance::writers`).
#[tokio::test]
async fn retry_after_refresh_succeeds_for_disjoint_changes_disk() {
    for (case, a_ops, b_ops) in disjoint_cases().iter().take(3).skip(1) {
        retry_succeeds(disk(), case, a_ops, b_ops).await;
    }
}

/// A and B open the base; A commits `a_ops`; after losing the race and
/// refreshing, B's flush of `b_ops` must report `Conflict` (every time),
/// keep B's changes, and leave exactly A's state committed.
pub(crate) async fn retry_conflicts(place: Place, case: &str, a_ops: &[Op], b_ops: &[Op]) {
    setup(&place).await;
    let mut a = place.open_with(config()).await;
    let mut b = place.open_with(config()).await;
    apply(&mut a, a_ops).await;
    apply(&mut b, b_ops).await;
    a.flush().await.unwrap();
    let a_state = state(&a).await;
    assert_conflict(b.flush().await, case);
    b.refresh().await.unwrap();
    assert!(b.has_pending_changes(), "{case}");
    let r = b.flush().await;
    assert_conflict(r, &format!("{case}: retry after refresh"));
    assert!(
        b.has_pending_changes(),
        "{case}: a conflict must keep B's changes"
    );
    // Still a conflict on a second attempt and after another refresh.
    assert_conflict(b.flush().await, case);
    b.refresh().await.unwrap();
    assert_conflict(b.flush().await, case);

    let expected = sequential(a_ops, &[]).await;
    assert_eq!(a_state, expected, "{case}");
    let reopened = place.open_with(config()).await;
    assert_eq!(
        state(&reopened).await,
        expected,
        "{case}: something of B leaked into the committed state"
    );
    let layers: Vec<u64> = reopened
        .versions()
        .await
        .unwrap()
        .iter()
        .map(|v| v.layer)
        .collect();
    assert_eq!(layers, vec![0, 1, 2], "{case}");
    assert!(staging_files(&place).await.is_empty(), "{case}");
    // B can give up its changes and continue from A's state.
    b.discard_pending();
    assert!(!b.has_pending_changes());
    assert_eq!(state(&b).await, expected, "{case}");
    b.flush().await.unwrap();
    assert_eq!(
        state(&place.open_with(config()).await).await,
        expected,
        "{case}"
    );
}

/// Changes of A and B that collide (a chunk, an attribute key, an array).
pub(crate) fn conflict_cases() -> Vec<(&'static str, Vec<Op>, Vec<Op>)> {
    vec![
        (
            "same chunk, both whole",
            vec![Op::Write("x", 0, vec![1; 5])],
            vec![Op::Write("x", 0, vec![2; 5])],
        ),
        (
            "same chunk, A whole, B partial",
            vec![Op::Write("x", 5, vec![1; 5])],
            vec![Op::Write("x", 7, vec![2])],
        ),
        (
            "same chunk, A partial, B whole",
            vec![Op::Write("x", 11, vec![1])],
            vec![Op::Write("x", 10, vec![2; 5])],
        ),
        (
            "same chunk, both partial on different elements",
            vec![Op::Write("x", 15, vec![1])],
            vec![Op::Write("x", 19, vec![2])],
        ),
        (
            "B's unaligned write spans a chunk A wrote",
            vec![Op::Write("x", 3, vec![1])],
            vec![Op::Write("x", 4, vec![2, 2, 2, 2])],
        ),
        (
            "same attribute key",
            vec![Op::SetAttr("x", "units", 100)],
            vec![Op::SetAttr("x", "units", 200)],
        ),
        (
            "A sets the key B removes",
            vec![Op::SetAttr("x", "scale", 100)],
            vec![Op::RemoveAttr("x", "scale")],
        ),
        (
            "B writes an array A deleted",
            vec![Op::Delete("x")],
            vec![Op::Write("x", 0, vec![2; 5])],
        ),
        (
            "B sets an attribute of an array A deleted",
            vec![Op::Delete("x")],
            vec![Op::SetAttr("x", "other", 2)],
        ),
        (
            "B writes an array A redefined",
            vec![Op::Delete("x"), Op::Define("x", 20)],
            vec![Op::Write("x", 15, vec![2; 5])],
        ),
        (
            "B sets an attribute of an array A redefined",
            vec![Op::Delete("x"), Op::Define("x", 30)],
            vec![Op::SetAttr("x", "other", 2)],
        ),
        (
            "B deletes an array whose data A changed",
            vec![Op::Write("x", 0, vec![1])],
            vec![Op::Delete("x")],
        ),
        (
            "B deletes an array whose attribute A set",
            vec![Op::SetAttr("x", "units", 5)],
            vec![Op::Delete("x")],
        ),
        (
            "B deletes and redefines an array A changed",
            vec![Op::Write("x", 10, vec![1; 5])],
            vec![Op::Delete("x"), Op::Define("x", 10)],
        ),
        (
            "both define the same new name",
            vec![Op::Define("z", 10), Op::Write("z", 0, vec![1])],
            vec![Op::Define("z", 10)],
        ),
        (
            "both define the same new name with data",
            vec![Op::Define("z", 10)],
            vec![Op::Define("z", 10), Op::Write("z", 5, vec![2; 5])],
        ),
    ]
}

/// Two of the cases on local disk through `create_path` (every case runs
/// on every store in `conformance::writers`).
#[tokio::test]
async fn retry_after_refresh_conflicts_for_overlapping_changes_disk() {
    for (case, a_ops, b_ops) in conflict_cases().iter().take(2) {
        retry_conflicts(disk(), case, a_ops, b_ops).await;
    }
}

/// A compaction by another writer is no change: a retry after refresh
/// succeeds, and the chunk, attribute and definition versions survive it
/// (a real collision is still detected through the compaction).
#[tokio::test]
async fn compaction_by_another_writer_is_not_a_conflict_but_keeps_versions() {
    // Disjoint: succeeds.
    let place = memory();
    setup(&place).await;
    let mut a = place.open_with(config()).await;
    let mut b = place.open_with(config()).await;
    let a_ops = vec![Op::Write("x", 0, vec![7; 5]), Op::SetAttr("x", "a", 1)];
    let b_ops = vec![Op::Write("x", 5, vec![8; 5]), Op::SetAttr("x", "b", 2)];
    apply(&mut a, &a_ops).await;
    apply(&mut b, &b_ops).await;
    a.flush().await.unwrap();
    a.compact().await.unwrap();
    assert_conflict(b.flush().await, "B after A compacted");
    b.refresh().await.unwrap();
    b.flush().await.unwrap();
    assert_eq!(
        state(&place.open_with(config()).await).await,
        sequential(&a_ops, &b_ops).await
    );
    assert!(stray_layers(&place).await.is_empty());

    // Overlapping (same chunk, same key): still a conflict after the
    // compaction rewrote everything into a snapshot.
    for (case, a_ops, b_ops) in [
        (
            "chunk",
            vec![Op::Write("x", 0, vec![7; 5])],
            vec![Op::Write("x", 2, vec![8])],
        ),
        (
            "attribute",
            vec![Op::SetAttr("x", "units", 9)],
            vec![Op::SetAttr("x", "units", 10)],
        ),
        (
            "redefinition",
            vec![Op::Delete("y"), Op::Define("y", 5)],
            vec![Op::Write("y", 0, vec![1])],
        ),
    ] {
        let place = memory();
        setup(&place).await;
        let mut a = place.open_with(config()).await;
        let mut b = place.open_with(config()).await;
        apply(&mut a, &a_ops).await;
        apply(&mut b, &b_ops).await;
        a.flush().await.unwrap();
        a.compact().await.unwrap();
        assert_conflict(b.flush().await, case);
        b.refresh().await.unwrap();
        assert_conflict(b.flush().await, case);
        assert_eq!(
            state(&place.open_with(config()).await).await,
            sequential(&a_ops, &[]).await,
            "{case}"
        );
    }
}

/// After a conflict on a chunk and a refresh, B patches the same chunk
/// again with another partial write. B's pending copy of the chunk was made
/// from the state before A's commit, so the patched chunk still lacks A's
/// write: committing it would silently overwrite A's acknowledged data. The
/// flush must keep reporting `Conflict` (or, if it succeeds, A's data must
/// survive).
#[tokio::test]
async fn partial_rewrite_after_refresh_does_not_launder_a_stale_chunk() {
    let place = memory();
    setup(&place).await;
    let mut a = place.open_with(config()).await;
    let mut b = place.open_with(config()).await;
    apply(&mut a, &[Op::Write("x", 0, vec![1000])]).await;
    apply(&mut b, &[Op::Write("x", 2, vec![2000])]).await;
    a.flush().await.unwrap();
    assert_conflict(b.flush().await, "race");
    b.refresh().await.unwrap();
    assert_conflict(b.flush().await, "same chunk");
    // B patches the chunk again; its copy still has x[0] == 0.
    apply(&mut b, &[Op::Write("x", 3, vec![3000])]).await;
    let result = b.flush().await;
    let x = read_i32(&place.open_with(config()).await, "x").await;
    match result {
        Err(Error::Conflict { .. }) => assert_eq!(x[0], 1000),
        Ok(()) => assert_eq!(
            &x[0..4],
            &[1000, 1, 2000, 3000],
            "B's flush succeeded and A's acknowledged write x[0] = 1000 was lost"
        ),
        Err(e) => panic!("unexpected error {e}"),
    }
}

/// After a conflict and a refresh, a change made against the refreshed
/// state (a whole-chunk rewrite, or setting the attribute again) is made
/// with knowledge of A's commit (FORMAT.md 13.2: every pending change
/// remembers the newest layer its writer had seen when it made it), so it
/// commits and wins.
#[tokio::test]
async fn whole_chunk_rewrite_after_refresh_resolves_a_chunk_conflict() {
    let place = memory();
    setup(&place).await;
    let mut a = place.open_with(config()).await;
    let mut b = place.open_with(config()).await;
    apply(&mut a, &[Op::Write("x", 0, vec![1; 5])]).await;
    apply(&mut b, &[Op::Write("x", 0, vec![2; 5])]).await;
    a.flush().await.unwrap();
    assert_conflict(b.flush().await, "race");
    b.refresh().await.unwrap();
    assert_conflict(b.flush().await, "same chunk");
    apply(&mut b, &[Op::Write("x", 0, vec![3; 5])]).await;
    b.flush().await.unwrap();
    assert_eq!(
        &read_i32(&place.open_with(config()).await, "x").await[0..6],
        &[3, 3, 3, 3, 3, 5]
    );
}

#[tokio::test]
async fn attribute_set_again_after_refresh_resolves_an_attribute_conflict() {
    let place = memory();
    setup(&place).await;
    let mut a = place.open_with(config()).await;
    let mut b = place.open_with(config()).await;
    apply(&mut a, &[Op::SetAttr("x", "units", 100)]).await;
    apply(&mut b, &[Op::SetAttr("x", "units", 200)]).await;
    a.flush().await.unwrap();
    assert_conflict(b.flush().await, "race");
    b.refresh().await.unwrap();
    assert_conflict(b.flush().await, "same key");
    apply(&mut b, &[Op::SetAttr("x", "units", 300)]).await;
    b.flush().await.unwrap();
    assert_eq!(
        place
            .open_with(config())
            .await
            .get_attribute("x", "units")
            .unwrap(),
        Some(&AttributeValue::Int64(300))
    );
}

// ── Stale writer vs compaction (orphan check) ───────────────────────

/// A and B open the base. B commits a change and compacts (the snapshot
/// deletes the layers A's view uses, freeing their numbers). A's flush must
/// not be silently lost, and no orphaned layer may stay behind.
pub(crate) async fn stale_writer_after_compaction(place: Place, b_flushes_first: bool) {
    setup(&place).await;
    let mut a = place.open_with(config()).await;
    let mut b = place.open_with(config()).await;
    let a_ops = vec![Op::Write("x", 0, vec![11; 5]), Op::SetAttr("x", "by_a", 1)];
    let b_ops = if b_flushes_first {
        vec![Op::Write("y", 5, vec![22; 5]), Op::SetAttr("y", "by_b", 2)]
    } else {
        vec![]
    };
    apply(&mut a, &a_ops).await;
    apply(&mut b, &b_ops).await;
    b.flush().await.unwrap();
    b.compact().await.unwrap();
    assert_eq!(b.num_layers(), 1);
    drop(b);

    match a.flush().await {
        Ok(()) => {}
        Err(Error::Conflict { reason, .. }) => {
            assert!(a.has_pending_changes(), "a conflict must keep A's changes");
            assert!(
                stray_layers(&place).await.is_empty(),
                "the orphaned layer remains: {:?} ({reason})",
                stray_layers(&place).await
            );
            a.refresh().await.unwrap();
            a.flush().await.unwrap();
        }
        Err(e) => panic!("unexpected error: {e}"),
    }
    assert!(!a.has_pending_changes());
    let expected = if b_flushes_first {
        sequential(&b_ops, &a_ops).await
    } else {
        sequential(&a_ops, &[]).await
    };
    let reopened = place.open_with(config()).await;
    assert_eq!(
        state(&reopened).await,
        expected,
        "an acknowledged change is missing after reopening"
    );
    assert_eq!(state(&a).await, expected);
    assert!(
        stray_layers(&place).await.is_empty(),
        "{:?}",
        reopened.versions().await.unwrap()
    );
    assert!(staging_files(&place).await.is_empty());
    assert!(reopened.verify().await.unwrap().is_ok());
}

#[tokio::test]
async fn stale_writer_after_compaction_is_not_lost_disk() {
    stale_writer_after_compaction(disk(), true).await;
    stale_writer_after_compaction(disk(), false).await;
}

/// The same for a stale *compaction*: A (no pending changes, a view from
/// before B's compaction) compacts. FORMAT.md 13.3 says the snapshot is
/// committed exactly like a delta (13.2, orphan check included): A's
/// snapshot would take a number B's compaction freed, below B's snapshot,
/// where every reader ignores it. It must be reported as `Conflict` (or
/// `Vanished`, when A cannot read its layers any more) and removed, or not
/// be written at all; `versions()` must not show it and time travel to its
/// number must not show a state the file never had at that layer.
///
/// A's compaction can only complete when it can still read every chunk of
/// its view: here because its view has no chunks (only definitions and
/// attributes), or because the delete of one of B's merged layers failed
/// (13.3: best effort), simulated by restoring that layer.
async fn stale_compaction(restore_layer_1: bool) {
    let place = memory();
    let store = place.store();
    if restore_layer_1 {
        setup(&place).await;
    } else {
        let mut f = place.create_with(config()).await;
        apply(
            &mut f,
            &[
                Op::Define("x", 20),
                Op::Define("y", 20),
                Op::SetAttr("x", "units", 1),
            ],
        )
        .await;
        f.flush().await.unwrap();
    }
    let layer_1 = Path::from("w.1.af");
    let saved = store.get(&layer_1).await.unwrap().bytes().await.unwrap();
    let mut a = place.open_with(config()).await;
    let mut b = place.open_with(config()).await;
    apply(&mut b, &[Op::Write("y", 5, vec![22; 5])]).await;
    b.flush().await.unwrap(); // layer 2
    b.compact().await.unwrap(); // snapshot 3; layers 1 and 2 deleted
    let b_state = state(&b).await;
    drop(b);
    if restore_layer_1 {
        store.put(&layer_1, saved.into()).await.unwrap();
    }

    loop {
        match a.compact().await {
            Ok(()) => break,
            Err(Error::Conflict { .. } | Error::Vanished { .. }) => a.refresh().await.unwrap(),
            Err(e) => panic!("unexpected error: {e}"),
        }
    }
    let reopened = place.open_with(config()).await;
    assert_eq!(state(&reopened).await, b_state);
    let versions = reopened.versions().await.unwrap();
    let stray: Vec<u64> = stray_layers(&place)
        .await
        .into_iter()
        .filter(|&l| !(restore_layer_1 && l == 1))
        .collect();
    assert!(
        stray.is_empty(),
        "a stale compaction left an orphaned snapshot: {versions:?}"
    );
    // Layer 2 was B's delta (y[5..10] = 22); time travel to it must not
    // show a state without it.
    if let Ok(old) = place
        .try_open_with(FileConfig {
            as_of: Some(2),
            ..config()
        })
        .await
    {
        assert_eq!(
            &read_i32(&old, "y").await[5..10],
            &[22; 5],
            "as_of layer 2 shows a state the file never had at layer 2"
        );
    }
}

#[tokio::test]
async fn stale_compaction_leaves_no_orphaned_snapshot_metadata_only() {
    stale_compaction(false).await;
}

#[tokio::test]
async fn stale_compaction_leaves_no_orphaned_snapshot_after_failed_delete() {
    stale_compaction(true).await;
}

/// A stale compaction whose layers are gone fails cleanly (it cannot read
/// them) and writes nothing; after refresh it works.
#[tokio::test]
async fn stale_compaction_of_vanished_layers_fails_cleanly() {
    let place = memory();
    setup(&place).await;
    {
        // A second layer, so that A's view has layers to merge.
        let mut c = place.open_with(config()).await;
        apply(&mut c, &[Op::SetAttr("x", "extra", 3)]).await;
        c.flush().await.unwrap();
    }
    let mut a = place.open_with(config()).await;
    let mut b = place.open_with(config()).await;
    apply(&mut b, &[Op::Write("y", 5, vec![22; 5])]).await;
    b.flush().await.unwrap();
    b.compact().await.unwrap();
    let b_state = state(&b).await;
    drop(b);
    let e = a.compact().await.unwrap_err();
    assert!(
        matches!(e, Error::Vanished { .. } | Error::Conflict { .. }),
        "{e}"
    );
    assert!(stray_layers(&place).await.is_empty());
    a.refresh().await.unwrap();
    a.compact().await.unwrap();
    assert_eq!(state(&a).await, b_state);
    assert_eq!(state(&place.open_with(config()).await).await, b_state);
    assert!(stray_layers(&place).await.is_empty());
}

// ── Concurrency stress ──────────────────────────────────────────────

const TASKS: usize = 4;

/// Retries of one step before a writer gives up (a livelock is a failure,
/// not a hang).
const MAX_ATTEMPTS: u32 = 1000;

fn task_value(task: usize, round: usize) -> i32 {
    (task * 1000 + round + 1) as i32
}

/// Retries `refresh` through `Vanished` (a compaction racing its reads
/// even after the library's own retries).
async fn refresh(f: &mut ArrayFile) {
    for _ in 0..100 {
        match f.refresh().await {
            Ok(()) => return,
            Err(Error::Vanished { .. }) => continue,
            Err(e) => panic!("refresh failed: {e}"),
        }
    }
    panic!("refresh kept failing with Vanished");
}

/// Opens through `Vanished`.
async fn open_retrying(place: &Place, config: fn() -> FileConfig<Lz4Codec>) -> ArrayFile {
    for _ in 0..100 {
        match place.try_open_with(config()).await {
            Ok(f) => return f,
            Err(Error::Vanished { .. }) => continue,
            Err(e) => panic!("open failed: {e}"),
        }
    }
    panic!("open kept failing with Vanished");
}

/// One writer: `rounds` rounds of {write its own element of the shared
/// array (a partial write into a chunk only it writes), set its own
/// attributes, flush}; on `Conflict` refresh and retry. Task 0 also
/// compacts every third round. Returns the rounds acknowledged and the
/// number of conflicts seen.
async fn writer_task(place: Arc<Place>, task: usize, rounds: usize) -> (Vec<usize>, u64) {
    let mut f = open_retrying(&place, config).await;
    let mut acknowledged = Vec::new();
    let mut conflicts = 0u64;
    for round in 0..rounds {
        let value = ndarray::arr2(&[[task_value(task, round)]]).into_dyn();
        for attempt in 0.. {
            assert!(
                attempt < MAX_ATTEMPTS,
                "task {task} round {round}: write never succeeded"
            );
            // A partial write reads the chunk; a concurrent compaction may
            // have deleted the layer holding it.
            match f
                .write_array("shared", vec![task, round], value.view())
                .await
            {
                Ok(()) => break,
                Err(Error::Vanished { .. }) => refresh(&mut f).await,
                Err(e) => panic!("task {task} round {round}: write failed: {e}"),
            }
        }
        f.set_attribute(
            "shared",
            &format!("t{task}"),
            AttributeValue::Int64(round as i64),
        )
        .unwrap();
        f.set_attribute(
            "shared",
            &format!("t{task}_r{round}"),
            AttributeValue::Int64(round as i64),
        )
        .unwrap();
        for attempt in 0.. {
            assert!(
                attempt < MAX_ATTEMPTS,
                "task {task} round {round}: flush never succeeded"
            );
            match f.flush().await {
                Ok(()) => break,
                Err(Error::Conflict { .. }) => {
                    conflicts += 1;
                    assert!(f.has_pending_changes());
                    refresh(&mut f).await;
                }
                Err(e) => panic!("task {task} round {round}: flush failed: {e}"),
            }
        }
        acknowledged.push(round);
        if task == 0 && round % 3 == 2 {
            for attempt in 0.. {
                assert!(
                    attempt < MAX_ATTEMPTS,
                    "round {round}: compact never succeeded"
                );
                match f.compact().await {
                    Ok(()) => break,
                    Err(Error::Conflict { .. }) => {
                        conflicts += 1;
                        refresh(&mut f).await;
                    }
                    Err(Error::Vanished { .. }) => refresh(&mut f).await,
                    Err(e) => panic!("task {task} round {round}: compact failed: {e}"),
                }
            }
        }
        tokio::task::yield_now().await;
    }
    (acknowledged, conflicts)
}

async fn stress(place: Place, rounds: usize) {
    {
        let mut f = place.create_with(config()).await;
        f.define_array::<i32>(
            "shared",
            vec!["task".into(), "round".into()],
            vec![TASKS, rounds],
            Some(vec![1, 5]),
            None,
        )
        .unwrap();
        f.flush().await.unwrap();
    }
    let place = Arc::new(place);
    let mut handles = Vec::new();
    for task in 0..TASKS {
        handles.push(tokio::spawn(writer_task(Arc::clone(&place), task, rounds)));
    }
    let mut acknowledged = Vec::new();
    let mut conflicts = 0;
    for h in handles {
        let (acked, c) = h.await.unwrap();
        acknowledged.push(acked);
        conflicts += c;
    }
    eprintln!("stress: {TASKS} writers x {rounds} rounds, {conflicts} conflicts retried");

    let f = place.open_with(config()).await;
    let data = f.read_array::<i32>("shared", vec![], vec![]).await.unwrap();
    for (task, acked) in acknowledged.iter().enumerate() {
        assert_eq!(acked.len(), rounds);
        for &round in acked {
            assert_eq!(
                data[[task, round]],
                task_value(task, round),
                "task {task}: acknowledged write of round {round} lost"
            );
            assert_eq!(
                f.get_attribute("shared", &format!("t{task}_r{round}"))
                    .unwrap(),
                Some(&AttributeValue::Int64(round as i64)),
                "task {task}: acknowledged attribute of round {round} lost"
            );
        }
        assert_eq!(
            f.get_attribute("shared", &format!("t{task}")).unwrap(),
            Some(&AttributeValue::Int64(rounds as i64 - 1))
        );
    }
    assert_eq!(f.attributes("shared").unwrap().len(), TASKS * (rounds + 1));
    let stats = f.array_stats("shared").unwrap();
    assert_eq!(stats.null_count, 0);
    assert!(f.verify().await.unwrap().is_ok());
    assert!(
        stray_layers(&place).await.is_empty(),
        "{:?}",
        f.versions().await.unwrap()
    );
    assert!(staging_files(&place).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn four_writers_with_compaction_lose_no_acknowledged_write_memory() {
    stress(memory(), 25).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn four_writers_with_compaction_lose_no_acknowledged_write_disk() {
    stress(disk(), 10).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn four_writers_with_compaction_lose_no_acknowledged_write_s3() {
    stress(s3(), 10).await;
}

// ── Readers never torn ──────────────────────────────────────────────

const V_LEN: usize = 48;

#[derive(Debug, Default)]
struct ReaderLog {
    reads: u64,
    open_errors: Vec<String>,
    vanished: u64,
}

/// Reads `v` and its attribute `k` through `f`: `Ok(Some(k))` when
/// consistent, `Ok(None)` on `Vanished`; panics on mixed data.
async fn read_consistent(f: &ArrayFile) -> Option<i64> {
    let k = match f.get_attribute("v", "k").unwrap() {
        Some(AttributeValue::Int64(k)) => *k,
        other => panic!("attribute k is {other:?}"),
    };
    match f.read_array::<i32>("v", vec![], vec![]).await {
        Ok(data) => {
            assert!(
                data.iter().all(|&e| i64::from(e) == k),
                "torn read: attribute k = {k}, data {:?}",
                data.iter().collect::<Vec<_>>()
            );
            Some(k)
        }
        Err(Error::Vanished { .. }) => None,
        Err(e) => panic!("read failed with {e}"),
    }
}

async fn reader_task(place: Arc<Place>, done: Arc<AtomicBool>) -> ReaderLog {
    let mut log = ReaderLog::default();
    let mut held = open_retrying(&place, uncached).await;
    let mut newest = 0i64;
    while !done.load(Ordering::SeqCst) {
        // A fresh open each time.
        match place.try_open_with(uncached()).await {
            Ok(f) => {
                if let Some(k) = read_consistent(&f).await {
                    assert!(
                        k >= newest,
                        "a later open went back in time: {k} < {newest}"
                    );
                    newest = k;
                    log.reads += 1;
                } else {
                    log.vanished += 1;
                }
            }
            Err(e) => log.open_errors.push(e.to_string()),
        }
        // A handle kept open while the writer compacts.
        match read_consistent(&held).await {
            Some(_) => log.reads += 1,
            None => {
                log.vanished += 1;
                refresh(&mut held).await;
            }
        }
        tokio::task::yield_now().await;
    }
    log
}

/// Sets the flag when dropped.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

async fn readers_never_torn(place: Place, iterations: i64) {
    {
        let mut f = place.create_with(config()).await;
        f.define_array::<i32>("v", vec![], vec![V_LEN], Some(vec![8]), None)
            .unwrap();
        f.write_array("v", vec![0], vec1(&[0; V_LEN]).view())
            .await
            .unwrap();
        f.set_attribute("v", "k", AttributeValue::Int64(0)).unwrap();
        f.flush().await.unwrap();
    }
    let place = Arc::new(place);
    let done = Arc::new(AtomicBool::new(false));
    let mut readers = Vec::new();
    for _ in 0..3 {
        readers.push(tokio::spawn(reader_task(
            Arc::clone(&place),
            Arc::clone(&done),
        )));
    }
    let compactions = Arc::new(AtomicU64::new(0));
    let writer = {
        let place = Arc::clone(&place);
        let done = Arc::clone(&done);
        let compactions = Arc::clone(&compactions);
        tokio::spawn(async move {
            // Stops the readers even if the writer panics.
            let _stop = StopOnDrop(done);
            let mut w = place.open_with(config()).await;
            for k in 1..=iterations {
                w.write_array("v", vec![0], vec1(&[k as i32; V_LEN]).view())
                    .await
                    .unwrap();
                w.set_attribute("v", "k", AttributeValue::Int64(k)).unwrap();
                w.flush().await.unwrap();
                if k % 5 == 0 {
                    w.compact().await.unwrap();
                    compactions.fetch_add(1, Ordering::SeqCst);
                }
                tokio::task::yield_now().await;
            }
        })
    };
    writer.await.unwrap();
    let mut total = ReaderLog::default();
    for r in readers {
        let log = r.await.unwrap();
        total.reads += log.reads;
        total.vanished += log.vanished;
        total.open_errors.extend(log.open_errors);
    }
    eprintln!(
        "readers: {} consistent reads, {} Vanished, {} failed opens, {} compactions",
        total.reads,
        total.vanished,
        total.open_errors.len(),
        compactions.load(Ordering::SeqCst)
    );
    // An open racing a compaction retries (re-listing when a non-atomic
    // listing shows a gap); if it still fails it must say that layers
    // vanished, not that a healthy file is damaged.
    for e in &total.open_errors {
        assert!(
            e.contains("refresh() or open the file again"),
            "an open racing a compaction failed with: {e}"
        );
    }
    assert!(total.reads > 0);
    let f = place.open_with(config()).await;
    assert_eq!(read_consistent(&f).await, Some(iterations));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn readers_never_see_torn_state_memory() {
    readers_never_torn(memory(), 40).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn readers_never_see_torn_state_disk() {
    readers_never_torn(disk(), 30).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn readers_never_see_torn_state_s3() {
    readers_never_torn(s3(), 20).await;
}

// ── A directory listing racing a compaction ─────────────────────────

/// The race `readers_never_see_torn_state_disk` can hit (rarely), made
/// deterministic: layers 1..3 (generation 0); another handle compacts into
/// snapshot 4 and has deleted layer 1 so far (layers 2 and 3 are still
/// there). A reader's listing taken during that, like a `readdir` racing
/// the compaction, misses the new snapshot 4 and the deleted layer 1: it
/// shows 0, 2, 3. The file is healthy: listing again shows snapshot 4. An
/// open must re-list (as it does for `Vanished`) and succeed, or fail with
/// `Vanished`, never report the file as corrupted ("layer 1 is missing").
#[tokio::test]
async fn open_racing_a_compaction_never_reports_a_healthy_file_corrupted() {
    let inner: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let faulty = FaultyStore::new(Arc::clone(&inner), None);
    let mut w = ArrayFile::create(Arc::new(faulty.clone()), Path::from(NAME), config())
        .await
        .unwrap();
    for ops in [
        base_ops(),
        vec![Op::Write("x", 5, vec![1; 5])],
        vec![Op::SetAttr("y", "k", 3)],
    ] {
        apply(&mut w, &ops).await;
        w.flush().await.unwrap();
    }
    // The snapshot's put and the delete of layer 1 happen; the compaction
    // is "still running" (its other deletes have not happened yet).
    faulty.set_fail_from(Some(faulty.mutations() + 3));
    w.compact().await.unwrap();
    let mut kept: Vec<String> = inner
        .list(None)
        .map(|m| m.unwrap().location.to_string())
        .collect::<Vec<_>>()
        .await;
    kept.sort();
    assert_eq!(kept, vec!["w.2.af", "w.3.af", "w.4.af", "w.af"]);
    let expected = state(&w).await;

    let torn = HookStore::new(Arc::clone(&inner));
    torn.hide_next_listing(vec![Path::from("w.4.af")]);
    match ArrayFile::open(torn, Path::from(NAME), config()).await {
        Ok(r) => assert_eq!(state(&r).await, expected),
        Err(e @ Error::Vanished { .. }) => eprintln!("open gave up with {e}"),
        Err(e) => panic!("the open of a healthy file racing a compaction failed with: {e}"),
    }
}

// ── Vanished ────────────────────────────────────────────────────────

pub(crate) async fn vanished(place: Place) {
    setup(&place).await;
    {
        let mut w = place.open_with(config()).await;
        apply(&mut w, &[Op::Write("x", 5, vec![55; 5])]).await;
        w.flush().await.unwrap(); // layer 2
    }
    let mut r = place.open_with(uncached()).await;
    let before = state(&place.open_with(config()).await).await;
    {
        let mut w = place.open_with(config()).await;
        w.compact().await.unwrap(); // snapshot 3; layers 1 and 2 deleted
    }
    // Chunk 1 of x is in layer 2, chunk 0 in layer 1: both gone. A local
    // file opened with `open_path` keeps its layers' files open, so it
    // still reads its snapshot, as a POSIX reader of a deleted file does.
    if place.reads_outlive_delete() {
        let snapshot = state(&r).await;
        assert_eq!(snapshot, before);
        r.refresh().await.unwrap();
        assert_eq!(state(&r).await, before);
        assert_eq!(r.num_layers(), 1);
        return;
    }
    for (start, len) in [(5, 5), (0, 20), (0, 1)] {
        let e = r
            .read_array::<i32>("x", vec![start], vec![len])
            .await
            .unwrap_err();
        assert!(matches!(e, Error::Vanished { .. }), "{e}");
        let msg = e.to_string();
        assert!(
            msg.contains("refresh") && msg.contains("open"),
            "the message must say to refresh or reopen: {msg}"
        );
    }
    // Metadata comes from the index and is still there.
    assert_eq!(r.get_array("x").unwrap().shape, vec![20]);
    r.refresh().await.unwrap();
    assert_eq!(state(&r).await, before);
    assert_eq!(r.num_layers(), 1);
}

#[tokio::test]
async fn read_after_another_handle_compacted_still_reads_its_snapshot_on_disk() {
    vanished(disk()).await;
}

/// `refresh` of an unchanged file, with and without pending changes, is a
/// no-op for the view; counts of attributes per task stay sane.
#[tokio::test]
async fn refresh_without_other_writers_changes_nothing() {
    let place = memory();
    setup(&place).await;
    let mut f = place.open_with(config()).await;
    let before = state(&f).await;
    f.refresh().await.unwrap();
    assert_eq!(state(&f).await, before);
    assert!(!f.has_pending_changes());
    apply(
        &mut f,
        &[Op::Write("y", 0, vec![3]), Op::SetAttr("y", "z", 1)],
    )
    .await;
    let pending = state(&f).await;
    f.refresh().await.unwrap();
    assert_eq!(state(&f).await, pending);
    f.flush().await.unwrap();
    let counts: BTreeMap<String, usize> = state(&place.open_with(config()).await)
        .await
        .into_iter()
        .map(|a| (a.meta.name, a.attrs.len()))
        .collect();
    assert_eq!(counts, BTreeMap::from([("x".into(), 2), ("y".into(), 2)]));
}

/// A key removed by one writer and set by another (who had not seen the
/// removal) is a conflict, like the reverse.
#[tokio::test]
async fn removing_and_setting_one_attribute_conflicts() {
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let path = object_store::path::Path::from("attr.af");
    let config = || FileConfig::new(array_format::NoCompression);
    let mut a = ArrayFile::create(Arc::clone(&store), path.clone(), config())
        .await
        .unwrap();
    a.define_array::<i32>("x", vec![], vec![4], None, None)
        .unwrap();
    a.set_attribute("x", "units", AttributeValue::String("K".into()))
        .unwrap();
    a.flush().await.unwrap();
    let mut b = ArrayFile::open(Arc::clone(&store), path.clone(), config())
        .await
        .unwrap();
    assert!(a.remove_attribute("x", "units").unwrap());
    a.flush().await.unwrap();
    b.set_attribute("x", "units", AttributeValue::String("C".into()))
        .unwrap();
    assert!(matches!(b.flush().await, Err(Error::Conflict { .. })));
    b.refresh().await.unwrap();
    let err = b.flush().await.unwrap_err();
    assert!(matches!(err, Error::Conflict { .. }), "{err}");
    assert!(err.to_string().contains("units"), "{err}");
    // Re-setting it against the refreshed view is a deliberate change.
    b.set_attribute("x", "units", AttributeValue::String("C".into()))
        .unwrap();
    b.flush().await.unwrap();
    let reopened = ArrayFile::open(store, path, config()).await.unwrap();
    assert_eq!(
        reopened.get_attribute("x", "units").unwrap(),
        Some(&AttributeValue::String("C".into()))
    );
}

// ── Settling a commit whose check raced further compactions ─────────

/// Work run once, by the store, right after a given object is created.
type Hook = Box<dyn FnOnce() -> BoxFuture<'static, ()> + Send>;

/// Wraps a store: runs a hook right after the put that creates a given
/// object (before the writer sees the reply, so before its orphan check),
/// fails the next `fail_lists` directory listings, and leaves the objects
/// in `hide` out of the next listing, as a local directory listing
/// (`readdir`) running while a compaction creates its snapshot and deletes
/// the merged layers can: it may miss an entry created during the listing
/// and one deleted during it. Everything else passes through.
struct HookStore {
    inner: Arc<dyn ObjectStore>,
    after_put: Mutex<Option<(Path, Hook)>>,
    fail_lists: AtomicU64,
    hide: Mutex<Vec<Path>>,
}

impl HookStore {
    fn new(inner: Arc<dyn ObjectStore>) -> Arc<Self> {
        Arc::new(Self {
            inner,
            after_put: Mutex::new(None),
            fail_lists: AtomicU64::new(0),
            hide: Mutex::new(Vec::new()),
        })
    }

    fn hide_next_listing(&self, paths: Vec<Path>) {
        *self.hide.lock().unwrap() = paths;
    }

    fn after_put(&self, path: &str, hook: Hook) {
        *self.after_put.lock().unwrap() = Some((Path::from(path), hook));
    }
}

impl fmt::Display for HookStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HookStore({})", self.inner)
    }
}

impl fmt::Debug for HookStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HookStore({})", self.inner)
    }
}

#[async_trait::async_trait]
impl ObjectStore for HookStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        let put = self.inner.put_opts(location, payload, opts).await?;
        let hook = {
            let mut armed = self.after_put.lock().unwrap();
            match armed.take() {
                Some((path, hook)) if &path == location => Some(hook),
                other => {
                    *armed = other;
                    None
                }
            }
        };
        if let Some(hook) = hook {
            hook().await;
        }
        Ok(put)
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        self.inner.get_opts(location, options).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        let fail = self
            .fail_lists
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if fail {
            return Err(object_store::Error::Generic {
                store: "HookStore",
                source: "listing refused".into(),
            });
        }
        let mut listing = self.inner.list_with_delimiter(prefix).await?;
        let hide = std::mem::take(&mut *self.hide.lock().unwrap());
        listing.objects.retain(|m| !hide.contains(&m.location));
        Ok(listing)
    }

    async fn copy_opts(
        &self,
        from: &Path,
        to: &Path,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        self.inner.copy_opts(from, to, options).await
    }
}

/// Another handle on `store` applies `ops`, flushes and compacts, twice
/// over: the first snapshot merges whatever was committed before, the
/// second merges (and deletes) the first.
async fn compact_twice(store: Arc<dyn ObjectStore>, ops: Vec<Op>) {
    let mut b = ArrayFile::open(store, Path::from(NAME), config())
        .await
        .unwrap();
    b.compact().await.unwrap();
    apply(&mut b, &ops).await;
    b.flush().await.unwrap();
    b.compact().await.unwrap();
}

/// A commits layer 2; before its orphan check runs, B compacts (snapshot
/// 3 merges layer 2), commits 4 and compacts again (snapshot 5 merges and
/// deletes 3). The snapshot that merged A's layer is gone; snapshot 5 must
/// still tell A that its layer is part of the history (FORMAT.md 13.2), or
/// A is told `Conflict` for a committed change, and its retry conflicts
/// with itself for ever.
#[tokio::test]
async fn a_commit_compacted_twice_before_its_check_stands() {
    let place = memory();
    let inner = Arc::clone(place.store());
    setup(&place).await;
    let hooked = HookStore::new(Arc::clone(&inner));
    let mut a = ArrayFile::open(hooked.clone(), Path::from(NAME), config())
        .await
        .unwrap();
    let a_ops = vec![Op::Write("x", 0, vec![7; 5]), Op::SetAttr("x", "by_a", 1)];
    let b_ops = vec![Op::Write("y", 5, vec![8; 5]), Op::SetAttr("y", "by_b", 2)];
    apply(&mut a, &a_ops).await;
    let store = Arc::clone(&inner);
    let ops = b_ops.clone();
    hooked.after_put(
        "w.2.af",
        Box::new(move || compact_twice(store, ops).boxed()),
    );

    a.flush().await.unwrap();
    assert!(!a.has_pending_changes());
    let reopened = place.open_with(config()).await;
    assert_eq!(reopened.num_layers(), 1, "{:?}", reopened.versions().await);
    assert_eq!(state(&reopened).await, sequential(&a_ops, &b_ops).await);
    assert!(stray_layers(&place).await.is_empty());
}

/// The other side: A's view is stale (layer 1); B commits 2, compacts into
/// 3 (deleting 1 and 2), commits 4 and compacts into 5 (deleting 3 and 4).
/// A's layer 2 takes a freed number below snapshot 5, which records B's
/// layer there: A must hear `Conflict`, its layer must go, and a retry
/// after `refresh` must commit its changes.
#[tokio::test]
async fn a_stale_commit_below_two_compactions_is_an_orphan() {
    let place = memory();
    let inner = Arc::clone(place.store());
    setup(&place).await;
    let mut a = place.open_with(config()).await;
    let a_ops = vec![Op::Write("x", 0, vec![7; 5]), Op::SetAttr("x", "by_a", 1)];
    let b_first = vec![Op::SetAttr("y", "first", 1)];
    let b_second = vec![Op::Write("y", 5, vec![8; 5])];
    apply(&mut a, &a_ops).await;
    {
        let mut b = place.open_with(config()).await;
        apply(&mut b, &b_first).await;
        b.flush().await.unwrap();
    }
    compact_twice(Arc::clone(&inner), b_second.clone()).await;

    assert_conflict(a.flush().await, "a commit below two compactions");
    assert!(a.has_pending_changes());
    assert!(stray_layers(&place).await.is_empty());
    a.refresh().await.unwrap();
    a.flush().await.unwrap();
    let b_ops: Vec<Op> = b_first.into_iter().chain(b_second).collect();
    assert_eq!(
        state(&place.open_with(config()).await).await,
        sequential(&b_ops, &a_ops).await
    );
    assert!(stray_layers(&place).await.is_empty());
}

/// A's orphan check fails (the listing is refused) after its layer 2 was
/// created. The layer may or may not be part of the file, so A keeps its
/// changes and refuses new ones; its next flush settles the question. Here
/// the layer stands, and in `merged_meanwhile` two compactions by B merge
/// it and then delete the snapshot that merged it before A settles.
async fn unconfirmed_commit_is_settled(merged_meanwhile: bool) {
    let place = memory();
    let inner = Arc::clone(place.store());
    setup(&place).await;
    let hooked = HookStore::new(Arc::clone(&inner));
    let mut a = ArrayFile::open(hooked.clone(), Path::from(NAME), config())
        .await
        .unwrap();
    let a_ops = vec![Op::Write("x", 0, vec![7; 5]), Op::SetAttr("x", "by_a", 1)];
    apply(&mut a, &a_ops).await;
    let fail = Arc::clone(&hooked);
    hooked.after_put(
        "w.2.af",
        Box::new(move || {
            async move {
                fail.fail_lists.store(1, Ordering::SeqCst);
            }
            .boxed()
        }),
    );

    let err = a.flush().await.unwrap_err();
    assert!(matches!(err, Error::Storage { .. }), "{err}");
    assert!(a.has_pending_changes());
    let refused = a.set_attribute("x", "later", AttributeValue::Int64(1));
    assert!(
        matches!(refused, Err(Error::InvalidOperation { .. })),
        "a change while a commit is unsettled: {refused:?}"
    );

    let b_ops = vec![Op::Write("y", 5, vec![8; 5])];
    if merged_meanwhile {
        compact_twice(Arc::clone(&inner), b_ops.clone()).await;
    }
    a.flush().await.unwrap();
    assert!(!a.has_pending_changes());
    let expected = if merged_meanwhile {
        sequential(&a_ops, &b_ops).await
    } else {
        sequential(&a_ops, &[]).await
    };
    assert_eq!(state(&a).await, expected);
    let reopened = place.open_with(config()).await;
    assert_eq!(state(&reopened).await, expected);
    // Settled, not committed twice: the newest layer is A's 2, or B's
    // snapshot 5.
    let newest = reopened.versions().await.unwrap().last().unwrap().layer;
    assert_eq!(newest, if merged_meanwhile { 5 } else { 2 });
    a.set_attribute("x", "later", AttributeValue::Int64(1))
        .unwrap();
    a.flush().await.unwrap();
}

#[tokio::test]
async fn an_unconfirmed_commit_is_settled_by_the_next_flush() {
    unconfirmed_commit_is_settled(false).await;
}

#[tokio::test]
async fn an_unconfirmed_commit_merged_meanwhile_is_settled_by_the_next_flush() {
    unconfirmed_commit_is_settled(true).await;
}

/// A's view is stale when its check fails; meanwhile its layer turns out
/// an orphan. Settling removes it and commits the changes afresh.
#[tokio::test]
async fn an_unconfirmed_orphan_is_removed_and_recommitted() {
    let place = memory();
    let inner = Arc::clone(place.store());
    setup(&place).await;
    let hooked = HookStore::new(Arc::clone(&inner));
    let mut a = ArrayFile::open(hooked.clone(), Path::from(NAME), config())
        .await
        .unwrap();
    let a_ops = vec![Op::Write("x", 0, vec![7; 5]), Op::SetAttr("x", "by_a", 1)];
    let b_ops = vec![Op::Write("y", 5, vec![8; 5])];
    apply(&mut a, &a_ops).await;
    {
        let mut b = place.open_with(config()).await;
        apply(&mut b, &b_ops).await;
        b.flush().await.unwrap(); // layer 2
        b.compact().await.unwrap(); // snapshot 3; layers 1 and 2 deleted
    }
    hooked.fail_lists.store(1, Ordering::SeqCst);
    let err = a.flush().await.unwrap_err(); // A's layer 2, unconfirmed
    assert!(matches!(err, Error::Storage { .. }), "{err}");
    // Settling finds B's layer recorded at 2 and removes A's; the retry
    // from A's stale view is then an orphan again.
    assert_conflict(a.flush().await, "a retry from a stale view");
    assert!(stray_layers(&place).await.is_empty());
    a.refresh().await.unwrap();
    a.flush().await.unwrap();
    assert_eq!(
        state(&place.open_with(config()).await).await,
        sequential(&b_ops, &a_ops).await
    );
    assert!(stray_layers(&place).await.is_empty());
}

// ── A layer's name taken again under a reader ───────────────────────

/// A reader keeps layer 1 of its view; a compaction elsewhere deletes it
/// and an object of the same name appears (an orphan a stale writer
/// created, here a copy of another layer). The reader must not decode the
/// new object through the old footer: on an object store it gets
/// `Vanished` (the reads are pinned to the object's entity tag), on a
/// local directory opened with `open_path` it keeps reading the file it
/// opened.
pub(crate) async fn layer_name_taken_again(place: Place) {
    setup(&place).await;
    let r = place.open_with(uncached()).await;
    let before = state(&r).await;
    {
        let mut w = place.open_with(config()).await;
        apply(&mut w, &[Op::Write("x", 5, vec![55; 5])]).await;
        w.flush().await.unwrap(); // layer 2
        w.compact().await.unwrap(); // snapshot 3; layers 1 and 2 deleted
    }
    let store = place.store();
    let other = store.get(&Path::from("w.3.af")).await.unwrap();
    store
        .put(&Path::from("w.1.af"), other.bytes().await.unwrap().into())
        .await
        .unwrap();
    if place.reads_outlive_delete() {
        assert_eq!(state(&r).await, before);
    } else {
        let e = r.read_array::<i32>("x", vec![], vec![]).await.unwrap_err();
        assert!(matches!(e, Error::Vanished { .. }), "{e}");
    }
}

#[tokio::test]
async fn a_layer_name_taken_again_is_not_read_on_disk() {
    layer_name_taken_again(disk()).await;
}

/// Snapshots record the history of the 1024 layer numbers below them (at
/// least). When more layers than that are committed between A's create and
/// its check, and compacted, nothing can tell whether A's layer is part of
/// the file: A hears `CommitUnconfirmed`, keeps its changes, and can only
/// give them up (`discard_pending`) or keep asking.
#[tokio::test]
async fn a_commit_checked_after_over_a_thousand_layers_is_unconfirmed() {
    let place = memory();
    let inner = Arc::clone(place.store());
    setup(&place).await;
    let hooked = HookStore::new(Arc::clone(&inner));
    let mut a = ArrayFile::open(hooked.clone(), Path::from(NAME), config())
        .await
        .unwrap();
    apply(&mut a, &[Op::SetAttr("x", "by_a", 1)]).await;
    let store = Arc::clone(&inner);
    hooked.after_put(
        "w.2.af",
        Box::new(move || {
            async move {
                let mut b = ArrayFile::open(store, Path::from(NAME), config())
                    .await
                    .unwrap();
                b.compact().await.unwrap(); // snapshot 3 merges A's layer 2
                for i in 0..1030 {
                    apply(&mut b, &[Op::SetAttr("y", "n", i)]).await;
                    b.flush().await.unwrap();
                }
                b.compact().await.unwrap(); // records 3 ..= 1033 only
            }
            .boxed()
        }),
    );
    for _ in 0..2 {
        let err = a.flush().await.unwrap_err();
        assert!(matches!(err, Error::CommitUnconfirmed { .. }), "{err}");
        assert!(err.to_string().contains("w.2.af"), "{err}");
        assert!(a.has_pending_changes());
    }
    a.discard_pending();
    a.refresh().await.unwrap();
    // A's layer was in fact merged: its attribute is there.
    assert_eq!(
        a.get_attribute("x", "by_a").unwrap(),
        Some(&AttributeValue::Int64(1))
    );
    a.set_attribute("x", "after", AttributeValue::Int64(2))
        .unwrap();
    a.flush().await.unwrap();
}
