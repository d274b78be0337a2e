//! Every input rule of the public API: the typed error variant, a message
//! that names the array and the offending values, and a file left exactly as
//! it was. Damaged files give errors, never panics or wrong data.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::Arc;

use array_format::{
    ArrayElement, ArrayFile, AttributeValue, DType, Error, FileConfig, FillValue, Lz4Codec,
};
use ndarray::{ArrayD, IxDyn};

use crate::common::Place;
use af_testkit::Kind;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};

// ── Helpers ─────────────────────────────────────────────────────────

/// Where a case's file lives: `ArrayFile::create_memory` (`None`; it
/// cannot be reopened), or a [`Place`]: an `InMemory` store, or a local
/// directory through `LocalFileSystem`.
struct Env {
    place: Option<Place>,
}

impl Env {
    fn all() -> [Env; 3] {
        [
            Env { place: None },
            Env {
                place: Some(Place::kind(Kind::Memory).named("t.af")),
            },
            Env {
                place: Some(Place::kind(Kind::Disk).named("t.af")),
            },
        ]
    }

    /// `create_memory`, `memory` or `disk`.
    fn name(&self) -> &'static str {
        self.place.as_ref().map_or("create_memory", Place::name)
    }

    async fn create(&self) -> ArrayFile {
        match &self.place {
            None => ArrayFile::create_memory(config()).await.unwrap(),
            Some(place) => place.create_with(config()).await,
        }
    }

    /// Drops `file` and opens the same path again; a `create_memory` file is
    /// handed back unchanged.
    async fn reopen(&self, file: ArrayFile) -> ArrayFile {
        match &self.place {
            None => file,
            Some(place) => {
                close(file);
                place.open_with(config()).await
            }
        }
    }
}

fn config() -> FileConfig<Lz4Codec> {
    FileConfig {
        block_target_size: 4096,
        frame_target_size: 512,
        ..FileConfig::new(Lz4Codec)
    }
}

/// Drops a file handle (closing it).
fn close(_file: ArrayFile) {}

fn dims(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("d{i}")).collect()
}

fn nd<T>(shape: &[usize], values: Vec<T>) -> ArrayD<T> {
    ArrayD::from_shape_vec(IxDyn(shape), values).unwrap()
}

/// Every backend, each with a file that has only committed state (`false`)
/// and one that also has pending changes (`true`).
fn cases() -> Vec<(Env, bool)> {
    let mut v = Vec::new();
    for dirty in [false, true] {
        for env in Env::all() {
            v.push((env, dirty));
        }
    }
    v
}

/// A file with committed arrays "grid" (i32, 10 x 10 in 4 x 4 chunks, fill
/// -1), "names" (String) and "scalar" (0-d f64); with `dirty`, also pending
/// changes: a new array "pending", a write to "grid" and an attribute.
async fn setup(env: &Env, dirty: bool) -> ArrayFile {
    let mut f = env.create().await;
    f.define_array::<i32>(
        "grid",
        dims(2),
        vec![10, 10],
        Some(vec![4, 4]),
        Some(FillValue::Int(-1)),
    )
    .unwrap();
    let block = nd(&[5, 5], (0..25).collect::<Vec<i32>>());
    f.write_array("grid", vec![2, 3], block.view())
        .await
        .unwrap();
    f.define_array::<String>("names", dims(1), vec![3], None, None)
        .unwrap();
    let names = nd(&[3], vec!["a".to_owned(), "b".to_owned(), "c".to_owned()]);
    f.write_array("names", vec![0], names.view()).await.unwrap();
    f.define_array::<f64>("scalar", vec![], vec![], None, Some(FillValue::Float(0.5)))
        .unwrap();
    f.set_attribute("grid", "unit", AttributeValue::String("m".into()))
        .unwrap();
    f.flush().await.unwrap();
    if dirty {
        f.define_array::<f64>("pending", dims(1), vec![4], Some(vec![2]), None)
            .unwrap();
        let p = nd(&[2], vec![1.5, 2.5]);
        f.write_array("pending", vec![1], p.view()).await.unwrap();
        let g = nd(&[2, 2], vec![70, 71, 72, 73]);
        f.write_array("grid", vec![8, 8], g.view()).await.unwrap();
        f.set_attribute("grid", "pending", AttributeValue::Bool(true))
            .unwrap();
        assert!(f.has_pending_changes());
    }
    f
}

async fn read_debug<T: ArrayElement>(f: &ArrayFile, name: &str) -> String {
    match f.read_array::<T>(name, vec![], vec![]).await {
        Ok(a) => format!("{a:?}"),
        Err(e) => format!("error: {e}"),
    }
}

