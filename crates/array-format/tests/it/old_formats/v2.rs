//! Files written in format version 2 (before attribute sets moved to the
//! footer's attribute region) still open and read exactly as written, take
//! layers of the current version on top, and compact into a snapshot of the
//! current version.
//!
//! The fixtures in `tests/fixtures/format-v2/` were written by
//! array-format 0.11.0 at format version 2 (see the README there for the
//! steps): `layered` is the base and three delta layers, `compacted` the same
//! steps followed by `compact()`.

use array_format::{ArrayFile, AttributeValue as A, DType, FillValue, StatValue};
use ndarray::{Array, IxDyn};

use super::{attrs, check_undamaged, fixture, open, s, values};

/// The state the fixture steps leave.
async fn check_written_state(f: &ArrayFile) {
    let names: Vec<String> = f.list_arrays().into_iter().map(|m| m.name).collect();
    assert_eq!(names, ["temp", "ids", "label", "late", "gone"]);

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
            ("raw".into(), A::Binary(vec![1, 2, 3])),
            ("scale".into(), A::Float64(0.5)),
            ("small".into(), A::UInt8(7)),
            ("units".into(), s("degC")),
        ]
    );
    assert_eq!(f.get_attribute("temp", "count").unwrap(), None);

    assert_eq!(
        values::<i64>(f, "ids").await,
        [0, 0, 100, 101, 102, 103, 104, 105, 0, 999]
    );
    assert_eq!(f.get_attribute("ids", "units").unwrap(), Some(&s("m")));
    let stats = f.array_stats("ids").unwrap();
    assert_eq!(
        (stats.min.clone(), stats.max.clone()),
        (Some(StatValue::Int(100)), Some(StatValue::Int(999)))
    );

    assert_eq!(values::<String>(f, "label").await, ["x", "yy", "zzz"]);
    assert_eq!(attrs(f, "label"), vec![("lang".into(), s("en"))]);
    assert_eq!(values::<bool>(f, "late").await, [true, false, true, true]);
    assert_eq!(attrs(f, "late"), vec![("units".into(), s("K"))]);
    assert_eq!(f.get_array("gone").unwrap().dtype, DType::UInt16);
    assert_eq!(values::<u16>(f, "gone").await, [65535]);
    assert!(attrs(f, "gone").is_empty());

    check_undamaged(f).await;
}

#[tokio::test]
async fn version_2_files_read_as_written() {
    for name in ["layered", "compacted"] {
        let dir = fixture(2, name);
        let f = open(dir.path()).await;
        assert_eq!(f.num_layers(), if name == "layered" { 4 } else { 1 });
        check_written_state(&f).await;
    }
}

#[tokio::test]
async fn current_layers_go_on_top_of_version_2_layers() {
    let dir = fixture(2, "layered");
    let mut f = open(dir.path()).await;
    f.set_attribute("label", "lang", s("fr")).unwrap();
    f.remove_attribute("temp", "raw").unwrap();
    f.write_array(
        "ids",
        vec![0],
        Array::from_shape_vec(IxDyn(&[1]), vec![7i64])
            .unwrap()
            .view(),
    )
    .await
    .unwrap();
    f.define_array::<i32>("fresh", vec![], vec![2], None, None)
        .unwrap();
    f.set_attribute("fresh", "units", s("K")).unwrap();
    f.flush().await.unwrap();

    let check = |f: ArrayFile| async move {
        let names: Vec<String> = f.list_arrays().into_iter().map(|m| m.name).collect();
        assert_eq!(names, ["temp", "ids", "label", "late", "gone", "fresh"]);
        assert_eq!(f.get_attribute("label", "lang").unwrap(), Some(&s("fr")));
        assert_eq!(f.get_attribute("temp", "raw").unwrap(), None);
        assert_eq!(f.get_attribute("temp", "units").unwrap(), Some(&s("degC")));
        assert_eq!(attrs(&f, "temp").len(), 5);
        assert_eq!(
            values::<i64>(&f, "ids").await,
            [7, 0, 100, 101, 102, 103, 104, 105, 0, 999]
        );
        assert_eq!(f.get_attribute("ids", "units").unwrap(), Some(&s("m")));
        assert_eq!(values::<i32>(&f, "fresh").await, [0, 0]);
        assert_eq!(f.get_attribute("fresh", "units").unwrap(), Some(&s("K")));
        check_undamaged(&f).await;
        f
    };
    let mut f = check(open(dir.path()).await).await;
    assert_eq!(f.num_layers(), 5);
    f.compact().await.unwrap();
    assert_eq!(f.num_layers(), 1);
    check(open(dir.path()).await).await;
}
