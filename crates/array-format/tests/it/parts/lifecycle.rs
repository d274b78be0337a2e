//! Adopted parts through the rest of a file's life: compaction copies
//! their frames and deletes them, vacuum deletes only parts no layer
//! adopted once they are old enough, time travel, and what a read of an
//! adopted frame costs in requests.

use std::sync::Arc;
use std::time::Duration;

use array_format::{ArrayFile, FileConfig, StagedPart};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};

use super::{
    ALL_ROWS, COLS, NAME, Place, ROWS, config, decode, define, expected_grid, grid, memory, names,
    places, stage_four, uncached, work,
};
use crate::common::{CountingStore, RequestKind};
use af_testkit::{Backend, Kind};

/// The part objects of the file of `place` (its `p.parts/` directory).
async fn part_objects(place: &Place) -> Vec<String> {
    let mut found = Vec::new();
    let listing = place
        .store()
        .list_with_delimiter(Some(&Path::from("p.parts")))
        .await
        .unwrap();
    found.extend(listing.objects.into_iter().map(|m| m.location.to_string()));
    found.sort();
    found
}

#[tokio::test]
async fn compaction_copies_adopted_frames_and_deletes_the_parts() {
    for place in places() {
        let at = place.name();
        let mut coordinator = define(&place).await;
        let sent = stage_four(&place).await;
        coordinator.commit_parts(&decode(&sent)).await.unwrap();
        assert_eq!(part_objects(&place).await.len(), 4, "{at}");
        coordinator.compact().await.unwrap();
        assert_eq!(coordinator.num_layers(), 1, "{at}");
        assert!(part_objects(&place).await.is_empty(), "{at}");
        for f in [coordinator, place.open_with(config()).await] {
            assert_eq!(grid(&f).await, expected_grid(&[0, 1, 2, 3]), "{at}");
            assert_eq!(names(&f).await[9], "w2-1", "{at}");
            assert!(f.verify().await.unwrap().is_ok(), "{at}");
            assert_eq!(f.versions().await.unwrap().last().unwrap().parts, 0);
        }
        // Committing the parts again finds them gone.
        let mut f = place.open_with(config()).await;
        assert!(matches!(
            f.commit_parts(&decode(&sent)).await,
            Err(array_format::Error::PartNotFound { .. })
        ));
    }
}

#[tokio::test]
async fn vacuum_deletes_only_parts_no_layer_adopted_once_old_enough() {
    for place in places() {
        let at = place.name();
        let mut coordinator = define(&place).await;
        let sent = decode(&stage_four(&place).await);
        coordinator.commit_parts(&sent[..2]).await.unwrap();
        // Young parts stay, adopted or not.
        let report = coordinator.vacuum().await.unwrap();
        assert_eq!(report.parts, 0, "{at}: {report:?}");
        assert_eq!(part_objects(&place).await.len(), 4, "{at}");
        // With no grace, the two parts no layer adopted go.
        let report = coordinator.vacuum_with_grace(Duration::ZERO).await.unwrap();
        assert_eq!(report.parts, 2, "{at}: {report:?}");
        let left = part_objects(&place).await;
        let adopted: Vec<String> = sent[..2]
            .iter()
            .map(|p| p.path().to_owned())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        assert_eq!(left, adopted, "{at}");
        let f = place.open_with(config()).await;
        assert_eq!(grid(&f).await, expected_grid(&[0, 1]), "{at}");
        assert!(f.verify().await.unwrap().is_ok(), "{at}");
        assert!(matches!(
            coordinator.commit_parts(&sent[2..]).await,
            Err(array_format::Error::PartNotFound { .. })
        ));
    }
}