/// Everything observable about a file: metadata, attributes, statistics, data.
async fn snapshot(f: &ArrayFile) -> String {
    let mut s = format!(
        "pending={} layers={}\n",
        f.has_pending_changes(),
        f.num_layers()
    );
    for m in f.list_arrays() {
        s += &format!(
            "{} {:?} {:?} {:?} {:?} {:?}\n  attrs {:?}\n  stats {:?}\n",
            m.name,
            m.dtype,
            m.shape,
            m.chunk_shape,
            m.dimension_names,
            m.fill_value,
            f.attributes(&m.name).unwrap(),
            f.array_stats(&m.name),
        );
        let data = match m.dtype {
            DType::Int32 => read_debug::<i32>(f, &m.name).await,
            DType::Float64 => read_debug::<f64>(f, &m.name).await,
            DType::String => read_debug::<String>(f, &m.name).await,
            DType::UInt8 => read_debug::<u8>(f, &m.name).await,
            other => format!("<{other:?}>"),
        };
        s += &format!("  data {data}\n");
    }
    s
}

async fn assert_unchanged(f: &ArrayFile, before: &str, ctx: &str) {
    let now = snapshot(f).await;
    assert_eq!(now, before, "{ctx}: a rejected call changed the file");
}

/// After the rejected calls: a flush commits exactly the pending changes
/// (nothing when there were none), and the file reopens with the same content.
async fn finish(env: &Env, mut f: ArrayFile, dirty: bool, ctx: &str) {
    let layers = f.num_layers();
    let before = snapshot(&f).await;
    f.flush().await.unwrap();
    let expected_layers = if dirty { layers + 1 } else { layers };
    assert_eq!(
        f.num_layers(),
        expected_layers,
        "{ctx}: flush after rejected calls"
    );
    let f = env.reopen(f).await;
    assert!(!f.has_pending_changes(), "{ctx}");
    let after = snapshot(&f).await;
    // Only the pending flag and layer count differ from the pre-flush state.
    // Statistics are committed state and change with the flush.
    let strip = |s: &str| {
        s.lines()
            .skip(1)
            .filter(|l| !l.starts_with("  stats"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(strip(&after), strip(&before), "{ctx}: content after flush");
    let grid = f
        .read_array::<i32>("grid", vec![2, 3], vec![1, 2])
        .await
        .unwrap();
    assert_eq!(grid, nd(&[1, 2], vec![0, 1]), "{ctx}");
}

fn says(err: &Error, parts: &[&str]) {
    let msg = err.to_string();
    for part in parts {
        assert!(
            msg.contains(part),
            "message {msg:?} should mention {part:?} ({err:?})"
        );
    }
}

fn says_dtype(err: &Error, dtype: DType) {
    let msg = err.to_string();
    assert!(
        msg.contains(&format!("{dtype:?}")) || msg.contains(dtype.name()),
        "message {msg:?} should mention dtype {dtype:?}"
    );
}

// ── define_array ────────────────────────────────────────────────────

#[tokio::test]
async fn define_with_empty_name_is_invalid_name() {
    for (env, dirty) in cases() {
        let ctx = format!("{} dirty={dirty}", env.name());
        let mut f = setup(&env, dirty).await;
        let before = snapshot(&f).await;
        let err = f
            .define_array::<i32>("", dims(1), vec![4], None, None)
            .unwrap_err();
        assert!(
            matches!(err, Error::InvalidName { ref name, .. } if name.is_empty()),
            "{ctx}: {err}"
        );
        says(&err, &["\"\""]);
        assert_unchanged(&f, &before, &ctx).await;
        finish(&env, f, dirty, &ctx).await;
    }
}

#[tokio::test]
async fn define_of_a_visible_name_is_already_exists() {
    for (env, dirty) in cases() {
        let ctx = format!("{} dirty={dirty}", env.name());
        let mut f = setup(&env, dirty).await;
        let before = snapshot(&f).await;
        // Committed array, same and different dtype.
        let err = f
            .define_array::<i32>("grid", dims(2), vec![10, 10], Some(vec![4, 4]), None)
            .unwrap_err();
        assert!(
            matches!(err, Error::ArrayAlreadyExists { ref name } if name == "grid"),
            "{ctx}: {err}"
        );
        says(&err, &["grid"]);
        let err = f
            .define_array::<String>("names", dims(1), vec![7], None, None)
            .unwrap_err();
        assert!(
            matches!(err, Error::ArrayAlreadyExists { ref name } if name == "names"),
            "{ctx}: {err}"
        );
        says(&err, &["names"]);
        if dirty {
            // A pending (not yet committed) array.
            let err = f
                .define_array::<u8>("pending", dims(1), vec![4], None, None)
                .unwrap_err();
            assert!(
                matches!(err, Error::ArrayAlreadyExists { ref name } if name == "pending"),
                "{ctx}: {err}"
            );
            says(&err, &["pending"]);
        }
        assert_unchanged(&f, &before, &ctx).await;
        finish(&env, f, dirty, &ctx).await;
    }
}

#[tokio::test]
async fn chunk_shape_with_a_zero_is_invalid_shape() {
    for (env, dirty) in cases() {
        let ctx = format!("{} dirty={dirty}", env.name());
        let mut f = setup(&env, dirty).await;
        let before = snapshot(&f).await;
        let err = f
            .define_array::<i32>("bad", dims(2), vec![8, 8], Some(vec![4, 0]), None)
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::InvalidShape { ref name, ref shape, ref chunk_shape, .. }
                    if name == "bad" && shape == &[8, 8] && chunk_shape == &[4, 0]
            ),
            "{ctx}: {err}"
        );
        says(&err, &["bad", "[8, 8]", "[4, 0]"]);
        // Also for a zero-length array dimension.
        let err = f
            .define_array::<u8>("bad0", dims(2), vec![0, 8], Some(vec![0, 8]), None)
            .unwrap_err();
        assert!(matches!(err, Error::InvalidShape { .. }), "{ctx}: {err}");
        says(&err, &["bad0", "[0, 8]"]);
        assert_unchanged(&f, &before, &ctx).await;
        assert!(matches!(
            f.get_array("bad"),
            Err(Error::ArrayNotFound { .. })
        ));
        finish(&env, f, dirty, &ctx).await;
    }
}

#[tokio::test]
async fn chunk_shape_of_wrong_rank_is_invalid_shape() {
    for (env, dirty) in cases() {
        let ctx = format!("{} dirty={dirty}", env.name());
        let mut f = setup(&env, dirty).await;
        let before = snapshot(&f).await;
        let err = f
            .define_array::<i32>("bad", dims(2), vec![8, 8], Some(vec![4]), None)
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::InvalidShape { ref name, ref chunk_shape, .. }
                    if name == "bad" && chunk_shape == &[4]
            ),
            "{ctx}: {err}"
        );
        says(&err, &["bad", "[8, 8]", "[4]"]);
        let err = f
            .define_array::<i32>("bad", dims(2), vec![8, 8], Some(vec![4, 4, 4]), None)
            .unwrap_err();
        assert!(matches!(err, Error::InvalidShape { .. }), "{ctx}: {err}");
        says(&err, &["bad", "[4, 4, 4]"]);
        // A chunk shape for a 0-d array.
        let err = f
            .define_array::<i32>("bad", vec![], vec![], Some(vec![1]), None)
            .unwrap_err();
        assert!(matches!(err, Error::InvalidShape { .. }), "{ctx}: {err}");
        says(&err, &["bad", "[1]"]);
        assert_unchanged(&f, &before, &ctx).await;
        finish(&env, f, dirty, &ctx).await;
    }
}

