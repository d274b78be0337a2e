//! The merged index decodes each array from its records on first use:
//! attributes merged over several layers (shared attribute sections,
//! updates, removals, deletions, redefinitions) read back exactly as
//! written, whether an array was decoded before or after the layers above
//! it were committed; and a damaged attribute section, which open does not
//! read, fails exactly the calls that need it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use array_format::{ArrayFile, AttributeValue as A, FileConfig, Lz4Codec, NoCompression};
use ndarray::{Array, IxDyn};
use object_store::ObjectStore;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;

use crate::common::{assert_footer_damage_reported, corrupted, damage_string_attribute};

/// Attributes of each visible array, and the arrays in definition order.
#[derive(Default)]
struct Model {
    order: Vec<String>,
    attrs: BTreeMap<String, BTreeMap<String, A>>,
}

impl Model {
    fn define(&mut self, name: &str) {
        self.order.retain(|n| n != name);
        self.order.push(name.into());
        self.attrs.insert(name.into(), BTreeMap::new());
    }

    fn delete(&mut self, name: &str) {
        self.order.retain(|n| n != name);
        self.attrs.remove(name);
    }
}

async fn define(f: &mut ArrayFile, m: &mut Model, name: &str) {
    f.define_array::<i32>(name, vec![], vec![2], None, None)
        .unwrap();
    let data = Array::from_shape_vec(IxDyn(&[2]), vec![name.len() as i32, 1]).unwrap();
    f.write_array(name, vec![0], data.view()).await.unwrap();
    m.define(name);
}

fn set(f: &mut ArrayFile, m: &mut Model, name: &str, key: &str, value: A) {
    f.set_attribute(name, key, value.clone()).unwrap();
    m.attrs.get_mut(name).unwrap().insert(key.into(), value);
}

fn remove(f: &mut ArrayFile, m: &mut Model, name: &str, key: &str) {
    let had = m.attrs.get_mut(name).unwrap().remove(key).is_some();
    assert_eq!(f.remove_attribute(name, key).unwrap(), had);
}

/// The attributes of template `t`: arrays of one template share one stored
/// attribute set.
fn template(f: &mut ArrayFile, m: &mut Model, name: &str, t: usize) {
    set(f, m, name, "units", A::String(format!("unit {t}")));
    set(f, m, name, "scale", A::Float64(t as f64 * 0.25));
    set(f, m, name, "count", A::Int64(t as i64 - 2));
    set(
        f,
        m,
        name,
        "range",
        A::Int32List(vec![t as i32, 10 * t as i32]),
    );
    set(f, m, name, "flag", A::Bool(t.is_multiple_of(2)));
}

fn check(f: &ArrayFile, m: &Model) {
    let listed: Vec<String> = f.list_arrays().into_iter().map(|a| a.name).collect();
    assert_eq!(listed, m.order);
    let keys: BTreeSet<&String> = m.attrs.values().flat_map(|a| a.keys()).collect();
    for (name, attrs) in &m.attrs {
        let got: BTreeMap<String, A> = f.attributes(name).unwrap().into_iter().collect();
        assert_eq!(&got, attrs, "attributes of {name}");
        for &key in &keys {
            assert_eq!(
                f.get_attribute(name, key).unwrap(),
                attrs.get(key),
                "{name}.{key}"
            );
        }
        assert_eq!(f.get_array(name).unwrap().shape, [2]);
    }
}

