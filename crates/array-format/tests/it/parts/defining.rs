//! Parts that write arrays defined in the same commit: each worker defines
//! the array as the coordinator does, writes its share and stages it; the
//! coordinator's `commit_parts` commits its own pending changes (the
//! definitions, attributes, its own chunks) with the parts as one layer,
//! so a job's new arrays appear with their data at once, or not at all.

use array_format::{ArrayFile, AttributeValue, Error, FillValue};
use ndarray::{ArrayD, IxDyn};

use super::{ALL_ROWS, COLS, Place, ROWS, config, decode, places};

/// Defines `fresh` (i32, 64 x 8 in chunks of 4 x 8, fill `fill`), as the
/// coordinator and every worker do.
fn define_fresh(f: &mut ArrayFile, fill: i32) {
    f.define_array::<i32>(
        "fresh",
        vec!["y".into(), "x".into()],
        vec![ALL_ROWS, COLS],
        Some(vec![ROWS, COLS]),
        Some(FillValue::Int(i64::from(fill))),
    )
    .unwrap();
}

/// Element (y, x) of `fresh`.
fn fresh_value(y: usize, x: usize) -> i32 {
    (y * 1000 + x) as i32
}

/// Worker `w` of four opens the file, defines `fresh` with fill `fill`,
/// writes rows `16w .. 16w + 16` but for the first chunk of worker 0 (the
/// coordinator's), and stages them.
async fn stage_fresh(place: &Place, fill: i32) -> Vec<Vec<u8>> {
    let mut sent = Vec::new();
    for w in 0..4 {
        let mut f = place.open_with(config()).await;
        define_fresh(&mut f, fill);
        let from = if w == 0 { ROWS } else { 16 * w };
        let rows = 16 * (w + 1) - from;
        let data = ArrayD::from_shape_fn(IxDyn(&[rows, COLS]), |i| fresh_value(from + i[0], i[1]));
        f.write_array("fresh", vec![from, 0], data.view())
            .await
            .unwrap();
        let part = f.stage().await.unwrap();
        assert!(!f.has_pending_changes());
        sent.push(part.to_bytes());
    }
    sent
}

async fn fresh(f: &ArrayFile) -> Vec<i32> {
    f.read_array::<i32>("fresh", vec![], vec![])
        .await
        .unwrap()
        .iter()
        .copied()
        .collect()
}

fn expected_fresh() -> Vec<i32> {
    (0..ALL_ROWS * COLS)
        .map(|i| fresh_value(i / COLS, i % COLS))
        .collect()
}

/// The coordinator's own share: the definition, attributes of the array
/// and of the file, the first chunk of `fresh`, and a small array of its
/// own.
async fn coordinate(f: &mut ArrayFile) {
    define_fresh(f, -1);
    f.set_attribute("fresh", "units", AttributeValue::String("K".into()))
        .unwrap();
    f.set_file_attribute("title", AttributeValue::String("job".into()))
        .unwrap();
    let first = ArrayD::from_shape_fn(IxDyn(&[ROWS, COLS]), |i| fresh_value(i[0], i[1]));
    f.write_array("fresh", vec![0, 0], first.view())
        .await
        .unwrap();
    f.define_array::<u8>("small", vec![], vec![3], None, None)
        .unwrap();
    let small = ArrayD::from_shape_vec(IxDyn(&[3]), vec![7u8, 8, 9]).unwrap();
    f.write_array("small", vec![0], small.view()).await.unwrap();
}

#[tokio::test]
async fn new_arrays_and_their_data_from_many_parts_commit_as_one_layer() {
    for place in places() {
        let at = place.name();
        let mut coordinator = place.create_with(config()).await;
        let before = coordinator.latest_layer();
        let sent = stage_fresh(&place, -1).await;
        coordinate(&mut coordinator).await;
        // Nothing of the job is visible before the commit.
        let reader_before = place.open_with(config()).await;
        assert!(reader_before.list_arrays().is_empty(), "{at}");

        coordinator.commit_parts(&decode(&sent)).await.unwrap();
        assert!(!coordinator.has_pending_changes(), "{at}");
        assert_eq!(coordinator.latest_layer(), before + 1, "{at}");
        let versions = coordinator.versions().await.unwrap();
        let newest = versions.last().unwrap();
        assert_eq!((newest.layer, newest.parts), (before + 1, 4), "{at}");

        assert!(reader_before.list_arrays().is_empty(), "{at}");
        for f in [coordinator, place.open_with(config()).await] {
            assert_eq!(fresh(&f).await, expected_fresh(), "{at}");
            let small = f.read_array::<u8>("small", vec![], vec![]).await.unwrap();
            assert_eq!(small.as_slice().unwrap(), &[7, 8, 9], "{at}");
            assert_eq!(
                f.get_attribute("fresh", "units").unwrap(),
                Some(&AttributeValue::String("K".into())),
                "{at}"
            );
            assert_eq!(
                f.file_attribute("title").unwrap(),
                Some(&AttributeValue::String("job".into())),
                "{at}"
            );
            let report = f.verify().await.unwrap();
            assert!(report.is_ok(), "{at}: {:?}", report.damaged);
            assert_eq!(report.chunks, 16 + 1, "{at}");
        }
        // Compacted, the file holds the same.
        let mut f = place.open_with(config()).await;
        f.compact().await.unwrap();
        assert_eq!(f.num_layers(), 1, "{at}");
        assert_eq!(
            fresh(&place.open_with(config()).await).await,
            expected_fresh(),
            "{at}"
        );
    }
}