#[tokio::test]
async fn shape_overflowing_u64_is_invalid_shape() {
    for (env, dirty) in cases() {
        let ctx = format!("{} dirty={dirty}", env.name());
        let mut f = setup(&env, dirty).await;
        let before = snapshot(&f).await;
        let huge = u64::MAX.to_string();
        for chunk in [None, Some(vec![1024, 4]), Some(vec![1, 1])] {
            let err = f
                .define_array::<u8>("huge", dims(2), vec![u64::MAX as usize, 4], chunk, None)
                .unwrap_err();
            assert!(
                matches!(err, Error::InvalidShape { ref name, .. } if name == "huge"),
                "{ctx}: {err}"
            );
            says(&err, &["huge", &huge]);
        }
        // The element count overflows although every dimension fits.
        let err = f
            .define_array::<u8>(
                "huge",
                dims(3),
                vec![1 << 32, 1 << 32, 2],
                Some(vec![1, 1, 1]),
                None,
            )
            .unwrap_err();
        assert!(matches!(err, Error::InvalidShape { .. }), "{ctx}: {err}");
        says(&err, &["huge", "4294967296"]);
        assert_unchanged(&f, &before, &ctx).await;
        finish(&env, f, dirty, &ctx).await;
    }
}

#[tokio::test]
async fn chunk_larger_than_4_gib_is_invalid_shape() {
    for (env, dirty) in cases() {
        let ctx = format!("{} dirty={dirty}", env.name());
        let mut f = setup(&env, dirty).await;
        let before = snapshot(&f).await;
        // 8 GiB of f64 in one implied chunk.
        let err = f
            .define_array::<f64>("big", dims(2), vec![1 << 20, 1 << 10], None, None)
            .unwrap_err();
        assert!(
            matches!(err, Error::InvalidShape { ref name, .. } if name == "big"),
            "{ctx}: {err}"
        );
        says(&err, &["big", "1048576"]);
        // 8 GiB of u8 in an explicit chunk.
        let err = f
            .define_array::<u8>(
                "big",
                dims(2),
                vec![1 << 18, 1 << 16],
                Some(vec![1 << 17, 1 << 16]),
                None,
            )
            .unwrap_err();
        assert!(matches!(err, Error::InvalidShape { .. }), "{ctx}: {err}");
        says(&err, &["big", "131072"]);
        assert_unchanged(&f, &before, &ctx).await;
        finish(&env, f, dirty, &ctx).await;
    }
    // The same shape with small chunks is fine (nothing is allocated).
    let mut f = ArrayFile::create_memory(config()).await.unwrap();
    f.define_array::<f64>(
        "big",
        dims(2),
        vec![1 << 20, 1 << 10],
        Some(vec![1024, 1024]),
        None,
    )
    .unwrap();
}

