//! Files written in format version 3 open and read exactly as written (every
//! value, attribute and statistic), take layers of the current version on
//! top, and compact into the current version.
//!
//! The fixtures in `tests/fixtures/format-v3/` were written by
//! [`write_fixtures`] at format version 3 (see the README there):
//! `layered` is the base and three layers, each written by a handle with
//! another codec (lz4, zstd, none), `compacted` the same steps followed by
//! `compact()`, whose snapshot keeps frames of all three codecs.

use std::path::Path as FsPath;
use std::sync::Arc;

use array_format::{
    ArrayFile, AttributeValue as A, DType, FileConfig, FillValue, Lz4Codec, NoCompression,
    StatValue, TimestampNs, ZstdCodec,
};
use ndarray::ArrayD;
use object_store::local::LocalFileSystem;

use super::{
    arr, attrs, check_undamaged, fixture, open, open_with, s, stats, values, write_fixture_dirs,
};

const STAMPS: [i64; 4] = [1_700_000_000_000_000_000, -5, 0, 42];

/// The steps that wrote the fixtures, into `dir/fixture.af`; `compact`
/// adds the final compaction.
async fn write_steps(dir: &FsPath, compact: bool) {
    let store = Arc::new(LocalFileSystem::new_with_prefix(dir).unwrap());
    let mut f = ArrayFile::create(store, "fixture.af".into(), FileConfig::new(Lz4Codec))
        .await
        .unwrap();
    // Layer 1 (lz4; the first commit is a snapshot).
    f.define_array::<f32>(
        "temp",
        vec!["t".into(), "x".into()],
        vec![6, 4],
        Some(vec![4, 4]),
        Some(FillValue::Float(-1.0)),
    )
    .unwrap();
    let temp: Vec<f32> = (0..24).map(|i| i as f32 * 0.5).collect();
    f.write_array("temp", vec![0, 0], arr(&[6, 4], temp).view())
        .await
        .unwrap();
    for (k, v) in [
        ("units", s("K")),
        ("scale", A::Float64(0.5)),
        ("count", A::Int64(-3)),
        ("flags", A::BoolList(vec![true, false])),
        ("raw", A::Binary(vec![1, 2, 3])),
        ("names", A::StringList(vec!["a".into(), "b".into()])),
        ("small", A::UInt8(7)),
        ("range", A::Float32List(vec![0.0, 11.5])),
    ] {
        f.set_attribute("temp", k, v).unwrap();
    }
    f.define_array::<i64>(
        "ids",
        vec![],
        vec![10],
        Some(vec![3]),
        Some(FillValue::Int(0)),
    )
    .unwrap();
    f.write_array("ids", vec![2], arr(&[6], (100i64..106).collect()).view())
        .await
        .unwrap();
    f.define_array::<String>("label", vec![], vec![3], Some(vec![2]), None)
        .unwrap();
    let label = vec!["x".to_string(), "yy".into(), "zzz".into()];
    f.write_array("label", vec![0], arr(&[3], label).view())
        .await
        .unwrap();
    // `ids` and `label` have equal attribute sets: one section in the region.
    for name in ["ids", "label"] {
        f.set_attribute(name, "units", s("1")).unwrap();
        f.set_attribute(name, "long_name", s("identifier")).unwrap();
    }
    f.define_array::<TimestampNs>(
        "stamp",
        vec!["time".into()],
        vec![4],
        None,
        Some(FillValue::TimestampNs(-1)),
    )
    .unwrap();
    let stamps = STAMPS.iter().map(|&n| TimestampNs(n)).collect();
    f.write_array("stamp", vec![0], arr(&[4], stamps).view())
        .await
        .unwrap();
    f.define_array::<u8>("gone", vec![], vec![2], None, None)
        .unwrap();
    f.write_array("gone", vec![0], arr(&[2], vec![1u8, 2]).view())
        .await
        .unwrap();
    f.set_attribute("gone", "note", s("bye")).unwrap();
    f.flush().await.unwrap();
    drop(f);

    // Layer 2 (zstd).
    let mut f = open_with(dir, ZstdCodec::new(5)).await;
    f.write_array(
        "temp",
        vec![0, 0],
        ArrayD::from_elem(vec![2, 4], 9.0f32).view(),
    )
    .await
    .unwrap();
    f.set_attribute("temp", "units", s("degC")).unwrap();
    assert!(f.remove_attribute("temp", "count").unwrap());
    f.delete("gone").unwrap();
    f.define_array::<bool>("late", vec![], vec![4], None, None)
        .unwrap();
    f.write_array(
        "late",
        vec![0],
        arr(&[4], vec![true, false, true, true]).view(),
    )
    .await
    .unwrap();
    f.set_attribute("late", "units", s("K")).unwrap();
    f.flush().await.unwrap();
    drop(f);

    // Layer 3 (none).
    let mut f = open_with(dir, NoCompression).await;
    f.set_attribute("ids", "units", s("m")).unwrap();
    f.write_array("ids", vec![9], arr(&[1], vec![999i64]).view())
        .await
        .unwrap();
    assert!(f.remove_attribute("label", "long_name").unwrap());
    f.set_attribute("stamp", "calendar", s("proleptic_gregorian"))
        .unwrap();
    f.define_array::<u16>("gone", vec![], vec![1], None, None)
        .unwrap();
    f.write_array("gone", vec![0], arr(&[1], vec![65535u16]).view())
        .await
        .unwrap();
    f.flush().await.unwrap();
    drop(f);

    if compact {
        open_with(dir, Lz4Codec).await.compact().await.unwrap();
    }
}

