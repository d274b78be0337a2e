//! Damaging objects through the store itself, so that corruption tests run
//! on every backend (a file on disk, an object in a bucket or a container).

use bytes::Bytes;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

/// Rewrites the object at `path` with `f` applied to its bytes (a GET,
/// then a plain PUT of the result), and returns the original bytes, which
/// [`restore`] puts back.
pub async fn damage(store: &dyn ObjectStore, path: &Path, f: impl FnOnce(&mut Vec<u8>)) -> Bytes {
    let original = store
        .get(path)
        .await
        .unwrap_or_else(|e| panic!("damage: reading {path}: {e}"))
        .bytes()
        .await
        .unwrap_or_else(|e| panic!("damage: reading {path}: {e}"));
    let mut bytes = original.to_vec();
    f(&mut bytes);
    store
        .put(path, PutPayload::from(bytes))
        .await
        .unwrap_or_else(|e| panic!("damage: writing {path}: {e}"));
    original
}

/// Puts `original` back at `path` (after [`damage`]).
pub async fn restore(store: &dyn ObjectStore, path: &Path, original: Bytes) {
    store
        .put(path, PutPayload::from(original))
        .await
        .unwrap_or_else(|e| panic!("restore: writing {path}: {e}"));
}
