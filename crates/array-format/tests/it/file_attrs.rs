//! Attributes of the file itself, like an array's: recorded by the layer
//! the next flush writes (changes in a delta, removals included; the whole
//! set in a snapshot), merged across layers, kept by compaction, visible
//! through `as_of`, seen by another handle after `refresh`, checked per key
//! against other writers, and `Corrupted` only from the calls that read
//! them when damaged; on an in-memory store and on local disk.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::collections::BTreeMap;
use std::sync::Arc;

use array_format::{ArrayFile, AttributeValue as A, Error, FileConfig, Lz4Codec};
use ndarray::{Array, IxDyn};
use object_store::local::LocalFileSystem;
use object_store::path::Path;

use crate::common::{Place, assert_footer_damage_reported, corrupted, damage_string_attribute};

fn s(v: &str) -> A {
    A::String(v.into())
}

type Attrs = BTreeMap<String, A>;

fn attrs(pairs: &[(&str, A)]) -> Attrs {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

/// The file's attributes are exactly `expected`, by every call.
fn check(f: &ArrayFile, expected: &Attrs) {
    let listed: Vec<(String, A)> = f.file_attributes().unwrap();
    assert_eq!(listed, expected.clone().into_iter().collect::<Vec<_>>());
    for key in ["title", "version", "history", "k", "nope"] {
        assert_eq!(f.file_attribute(key).unwrap(), expected.get(key), "{key}");
    }
}

fn as_of(layer: u64) -> FileConfig<Lz4Codec> {
    FileConfig {
        as_of: Some(layer),
        ..FileConfig::new(Lz4Codec)
    }
}

#[tokio::test]
async fn file_attributes_go_through_layers_compaction_and_time_travel() {
    for place in Place::all() {
        let mut f = place.create_with(FileConfig::new(Lz4Codec)).await;
        check(&f, &Attrs::new());
        assert!(!f.remove_file_attribute("title").unwrap());
        assert!(!f.has_pending_changes());

        // Layer 1: the first commit, a snapshot, holds only file attributes.
        f.set_file_attribute("title", s("first")).unwrap();
        f.set_file_attribute("version", A::Int64(1)).unwrap();
        assert!(f.has_pending_changes());
        let v1 = attrs(&[("title", s("first")), ("version", A::Int64(1))]);
        check(&f, &v1);
        f.flush().await.unwrap();
        assert_eq!(f.num_layers(), 1);
        check(&f, &v1);

        // Layer 2 (a delta): a new key, a removal; a key set and removed
        // again before the flush is no change at all.
        f.set_file_attribute("history", A::StringList(vec!["made".into()]))
            .unwrap();
        assert!(f.remove_file_attribute("version").unwrap());
        f.set_file_attribute("k", A::Bool(true)).unwrap();
        assert!(f.remove_file_attribute("k").unwrap());
        assert!(!f.remove_file_attribute("k").unwrap());
        let v2 = attrs(&[
            ("history", A::StringList(vec!["made".into()])),
            ("title", s("first")),
        ]);
        check(&f, &v2);
        f.flush().await.unwrap();
        check(&f, &v2);

        // Layer 3: a value replaced, with an array beside it.
        f.set_file_attribute("title", s("third")).unwrap();
        f.define_array::<u8>("a", vec![], vec![2], None, None)
            .unwrap();
        f.flush().await.unwrap();
        let mut v3 = v2.clone();
        v3.insert("title".into(), s("third"));
        check(&f, &v3);
        // Discarded changes are gone.
        f.set_file_attribute("k", s("dropped")).unwrap();
        f.discard_pending();
        check(&f, &v3);

        let reopened = place.open_with(FileConfig::new(Lz4Codec)).await;
        assert_eq!(reopened.num_layers(), 3);
        check(&reopened, &v3);
        for (layer, expected) in [
            (0, Attrs::new()),
            (1, v1.clone()),
            (2, v2.clone()),
            (3, v3.clone()),
        ] {
            let mut old = place.open_with(as_of(layer)).await;
            check(&old, &expected);
            // Read-only: no change can be made to an old version.
            assert!(matches!(
                old.set_file_attribute("k", A::Int8(1)),
                Err(Error::InvalidOperation { .. })
            ));
        }

        // Compaction keeps them (in a snapshot: the whole set).
        f.compact().await.unwrap();
        assert_eq!(f.num_layers(), 1);
        check(&f, &v3);
        check(&place.open_with(FileConfig::new(Lz4Codec)).await, &v3);
        // A removal and a set on top of the snapshot, then compacted again.
        assert!(f.remove_file_attribute("history").unwrap());
        f.set_file_attribute("version", A::Float64List(vec![2.0, 0.5]))
            .unwrap();
        f.flush().await.unwrap();
        f.compact().await.unwrap();
        let v5 = attrs(&[
            ("title", s("third")),
            ("version", A::Float64List(vec![2.0, 0.5])),
        ]);
        check(&f, &v5);
        check(&place.open_with(FileConfig::new(Lz4Codec)).await, &v5);
    }
}

#[tokio::test]
async fn another_handle_sees_file_attributes_after_refresh() {
    for place in Place::all() {
        let mut a = place.create_with(FileConfig::new(Lz4Codec)).await;
        a.set_file_attribute("title", s("a")).unwrap();
        a.flush().await.unwrap();
        let mut b = place.open_with(FileConfig::new(Lz4Codec)).await;
        // b decodes its view's attributes before a commits more.
        check(&b, &attrs(&[("title", s("a"))]));
        a.set_file_attribute("version", A::UInt64(2)).unwrap();
        assert!(a.remove_file_attribute("title").unwrap());
        a.flush().await.unwrap();
        check(&b, &attrs(&[("title", s("a"))]));
        b.refresh().await.unwrap();
        check(&b, &attrs(&[("version", A::UInt64(2))]));
        // b's own commit goes on top of what it decoded.
        b.set_file_attribute("history", s("b was here")).unwrap();
        b.flush().await.unwrap();
        let both = attrs(&[("history", s("b was here")), ("version", A::UInt64(2))]);
        check(&b, &both);
        a.refresh().await.unwrap();
        check(&a, &both);
    }
}

#[tokio::test]
async fn concurrent_changes_to_one_file_attribute_conflict_per_key() {
    for place in Place::all() {
        let mut a = place.create_with(FileConfig::new(Lz4Codec)).await;
        a.set_file_attribute("k", s("a0")).unwrap();
        a.set_file_attribute("gone", s("a0")).unwrap();
        a.flush().await.unwrap();
        let mut b = place.open_with(FileConfig::new(Lz4Codec)).await;

        // a changes `k` and removes `gone`; b, from the older view, sets
        // both and a third key.
        a.set_file_attribute("k", s("a1")).unwrap();
        assert!(a.remove_file_attribute("gone").unwrap());
        a.flush().await.unwrap();
        b.set_file_attribute("k", s("b1")).unwrap();
        b.set_file_attribute("other", s("b1")).unwrap();
        // Layer 2 is taken: a conflict, nothing lost.
        assert!(matches!(b.flush().await, Err(Error::Conflict { .. })));
        b.refresh().await.unwrap();
        // After the refresh, the same key changed by a: a conflict again.
        match b.flush().await {
            Err(Error::Conflict { reason, .. }) => assert!(reason.contains("\"k\""), "{reason}"),
            other => panic!("expected a conflict on k, got {other:?}"),
        }
        assert!(b.has_pending_changes());
        assert_eq!(b.file_attribute("k").unwrap(), Some(&s("b1")));
        assert_eq!(b.file_attribute("other").unwrap(), Some(&s("b1")));

        // Start over from the refreshed view: other keys do not conflict.
        b.discard_pending();
        b.set_file_attribute("other", s("b2")).unwrap();
        b.flush().await.unwrap();

        // A set of a key another writer removed since conflicts too.
        let mut c = place.open_with(FileConfig::new(Lz4Codec)).await;
        a.refresh().await.unwrap();
        a.set_file_attribute("k", s("a3")).unwrap();
        assert!(a.remove_file_attribute("other").unwrap());
        a.flush().await.unwrap();
        c.set_file_attribute("other", s("c")).unwrap();
        c.refresh().await.unwrap();
        assert!(matches!(c.flush().await, Err(Error::Conflict { .. })));
        c.discard_pending();
        c.set_file_attribute("fresh", s("c")).unwrap();
        c.flush().await.unwrap();
        check(&c, &attrs(&[("fresh", s("c")), ("k", s("a3"))]));
    }
}

#[tokio::test]
async fn damaged_file_attributes_fail_only_the_calls_that_read_them() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(LocalFileSystem::new_with_prefix(dir.path()).unwrap());
    let mut f = ArrayFile::create(
        store.clone(),
        Path::from("bad.af"),
        FileConfig::new(Lz4Codec),
    )
    .await
    .unwrap();
    f.define_array::<i32>("x", vec![], vec![2], None, None)
        .unwrap();
    let data = Array::from_shape_vec(IxDyn(&[2]), vec![1, 2]).unwrap();
    f.write_array("x", vec![0], data.view()).await.unwrap();
    f.set_attribute("x", "units", s("m")).unwrap();
    f.set_file_attribute("title", s("FILE-ATTR-MARK")).unwrap();
    f.flush().await.unwrap();
    // A second layer, so that compaction has layers to merge.
    f.set_attribute("x", "more", A::Int64(2)).unwrap();
    f.flush().await.unwrap();
    drop(f);

    damage_string_attribute(&dir.path().join("bad.1.af"), b"FILE-ATTR-MARK");

    // Open does not read the section; arrays and their attributes work.
    let mut f = ArrayFile::open(
        store.clone(),
        Path::from("bad.af"),
        FileConfig::new(Lz4Codec),
    )
    .await
    .unwrap();
    assert_eq!(f.list_arrays().len(), 1);
    let x = f.read_array::<i32>("x", vec![], vec![]).await.unwrap();
    assert_eq!(x.iter().copied().collect::<Vec<_>>(), [1, 2]);
    assert_eq!(f.get_attribute("x", "units").unwrap(), Some(&s("m")));
    assert!(f.array_stats("x").is_some());

    let what = corrupted(f.file_attribute("title").unwrap_err(), "bad.1.af");
    assert!(what.contains("unknown attribute tag 99"), "{what}");
    corrupted(f.file_attributes().unwrap_err(), "bad.1.af");
    corrupted(f.file_attribute("other").unwrap_err(), "bad.1.af");
    corrupted(f.remove_file_attribute("title").unwrap_err(), "bad.1.af");
    // A change cannot be checked against damaged attributes: the flush
    // refuses it, keeping it.
    f.set_file_attribute("title", s("new")).unwrap();
    corrupted(f.flush().await.unwrap_err(), "bad.1.af");
    assert!(f.has_pending_changes());
    f.discard_pending();

    assert_footer_damage_reported(&mut f, 1, "bad.1.af").await;
}