/// Writes the fixtures with this build into `AF_FIXTURE_OUT/layered` and
/// `AF_FIXTURE_OUT/compacted`:
/// `AF_FIXTURE_OUT=/tmp/v3 cargo test -p array-format --test it old_formats::v3::write_fixtures -- --ignored`.
#[tokio::test]
#[ignore = "writes fixture files; run by hand with AF_FIXTURE_OUT set"]
async fn write_fixtures() {
    write_fixture_dirs(|dir, compact| async move { write_steps(&dir, compact).await }).await;
}

/// The state the fixture steps leave: every array's definition, values,
/// attributes and statistics.
async fn check_written_state(f: &ArrayFile) {
    let names: Vec<String> = f.list_arrays().into_iter().map(|m| m.name).collect();
    assert_eq!(names, ["temp", "ids", "label", "stamp", "late", "gone"]);

    let temp = f.get_array("temp").unwrap();
    assert_eq!(
        (temp.dtype, &temp.shape[..], &temp.chunk_shape[..]),
        (DType::Float32, &[6u64, 4][..], &[4u64, 4][..])
    );
    assert_eq!(temp.dimension_names, ["t", "x"]);
    assert_eq!(temp.fill_value, Some(FillValue::Float(-1.0)));
    let expected: Vec<f32> = (0..24)
        .map(|i| if i < 8 { 9.0 } else { i as f32 * 0.5 })
        .collect();
    assert_eq!(values::<f32>(f, "temp").await, expected);
    assert_eq!(
        attrs(f, "temp"),
        vec![
            ("flags".into(), A::BoolList(vec![true, false])),
            ("names".into(), A::StringList(vec!["a".into(), "b".into()])),
            ("range".into(), A::Float32List(vec![0.0, 11.5])),
            ("raw".into(), A::Binary(vec![1, 2, 3])),
            ("scale".into(), A::Float64(0.5)),
            ("small".into(), A::UInt8(7)),
            ("units".into(), s("degC")),
        ]
    );
    assert_eq!(f.get_attribute("temp", "count").unwrap(), None);
    assert_eq!(
        stats(f, "temp"),
        (
            Some(StatValue::Float(4.0)),
            Some(StatValue::Float(11.5)),
            0,
            24
        )
    );

    let ids = f.get_array("ids").unwrap();
    assert_eq!(
        (ids.dtype, &ids.chunk_shape[..]),
        (DType::Int64, &[3u64][..])
    );
    assert_eq!(ids.fill_value, Some(FillValue::Int(0)));
    assert_eq!(
        values::<i64>(f, "ids").await,
        [0, 0, 100, 101, 102, 103, 104, 105, 0, 999]
    );
    assert_eq!(
        attrs(f, "ids"),
        vec![
            ("long_name".into(), s("identifier")),
            ("units".into(), s("m"))
        ]
    );
    // The unwritten elements of written chunks hold the fill value: nulls.
    assert_eq!(
        stats(f, "ids"),
        (Some(StatValue::Int(100)), Some(StatValue::Int(999)), 3, 10)
    );

    assert_eq!(f.get_array("label").unwrap().dtype, DType::String);
    assert_eq!(values::<String>(f, "label").await, ["x", "yy", "zzz"]);
    assert_eq!(attrs(f, "label"), vec![("units".into(), s("1"))]);
    assert_eq!(
        stats(f, "label"),
        (
            Some(StatValue::Bytes(b"x".to_vec())),
            Some(StatValue::Bytes(b"zzz".to_vec())),
            0,
            3
        )
    );

    let stamp = f.get_array("stamp").unwrap();
    assert_eq!(
        (stamp.dtype, &stamp.dimension_names[..]),
        (DType::TimestampNs, &["time".to_string()][..])
    );
    assert_eq!(stamp.fill_value, Some(FillValue::TimestampNs(-1)));
    let got: Vec<i64> = values::<TimestampNs>(f, "stamp")
        .await
        .iter()
        .map(|t| t.0)
        .collect();
    assert_eq!(got, STAMPS);
    assert_eq!(
        attrs(f, "stamp"),
        vec![("calendar".into(), s("proleptic_gregorian"))]
    );
    assert_eq!(
        stats(f, "stamp"),
        (
            Some(StatValue::TimestampNs(-5)),
            Some(StatValue::TimestampNs(STAMPS[0])),
            0,
            4
        )
    );

    assert_eq!(values::<bool>(f, "late").await, [true, false, true, true]);
    assert_eq!(attrs(f, "late"), vec![("units".into(), s("K"))]);
    assert_eq!(
        stats(f, "late"),
        (Some(StatValue::UInt(0)), Some(StatValue::UInt(1)), 0, 4)
    );

    assert_eq!(f.get_array("gone").unwrap().dtype, DType::UInt16);
    assert_eq!(values::<u16>(f, "gone").await, [65535]);
    assert!(attrs(f, "gone").is_empty());
    assert_eq!(
        stats(f, "gone"),
        (
            Some(StatValue::UInt(65535)),
            Some(StatValue::UInt(65535)),
            0,
            1
        )
    );

    // Each layer was written with another codec; the compaction copied the
    // frames of layers 2 and 3 verbatim and repacked layer 1's with lz4.
    assert_eq!(f.codecs(), ["lz4", "none", "zstd"]);
    check_undamaged(f).await;
}