#[tokio::test]
async fn fill_value_of_the_wrong_kind_is_invalid_fill_value() {
    for (env, dirty) in cases() {
        let ctx = format!("{} dirty={dirty}", env.name());
        let mut f = setup(&env, dirty).await;
        let before = snapshot(&f).await;

        let err = f
            .define_array::<i32>(
                "ints",
                dims(1),
                vec![4],
                None,
                Some(FillValue::String("n/a".into())),
            )
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::InvalidFillValue { ref name, dtype: DType::Int32, .. } if name == "ints"
            ),
            "{ctx}: {err}"
        );
        says(&err, &["ints", "n/a"]);
        says_dtype(&err, DType::Int32);

        let err = f
            .define_array::<u8>("bytes", dims(1), vec![4], None, Some(FillValue::Int(300)))
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::InvalidFillValue { ref name, dtype: DType::UInt8, .. } if name == "bytes"
            ),
            "{ctx}: {err}"
        );
        says(&err, &["bytes", "300"]);
        says_dtype(&err, DType::UInt8);

        let err = f
            .define_array::<i32>("ints", dims(1), vec![4], None, Some(FillValue::Float(1.5)))
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::InvalidFillValue {
                    dtype: DType::Int32,
                    ..
                }
            ),
            "{ctx}: {err}"
        );
        says(&err, &["ints", "1.5"]);

        let err = f
            .define_array::<u32>("neg", dims(1), vec![4], None, Some(FillValue::Int(-1)))
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::InvalidFillValue {
                    dtype: DType::UInt32,
                    ..
                }
            ),
            "{ctx}: {err}"
        );
        says(&err, &["neg", "-1"]);

        let err = f
            .define_array::<String>("text", dims(1), vec![4], None, Some(FillValue::Int(0)))
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::InvalidFillValue {
                    dtype: DType::String,
                    ..
                }
            ),
            "{ctx}: {err}"
        );
        says(&err, &["text"]);

        let err = f
            .define_array::<bool>("flag", dims(1), vec![4], None, Some(FillValue::Float(0.5)))
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::InvalidFillValue {
                    dtype: DType::Bool,
                    ..
                }
            ),
            "{ctx}: {err}"
        );
        says(&err, &["flag", "0.5"]);

        assert_unchanged(&f, &before, &ctx).await;
        finish(&env, f, dirty, &ctx).await;
    }
}

// ── write_array / read_array ────────────────────────────────────────

#[tokio::test]
async fn wrong_element_type_is_dtype_mismatch() {
    for (env, dirty) in cases() {
        let ctx = format!("{} dirty={dirty}", env.name());
        let mut f = setup(&env, dirty).await;
        let before = snapshot(&f).await;

        let data = nd(&[1, 1], vec![1.0f32]);
        let err = f
            .write_array("grid", vec![0, 0], data.view())
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::DTypeMismatch { ref name, expected: DType::Int32, actual: DType::Float32 }
                    if name == "grid"
            ),
            "{ctx}: {err}"
        );
        says(&err, &["grid"]);
        says_dtype(&err, DType::Int32);
        says_dtype(&err, DType::Float32);

        let err = f
            .read_array::<f64>("grid", vec![], vec![])
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::DTypeMismatch { ref name, expected: DType::Int32, actual: DType::Float64 }
                    if name == "grid"
            ),
            "{ctx}: {err}"
        );
        says(&err, &["grid"]);
        says_dtype(&err, DType::Float64);

        // Same size, different type: u32 on an i32 array.
        let err = f
            .read_array::<u32>("grid", vec![0, 0], vec![1, 1])
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::DTypeMismatch {
                    expected: DType::Int32,
                    actual: DType::UInt32,
                    ..
                }
            ),
            "{ctx}: {err}"
        );

        let ints = nd(&[1], vec![5i32]);
        let err = f
            .write_array("names", vec![0], ints.view())
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::DTypeMismatch { ref name, expected: DType::String, actual: DType::Int32 }
                    if name == "names"
            ),
            "{ctx}: {err}"
        );
        says(&err, &["names"]);

        let err = f
            .read_array::<Vec<u8>>("names", vec![], vec![])
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::DTypeMismatch {
                    expected: DType::String,
                    actual: DType::Binary,
                    ..
                }
            ),
            "{ctx}: {err}"
        );

        let scalar = ndarray::arr0(1i64).into_dyn();
        let err = f
            .write_array("scalar", vec![], scalar.view())
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::DTypeMismatch {
                    expected: DType::Float64,
                    actual: DType::Int64,
                    ..
                }
            ),
            "{ctx}: {err}"
        );
        says(&err, &["scalar"]);

        assert_unchanged(&f, &before, &ctx).await;
        finish(&env, f, dirty, &ctx).await;
    }
}