#[tokio::test]
async fn vacuum_keeps_parts_adopted_by_layers_beyond_its_view() {
    let place = memory();
    let mut stale = define(&place).await;
    let sent = decode(&stage_four(&place).await);
    let mut coordinator = place.open_with(config()).await;
    coordinator.commit_parts(&sent).await.unwrap();
    // `stale` does not see the layer that adopted the parts.
    let report = stale.vacuum_with_grace(Duration::ZERO).await.unwrap();
    assert_eq!(report.parts, 0, "{report:?}");
    assert_eq!(
        grid(&place.open_with(config()).await).await,
        expected_grid(&[0, 1, 2, 3])
    );
}

#[tokio::test]
async fn time_travel_reads_the_layer_that_adopted_parts() {
    let place = Place::by_path().named(NAME);
    let mut coordinator = define(&place).await;
    let sent = decode(&stage_four(&place).await);
    coordinator.commit_parts(&sent[..1]).await.unwrap();
    let adopted = coordinator.latest_layer();
    coordinator.commit_parts(&sent[1..]).await.unwrap();
    let then = place
        .open_with(FileConfig {
            as_of: Some(adopted),
            ..config()
        })
        .await;
    assert_eq!(grid(&then).await, expected_grid(&[0]));
    assert_eq!(
        grid(&place.open_with(config()).await).await,
        expected_grid(&[0, 1, 2, 3])
    );
}

#[tokio::test]
async fn a_one_chunk_read_of_an_adopted_frame_is_one_ranged_get() {
    let memory = Backend::fresh(Kind::Memory);
    let store = Arc::new(CountingStore::new(Arc::clone(&memory.store)));
    let dyn_store: Arc<dyn ObjectStore> = store.clone();
    let place = Place::on(memory.with_store(dyn_store.clone())).named(NAME);
    let mut coordinator = define(&place).await;
    let sent = decode(&stage_four(&place).await);
    store.reset();
    coordinator.commit_parts(&sent).await.unwrap();
    // The commit: one read of each part's footer and one conditional
    // create of a layer holding a footer only; nothing copied.
    let puts: Vec<_> = store
        .requests()
        .into_iter()
        .filter(|r| r.kind == RequestKind::Put)
        .collect();
    assert_eq!(puts.len(), 1, "{puts:?}");
    assert!(puts[0].bytes < 2048, "{puts:?}");
    assert_eq!(store.gets(), 4, "{:?}", store.requests());

    let f = ArrayFile::open(dyn_store, Path::from(NAME), uncached())
        .await
        .unwrap();
    store.reset();
    let chunk = f
        .read_array::<i32>("grid", vec![5 * ROWS, 0], vec![ROWS, COLS])
        .await
        .unwrap();
    assert_eq!(chunk[[0, 0]], super::value(1, 5 * ROWS, 0));
    let gets = store.requests();
    assert_eq!(gets.len(), 1, "{gets:?}");
    assert_eq!(gets[0].kind, RequestKind::Get);
    assert!(gets[0].range.is_some(), "{gets:?}");
    assert!(gets[0].path.starts_with("p.parts/"), "{gets:?}");
    // A whole read: one request per part at most (frames in different
    // parts are never fetched together).
    store.reset();
    assert_eq!(grid(&f).await.len(), ALL_ROWS * COLS);
    assert!(store.gets() <= 4, "{:?}", store.requests());
}

#[tokio::test]
async fn a_part_describes_itself_and_its_file() {
    let place = memory();
    let _ = define(&place).await;
    let mut f = place.open_with(config()).await;
    work(&mut f, 3).await;
    let part = f.stage().await.unwrap();
    let name = part.path();
    assert!(
        name.starts_with("p.parts/") && name.ends_with(".af"),
        "{name}"
    );
    assert_eq!(name.len(), "p.parts/".len() + 32 + 3);
    let store = place.store();
    let meta = store.head(&Path::from(name)).await.unwrap();
    assert_eq!(meta.size, part.size());
    assert_eq!(part.base_layer(), f.latest_layer());
    assert!(part.to_bytes().len() < 150);
    assert_eq!(StagedPart::from_bytes(&part.to_bytes()).unwrap(), part);
}
