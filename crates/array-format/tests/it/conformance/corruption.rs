//! `corruption.rs` on every store: bytes of every object flipped and
//! objects truncated through the store; every case gives `Corrupted` naming
//! the object or exactly the right data, and `verify` reports every damaged
//! frame. `emptied`: the smallest of those cases on its own, each object
//! of a small file (the base, two layers, a part the second adopted)
//! truncated to nothing.

use af_testkit::Backend;

async fn corruption(backend: Backend, _test: &'static str) {
    crate::corruption::corruption(&backend).await;
}

per_backend!(corruption);

mod emptied {
    use std::sync::Arc;

    use af_testkit::{Backend, damage, restore};
    use array_format::{ArrayFile, Error, FileConfig, Lz4Codec};
    use futures::TryStreamExt;
    use ndarray::{ArrayD, IxDyn};
    use object_store::ObjectStore;
    use object_store::path::Path;

    fn config() -> FileConfig<Lz4Codec> {
        FileConfig::new(Lz4Codec)
    }

    /// Opens the file and reads it whole: the first error, if any.
    async fn read(store: &Arc<dyn ObjectStore>) -> Option<Error> {
        let f = match ArrayFile::open(Arc::clone(store), Path::from("e.af"), config()).await {
            Ok(f) => f,
            Err(e) => return Some(e),
        };
        f.read_array::<i32>("x", vec![], vec![]).await.err()
    }

    /// The base, a layer and a part a layer adopted, each emptied in turn:
    /// opening and reading the file fails with `Corrupted` naming the
    /// object, as on local disk.
    async fn emptied(backend: Backend, _test: &'static str) {
        let store = &backend.store;
        let mut f = ArrayFile::create(Arc::clone(store), Path::from("e.af"), config())
            .await
            .unwrap();
        f.define_array::<i32>("x", vec![], vec![8], Some(vec![4]), None)
            .unwrap();
        let values = ArrayD::from_elem(IxDyn(&[4]), 7);
        f.write_array("x", vec![0], values.view()).await.unwrap();
        f.flush().await.unwrap(); // e.1.af
        let mut writer = ArrayFile::open(Arc::clone(store), Path::from("e.af"), config())
            .await
            .unwrap();
        writer
            .write_array("x", vec![4], values.view())
            .await
            .unwrap();
        let part = writer.stage().await.unwrap();
        f.commit_parts(&[part]).await.unwrap(); // e.2.af, adopting the part
        drop((f, writer));
        assert!(read(store).await.is_none());
        let mut objects: Vec<String> = store
            .list(None)
            .map_ok(|m| m.location.to_string())
            .try_collect()
            .await
            .unwrap();
        objects.sort();
        assert_eq!(objects.len(), 4, "{objects:?}");
        let mut wrong = Vec::new();
        for object in &objects {
            let at = Path::from(object.as_str());
            let original = damage(store.as_ref(), &at, Vec::clear).await;
            let error = read(store).await;
            restore(store.as_ref(), &at, original).await;
            match error {
                Some(Error::Corrupted { path, .. }) if path.ends_with(object.as_str()) => {}
                Some(e) => wrong.push(format!("{object} emptied: {e:?}")),
                None => wrong.push(format!("{object} emptied: the file reads")),
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
