//! Recognising `object_store`'s `LocalFileSystem` behind an
//! `Arc<dyn ObjectStore>`, so that files opened through it (as code written
//! for 0.10 does) read their layers with `pread`, as files opened with
//! `ArrayFile::open_path` do, instead of through the store, whose local
//! reads cost a thread hand-off and an `open` each.
//!
//! `ObjectStore` offers no downcast: the store's `Display`,
//! `LocalFileSystem(file:///root/)`, is the only thing that tells. A store
//! built anew from that root must display the same, so a wrapper or
//! another store that merely prints something similar is never taken for
//! one (it then reads through its own code, as before).

use std::sync::Arc;

use object_store::ObjectStore;
use object_store::local::LocalFileSystem;

/// A `LocalFileSystem` over the same directory as `store`, if `store` is
/// one.
pub(crate) fn local_file_system(store: &dyn ObjectStore) -> Option<Arc<LocalFileSystem>> {
    let shown = store.to_string();
    let root = shown.strip_prefix("LocalFileSystem(")?.strip_suffix(')')?;
    let dir = url::Url::parse(root).ok()?.to_file_path().ok()?;
    let local = LocalFileSystem::new_with_prefix(dir).ok()?;
    (local.to_string() == shown).then(|| Arc::new(local))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use object_store::memory::InMemory;
    use object_store::prefix::PrefixStore;

    #[test]
    fn only_a_local_file_system_itself_is_recognised() {
        let dir = tempfile::tempdir().unwrap();
        let local = LocalFileSystem::new_with_prefix(dir.path()).unwrap();
        let found = local_file_system(&local).unwrap();
        assert_eq!(found.to_string(), local.to_string());
        let path = object_store::path::Path::from("a/b.af");
        assert_eq!(
            found.path_to_filesystem(&path).unwrap(),
            local.path_to_filesystem(&path).unwrap()
        );
        // The whole file system.
        let root = LocalFileSystem::new();
        assert_eq!(
            local_file_system(&root).unwrap().to_string(),
            root.to_string()
        );
        // Wrappers and other stores read through their own code.
        assert!(local_file_system(&PrefixStore::new(local, "a")).is_none());
        assert!(local_file_system(&InMemory::new()).is_none());
    }
}
