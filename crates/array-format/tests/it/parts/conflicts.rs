//! Parts that collide: with each other (a chunk written by two parts), with
//! a writer that committed since their base (the same chunk, the array
//! deleted or redefined), and races for the layer number that do not
//! collide, which `commit_parts` retries.

use array_format::{ArrayFile, Error};
use ndarray::{ArrayD, IxDyn};

use super::{
    COLS, ROWS, config, decode, define, expected_grid, grid, memory, places, stage_four, work,
};

fn conflict(e: Error, what: &str) {
    match e {
        Error::Conflict { reason, .. } => assert!(reason.contains(what), "{reason}"),
        other => panic!("expected Conflict about {what:?}, got {other:?}"),
    }
}

/// Writes `v` over chunk row `row` of `grid` (rows `row * ROWS ..`).
async fn write_chunk(f: &mut ArrayFile, row: usize, v: i32) {
    f.write_array(
        "grid",
        vec![row * ROWS, 0],
        ArrayD::from_elem(IxDyn(&[ROWS, COLS]), v).view(),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn a_chunk_written_by_two_parts_is_a_conflict_and_nothing_is_visible() {
    let place = memory();
    let mut coordinator = define(&place).await;
    let layer = coordinator.latest_layer();
    let mut a = place.open_with(config()).await;
    work(&mut a, 0).await;
    let mut b = place.open_with(config()).await;
    write_chunk(&mut b, 3, 5).await; // row 12..16: also written by worker 0
    let parts = [a.stage().await.unwrap(), b.stage().await.unwrap()];
    conflict(
        coordinator.commit_parts(&parts).await.unwrap_err(),
        "written by two parts",
    );
    assert_eq!(coordinator.latest_layer(), layer);
    assert_eq!(place.open_with(config()).await.latest_layer(), layer);
    // Either part alone commits.
    coordinator.commit_parts(&parts[..1]).await.unwrap();
    assert_eq!(grid(&coordinator).await, expected_grid(&[0]));
    // The other now collides with what the first committed.
    conflict(
        coordinator.commit_parts(&parts[1..]).await.unwrap_err(),
        "was written by another writer",
    );
}

#[tokio::test]
async fn a_concurrent_flush_of_the_same_chunk_conflicts() {
    for place in places() {
        let at = place.name();
        let mut coordinator = define(&place).await;
        let layer = coordinator.latest_layer();
        let sent = stage_four(&place).await;
        // Another writer commits a chunk of worker 1's after the parts were
        // staged; the coordinator's view is older than that commit.
        let mut other = place.open_with(config()).await;
        write_chunk(&mut other, 5, 9).await;
        other.flush().await.unwrap();
        conflict(
            coordinator.commit_parts(&decode(&sent)).await.unwrap_err(),
            "chunk [5, 0] of array \"grid\" was written by another writer",
        );
        assert_eq!(
            place.open_with(config()).await.latest_layer(),
            layer + 1,
            "{at}"
        );
        assert_eq!(coordinator.latest_layer(), layer + 1, "{at}");
    }
}

#[tokio::test]
async fn a_concurrent_disjoint_flush_and_the_parts_both_land() {
    for place in places() {
        let at = place.name();
        let mut coordinator = define(&place).await;
        let layer = coordinator.latest_layer();
        let mut sent = Vec::new();
        for w in [0, 1] {
            let mut f = place.open_with(config()).await;
            work(&mut f, w).await;
            sent.push(f.stage().await.unwrap());
        }
        // The parts' commit loses the race for the number, retries on the
        // newer view, and lands above the flush.
        let mut other = place.open_with(config()).await;
        write_chunk(&mut other, 15, 9).await; // worker 3's rows
        other.flush().await.unwrap();
        coordinator.commit_parts(&sent).await.unwrap();
        assert_eq!(coordinator.latest_layer(), layer + 2, "{at}");
        let mut expected = expected_grid(&[0, 1]);
        expected[15 * ROWS * COLS..].fill(9);
        assert_eq!(
            grid(&place.open_with(config()).await).await,
            expected,
            "{at}"
        );
        assert_eq!(grid(&coordinator).await, expected, "{at}");

        // A flush of a chunk the parts committed meanwhile conflicts.
        write_chunk(&mut other, 0, 4).await;
        other.refresh().await.unwrap();
        conflict(
            other.flush().await.unwrap_err(),
            "written by another writer",
        );
    }
}

#[tokio::test]
async fn an_array_deleted_or_redefined_since_the_base_is_a_conflict() {
    for redefine in [false, true] {
        let place = memory();
        let mut coordinator = define(&place).await;
        let mut f = place.open_with(config()).await;
        work(&mut f, 0).await;
        let part = f.stage().await.unwrap();
        let mut other = place.open_with(config()).await;
        other.delete("names").unwrap();
        if redefine {
            other
                .define_array::<String>("names", vec![], vec![16], Some(vec![2]), None)
                .unwrap();
        }
        other.flush().await.unwrap();
        let e = coordinator.commit_parts(&[part]).await.unwrap_err();
        conflict(
            e,
            if redefine {
                "was redefined by another writer"
            } else {
                "was deleted by another writer"
            },
        );
    }
}

#[tokio::test]
async fn staging_refuses_chunks_another_writer_changed_since_the_view() {
    let place = memory();
    let _ = define(&place).await;
    let mut f = place.open_with(config()).await;
    write_chunk(&mut f, 2, 1).await;
    let mut other = place.open_with(config()).await;
    write_chunk(&mut other, 2, 2).await;
    other.flush().await.unwrap();
    f.refresh().await.unwrap();
    conflict(f.stage().await.unwrap_err(), "written by another writer");
    // Nothing was staged: the change is still pending.
    assert!(f.has_pending_changes());
}
