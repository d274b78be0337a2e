//! Files written in format version 5 open and read exactly as written
//! (every value, attribute of the arrays and of the file, recorded codec
//! and statistic), take layers of the current version on top, and compact
//! into the current version.
//!
//! The fixtures in `tests/fixtures/format-v5/` were written by
//! [`write_fixtures`] at format version 5 (see the README there):
//! `layered` is the base and four layers, each written by a handle with
//! another codec, the last a delta adopting a staged part; `compacted` the
//! same steps followed by `compact()`.

use std::path::Path as FsPath;
use std::sync::Arc;

use array_format::{
    ArrayFile, ArraySpec, AttributeValue as A, DType, FileConfig, FillValue, Lz4Codec,
    NoCompression, StatValue, ZstdCodec,
};
use ndarray::ArrayD;
use object_store::local::LocalFileSystem;

use super::{
    arr, attrs, check_undamaged, fixture, open, open_with, s, stats, values, write_fixture_dirs,
};

/// The steps that wrote the fixtures, into `dir/fixture.af`; `compact`
/// adds the final compaction.
async fn write_steps(dir: &FsPath, compact: bool) {
    let store = Arc::new(LocalFileSystem::new_with_prefix(dir).unwrap());
    let mut f = ArrayFile::create(store, "fixture.af".into(), FileConfig::new(Lz4Codec))
        .await
        .unwrap();
    // Layer 1 (lz4; the first commit is a snapshot).
    let spec = ArraySpec::new(DType::Float32, vec![6, 4])
        .with_chunk_shape(vec![4, 4])
        .with_dimension_names(vec!["t".into(), "x".into()])
        .with_fill_value(FillValue::Float(-1.0))
        .with_codec("zstd:5");
    f.define("temp", spec).unwrap();
    let temp: Vec<f32> = (0..24).map(|i| i as f32 * 0.5).collect();
    f.write_array("temp", vec![0, 0], arr(&[6, 4], temp).view())
        .await
        .unwrap();
    f.set_attribute("temp", "units", s("K")).unwrap();
    f.set_attribute("temp", "scale", A::Float64(0.5)).unwrap();
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
    let spec = ArraySpec::new(DType::String, vec![3])
        .with_chunk_shape(vec![2])
        .with_codec("none");
    f.define("label", spec).unwrap();
    let label = vec!["x".to_string(), "yy".into(), "zzz".into()];
    f.write_array("label", vec![0], arr(&[3], label).view())
        .await
        .unwrap();
    f.set_file_attribute("title", s("format 5 fixture"))
        .unwrap();
    f.set_file_attribute("Conventions", s("CF-1.10")).unwrap();
    f.set_file_attribute("version", A::Int64(5)).unwrap();
    f.flush().await.unwrap();
    drop(f);

    // Layer 2 (none): temp keeps its recorded zstd:5.
    let mut f = open_with(dir, NoCompression).await;
    f.write_array(
        "temp",
        vec![0, 0],
        ArrayD::from_elem(vec![2, 4], 9.0f32).view(),
    )
    .await
    .unwrap();
    f.set_attribute("temp", "units", s("degC")).unwrap();
    f.write_array("ids", vec![9], arr(&[1], vec![999i64]).view())
        .await
        .unwrap();
    f.set_file_attribute("history", s("edited")).unwrap();
    assert!(f.remove_file_attribute("version").unwrap());
    let spec = ArraySpec::new(DType::Bool, vec![4]).with_codec("lz4");
    f.define("flags", spec).unwrap();
    f.write_array(
        "flags",
        vec![0],
        arr(&[4], vec![true, false, true, true]).view(),
    )
    .await
    .unwrap();
    f.flush().await.unwrap();
    drop(f);

    // Layer 3 (zstd at level 1): delete `label`, a file attribute changed.
    let mut f = open_with(dir, ZstdCodec::new(1)).await;
    f.delete("label").unwrap();
    f.set_file_attribute("title", s("format 5 fixture, edited"))
        .unwrap();
    f.write_array("ids", vec![0], arr(&[1], vec![7i64]).view())
        .await
        .unwrap();
    f.flush().await.unwrap();
    drop(f);

    // Layer 4: a staged part (a write to `ids`, stored with lz4) adopted by
    // a handle configured with `NoCompression`.
    let mut writer = open_with(dir, Lz4Codec).await;
    writer
        .write_array("ids", vec![5], arr(&[2], vec![55i64, 56]).view())
        .await
        .unwrap();
    let part = writer.stage().await.unwrap();
    drop(writer);
    let mut f = open_with(dir, NoCompression).await;
    f.commit_parts(&[part]).await.unwrap();
    drop(f);

    if compact {
        open_with(dir, Lz4Codec).await.compact().await.unwrap();
    }
}