#[tokio::test]
async fn wrong_rank_is_rank_mismatch() {
    for (env, dirty) in cases() {
        let ctx = format!("{} dirty={dirty}", env.name());
        let mut f = setup(&env, dirty).await;
        let before = snapshot(&f).await;

        // write: start of rank 1, data of rank 2.
        let data = nd(&[1, 1], vec![9i32]);
        let err = f
            .write_array("grid", vec![0], data.view())
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::RankMismatch { ref name, what: "start", expected: 2, actual: 1 }
                    if name == "grid"
            ),
            "{ctx}: {err}"
        );
        says(&err, &["grid", "start", "1", "2"]);

        // write: start of rank 2, data of rank 1.
        let data = nd(&[2], vec![9i32, 9]);
        let err = f
            .write_array("grid", vec![0, 0], data.view())
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::RankMismatch { ref name, what: "data", expected: 2, actual: 1 }
                    if name == "grid"
            ),
            "{ctx}: {err}"
        );
        says(&err, &["grid", "data"]);

        // write: start and data of rank 3.
        let data = nd(&[1, 1, 1], vec![9i32]);
        let err = f
            .write_array("grid", vec![0, 0, 0], data.view())
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::RankMismatch {
                    expected: 2,
                    actual: 3,
                    ..
                }
            ),
            "{ctx}: {err}"
        );
        says(&err, &["grid", "3"]);

        // read: start of rank 1.
        let err = f
            .read_array::<i32>("grid", vec![0], vec![1, 1])
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::RankMismatch { ref name, what: "start", expected: 2, actual: 1 }
                    if name == "grid"
            ),
            "{ctx}: {err}"
        );
        says(&err, &["grid", "start"]);

        // read: shape of rank 3.
        let err = f
            .read_array::<i32>("grid", vec![0, 0], vec![1, 1, 1])
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::RankMismatch { ref name, what: "shape", expected: 2, actual: 3 }
                    if name == "grid"
            ),
            "{ctx}: {err}"
        );
        says(&err, &["grid", "shape", "3"]);

        // A 0-d array addressed with one coordinate.
        let err = f
            .read_array::<f64>("scalar", vec![0], vec![1])
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::RankMismatch {
                    expected: 0,
                    actual: 1,
                    ..
                }
            ),
            "{ctx}: {err}"
        );
        says(&err, &["scalar"]);
        let one = nd(&[1], vec![1.0f64]);
        let err = f
            .write_array("scalar", vec![0], one.view())
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::RankMismatch { expected: 0, .. }),
            "{ctx}: {err}"
        );

        assert_unchanged(&f, &before, &ctx).await;
        finish(&env, f, dirty, &ctx).await;
    }
}

fn is_out_of_bounds(err: &Error, start: &[usize], shape: &[usize]) -> bool {
    let start: Vec<u64> = start.iter().map(|v| *v as u64).collect();
    let shape: Vec<u64> = shape.iter().map(|v| *v as u64).collect();
    matches!(
        err,
        Error::OutOfBounds { name, start: s, shape: sh, array_shape }
            if name == "grid" && *s == start && *sh == shape && array_shape == &[10, 10]
    )
}

const OUT_OF_BOUNDS: [([usize; 2], [usize; 2]); 7] = [
    // Past the end in one dimension.
    ([8, 0], [3, 3]),
    ([0, 9], [1, 2]),
    // Bigger than the array.
    ([0, 0], [11, 10]),
    // Start beyond the end.
    ([20, 0], [1, 1]),
    ([0, 10], [1, 1]),
    // start + shape overflows usize.
    ([usize::MAX, 0], [2, 1]),
    ([1, 0], [usize::MAX, 1]),
];

#[tokio::test]
async fn write_outside_the_array_is_out_of_bounds() {
    for (env, dirty) in cases() {
        let ctx = format!("{} dirty={dirty}", env.name());
        let mut f = setup(&env, dirty).await;
        let before = snapshot(&f).await;
        for (start, shape) in OUT_OF_BOUNDS {
            let len = shape.iter().try_fold(1usize, |a, b| a.checked_mul(*b));
            if len.is_none_or(|n| n > 1000) {
                continue; // no such data array can be built
            }
            let data = ArrayD::from_elem(IxDyn(&shape), 42i32);
            let err = f
                .write_array("grid", start.to_vec(), data.view())
                .await
                .unwrap_err();
            assert!(
                is_out_of_bounds(&err, &start, &shape),
                "{ctx} {start:?} {shape:?}: {err}"
            );
            says(
                &err,
                &[
                    "grid",
                    &format!("{start:?}"),
                    &format!("{shape:?}"),
                    "[10, 10]",
                ],
            );
        }
        assert_unchanged(&f, &before, &ctx).await;
        finish(&env, f, dirty, &ctx).await;
    }
}

