//! Stores that take no suffix ranges (object_store's client of Azure Blob
//! Storage refuses them before sending anything): opening a file reads
//! each layer's tail after asking for its size, and everything else works
//! as on any store. Checked on `InMemory` behind a `CountingStore` that
//! refuses suffix ranges as the Azure client does; the Azure emulator
//! (azurite) ran the same round trip, a 20 MiB layer, a race for a layer
//! number and a compaction by hand (docs/OBJECT_STORES.md).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::Arc;

use array_format::{ArrayFile, FileConfig, Lz4Codec};
use ndarray::{ArrayD, IxDyn};
use object_store::memory::InMemory;
use object_store::path::Path;

use crate::common::{CountingStore, RequestKind};

#[tokio::test]
async fn files_open_and_read_where_suffix_ranges_are_refused() {
    let counting = CountingStore::new(Arc::new(InMemory::new())).without_suffix_ranges();
    let store = Arc::new(counting.clone());
    let path = Path::from("az/f.af");
    let config = || FileConfig::new(Lz4Codec);
    let data = ArrayD::from_shape_fn(IxDyn(&[64, 64]), |ix| (ix[0] * 64 + ix[1]) as i32);
    {
        let mut f = ArrayFile::create(store.clone(), path.clone(), config())
            .await
            .unwrap();
        f.define_array::<i32>("v", vec![], vec![64, 64], Some(vec![16, 64]), None)
            .unwrap();
        f.write_array("v", vec![0, 0], data.view()).await.unwrap();
        f.flush().await.unwrap();
    }
    counting.reset();
    let f = ArrayFile::open(store.clone(), path.clone(), config())
        .await
        .unwrap();
    let opened = counting.requests();
    // Per layer (the base and layer 1): its size, then its tail.
    let heads = opened
        .iter()
        .filter(|r| r.kind == RequestKind::Head)
        .count();
    let gets = opened.iter().filter(|r| r.kind == RequestKind::Get).count();
    assert_eq!((heads, gets), (2, 2), "{opened:?}");
    let back = f.read_array::<i32>("v", vec![], vec![]).await.unwrap();
    assert_eq!(back.into_owned(), data);
    assert!(f.verify().await.unwrap().is_ok());
}