/// Writes the fixtures with this build into `AF_FIXTURE_OUT/layered` and
/// `AF_FIXTURE_OUT/compacted`:
/// `AF_FIXTURE_OUT=/tmp/v5 cargo test -p array-format --test it old_formats::v5::write_fixtures -- --ignored`.
#[tokio::test]
#[ignore = "writes fixture files; run by hand with AF_FIXTURE_OUT set"]
async fn write_fixtures() {
    write_fixture_dirs(|dir, compact| async move { write_steps(&dir, compact).await }).await;
}

/// The state the fixture steps leave: every array's definition, codec,
/// values, attributes and statistics, and the file's attributes.
async fn check_written_state(f: &ArrayFile) {
    let names: Vec<String> = f.list_arrays().into_iter().map(|m| m.name).collect();
    assert_eq!(names, ["temp", "ids", "flags"]);

    let temp = f.get_array("temp").unwrap();
    assert_eq!(
        (temp.dtype, &temp.shape[..], &temp.chunk_shape[..]),
        (DType::Float32, &[6u64, 4][..], &[4u64, 4][..])
    );
    assert_eq!(temp.dimension_names, ["t", "x"]);
    assert_eq!(temp.fill_value, Some(FillValue::Float(-1.0)));
    assert_eq!(f.array_codec("temp").unwrap().as_deref(), Some("zstd:5"));
    let expected: Vec<f32> = (0..24)
        .map(|i| if i < 8 { 9.0 } else { i as f32 * 0.5 })
        .collect();
    assert_eq!(values::<f32>(f, "temp").await, expected);
    assert_eq!(
        attrs(f, "temp"),
        vec![
            ("scale".into(), A::Float64(0.5)),
            ("units".into(), s("degC"))
        ]
    );
    assert_eq!(
        stats(f, "temp"),
        (
            Some(StatValue::Float(4.0)),
            Some(StatValue::Float(11.5)),
            0,
            24
        )
    );
    // Every chunk of temp is stored with its recorded codec.
    assert_eq!(f.array_storage("temp").unwrap().codecs, ["zstd"]);

    assert_eq!(f.array_codec("ids").unwrap(), None);
    assert_eq!(
        values::<i64>(f, "ids").await,
        [7, 0, 100, 101, 102, 55, 56, 105, 0, 999]
    );
    assert!(attrs(f, "ids").is_empty());
    assert_eq!(
        stats(f, "ids"),
        (Some(StatValue::Int(7)), Some(StatValue::Int(999)), 2, 10)
    );

    assert_eq!(f.array_codec("flags").unwrap().as_deref(), Some("lz4"));
    assert_eq!(values::<bool>(f, "flags").await, [true, false, true, true]);
    assert_eq!(f.array_storage("flags").unwrap().codecs, ["lz4"]);

    assert!(matches!(
        f.get_array("label"),
        Err(array_format::Error::ArrayNotFound { .. })
    ));
    assert_eq!(
        f.file_attributes().unwrap(),
        vec![
            ("Conventions".into(), s("CF-1.10")),
            ("history".into(), s("edited")),
            ("title".into(), s("format 5 fixture, edited")),
        ]
    );
    check_undamaged(f).await;
}

#[tokio::test]
async fn version_5_files_read_as_written() {
    for name in ["layered", "compacted"] {
        let dir = fixture(5, name);
        let f = open(dir.path()).await;
        assert_eq!(f.num_layers(), if name == "layered" { 4 } else { 1 });
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
async fn current_layers_go_on_top_of_version_5_layers() {
    for name in ["layered", "compacted"] {
        let dir = fixture(5, name);
        let mut f = open(dir.path()).await;
        let layers = f.num_layers();
        f.set_file_attribute("history", s("edited twice")).unwrap();
        f.set_attribute("ids", "units", s("1")).unwrap();
        f.write_array("temp", vec![5, 0], arr(&[1, 4], vec![0.25f32; 4]).view())
            .await
            .unwrap();
        f.define_array::<i32>("fresh", vec![], vec![2], None, None)
            .unwrap();
        f.flush().await.unwrap();

        let check = |f: ArrayFile| async move {
            let names: Vec<String> = f.list_arrays().into_iter().map(|m| m.name).collect();
            assert_eq!(names, ["temp", "ids", "flags", "fresh"]);
            assert_eq!(
                f.file_attribute("history").unwrap(),
                Some(&s("edited twice"))
            );
            assert_eq!(attrs(&f, "ids"), vec![("units".into(), s("1"))]);
            let temp = values::<f32>(&f, "temp").await;
            assert_eq!(&temp[20..], [0.25; 4]);
            assert_eq!(temp[0], 9.0);
            // The recorded codec binds the new layer's writer too.
            assert_eq!(f.array_storage("temp").unwrap().codecs, ["zstd"]);
            assert_eq!(values::<i32>(&f, "fresh").await, [0, 0]);
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