#[tokio::test]
async fn read_outside_the_array_is_out_of_bounds() {
    for (env, dirty) in cases() {
        let ctx = format!("{} dirty={dirty}", env.name());
        let f = setup(&env, dirty).await;
        let before = snapshot(&f).await;
        for (start, shape) in OUT_OF_BOUNDS {
            let err = f
                .read_array::<i32>("grid", start.to_vec(), shape.to_vec())
                .await
                .unwrap_err();
            assert!(
                is_out_of_bounds(&err, &start, &shape),
                "{ctx} {start:?} {shape:?}: {err}"
            );
            says(
                &err,
                &[
                    "grid",
                    &format!("{start:?}"),
                    &format!("{shape:?}"),
                    "[10, 10]",
                ],
            );
        }
        assert_unchanged(&f, &before, &ctx).await;
        finish(&env, f, dirty, &ctx).await;
    }
}

// ── Missing and deleted arrays ──────────────────────────────────────

async fn assert_every_call_is_not_found(f: &mut ArrayFile, name: &str, ctx: &str) {
    let not_found = |err: &Error, call: &str| {
        assert!(
            matches!(err, Error::ArrayNotFound { name: n } if n == name),
            "{ctx} {call}: {err}"
        );
        says(err, &[name]);
    };
    let data = nd(&[1], vec![1i32]);
    let err = f.write_array(name, vec![0], data.view()).await.unwrap_err();
    not_found(&err, "write_array");
    let err = f.read_array::<i32>(name, vec![], vec![]).await.unwrap_err();
    not_found(&err, "read_array");
    let err = f
        .read_array::<i32>(name, vec![0], vec![1])
        .await
        .unwrap_err();
    not_found(&err, "read_array region");
    let err = f.delete(name).unwrap_err();
    not_found(&err, "delete");
    let err = f
        .set_attribute(name, "k", AttributeValue::Int32(1))
        .unwrap_err();
    not_found(&err, "set_attribute");
    let err = f.get_attribute(name, "k").unwrap_err();
    not_found(&err, "get_attribute");
    let err = f.remove_attribute(name, "k").unwrap_err();
    not_found(&err, "remove_attribute");
    let err = f.attributes(name).unwrap_err();
    not_found(&err, "attributes");
    let err = f.get_array(name).unwrap_err();
    not_found(&err, "get_array");
    // Statistics are committed state: a pending delete may still have them.
    if !f.has_pending_changes() {
        assert!(f.array_stats(name).is_none(), "{ctx}");
    }
}

#[tokio::test]
async fn calls_on_a_missing_array_are_array_not_found() {
    for (env, dirty) in cases() {
        let ctx = format!("{} dirty={dirty}", env.name());
        let mut f = setup(&env, dirty).await;
        let before = snapshot(&f).await;
        assert_every_call_is_not_found(&mut f, "nope", &ctx).await;
        assert_unchanged(&f, &before, &ctx).await;
        finish(&env, f, dirty, &ctx).await;
    }
}

#[tokio::test]
async fn calls_on_a_deleted_array_are_array_not_found() {
    for (env, dirty) in cases() {
        for flush_delete in [false, true] {
            let ctx = format!("{} dirty={dirty} flush_delete={flush_delete}", env.name());
            let mut f = setup(&env, dirty).await;
            f.delete("names").unwrap();
            if dirty {
                f.delete("pending").unwrap();
            }
            if flush_delete {
                f.flush().await.unwrap();
            }
            let before = snapshot(&f).await;
            assert_every_call_is_not_found(&mut f, "names", &ctx).await;
            if dirty {
                assert_every_call_is_not_found(&mut f, "pending", &ctx).await;
            }
            assert_unchanged(&f, &before, &ctx).await;
            let pending = f.has_pending_changes();
            finish(&env, f, pending, &ctx).await;
            // Still not found after the delete was committed and reopened.
            if let Some(place) = &env.place {
                let mut f = place.open_with(config()).await;
                assert_every_call_is_not_found(&mut f, "names", &ctx).await;
            }
        }
    }
}

// ── Opening files ───────────────────────────────────────────────────

fn stores() -> Vec<(
    &'static str,
    Arc<dyn ObjectStore>,
    Option<tempfile::TempDir>,
)> {
    let dir = tempfile::tempdir().unwrap();
    let disk: Arc<dyn ObjectStore> =
        Arc::new(LocalFileSystem::new_with_prefix(dir.path()).unwrap());
    vec![
        ("memory", Arc::new(InMemory::new()), None),
        ("disk", disk, Some(dir)),
    ]
}

