//! Files named by a path or a URL (`Location`), and creating a file only
//! where there is none (`create_new_at`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use array_format::{ArrayFile, Error, FileConfig, Location, Lz4Codec};
use ndarray::{Array, IxDyn};
use object_store::ObjectStoreExt;
use object_store::memory::InMemory;

async fn write_one(file: &mut ArrayFile, value: i32) {
    file.define_array::<i32>("x", vec![], vec![4], None, None)
        .unwrap();
    let data = Array::from_elem(IxDyn(&[4]), value);
    file.write_array("x", vec![0], data.view()).await.unwrap();
    file.flush().await.unwrap();
}

async fn read_one(file: &ArrayFile) -> Vec<i32> {
    let a = file.read_array::<i32>("x", vec![], vec![]).await.unwrap();
    a.iter().copied().collect()
}

#[tokio::test]
async fn paths_and_file_urls_name_the_same_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.af");
    let mut f = ArrayFile::create_url(path.to_str().unwrap(), FileConfig::new(Lz4Codec))
        .await
        .unwrap();
    write_one(&mut f, 7).await;
    let url = format!("file://{}", path.display());
    let g = ArrayFile::open_url(&url, FileConfig::new(Lz4Codec))
        .await
        .unwrap();
    assert_eq!(read_one(&g).await, vec![7; 4]);
    assert!(Location::parse(&url).unwrap().is_local());
}

#[tokio::test]
async fn create_new_refuses_an_existing_file_and_leaves_it_alone() {
    let dir = tempfile::tempdir().unwrap();
    let loc = Location::parse(dir.path().join("b.af").to_str().unwrap()).unwrap();
    let mut f = ArrayFile::create_new_at(&loc, FileConfig::new(Lz4Codec))
        .await
        .unwrap();
    write_one(&mut f, 3).await;
    let err = ArrayFile::create_new_at(&loc, FileConfig::new(Lz4Codec))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::FileExists { .. }), "{err}");
    let g = ArrayFile::open_at(&loc, FileConfig::new(Lz4Codec))
        .await
        .unwrap();
    assert_eq!(read_one(&g).await, vec![3; 4]);
    assert_eq!(g.latest_layer(), 1);
}

#[tokio::test]
async fn create_new_clears_the_leftovers_of_a_file_whose_base_is_gone() {
    let store = Arc::new(InMemory::new());
    let loc = Location::in_store("memory", store.clone(), "c.af".into());
    let mut f = ArrayFile::create_at(&loc, FileConfig::new(Lz4Codec))
        .await
        .unwrap();
    write_one(&mut f, 1).await;
    store.delete(&"c.af".into()).await.unwrap();
    let g = ArrayFile::create_new_at(&loc, FileConfig::new(Lz4Codec))
        .await
        .unwrap();
    assert!(g.list_arrays().is_empty());
    let reopened = ArrayFile::open_at(&loc, FileConfig::new(Lz4Codec))
        .await
        .unwrap();
    assert!(reopened.list_arrays().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_racing_creators_exactly_one_wins() {
    for round in 0..20 {
        let store = Arc::new(InMemory::new());
        let loc = Location::in_store("memory", store, format!("r{round}.af").into());
        let tasks: Vec<_> = (0..4)
            .map(|_| {
                let loc = loc.clone();
                tokio::spawn(async move {
                    ArrayFile::create_new_at(&loc, FileConfig::new(Lz4Codec)).await
                })
            })
            .collect();
        let mut won = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(_) => won += 1,
                Err(Error::FileExists { .. }) => {}
                Err(e) => panic!("round {round}: {e}"),
            }
        }
        assert_eq!(won, 1, "round {round}");
    }
}