#[tokio::test]
async fn version_3_files_read_as_written() {
    for name in ["layered", "compacted"] {
        let dir = fixture(3, name);
        let f = open(dir.path()).await;
        assert_eq!(f.num_layers(), if name == "layered" { 3 } else { 1 });
        check_written_state(&f).await;
    }
}

/// The fixture steps give the same state when run by this build: the
/// fixtures and [`write_steps`] agree.
#[tokio::test]
async fn the_fixture_steps_give_the_same_state_today() {
    for compact in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        write_steps(dir.path(), compact).await;
        check_written_state(&open(dir.path()).await).await;
    }
}

#[tokio::test]
async fn current_layers_go_on_top_of_version_3_layers() {
    for name in ["layered", "compacted"] {
        let dir = fixture(3, name);
        let mut f = open(dir.path()).await;
        let layers = f.num_layers();
        f.set_attribute("label", "lang", s("fr")).unwrap();
        f.remove_attribute("temp", "raw").unwrap();
        f.write_array("ids", vec![0], arr(&[1], vec![7i64]).view())
            .await
            .unwrap();
        f.define_array::<i32>("fresh", vec![], vec![2], None, None)
            .unwrap();
        f.set_attribute("fresh", "units", s("K")).unwrap();
        f.flush().await.unwrap();

        let check = |f: ArrayFile| async move {
            let names: Vec<String> = f.list_arrays().into_iter().map(|m| m.name).collect();
            assert_eq!(
                names,
                ["temp", "ids", "label", "stamp", "late", "gone", "fresh"]
            );
            assert_eq!(
                attrs(&f, "label"),
                vec![("lang".into(), s("fr")), ("units".into(), s("1"))]
            );
            assert_eq!(f.get_attribute("temp", "raw").unwrap(), None);
            assert_eq!(attrs(&f, "temp").len(), 6);
            assert_eq!(
                values::<i64>(&f, "ids").await,
                [7, 0, 100, 101, 102, 103, 104, 105, 0, 999]
            );
            assert_eq!(
                stats(&f, "ids"),
                (Some(StatValue::Int(7)), Some(StatValue::Int(999)), 2, 10)
            );
            assert_eq!(values::<u16>(&f, "gone").await, [65535]);
            assert_eq!(values::<i32>(&f, "fresh").await, [0, 0]);
            assert_eq!(f.get_attribute("fresh", "units").unwrap(), Some(&s("K")));
            check_undamaged(&f).await;
            f
        };
        let mut f = check(open(dir.path()).await).await;
        assert_eq!(f.num_layers(), layers + 1);
        f.compact().await.unwrap();
        assert_eq!(f.num_layers(), 1);
        check(open(dir.path()).await).await;
    }
}