async fn object_count(store: &Arc<dyn ObjectStore>) -> usize {
    use futures::TryStreamExt;
    let list: Vec<_> = store.list(None).try_collect().await.unwrap();
    list.len()
}

#[tokio::test]
async fn open_of_a_missing_file_is_file_not_found() {
    for (label, store, _dir) in stores() {
        for p in ["missing.af", "sub/dir/missing.af"] {
            let err = ArrayFile::open(Arc::clone(&store), Path::from(p), config())
                .await
                .err()
                .unwrap_or_else(|| panic!("{label}: opening {p} succeeded"));
            assert!(
                matches!(err, Error::FileNotFound { ref path } if path.contains("missing.af")),
                "{label} {p}: {err}"
            );
            says(&err, &["missing.af"]);
        }
        // A file that exists does not make a sibling exist.
        let f = ArrayFile::create(Arc::clone(&store), Path::from("here.af"), config())
            .await
            .unwrap();
        close(f);
        let err = ArrayFile::open(Arc::clone(&store), Path::from("there.af"), config())
            .await
            .err()
            .unwrap();
        assert!(matches!(err, Error::FileNotFound { .. }), "{label}: {err}");
        says(&err, &["there.af"]);
    }
}

#[tokio::test]
async fn paths_not_ending_in_af_are_invalid_path() {
    for (label, store, _dir) in stores() {
        for p in ["data.bin", "noext", "t.af.bak", "dir.af/data", "t_af"] {
            let err = ArrayFile::create(Arc::clone(&store), Path::from(p), config())
                .await
                .err()
                .unwrap_or_else(|| panic!("{label}: create {p} succeeded"));
            assert!(
                matches!(err, Error::InvalidPath { ref path, .. } if path.contains(p)),
                "{label} create {p}: {err}"
            );
            says(&err, &[p]);
            let err = ArrayFile::open(Arc::clone(&store), Path::from(p), config())
                .await
                .err()
                .unwrap_or_else(|| panic!("{label}: open {p} succeeded"));
            assert!(
                matches!(err, Error::InvalidPath { .. }),
                "{label} open {p}: {err}"
            );
            says(&err, &[p]);
        }
        assert_eq!(
            object_count(&store).await,
            0,
            "{label}: a rejected create wrote objects"
        );
    }
}

fn is_damage(err: &Error) -> bool {
    matches!(err, Error::Corrupted { .. } | Error::Storage { .. })
}