#[tokio::test]
async fn a_part_defining_an_array_otherwise_commits_nothing() {
    for place in places() {
        let at = place.name();
        let mut coordinator = place.create_with(config()).await;
        let before = coordinator.latest_layer();
        let sent = stage_fresh(&place, -2).await;
        coordinate(&mut coordinator).await;
        let err = coordinator.commit_parts(&decode(&sent)).await.unwrap_err();
        match &err {
            Error::InvalidOperation { reason, .. } => {
                assert!(
                    reason.contains("defines array \"fresh\" otherwise"),
                    "{at}: {reason}"
                );
            }
            other => panic!("{at}: {other:?}"),
        }
        // The coordinator's own changes are kept, nothing is committed.
        assert!(coordinator.has_pending_changes(), "{at}");
        assert_eq!(coordinator.latest_layer(), before, "{at}");
        assert!(
            place.open_with(config()).await.list_arrays().is_empty(),
            "{at}"
        );
        // Without the parts, its changes commit on their own.
        coordinator.flush().await.unwrap();
        let f = place.open_with(config()).await;
        let mut want = vec![-1; ALL_ROWS * COLS];
        for (i, v) in want.iter_mut().take(ROWS * COLS).enumerate() {
            *v = fresh_value(i / COLS, i % COLS);
        }
        assert_eq!(fresh(&f).await, want, "{at}");
    }
}

#[tokio::test]
async fn a_part_defining_an_array_the_coordinator_does_not_is_refused() {
    let place = places().remove(0);
    let mut coordinator = place.create_with(config()).await;
    let sent = stage_fresh(&place, -1).await;
    match coordinator.commit_parts(&decode(&sent)).await {
        Err(Error::InvalidOperation { reason, .. }) => {
            assert!(
                reason.contains("which this handle does not define"),
                "{reason}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(place.open_with(config()).await.list_arrays().is_empty());
}

#[tokio::test]
async fn a_chunk_of_a_part_and_of_the_coordinator_is_a_conflict() {
    let place = places().remove(0);
    let mut coordinator = place.create_with(config()).await;
    let sent = stage_fresh(&place, -1).await;
    coordinate(&mut coordinator).await;
    // The coordinator also writes a chunk worker 2 wrote.
    let row = ArrayD::from_elem(IxDyn(&[1, COLS]), 5i32);
    coordinator
        .write_array("fresh", vec![33, 0], row.view())
        .await
        .unwrap();
    match coordinator.commit_parts(&decode(&sent)).await {
        Err(Error::Conflict { reason, .. }) => {
            assert!(
                reason.contains("written both by part") && reason.contains("[8, 0]"),
                "{reason}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(coordinator.has_pending_changes());
    assert!(place.open_with(config()).await.list_arrays().is_empty());
}

#[tokio::test]
async fn an_array_a_part_writes_deleted_or_redefined_by_the_coordinator_is_a_conflict() {
    let place = places().remove(0);
    let mut coordinator = super::define(&place).await;
    let before = coordinator.latest_layer();
    let sent = super::stage_four(&place).await;
    coordinator.delete("names").unwrap();
    match coordinator.commit_parts(&decode(&sent)).await {
        Err(Error::Conflict { reason, .. }) => {
            assert!(reason.contains("deleted by this handle"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    // Deleted and defined again: a redefinition.
    coordinator
        .define_array::<String>("names", vec![], vec![16], Some(vec![4]), None)
        .unwrap();
    match coordinator.commit_parts(&decode(&sent)).await {
        Err(Error::Conflict { reason, .. }) => {
            assert!(reason.contains("redefined by this handle"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(place.open_with(config()).await.latest_layer(), before);
}

#[tokio::test]
async fn committed_arrays_updated_by_parts_and_the_coordinator_in_one_layer() {
    for place in places() {
        let at = place.name();
        let mut coordinator = super::define(&place).await;
        let before = coordinator.latest_layer();
        let sent = super::stage_four(&place).await;
        // The coordinator changes an attribute and adds an array; another
        // writer commits a disjoint change first, which the commit retries
        // past.
        coordinator
            .set_attribute("grid", "units", AttributeValue::String("m".into()))
            .unwrap();
        define_fresh(&mut coordinator, 0);
        let mut other = place.open_with(config()).await;
        other
            .set_file_attribute("by", AttributeValue::String("other".into()))
            .unwrap();
        other.flush().await.unwrap();
        coordinator.commit_parts(&decode(&sent)).await.unwrap();
        assert_eq!(coordinator.latest_layer(), before + 2, "{at}");
        let f = place.open_with(config()).await;
        assert_eq!(
            super::grid(&f).await,
            super::expected_grid(&[0, 1, 2, 3]),
            "{at}"
        );
        assert_eq!(
            f.get_attribute("grid", "units").unwrap(),
            Some(&AttributeValue::String("m".into())),
            "{at}"
        );
        assert_eq!(
            f.file_attribute("by").unwrap(),
            Some(&AttributeValue::String("other".into())),
            "{at}"
        );
        assert_eq!(fresh(&f).await, vec![0; ALL_ROWS * COLS], "{at}");
    }
}

#[tokio::test]
async fn parts_holding_only_definitions_commit_the_coordinators_changes() {
    let place = places().remove(0);
    let mut coordinator = place.create_with(config()).await;
    let mut worker = place.open_with(config()).await;
    define_fresh(&mut worker, -1);
    let part = worker.stage().await.unwrap();
    assert_eq!(part.chunk_count(), 0);
    define_fresh(&mut coordinator, -1);
    coordinator.commit_parts(&[part]).await.unwrap();
    assert!(!coordinator.has_pending_changes());
    let f = place.open_with(config()).await;
    assert_eq!(fresh(&f).await, vec![-1; ALL_ROWS * COLS]);
    assert_eq!(f.num_layers(), 1, "the first commit is a snapshot");
}
