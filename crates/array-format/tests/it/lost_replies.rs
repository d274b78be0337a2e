//! A create that landed but whose reply was lost, retried by the store's
//! client, which then finds the object there and reports it as taken: the
//! commit is the writer's own, and must be reported as done, not as a
//! conflict (after which a writer would retry, and conflict with itself
//! forever, or give its changes up).
//!
//! For each conditional create of a layer or a part in a workload (found
//! by a first run that only counts), the workload runs again with that
//! one request performed and reported as `AlreadyExists`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::Arc;

use array_format::{ArrayFile, FileConfig, Lz4Codec};
use ndarray::{ArrayD, IxDyn};
use object_store::ObjectStore;
use object_store::memory::InMemory;
use object_store::path::Path;

use crate::common::FaultyStore;

fn row(k: i32) -> ArrayD<i32> {
    ArrayD::from_shape_fn(IxDyn(&[4, 8]), move |ix| k * 100 + ix[1] as i32)
}

/// Creates the file, commits two layers, stages two parts and commits
/// them as a third: what a reader then sees of `v` (rows 4k..4k+4 hold
/// `row(k)` for k in 0..4).
async fn workload(store: Arc<dyn ObjectStore>) {
    let path = Path::from("lost.af");
    let config = || FileConfig::new(Lz4Codec);
    let mut f = ArrayFile::create(Arc::clone(&store), path.clone(), config())
        .await
        .unwrap();
    f.define_array::<i32>("v", vec![], vec![16, 8], Some(vec![4, 8]), None)
        .unwrap();
    f.write_array("v", vec![0, 0], row(0).view()).await.unwrap();
    f.flush().await.unwrap();
    f.write_array("v", vec![4, 0], row(1).view()).await.unwrap();
    f.flush().await.unwrap();
    let mut parts = Vec::new();
    for k in 2..4 {
        let mut w = ArrayFile::open(Arc::clone(&store), path.clone(), config())
            .await
            .unwrap();
        w.write_array("v", vec![4 * k as usize, 0], row(k).view())
            .await
            .unwrap();
        parts.push(w.stage().await.unwrap());
    }
    f.commit_parts(&parts).await.unwrap();
}

async fn check(store: Arc<dyn ObjectStore>, case: &str) {
    let f = ArrayFile::open(store, Path::from("lost.af"), FileConfig::new(Lz4Codec))
        .await
        .unwrap();
    let v = f.read_array::<i32>("v", vec![], vec![]).await.unwrap();
    for k in 0..4 {
        assert_eq!(v[[4 * k, 3]], k as i32 * 100 + 3, "{case}: row {k}");
    }
    // The base, two flushes, one commit of the parts: nothing twice.
    assert_eq!(f.versions().await.unwrap().len(), 4, "{case}");
    assert!(f.verify().await.unwrap().is_ok(), "{case}");
}

#[tokio::test]
async fn a_create_whose_retry_finds_it_is_the_writers_own_commit() {
    let counting = FaultyStore::new(Arc::new(InMemory::new()), None);
    workload(Arc::new(counting.clone())).await;
    let creates: Vec<(u64, String)> = counting
        .log()
        .into_iter()
        .filter(|m| m.what.starts_with("put ") && m.what.contains("Create"))
        .map(|m| (m.n, m.what))
        .collect();
    // The base, the check that the store refuses it a second time, two
    // layers, two parts and the layer adopting them.
    assert_eq!(creates.len(), 7, "{creates:?}");
    for (n, what) in creates {
        let inner: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        let faulty = FaultyStore::new_retried_create(Arc::clone(&inner), n);
        let case = format!("request {n}, {what}");
        workload(Arc::new(faulty.clone())).await;
        assert!(faulty.log()[n as usize - 1].failed, "{case}");
        check(inner, &case).await;
    }
}