#[tokio::test]
async fn garbage_base_object_is_corrupted() {
    use rand::{RngCore, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    for (label, store, _dir) in stores() {
        for len in [0usize, 1, 7, 16, 64, 100, 4096, 65_537] {
            let mut bytes = vec![0u8; len];
            rng.fill_bytes(&mut bytes);
            let path = Path::from("garbage.af");
            store.put(&path, bytes.into()).await.unwrap();
            let err = ArrayFile::open(Arc::clone(&store), path.clone(), config())
                .await
                .err()
                .unwrap_or_else(|| panic!("{label}: opened {len} random bytes"));
            assert!(
                matches!(err, Error::Corrupted { ref path, .. } if path.contains("garbage.af")),
                "{label} {len} bytes: {err}"
            );
            says(&err, &["garbage.af"]);
        }
        // All zeros and a text file.
        for bytes in [
            vec![0u8; 4096],
            b"hello, this is not an array file\n".to_vec(),
        ] {
            let path = Path::from("plain.af");
            store.put(&path, bytes.into()).await.unwrap();
            let err = ArrayFile::open(Arc::clone(&store), path, config())
                .await
                .err()
                .unwrap();
            assert!(matches!(err, Error::Corrupted { .. }), "{label}: {err}");
        }
    }
}

/// Writes a small file with two layers, returning the data it holds.
async fn write_small(store: &Arc<dyn ObjectStore>, path: &Path, compact: bool) -> String {
    let mut f = ArrayFile::create(Arc::clone(store), path.clone(), config())
        .await
        .unwrap();
    f.define_array::<i32>("grid", dims(2), vec![10, 10], Some(vec![4, 4]), None)
        .unwrap();
    let data = nd(
        &[10, 10],
        (0..100).map(|v| v * 7 - 300).collect::<Vec<i32>>(),
    );
    f.write_array("grid", vec![0, 0], data.view())
        .await
        .unwrap();
    f.define_array::<String>("names", dims(1), vec![3], None, None)
        .unwrap();
    let names = nd(&[3], vec!["x".to_owned(), "yy".to_owned(), String::new()]);
    f.write_array("names", vec![0], names.view()).await.unwrap();
    f.set_attribute("grid", "unit", AttributeValue::String("m".into()))
        .unwrap();
    f.flush().await.unwrap();
    if compact {
        f.compact().await.unwrap();
    }
    snapshot(&f).await
}

/// Opens the file and reads everything; any error is returned.
async fn open_and_read(store: &Arc<dyn ObjectStore>, path: &Path) -> Result<String, Error> {
    let f = ArrayFile::open(Arc::clone(store), path.clone(), config()).await?;
    f.read_array::<i32>("grid", vec![], vec![]).await?;
    f.read_array::<String>("names", vec![], vec![]).await?;
    // Reads through snapshot() turn errors into text; surface them here.
    let s = snapshot(&f).await;
    if s.contains("error: ") {
        return Err(Error::Corrupted {
            path: path.to_string(),
            what: s,
        });
    }
    Ok(s)
}

fn af_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "af"))
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn truncated_objects_are_an_error() {
    for compact in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn ObjectStore> =
            Arc::new(LocalFileSystem::new_with_prefix(dir.path()).unwrap());
        let path = Path::from("t.af");
        let expected = write_small(&store, &path, compact).await;
        assert_eq!(open_and_read(&store, &path).await.unwrap(), expected);
        let objects = af_files(dir.path());
        assert!(
            objects.iter().any(|p| p.ends_with("t.af")),
            "compact={compact}: no base in {objects:?}"
        );
        if !compact {
            assert!(objects.len() >= 2, "the flush wrote a layer: {objects:?}");
        }
        for file in &objects {
            let original = std::fs::read(file).unwrap();
            let len = original.len();
            let mut cuts = vec![len - 1, len / 2, 1, 0];
            cuts.extend(len.checked_sub(8));
            cuts.extend(len.checked_sub(64));
            for keep in cuts {
                std::fs::write(file, &original[..keep]).unwrap();
                let ctx = format!(
                    "compact={compact} {} cut to {keep} of {len}",
                    file.display()
                );
                match open_and_read(&store, &path).await {
                    Ok(got) => panic!("{ctx}: read {got}"),
                    Err(err) => assert!(is_damage(&err), "{ctx}: {err}"),
                }
            }
            std::fs::write(file, &original).unwrap();
        }
        assert_eq!(open_and_read(&store, &path).await.unwrap(), expected);
    }
}

#[tokio::test]
async fn flipped_bytes_give_an_error_or_the_right_data() {
    use futures::TryStreamExt;
    for compact in [false, true] {
        let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        let path = Path::from("t.af");
        let expected = write_small(&store, &path, compact).await;
        let objects: Vec<Path> = store
            .list(None)
            .map_ok(|m| m.location)
            .try_collect()
            .await
            .unwrap();
        let mut checked = 0;
        let mut errors = 0;
        for object in objects.iter().filter(|p| p.as_ref().ends_with(".af")) {
            let original = store
                .get(object)
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap()
                .to_vec();
            for i in 0..original.len() {
                let mut bytes = original.clone();
                bytes[i] ^= 0x5a;
                store.put(object, bytes.into()).await.unwrap();
                checked += 1;
                match open_and_read(&store, &path).await {
                    Ok(got) => assert_eq!(
                        got, expected,
                        "compact={compact} {object} byte {i} flipped: wrong data"
                    ),
                    Err(_) => errors += 1,
                }
            }
            store.put(object, original.into()).await.unwrap();
        }
        assert!(
            checked > 400,
            "compact={compact}: only {checked} bytes in {objects:?}"
        );
        assert!(
            errors * 10 > checked * 9,
            "compact={compact}: {errors} of {checked} flips noticed"
        );
        assert_eq!(open_and_read(&store, &path).await.unwrap(), expected);
    }
}

#[tokio::test]
async fn a_rejected_call_on_a_fresh_file_leaves_nothing_to_flush() {
    for env in Env::all() {
        let mut f = env.create().await;
        assert!(
            f.define_array::<i32>("", dims(1), vec![1], None, None)
                .is_err()
        );
        assert!(
            f.define_array::<i32>("x", dims(1), vec![4], Some(vec![0]), None)
                .is_err()
        );
        assert!(
            f.define_array::<u8>("x", dims(1), vec![4], None, Some(FillValue::Int(-4)))
                .is_err()
        );
        assert!(f.delete("x").is_err());
        assert!(
            f.set_attribute("x", "k", AttributeValue::Bool(true))
                .is_err()
        );
        let b = env.name();
        assert!(!f.has_pending_changes(), "{b}");
        assert!(f.list_arrays().is_empty(), "{b}");
        f.flush().await.unwrap();
        assert_eq!(f.num_layers(), 1, "{b}");
        if let Some(dir) = env.place.as_ref().and_then(Place::dir) {
            assert_eq!(af_files(dir).len(), 1, "only the base exists");
        }
    }
}