#[tokio::test]
async fn attributes_merged_over_layers_read_back_exactly() {
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let open = || async {
        ArrayFile::open(
            Arc::clone(&store),
            "idx.af".into(),
            FileConfig::new(Lz4Codec),
        )
        .await
        .unwrap()
    };
    let mut f = ArrayFile::create(
        Arc::clone(&store),
        "idx.af".into(),
        FileConfig::new(Lz4Codec),
    )
    .await
    .unwrap();
    let mut m = Model::default();
    let name = |i: usize| format!("a{i:03}");

    // Layer 1: 300 arrays on 5 templates, every 7th with one more
    // attribute of its own.
    for i in 0..300 {
        define(&mut f, &mut m, &name(i)).await;
        template(&mut f, &mut m, &name(i), i % 5);
        if i % 7 == 0 {
            set(&mut f, &mut m, &name(i), "own", A::UInt64(i as u64));
        }
    }
    f.flush().await.unwrap();
    check(&f, &m);

    // Layer 2, with the attributes of every array decoded already (the
    // commit merges its changes into them): changes, removals, deletions,
    // new arrays.
    for i in 0..300 {
        if i % 3 == 0 {
            set(
                &mut f,
                &mut m,
                &name(i),
                "units",
                A::String(format!("changed {i}")),
            );
        }
        if i % 4 == 0 {
            remove(&mut f, &mut m, &name(i), "scale");
        }
        if i % 11 == 0 {
            f.delete(&name(i)).unwrap();
            m.delete(&name(i));
        }
    }
    for j in 0..20 {
        let b = format!("b{j:02}");
        define(&mut f, &mut m, &b).await;
        template(&mut f, &mut m, &b, j % 5);
    }
    f.flush().await.unwrap();
    check(&f, &m);

    // Layer 3, on a fresh handle whose arrays are decoded after all three
    // layers: redefinitions of deleted names, a removed key set again, and
    // removals of keys an update had set.
    let mut f = open().await;
    check(&f, &m);
    let mut f2 = open().await;
    for i in (0..300).filter(|i| i % 22 == 0) {
        define(&mut f2, &mut m, &name(i)).await;
        set(&mut f2, &mut m, &name(i), "again", A::String("yes".into()));
    }
    for i in (0..300).filter(|i| i % 12 == 0 && i % 11 != 0) {
        set(&mut f2, &mut m, &name(i), "scale", A::Float64(-1.0));
    }
    for i in (0..300).filter(|i| i % 15 == 0 && i % 11 != 0) {
        remove(&mut f2, &mut m, &name(i), "units");
    }
    f2.flush().await.unwrap();
    check(&f2, &m);
    // The first handle sees the new layer after a refresh.
    f.refresh().await.unwrap();
    check(&f, &m);

    // Compaction keeps every value; the snapshot stores each distinct set
    // once.
    let before = f2.stored_bytes();
    f2.compact().await.unwrap();
    assert_eq!(f2.num_layers(), 1);
    check(&f2, &m);
    check(&open().await, &m);
    assert!(f2.stored_bytes() < before);
}

/// Rewrites the footer of the layer object `path` with `patch` and fixes
/// the footer and trailer checksums, as a writer with a bug would.
#[tokio::test]
async fn a_damaged_attribute_section_fails_only_the_calls_that_need_it() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn ObjectStore> =
        Arc::new(LocalFileSystem::new_with_prefix(dir.path()).unwrap());
    let mut f = ArrayFile::create(
        Arc::clone(&store),
        "bad.af".into(),
        FileConfig::new(NoCompression),
    )
    .await
    .unwrap();
    for name in ["x", "y"] {
        f.define_array::<i32>(name, vec![], vec![2], None, None)
            .unwrap();
        let data = Array::from_shape_vec(IxDyn(&[2]), vec![1, 2]).unwrap();
        f.write_array(name, vec![0], data.view()).await.unwrap();
    }
    f.set_attribute("x", "marker", A::String("MARKER-ATTR".into()))
        .unwrap();
    f.set_attribute("y", "ok", A::Int64(1)).unwrap();
    f.flush().await.unwrap();
    // A second layer, so that compaction has layers to merge.
    f.set_attribute("y", "more", A::Int64(2)).unwrap();
    f.flush().await.unwrap();
    drop(f);

    damage_string_attribute(&dir.path().join("bad.1.af"), b"MARKER-ATTR");

    // Open does not read attribute sections: it succeeds, and everything
    // but x's attributes works.
    let mut f = ArrayFile::open(
        Arc::clone(&store),
        "bad.af".into(),
        FileConfig::new(NoCompression),
    )
    .await
    .unwrap();
    assert_eq!(f.list_arrays().len(), 2);
    let x = f.read_array::<i32>("x", vec![], vec![]).await.unwrap();
    assert_eq!(x.iter().copied().collect::<Vec<_>>(), [1, 2]);
    assert!(f.array_stats("x").is_some());
    assert_eq!(f.get_attribute("y", "ok").unwrap(), Some(&A::Int64(1)));

    let what = corrupted(f.get_attribute("x", "marker").unwrap_err(), "bad.1.af");
    assert!(what.contains("unknown attribute tag 99"), "{what}");
    corrupted(f.attributes("x").unwrap_err(), "bad.1.af");
    // Asking again gives the same answer, not a value decoded half-way.
    corrupted(f.get_attribute("x", "other").unwrap_err(), "bad.1.af");

    // verify and versions report the damage; compaction would have to
    // drop the attributes: it refuses.
    assert_footer_damage_reported(&mut f, 1, "bad.1.af").await;
}
