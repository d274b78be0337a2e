//! `corruption.rs` on every store: bytes of every object flipped and
//! objects truncated through the store; every case gives `Corrupted` naming
//! the object or exactly the right data, and `verify` reports every damaged
//! frame. `emptied`: the smallest of those cases on its own, each object
//! of a two-layer file truncated to nothing.

use af_testkit::Backend;

async fn corruption(backend: Backend, _test: &'static str) {
    crate::corruption::corruption(&backend).await;
}

per_backend!(corruption);

mod emptied {
    use std::sync::Arc;

    use af_testkit::{Backend, damage, restore};
    use array_format::{ArrayFile, Error, FileConfig, Lz4Codec};
    use ndarray::{ArrayD, IxDyn};
    use object_store::path::Path;

    /// The base and the layer of a file, each emptied in turn: the open
    /// fails with `Corrupted` naming the object, as on local disk.
    async fn emptied(backend: Backend, _test: &'static str) {
        let store = &backend.store;
        let path = Path::from("e.af");
        let config = || FileConfig::new(Lz4Codec);
        let mut f = ArrayFile::create(Arc::clone(store), path.clone(), config())
            .await
            .unwrap();
        f.define_array::<i32>("x", vec![], vec![4], None, None)
            .unwrap();
        let values = ArrayD::from_elem(IxDyn(&[4]), 7);
        f.write_array("x", vec![0], values.view()).await.unwrap();
        f.flush().await.unwrap();
        drop(f);
        let mut wrong = Vec::new();
        for object in ["e.af", "e.1.af"] {
            let at = Path::from(object);
            let original = damage(store.as_ref(), &at, Vec::clear).await;
            let opened = ArrayFile::open(Arc::clone(store), path.clone(), config()).await;
            restore(store.as_ref(), &at, original).await;
            match opened {
                Err(Error::Corrupted { path, .. }) if path.ends_with(object) => {}
                Err(e) => wrong.push(format!("{object} emptied: open failed with {e:?}")),
                Ok(_) => wrong.push(format!("{object} emptied: the file opened")),
            }
        }
        assert!(
            wrong.is_empty(),
            "on {backend:?}, not Corrupted naming the object:\n{}",
            wrong.join("\n")
        );
    }

    per_backend!(emptied);
}
