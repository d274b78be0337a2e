//! The capability table (`af_testkit::Capabilities`) checked against what
//! each store does: every capability the suites consult is probed, so the
//! table (and docs/TESTING.md, which copies it) cannot drift from the
//! stores. `remote` is not probed: it says whether requests cross a
//! socket, which is how each kind is built.

use std::sync::Arc;
use std::time::Duration;

use af_testkit::{Backend, Capabilities};
use array_format::{ArrayFile, Error, FileConfig, Lz4Codec};
use ndarray::{ArrayD, IxDyn};
use object_store::path::Path;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt, PutPayload};

async fn put(store: &dyn ObjectStore, path: &str, bytes: &[u8]) -> object_store::Result<String> {
    let put = store
        .put(&Path::from(path), PutPayload::from(bytes.to_vec()))
        .await?;
    Ok(put.e_tag.unwrap_or_default())
}

/// A GET pinned (`If-Match`) to an object since deleted and created again
/// is refused, not served the new object.
async fn conditional_get(store: &dyn ObjectStore) -> bool {
    let tag = put(store, "probe/cg", b"old").await.unwrap();
    assert!(!tag.is_empty(), "the store gave no entity tag");
    store.delete(&Path::from("probe/cg")).await.unwrap();
    put(store, "probe/cg", b"newer").await.unwrap();
    let options = GetOptions {
        if_match: Some(tag),
        ..GetOptions::default()
    };
    match store.get_opts(&Path::from("probe/cg"), options).await {
        Err(object_store::Error::Precondition { .. }) => true,
        Ok(got) => {
            assert_eq!(&got.bytes().await.unwrap()[..], b"newer");
            false
        }
        Err(e) => panic!("a GET with If-Match failed with {e}"),
    }
}

/// Objects `a` and `a/b` exist together.
async fn nested_keys(store: &dyn ObjectStore) -> bool {
    put(store, "probe/nk", b"a").await.unwrap();
    if put(store, "probe/nk/b", b"b").await.is_err() {
        return false;
    }
    let a = store.get(&Path::from("probe/nk")).await.unwrap();
    assert_eq!(&a.bytes().await.unwrap()[..], b"a");
    true
}

/// `bytes=-N` is served.
async fn suffix_ranges(store: &dyn ObjectStore) -> bool {
    let bytes: Vec<u8> = (0..100).collect();
    put(store, "probe/sr", &bytes).await.unwrap();
    let options = GetOptions {
        range: Some(GetRange::Suffix(10)),
        ..GetOptions::default()
    };
    match store.get_opts(&Path::from("probe/sr"), options).await {
        Ok(got) => {
            assert_eq!(&got.bytes().await.unwrap()[..], &bytes[90..]);
            true
        }
        Err(_) => false,
    }
}

/// A handle reads on after another handle's compaction deleted its layers
/// (no retention, no cache).
async fn reads_outlive_delete(store: &Arc<dyn ObjectStore>) -> bool {
    let config = || FileConfig {
        retention: Duration::ZERO,
        cache_capacity: 0,
        io_cache_capacity: 0,
        ..FileConfig::new(Lz4Codec)
    };
    let path = Path::from("probe/r.af");
    let mut w = ArrayFile::create(Arc::clone(store), path.clone(), config())
        .await
        .unwrap();
    w.define_array::<i32>("x", vec![], vec![8], Some(vec![4]), None)
        .unwrap();
    for (start, v) in [(0, 1), (4, 2)] {
        let values = ArrayD::from_elem(IxDyn(&[4]), v);
        w.write_array("x", vec![start], values.view())
            .await
            .unwrap();
        w.flush().await.unwrap();
    }
    let r = ArrayFile::open(Arc::clone(store), path, config())
        .await
        .unwrap();
    w.compact().await.unwrap();
    match r.read_array::<i32>("x", vec![], vec![]).await {
        Ok(x) => {
            assert_eq!(
                x.iter().copied().collect::<Vec<_>>(),
                [1, 1, 1, 1, 2, 2, 2, 2]
            );
            true
        }
        Err(Error::Vanished { .. }) => false,
        Err(e) => panic!("a read after a compaction elsewhere failed with {e}"),
    }
}

async fn capabilities(backend: Backend, _test: &'static str) {
    let table = backend.capabilities();
    let store = &backend.store;
    let found = Capabilities {
        remote: table.remote,
        conditional_get: conditional_get(store.as_ref()).await,
        nested_keys: nested_keys(store.as_ref()).await,
        suffix_ranges: suffix_ranges(store.as_ref()).await,
        reads_outlive_delete: reads_outlive_delete(store).await,
    };
    println!("capabilities of {backend:?}: {found:?}");
    assert_eq!(
        found, table,
        "what {backend:?} does (left) is not what af_testkit's table says (right)"
    );
}

per_backend!(capabilities);
