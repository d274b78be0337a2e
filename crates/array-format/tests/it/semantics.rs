//! Behaviour of the public API: data round trips, layers, deletes, fill
//! values, attributes, statistics, caches and concurrency, on the in-memory
//! backend (`ArrayFile::create_memory`), and `af_testkit`'s memory and disk
//! stores (`object_store`'s `InMemory`, and `LocalFileSystem` over a
//! temporary directory).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::HashSet;
use std::sync::Arc;

use af_testkit::Kind;
use array_format::{
    ArrayElement, ArrayFile, AttributeValue, CompressionCodec, DType, DeltaCache, Error,
    FileConfig, FillValue, InMemoryStorage, Lz4Codec, NoCompression, StatValue, TimestampNs,
    ZstdCodec,
};
use ndarray::{Array1, Array2, Array3, ArrayD, ArrayViewD, ArrayViewMutD, IxDyn, Slice, s};
use object_store::ObjectStore;
use object_store::path::Path;

// ── Helpers ─────────────────────────────────────────────────────────

/// Where a test's file lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Backend {
    /// `ArrayFile::create_memory`: cannot be reopened.
    Memory,
    /// `ArrayFile::create` on a store of `af_testkit::Backend`:
    /// `Kind::Memory` (`InMemory`) or `Kind::Disk` (`LocalFileSystem` over
    /// a temporary directory).
    Store(Kind),
}

const BACKENDS: [Backend; 3] = [
    Backend::Memory,
    Backend::Store(Kind::Memory),
    Backend::Store(Kind::Disk),
];

/// One test file on one backend.
struct Env {
    store: Option<Arc<dyn ObjectStore>>,
    path: Path,
    /// The store's backend, kept for as long as the file (its directory).
    _backend: Option<af_testkit::Backend>,
}

impl Env {
    fn new(backend: Backend) -> Self {
        let backend = match backend {
            Backend::Memory => None,
            Backend::Store(kind) => Some(af_testkit::Backend::fresh(kind)),
        };
        Env {
            store: backend.as_ref().map(|b| Arc::clone(&b.store)),
            path: Path::from("t.af"),
            _backend: backend,
        }
    }

    async fn create(&self) -> ArrayFile {
        self.create_with(small_config()).await
    }

    async fn create_with<C: CompressionCodec + 'static>(&self, config: FileConfig<C>) -> ArrayFile {
        match &self.store {
            None => ArrayFile::create_memory(config).await.unwrap(),
            Some(store) => ArrayFile::create(Arc::clone(store), self.path.clone(), config)
                .await
                .unwrap(),
        }
    }

    fn can_reopen(&self) -> bool {
        self.store.is_some()
    }

    /// Drops `file` and opens the same path again. A `create_memory` file
    /// cannot be reopened and is handed back unchanged.
    async fn reopen(&self, file: ArrayFile) -> ArrayFile {
        match &self.store {
            None => file,
            Some(store) => {
                close(file);
                ArrayFile::open(Arc::clone(store), self.path.clone(), small_config())
                    .await
                    .unwrap()
            }
        }
    }
}

/// Small blocks and frames so that even small tests span several of them.
fn small_config() -> FileConfig<Lz4Codec> {
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

fn strings(values: &[&str]) -> Vec<String> {
    values.iter().map(|s| (*s).to_owned()).collect()
}

fn region<'a, T>(a: &'a ArrayD<T>, start: &[usize], shape: &[usize]) -> ArrayViewD<'a, T> {
    a.slice_each_axis(|ax| {
        let i = ax.axis.index();
        Slice::from(start[i]..start[i] + shape[i])
    })
}

fn region_mut<'a, T>(
    a: &'a mut ArrayD<T>,
    start: &[usize],
    shape: &[usize],
) -> ArrayViewMutD<'a, T> {
    a.slice_each_axis_mut(|ax| {
        let i = ax.axis.index();
        Slice::from(start[i]..start[i] + shape[i])
    })
}

async fn read_all<T: ArrayElement>(f: &ArrayFile, name: &str) -> ArrayD<T> {
    f.read_array::<T>(name, vec![], vec![])
        .await
        .unwrap_or_else(|e| panic!("reading {name}: {e}"))
        .into_owned()
}

async fn read_region<T: ArrayElement>(
    f: &ArrayFile,
    name: &str,
    start: &[usize],
    shape: &[usize],
) -> ArrayD<T> {
    f.read_array::<T>(name, start.to_vec(), shape.to_vec())
        .await
        .unwrap_or_else(|e| panic!("reading {name} at {start:?} {shape:?}: {e}"))
        .into_owned()
}

async fn write<T: ArrayElement>(f: &mut ArrayFile, name: &str, start: &[usize], data: &ArrayD<T>) {
    f.write_array(name, start.to_vec(), data.view())
        .await
        .unwrap_or_else(|e| panic!("writing {name} at {start:?}: {e}"));
}

fn define<T: ArrayElement>(
    f: &mut ArrayFile,
    name: &str,
    shape: &[usize],
    chunk: Option<&[usize]>,
    fill: Option<FillValue>,
) {
    f.define_array::<T>(
        name,
        dims(shape.len()),
        shape.to_vec(),
        chunk.map(<[usize]>::to_vec),
        fill,
    )
    .unwrap_or_else(|e| panic!("defining {name}: {e}"));
}

fn names(f: &ArrayFile) -> Vec<String> {
    f.list_arrays().into_iter().map(|m| m.name).collect()
}

/// The interesting fields of `ArrayStats`, comparable with `assert_eq!`.
#[derive(Debug, PartialEq)]
struct Stats {
    min: Option<StatValue>,
    max: Option<StatValue>,
    null_count: u64,
    row_count: u64,
}

fn stats(f: &ArrayFile, name: &str) -> Option<Stats> {
    f.array_stats(name).map(|s| {
        assert_eq!(s.name, name);
        Stats {
            min: s.min.clone(),
            max: s.max.clone(),
            null_count: s.null_count,
            row_count: s.row_count,
        }
    })
}

fn st(min: Option<StatValue>, max: Option<StatValue>, null_count: u64, row_count: u64) -> Stats {
    Stats {
        min,
        max,
        null_count,
        row_count,
    }
}

fn ints(min: i64, max: i64, null_count: u64, row_count: u64) -> Option<Stats> {
    Some(st(
        Some(StatValue::Int(min)),
        Some(StatValue::Int(max)),
        null_count,
        row_count,
    ))
}

/// A plain model of one i64 array: its values and which chunks were written.
struct Model {
    data: ArrayD<i64>,
    chunk: Vec<usize>,
    fill: Option<i64>,
    written: HashSet<Vec<usize>>,
}

impl Model {
    fn new(shape: &[usize], chunk: &[usize], fill: Option<i64>) -> Self {
        Model {
            data: ArrayD::from_elem(IxDyn(shape), fill.unwrap_or(0)),
            chunk: chunk.to_vec(),
            fill,
            written: HashSet::new(),
        }
    }

    fn write(&mut self, start: &[usize], patch: &ArrayD<i64>) {
        region_mut(&mut self.data, start, patch.shape()).assign(patch);
        for (idx, _) in patch.indexed_iter() {
            let cell: Vec<usize> = (0..start.len())
                .map(|d| (start[d] + idx[d]) / self.chunk[d])
                .collect();
            self.written.insert(cell);
        }
    }

    fn stats(&self) -> Stats {
        let mut min: Option<i64> = None;
        let mut max: Option<i64> = None;
        let mut nulls = 0u64;
        for (idx, v) in self.data.indexed_iter() {
            let cell: Vec<usize> = (0..self.chunk.len())
                .map(|d| idx[d] / self.chunk[d])
                .collect();
            if !self.written.contains(&cell) || self.fill == Some(*v) {
                nulls += 1;
                continue;
            }
            min = Some(min.map_or(*v, |m| m.min(*v)));
            max = Some(max.map_or(*v, |m| m.max(*v)));
        }
        st(
            min.map(StatValue::Int),
            max.map(StatValue::Int),
            nulls,
            self.data.len() as u64,
        )
    }
}

// ── Quick start ─────────────────────────────────────────────────────

#[tokio::test]
async fn quick_start_f32_round_trip() {
    for b in BACKENDS {
        let env = Env::new(b);
        let mut f = env.create_with(FileConfig::new(Lz4Codec)).await;
        f.define_array::<f32>("signal", vec!["t".into()], vec![4], None, None)
            .unwrap();
        let data = Array1::from(vec![1.0f32, 2.0, 3.0, 4.0]).into_dyn();
        f.write_array("signal", vec![0], data.view()).await.unwrap();
        let out = f.read_array::<f32>("signal", vec![], vec![]).await.unwrap();
        assert_eq!(out.len(), 4, "{b:?}");
        assert_eq!(out, data, "{b:?} pending");
        f.flush().await.unwrap();
        assert_eq!(read_all::<f32>(&f, "signal").await, data, "{b:?} flushed");
        let meta = f.get_array("signal").unwrap();
        assert_eq!(meta.name, "signal");
        assert_eq!(meta.dtype, DType::Float32);
        assert_eq!(meta.shape, vec![4]);
        assert_eq!(meta.chunk_shape, vec![4]);
        assert_eq!(meta.dimension_names, vec!["t".to_owned()]);
        assert_eq!(meta.fill_value, None);
        let f = env.reopen(f).await;
        assert_eq!(read_all::<f32>(&f, "signal").await, data, "{b:?} reopened");
    }
}

#[tokio::test]
async fn metadata_defaults_and_definition_order() {
    for b in BACKENDS {
        let env = Env::new(b);
        let mut f = env.create().await;
        f.define_array::<u16>("zeta", vec!["only-one".into()], vec![3, 0, 5], None, None)
            .unwrap();
        f.define_array::<i8>("alpha", vec![], vec![6], Some(vec![4]), None)
            .unwrap();
        f.define_array::<f64>("mid", vec!["y".into(), "x".into()], vec![2, 2], None, None)
            .unwrap();
        for round in 0..2 {
            assert_eq!(
                names(&f),
                strings(&["zeta", "alpha", "mid"]),
                "{b:?} {round}"
            );
            let zeta = f.get_array("zeta").unwrap();
            assert_eq!(zeta.dtype, DType::UInt16);
            assert_eq!(zeta.shape, vec![3, 0, 5]);
            assert_eq!(zeta.chunk_shape, vec![3, 1, 5], "{b:?}: 0 dims become 1");
            assert_eq!(zeta.dimension_names, strings(&["dim0", "dim1", "dim2"]));
            let alpha = f.get_array("alpha").unwrap();
            assert_eq!(alpha.chunk_shape, vec![4]);
            assert_eq!(alpha.dimension_names, strings(&["dim0"]));
            let mid = f.get_array("mid").unwrap();
            assert_eq!(mid.dimension_names, strings(&["y", "x"]));
            let listed = f.list_arrays();
            assert_eq!(listed[2].dtype, DType::Float64);
            assert_eq!(listed[2].chunk_shape, vec![2, 2]);
            f.flush().await.unwrap();
            f = env.reopen(f).await;
        }
    }
}

// ── Unaligned writes ────────────────────────────────────────────────

#[tokio::test]
async fn unaligned_write_1d_inside_and_across_chunks() {
    for b in BACKENDS {
        let env = Env::new(b);
        let mut f = env.create().await;
        define::<i32>(&mut f, "a", &[12], Some(&[4]), None);
        write(&mut f, "a", &[5], &nd(&[2], vec![99, 100])).await;
        let expected = nd(&[12], vec![0, 0, 0, 0, 0, 99, 100, 0, 0, 0, 0, 0]);
        assert_eq!(read_all::<i32>(&f, "a").await, expected, "{b:?} pending");
        f.flush().await.unwrap();
        assert_eq!(read_all::<i32>(&f, "a").await, expected, "{b:?} flushed");

        // Across the borders of all three chunks.
        write(&mut f, "a", &[3], &nd(&[7], vec![1, 2, 3, 4, 5, 6, 7])).await;
        let expected = nd(&[12], vec![0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 0, 0]);
        assert_eq!(read_all::<i32>(&f, "a").await, expected, "{b:?} pending 2");
        f.flush().await.unwrap();
        let f = env.reopen(f).await;
        assert_eq!(read_all::<i32>(&f, "a").await, expected, "{b:?} reopened");
    }
}

#[tokio::test]
async fn unaligned_write_2d_patch_touching_four_chunks() {
    for b in BACKENDS {
        for flush_between in [false, true] {
            let env = Env::new(b);
            let mut f = env.create().await;
            define::<i64>(&mut f, "g", &[6, 6], Some(&[3, 3]), None);
            let mut model = Model::new(&[6, 6], &[3, 3], None);
            let background = nd(&[6, 6], (0..36).collect());
            write(&mut f, "g", &[0, 0], &background).await;
            model.write(&[0, 0], &background);
            if flush_between {
                f.flush().await.unwrap();
            }
            let patch = nd(&[2, 2], vec![1000, 1001, 1002, 1003]);
            write(&mut f, "g", &[2, 2], &patch).await;
            model.write(&[2, 2], &patch);
            let ctx = format!("{b:?} flush_between={flush_between}");
            assert_eq!(read_all::<i64>(&f, "g").await, model.data, "{ctx} pending");
            assert_eq!(model.data[[2, 2]], 1000);
            assert_eq!(model.data[[3, 3]], 1003);
            assert_eq!(model.data[[1, 2]], 8);
            f.flush().await.unwrap();
            assert_eq!(read_all::<i64>(&f, "g").await, model.data, "{ctx} flushed");
            let f = env.reopen(f).await;
            assert_eq!(read_all::<i64>(&f, "g").await, model.data, "{ctx} reopened");
        }
    }
}

#[tokio::test]
async fn unaligned_write_3d_patch() {
    for b in BACKENDS {
        let env = Env::new(b);
        let mut f = env.create().await;
        let shape = [5, 6, 7];
        define::<i64>(
            &mut f,
            "cube",
            &shape,
            Some(&[2, 4, 3]),
            Some(FillValue::Int(-7)),
        );
        let mut model = Model::new(&shape, &[2, 4, 3], Some(-7));
        // Background on part of the cube only, so some chunks stay unwritten.
        let background = nd(&[4, 6, 7], (0..168).collect());
        write(&mut f, "cube", &[0, 0, 0], &background).await;
        model.write(&[0, 0, 0], &background);
        f.flush().await.unwrap();
        let patch = nd(&[3, 2, 4], (0..24).map(|v| 5000 + v).collect());
        write(&mut f, "cube", &[1, 3, 2], &patch).await;
        model.write(&[1, 3, 2], &patch);
        // A second patch reaching into the unwritten last plane.
        let patch2 = nd(&[2, 3, 2], (0..12).map(|v| -100 - v).collect());
        write(&mut f, "cube", &[3, 0, 5], &patch2).await;
        model.write(&[3, 0, 5], &patch2);
        assert_eq!(
            read_all::<i64>(&f, "cube").await,
            model.data,
            "{b:?} pending"
        );
        f.flush().await.unwrap();
        assert_eq!(
            read_all::<i64>(&f, "cube").await,
            model.data,
            "{b:?} flushed"
        );
        let f = env.reopen(f).await;
        assert_eq!(
            read_all::<i64>(&f, "cube").await,
            model.data,
            "{b:?} reopened"
        );
        assert_eq!(
            read_region::<i64>(&f, "cube", &[4, 0, 0], &[1, 6, 7]).await,
            region(&model.data, &[4, 0, 0], &[1, 6, 7]),
            "{b:?} last plane"
        );
    }
}

#[tokio::test]
async fn write_through_transposed_view() {
    for b in BACKENDS {
        let env = Env::new(b);
        let mut f = env.create().await;
        define::<i32>(&mut f, "m", &[6, 5], Some(&[2, 2]), None);
        let src = Array2::from_shape_vec((3, 4), (1..=12).collect()).unwrap();
        let view = src.t().into_dyn();
        assert!(!view.is_standard_layout());
        f.write_array("m", vec![1, 1], view.clone()).await.unwrap();
        let mut expected = ArrayD::<i32>::zeros(IxDyn(&[6, 5]));
        region_mut(&mut expected, &[1, 1], &[4, 3]).assign(&view);
        assert_eq!(expected[[1, 1]], 1);
        assert_eq!(
            expected[[2, 1]],
            2,
            "row 1 of the transpose is column 1 of src"
        );
        assert_eq!(expected[[1, 2]], 5);
        assert_eq!(read_all::<i32>(&f, "m").await, expected, "{b:?} pending");
        f.flush().await.unwrap();
        assert_eq!(read_all::<i32>(&f, "m").await, expected, "{b:?} flushed");

        // A 3-D permuted view.
        define::<i32>(&mut f, "p", &[4, 3, 5], Some(&[3, 2, 2]), None);
        let src3 = Array3::from_shape_vec((3, 5, 4), (0..60).collect()).unwrap();
        let view3 = src3.view().permuted_axes([2, 0, 1]).into_dyn();
        assert!(!view3.is_standard_layout());
        f.write_array("p", vec![0, 0, 0], view3.clone())
            .await
            .unwrap();
        assert_eq!(read_all::<i32>(&f, "p").await, view3, "{b:?} permuted");
        let f = env.reopen(f).await;
        assert_eq!(read_all::<i32>(&f, "m").await, expected, "{b:?} reopened");
    }
}

#[tokio::test]
async fn write_through_strided_views() {
    for b in BACKENDS {
        let env = Env::new(b);
        let mut f = env.create().await;
        define::<u32>(&mut f, "v", &[12], Some(&[5]), None);
        let src = Array1::from_iter(0u32..20);
        let every_other = src.slice(s![..;2]).into_dyn();
        assert_eq!(every_other.len(), 10);
        f.write_array("v", vec![1], every_other).await.unwrap();
        let expected = nd(&[12], vec![0, 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 0]);
        assert_eq!(read_all::<u32>(&f, "v").await, expected, "{b:?} step 2");

        // Negative stride: reversed.
        let reversed = src.slice(s![16..;-1]).into_dyn();
        f.write_array("v", vec![8], reversed).await.unwrap();
        let expected = nd(&[12], vec![0, 0, 2, 4, 6, 8, 10, 12, 19, 18, 17, 16]);
        assert_eq!(read_all::<u32>(&f, "v").await, expected, "{b:?} reversed");

        // 2-D strided in both axes.
        define::<u32>(&mut f, "w", &[5, 5], Some(&[2, 3]), None);
        let src2 = Array2::from_shape_fn((7, 9), |(i, j)| (i * 100 + j) as u32);
        let strided = src2.slice(s![1..;2, ..;3]).into_dyn();
        assert_eq!(strided.shape(), &[3, 3]);
        f.write_array("w", vec![2, 1], strided.clone())
            .await
            .unwrap();
        let mut expected2 = ArrayD::<u32>::zeros(IxDyn(&[5, 5]));
        region_mut(&mut expected2, &[2, 1], &[3, 3]).assign(&strided);
        assert_eq!(expected2[[2, 1]], 100);
        assert_eq!(expected2[[3, 2]], 303);
        assert_eq!(
            read_all::<u32>(&f, "w").await,
            expected2,
            "{b:?} 2-D pending"
        );
        f.flush().await.unwrap();
        let f = env.reopen(f).await;
        assert_eq!(read_all::<u32>(&f, "v").await, expected, "{b:?} reopened");
        assert_eq!(
            read_all::<u32>(&f, "w").await,
            expected2,
            "{b:?} 2-D reopened"
        );
    }
}

#[tokio::test]
async fn read_modify_write_of_committed_chunk_keeps_the_rest() {
    for b in BACKENDS {
        let env = Env::new(b);
        let mut f = env.create().await;
        define::<i32>(&mut f, "one", &[8], Some(&[8]), None);
        write(&mut f, "one", &[0], &nd(&[8], (1..=8).collect())).await;
        define::<i64>(
            &mut f,
            "two",
            &[4, 4],
            Some(&[4, 4]),
            Some(FillValue::Int(9)),
        );
        let mut model = Model::new(&[4, 4], &[4, 4], Some(9));
        let full = nd(&[4, 4], (0..16).collect());
        write(&mut f, "two", &[0, 0], &full).await;
        model.write(&[0, 0], &full);
        f.flush().await.unwrap();

        write(&mut f, "one", &[2], &nd(&[3], vec![100, 101, 102])).await;
        let patch = nd(&[2, 1], vec![-1, -2]);
        write(&mut f, "two", &[1, 2], &patch).await;
        model.write(&[1, 2], &patch);
        let expected = nd(&[8], vec![1, 2, 100, 101, 102, 6, 7, 8]);
        assert_eq!(read_all::<i32>(&f, "one").await, expected, "{b:?} pending");
        assert_eq!(
            read_all::<i64>(&f, "two").await,
            model.data,
            "{b:?} pending"
        );
        f.flush().await.unwrap();
        assert_eq!(f.num_layers(), 2, "{b:?}");
        assert_eq!(read_all::<i32>(&f, "one").await, expected, "{b:?} flushed");
        assert_eq!(
            read_all::<i64>(&f, "two").await,
            model.data,
            "{b:?} flushed"
        );
        let mut f = env.reopen(f).await;
        assert_eq!(read_all::<i32>(&f, "one").await, expected, "{b:?} reopened");
        assert_eq!(
            read_all::<i64>(&f, "two").await,
            model.data,
            "{b:?} reopened"
        );
        f.compact().await.unwrap();
        assert_eq!(
            read_all::<i32>(&f, "one").await,
            expected,
            "{b:?} compacted"
        );
        assert_eq!(
            read_all::<i64>(&f, "two").await,
            model.data,
            "{b:?} compacted"
        );
    }
}

#[tokio::test]
async fn unaligned_string_writes_keep_the_rest() {
    for b in BACKENDS {
        let env = Env::new(b);
        let mut f = env.create().await;
        define::<String>(
            &mut f,
            "s",
            &[3, 5],
            Some(&[2, 2]),
            Some(FillValue::String("-".into())),
        );
        let mut expected = ArrayD::from_elem(IxDyn(&[3, 5]), "-".to_owned());
        let first = nd(&[2, 3], strings(&["a", "bb", "", "dddd", "é", "ff"]));
        write(&mut f, "s", &[0, 1], &first).await;
        region_mut(&mut expected, &[0, 1], &[2, 3]).assign(&first);
        f.flush().await.unwrap();
        // Patch committed chunks with longer and shorter values.
        let second = nd(
            &[2, 2],
            strings(&["long value ".repeat(20).as_str(), "x", "", "yz"]),
        );
        write(&mut f, "s", &[1, 2], &second).await;
        region_mut(&mut expected, &[1, 2], &[2, 2]).assign(&second);
        assert_eq!(read_all::<String>(&f, "s").await, expected, "{b:?} pending");
        f.flush().await.unwrap();
        let mut f = env.reopen(f).await;
        assert_eq!(
            read_all::<String>(&f, "s").await,
            expected,
            "{b:?} reopened"
        );
        assert_eq!(
            read_region::<String>(&f, "s", &[1, 1], &[2, 3]).await,
            region(&expected, &[1, 1], &[2, 3]),
            "{b:?} region"
        );
        f.compact().await.unwrap();
        assert_eq!(
            read_all::<String>(&f, "s").await,
            expected,
            "{b:?} compacted"
        );
    }
}

// ── Sub-region reads ────────────────────────────────────────────────

#[tokio::test]
async fn read_sub_region_1d() {
    for b in BACKENDS {
        let env = Env::new(b);
        let mut f = env.create().await;
        define::<f64>(&mut f, "x", &[20], Some(&[6]), None);
        let data = nd(&[20], (0..20).map(|v| f64::from(v) * 0.5).collect());
        write(&mut f, "x", &[0], &data).await;
        for pass in ["pending", "flushed"] {
            for (start, len) in [(0, 20), (3, 5), (5, 2), (6, 6), (11, 9), (19, 1), (4, 0)] {
                let out = read_region::<f64>(&f, "x", &[start], &[len]).await;
                assert_eq!(out.shape(), &[len], "{b:?} {pass}");
                assert_eq!(
                    out,
                    region(&data, &[start], &[len]),
                    "{b:?} {pass} {start}+{len}"
                );
            }
            f.flush().await.unwrap();
        }
    }
}

#[tokio::test]
async fn read_sub_region_2d_across_chunk_borders() {
    for b in BACKENDS {
        let env = Env::new(b);
        let mut f = env.create().await;
        define::<i32>(&mut f, "g", &[9, 10], Some(&[4, 3]), None);
        let data = nd(&[9, 10], (0..90).collect());
        write(&mut f, "g", &[0, 0], &data).await;
        f.flush().await.unwrap();
        let f = env.reopen(f).await;
        for (start, shape) in [
            ([3, 2], [2, 2]),
            ([1, 1], [7, 8]),
            ([0, 0], [9, 10]),
            ([4, 3], [4, 3]),
            ([2, 5], [6, 1]),
        ] {
            let out = read_region::<i32>(&f, "g", &start, &shape).await;
            assert_eq!(out.shape(), &shape);
            assert_eq!(
                out,
                region(&data, &start, &shape),
                "{b:?} {start:?} {shape:?}"
            );
        }
    }
}

#[tokio::test]
async fn read_single_element() {
    for b in BACKENDS {
        let env = Env::new(b);
        let mut f = env.create().await;
        define::<i16>(
            &mut f,
            "g",
            &[5, 7, 3],
            Some(&[2, 3, 2]),
            Some(FillValue::Int(-5)),
        );
        let data = nd(&[5, 7, 3], (0..105).collect());
        write(&mut f, "g", &[0, 0, 0], &data).await;
        f.flush().await.unwrap();
        for idx in [[0, 0, 0], [4, 6, 2], [2, 3, 1], [1, 5, 0]] {
            let out = read_region::<i16>(&f, "g", &idx, &[1, 1, 1]).await;
            assert_eq!(out.shape(), &[1, 1, 1]);
            assert_eq!(out[[0, 0, 0]], data[idx], "{b:?} {idx:?}");
        }
    }
}

#[tokio::test]
async fn read_region_in_edge_chunks_of_non_divisible_shape() {
    for b in BACKENDS {
        let env = Env::new(b);
        let mut f = env.create().await;
        // 7 x 10 in 3 x 4 chunks: the last chunk row holds one row, the last
        // chunk column two columns.
        define::<u8>(
            &mut f,
            "e",
            &[7, 10],
            Some(&[3, 4]),
            Some(FillValue::UInt(255)),
        );
        let data = nd(&[7, 10], (0..70).collect());
        write(&mut f, "e", &[0, 0], &data).await;
        for pass in ["pending", "flushed"] {
            let corner = read_region::<u8>(&f, "e", &[6, 8], &[1, 2]).await;
            assert_eq!(corner, nd(&[1, 2], vec![68, 69]), "{b:?} {pass}");
            let last_row = read_region::<u8>(&f, "e", &[6, 0], &[1, 10]).await;
            assert_eq!(last_row, region(&data, &[6, 0], &[1, 10]), "{b:?} {pass}");
            let last_cols = read_region::<u8>(&f, "e", &[0, 8], &[7, 2]).await;
            assert_eq!(last_cols, region(&data, &[0, 8], &[7, 2]), "{b:?} {pass}");
            f.flush().await.unwrap();
        }
        // Only the corner edge chunk written in a fresh array.
        define::<u8>(
            &mut f,
            "c",
            &[7, 10],
            Some(&[3, 4]),
            Some(FillValue::UInt(255)),
        );
        write(&mut f, "c", &[6, 9], &nd(&[1, 1], vec![1u8])).await;
        f.flush().await.unwrap();
        let mut expected = ArrayD::from_elem(IxDyn(&[7, 10]), 255u8);
        expected[[6, 9]] = 1;
        assert_eq!(read_all::<u8>(&f, "c").await, expected, "{b:?}");
        assert_eq!(
            read_region::<u8>(&f, "c", &[6, 8], &[1, 2]).await,
            nd(&[1, 2], vec![255, 1]),
            "{b:?}"
        );
    }
}

// ── Fill values ─────────────────────────────────────────────────────

#[tokio::test]
async fn numeric_fill_for_never_written_chunks() {
    for b in BACKENDS {
        let env = Env::new(b);
        let mut f = env.create().await;
        define::<f64>(&mut f, "x", &[10], Some(&[3]), Some(FillValue::Float(-1.5)));
        assert_eq!(
            read_all::<f64>(&f, "x").await,
            ArrayD::from_elem(IxDyn(&[10]), -1.5),
            "{b:?} nothing written"
        );
        write(&mut f, "x", &[3], &nd(&[3], vec![1.0, 2.0, 3.0])).await;
        let expected = nd(
            &[10],
            vec![-1.5, -1.5, -1.5, 1.0, 2.0, 3.0, -1.5, -1.5, -1.5, -1.5],
        );
        assert_eq!(read_all::<f64>(&f, "x").await, expected, "{b:?} pending");
        f.flush().await.unwrap();
        let f = env.reopen(f).await;
        assert_eq!(read_all::<f64>(&f, "x").await, expected, "{b:?} reopened");
    }
}

#[tokio::test]
async fn numeric_fill_for_unwritten_part_of_partial_chunk() {
    for b in BACKENDS {
        let env = Env::new(b);
        let mut f = env.create().await;
        define::<i16>(&mut f, "x", &[10], Some(&[5]), Some(FillValue::Int(7)));
        write(&mut f, "x", &[1], &nd(&[2], vec![-3i16, -4])).await;
        let expected = nd(&[10], vec![7, -3, -4, 7, 7, 7, 7, 7, 7, 7]);
        assert_eq!(read_all::<i16>(&f, "x").await, expected, "{b:?} pending");
        f.flush().await.unwrap();
        assert_eq!(read_all::<i16>(&f, "x").await, expected, "{b:?} flushed");
        // Patch the committed partial chunk again: earlier fill stays fill.
        write(&mut f, "x", &[4], &nd(&[2], vec![40i16, 50])).await;
        f.flush().await.unwrap();
        let expected = nd(&[10], vec![7, -3, -4, 7, 40, 50, 7, 7, 7, 7]);
        let f = env.reopen(f).await;
        assert_eq!(read_all::<i16>(&f, "x").await, expected, "{b:?} reopened");
    }
}

#[tokio::test]
async fn string_fill_value() {
    for b in BACKENDS {
        let env = Env::new(b);
        let mut f = env.create().await;
        define::<String>(
            &mut f,
            "s",
            &[5],
            Some(&[2]),
            Some(FillValue::String("n/a".into())),
        );
        assert_eq!(
            f.get_array("s").unwrap().fill_value,
            Some(FillValue::String("n/a".into()))
        );
        write(&mut f, "s", &[1], &nd(&[1], strings(&["x"]))).await;
        let expected = nd(&[5], strings(&["n/a", "x", "n/a", "n/a", "n/a"]));
        assert_eq!(read_all::<String>(&f, "s").await, expected, "{b:?} pending");
        f.flush().await.unwrap();
        let f = env.reopen(f).await;
        assert_eq!(
            read_all::<String>(&f, "s").await,
            expected,
            "{b:?} reopened"
        );
        assert_eq!(
            f.get_array("s").unwrap().fill_value,
            Some(FillValue::String("n/a".into()))
        );
    }
}

#[tokio::test]
async fn bool_fill_value() {
    for b in BACKENDS {
        let env = Env::new(b);
        let mut f = env.create().await;
        define::<bool>(
            &mut f,
            "flags",
            &[6],
            Some(&[4]),
            Some(FillValue::Bool(true)),
        );
        write(&mut f, "flags", &[2], &nd(&[1], vec![false])).await;
        let expected = nd(&[6], vec![true, true, false, true, true, true]);
        assert_eq!(
            read_all::<bool>(&f, "flags").await,
            expected,
            "{b:?} pending"
        );
        f.flush().await.unwrap();
        let f = env.reopen(f).await;
        assert_eq!(
            read_all::<bool>(&f, "flags").await,
            expected,
            "{b:?} reopened"
        );
    }
}

#[tokio::test]
async fn default_fill_is_zero_or_empty() {
    for b in BACKENDS {
        let env = Env::new(b);
        let mut f = env.create().await;
        define::<i32>(&mut f, "i", &[3], Some(&[2]), None);
        define::<f64>(&mut f, "f", &[3], Some(&[2]), None);
        define::<bool>(&mut f, "b", &[3], Some(&[2]), None);
        define::<String>(&mut f, "s", &[3], Some(&[2]), None);
        define::<Vec<u8>>(&mut f, "y", &[3], Some(&[2]), None);
        define::<TimestampNs>(&mut f, "t", &[3], Some(&[2]), None);
        // Partly written, so both never-written and partial chunks are read.
        write(&mut f, "i", &[0], &nd(&[1], vec![5])).await;
        write(&mut f, "s", &[0], &nd(&[1], strings(&["z"]))).await;
        write(&mut f, "y", &[0], &nd(&[1], vec![vec![1u8, 2]])).await;
        for pass in ["pending", "flushed"] {
            assert_eq!(
                read_all::<i32>(&f, "i").await,
                nd(&[3], vec![5, 0, 0]),
                "{b:?} {pass}"
            );
            assert_eq!(
                read_all::<f64>(&f, "f").await,
                nd(&[3], vec![0.0; 3]),
                "{b:?}"
            );
            assert_eq!(
                read_all::<bool>(&f, "b").await,
                nd(&[3], vec![false; 3]),
                "{b:?}"
            );
            assert_eq!(
                read_all::<String>(&f, "s").await,
                nd(&[3], strings(&["z", "", ""])),
                "{b:?} {pass}"
            );
            assert_eq!(
                read_all::<Vec<u8>>(&f, "y").await,
                nd(&[3], vec![vec![1u8, 2], vec![], vec![]]),
                "{b:?} {pass}"
            );
            assert_eq!(
                read_all::<TimestampNs>(&f, "t").await,
                nd(&[3], vec![TimestampNs(0); 3]),
                "{b:?} {pass}"
            );
            f.flush().await.unwrap();
        }
    }
}

#[tokio::test]
async fn fill_value_is_stored_canonically() {
    for b in BACKENDS {
        let env = Env::new(b);
        let mut f = env.create().await;
        define::<u8>(&mut f, "u", &[4], None, Some(FillValue::Int(3)));
        define::<i64>(&mut f, "i", &[4], None, Some(FillValue::UInt(5)));
        define::<f32>(&mut f, "f", &[4], None, Some(FillValue::Int(2)));
        define::<TimestampNs>(&mut f, "t", &[4], None, Some(FillValue::Int(77)));
        define::<Vec<u8>>(&mut f, "y", &[2], None, Some(FillValue::Binary(vec![9, 8])));
        let expect = [
            ("u", FillValue::UInt(3)),
            ("i", FillValue::Int(5)),
            ("f", FillValue::Float(2.0)),
            ("t", FillValue::TimestampNs(77)),
            ("y", FillValue::Binary(vec![9, 8])),
        ];
        for pass in ["pending", "flushed", "reopened"] {
            for (name, fill) in &expect {
                assert_eq!(
                    f.get_array(name).unwrap().fill_value.as_ref(),
                    Some(fill),
                    "{b:?} {pass} get_array {name}"
                );
                let listed = f.list_arrays();
                let meta = listed.iter().find(|m| m.name == *name).unwrap();
                assert_eq!(
                    meta.fill_value.as_ref(),
                    Some(fill),
                    "{b:?} {pass} list {name}"
                );
            }
            assert_eq!(
                read_all::<u8>(&f, "u").await,
                nd(&[4], vec![3; 4]),
                "{b:?} {pass}"
            );
            assert_eq!(
                read_all::<i64>(&f, "i").await,
                nd(&[4], vec![5; 4]),
                "{b:?} {pass}"
            );
            assert_eq!(
                read_all::<f32>(&f, "f").await,
                nd(&[4], vec![2.0; 4]),
                "{b:?} {pass}"
            );
            assert_eq!(
                read_all::<TimestampNs>(&f, "t").await,
                nd(&[4], vec![TimestampNs(77); 4]),
                "{b:?} {pass}"
            );
            assert_eq!(
                read_all::<Vec<u8>>(&f, "y").await,
                nd(&[2], vec![vec![9u8, 8]; 2]),
                "{b:?} {pass}"
            );
            if pass == "pending" {
                f.flush().await.unwrap();
            } else {
                f = env.reopen(f).await;
            }
        }
    }
}

// ── 0-d arrays and zero-length dimensions ───────────────────────────

#[tokio::test]
async fn scalar_arrays_with_fill() {
    for b in BACKENDS {
        let env = Env::new(b);
        let mut f = env.create().await;
        f.define_array::<f64>("pi", vec![], vec![], None, Some(FillValue::Float(2.5)))
            .unwrap();
        f.define_array::<String>(
            "label",
            vec![],
            vec![],
            None,
            Some(FillValue::String("none".into())),
        )
        .unwrap();
        f.define_array::<i32>("count", vec![], vec![], None, Some(FillValue::Int(-1)))
            .unwrap();
        assert_eq!(f.get_array("pi").unwrap().shape, Vec::<u64>::new());
        let pi = read_all::<f64>(&f, "pi").await;
        assert_eq!(pi.ndim(), 0, "{b:?}");
        assert_eq!(pi, ndarray::arr0(2.5).into_dyn(), "{b:?} fill");
        assert_eq!(
            read_all::<String>(&f, "label").await,
            ndarray::arr0("none".to_owned()).into_dyn(),
            "{b:?} fill"
        );
        assert_eq!(
            read_all::<i32>(&f, "count").await,
            ndarray::arr0(-1).into_dyn(),
            "{b:?} fill"
        );
        f.flush().await.unwrap();
        assert_eq!(
            stats(&f, "pi"),
            Some(st(None, None, 1, 1)),
            "{b:?} unwritten scalar"
        );
        let value = ndarray::arr0(std::f64::consts::PI).into_dyn();
        write(&mut f, "pi", &[], &value).await;
        write(
            &mut f,
            "label",
            &[],
            &ndarray::arr0("hello".to_owned()).into_dyn(),
        )
        .await;
        // Write the 0-d i32 through the explicit start/shape form.
        assert_eq!(
            read_region::<i32>(&f, "count", &[], &[]).await,
            ndarray::arr0(-1).into_dyn()
        );
        write(&mut f, "count", &[], &ndarray::arr0(42).into_dyn()).await;
        assert_eq!(read_all::<f64>(&f, "pi").await, value, "{b:?} pending");
        f.flush().await.unwrap();
        let f = env.reopen(f).await;
        assert_eq!(read_all::<f64>(&f, "pi").await, value, "{b:?} reopened");
        assert_eq!(
            read_all::<String>(&f, "label").await,
            ndarray::arr0("hello".to_owned()).into_dyn(),
            "{b:?}"
        );
        assert_eq!(
            read_all::<i32>(&f, "count").await,
            ndarray::arr0(42).into_dyn(),
            "{b:?}"
        );
        assert_eq!(stats(&f, "count"), ints(42, 42, 0, 1), "{b:?} scalar stats");
    }
}

#[tokio::test]
async fn zero_length_dimension_reads_empty() {
    for b in BACKENDS {
        let env = Env::new(b);
        let mut f = env.create().await;
        define::<i32>(&mut f, "empty", &[0, 4], None, None);
        define::<String>(&mut f, "empty_s", &[3, 0], Some(&[2, 2]), None);
        for pass in ["pending", "flushed", "reopened"] {
            let out = read_all::<i32>(&f, "empty").await;
            assert_eq!(out.shape(), &[0, 4], "{b:?} {pass}");
            assert_eq!(out.len(), 0);
            let out = read_all::<String>(&f, "empty_s").await;
            assert_eq!(out.shape(), &[3, 0], "{b:?} {pass}");
            if pass == "pending" {
                f.flush().await.unwrap();
                assert_eq!(stats(&f, "empty"), Some(st(None, None, 0, 0)), "{b:?}");
            } else {
                f = env.reopen(f).await;
            }
        }
        assert_eq!(f.get_array("empty").unwrap().chunk_shape, vec![1, 4]);
    }
}

// ── Layers ──────────────────────────────────────────────────────────

#[tokio::test]
async fn newest_layer_wins() {
    for b in BACKENDS {
        let env = Env::new(b);
        let mut f = env.create().await;
        define::<i32>(&mut f, "x", &[8], Some(&[4]), None);
        for (layer, value) in [(2, 10), (3, 20), (4, 30)] {
            write(&mut f, "x", &[0], &nd(&[4], vec![value; 4])).await;
            f.flush().await.unwrap();
            assert_eq!(f.num_layers(), layer - 1, "{b:?}");
            let expected = nd(&[8], vec![value, value, value, value, 0, 0, 0, 0]);
            assert_eq!(
                read_all::<i32>(&f, "x").await,
                expected,
                "{b:?} layer {layer}"
            );
        }
        let mut f = env.reopen(f).await;
        let expected = nd(&[8], vec![30, 30, 30, 30, 0, 0, 0, 0]);
        assert_eq!(read_all::<i32>(&f, "x").await, expected, "{b:?} reopened");
        f.compact().await.unwrap();
        assert_eq!(read_all::<i32>(&f, "x").await, expected, "{b:?} compacted");
    }
}

#[tokio::test]
async fn chunk_of_an_older_layer_stays_visible() {
    for b in BACKENDS {
        let env = Env::new(b);
        let mut f = env.create().await;
        define::<i32>(&mut f, "x", &[8], Some(&[4]), None);
        define::<i32>(&mut f, "other", &[2], None, None);
        write(&mut f, "x", &[0], &nd(&[8], vec![1, 2, 3, 4, 5, 6, 7, 8])).await;
        f.flush().await.unwrap();
        write(&mut f, "x", &[4], &nd(&[4], vec![50, 60, 70, 80])).await;
        f.flush().await.unwrap();
        // A third layer that does not touch x at all.
        write(&mut f, "other", &[0], &nd(&[2], vec![1, 1])).await;
        f.flush().await.unwrap();
        assert_eq!(f.num_layers(), 3);
        let expected = nd(&[8], vec![1, 2, 3, 4, 50, 60, 70, 80]);
        assert_eq!(read_all::<i32>(&f, "x").await, expected, "{b:?}");
        let mut f = env.reopen(f).await;
        assert_eq!(read_all::<i32>(&f, "x").await, expected, "{b:?} reopened");
        assert_eq!(
            read_region::<i32>(&f, "x", &[2], &[4]).await,
            nd(&[4], vec![3, 4, 50, 60]),
            "{b:?}"
        );
        f.compact().await.unwrap();
        assert_eq!(f.num_layers(), 1);
        assert_eq!(read_all::<i32>(&f, "x").await, expected, "{b:?} compacted");
    }
}

// ── Delete ──────────────────────────────────────────────────────────

fn assert_gone(f: &ArrayFile, name: &str, ctx: &str) {
    assert!(
        matches!(f.get_array(name), Err(Error::ArrayNotFound { .. })),
        "{ctx}: get_array({name}) should be ArrayNotFound"
    );
    assert!(
        !names(f).iter().any(|n| n == name),
        "{ctx}: list_arrays still has {name}"
    );
    // Statistics are committed state: once the delete is committed they go.
    if !f.has_pending_changes() {
        assert!(
            f.array_stats(name).is_none(),
            "{ctx}: stats of deleted {name}"
        );
    }
}

async fn assert_gone_for_reads(f: &ArrayFile, name: &str, ctx: &str) {
    assert_gone(f, name, ctx);
    let err = f.read_array::<i32>(name, vec![], vec![]).await.unwrap_err();
    assert!(matches!(err, Error::ArrayNotFound { .. }), "{ctx}: {err}");
}

#[tokio::test]
async fn delete_hides_the_array_in_every_layer() {
    for b in BACKENDS {
        let env = Env::new(b);
        let mut f = env.create().await;
        define::<i32>(&mut f, "gone", &[8], Some(&[4]), None);
        define::<i32>(&mut f, "kept", &[8], Some(&[4]), None);
        write(&mut f, "gone", &[0], &nd(&[4], vec![1; 4])).await;
        write(&mut f, "kept", &[0], &nd(&[8], vec![2; 8])).await;
        f.flush().await.unwrap();
        write(&mut f, "gone", &[4], &nd(&[4], vec![3; 4])).await;
        f.set_attribute("gone", "unit", AttributeValue::String("m".into()))
            .unwrap();
        f.flush().await.unwrap();

        f.delete("gone").unwrap();
        assert!(f.has_pending_changes());
        assert_gone_for_reads(&f, "gone", &format!("{b:?} pending")).await;
        f.flush().await.unwrap();
        assert_gone_for_reads(&f, "gone", &format!("{b:?} flushed")).await;
        let mut f = env.reopen(f).await;
        assert_gone_for_reads(&f, "gone", &format!("{b:?} reopened")).await;
        f.compact().await.unwrap();
        assert_gone_for_reads(&f, "gone", &format!("{b:?} compacted")).await;
        let f = env.reopen(f).await;
        assert_gone_for_reads(&f, "gone", &format!("{b:?} compacted+reopened")).await;
        assert_eq!(names(&f), strings(&["kept"]));
        assert_eq!(read_all::<i32>(&f, "kept").await, nd(&[8], vec![2; 8]));
    }
}

#[tokio::test]
async fn delete_of_a_pending_array_and_of_a_committed_one_in_same_session() {
    for b in BACKENDS {
        let env = Env::new(b);
        let mut f = env.create().await;
        define::<i32>(&mut f, "old", &[4], None, None);
        write(&mut f, "old", &[0], &nd(&[4], vec![1, 2, 3, 4])).await;
        f.flush().await.unwrap();
        define::<i32>(&mut f, "new", &[4], None, None);
        write(&mut f, "new", &[0], &nd(&[4], vec![5, 6, 7, 8])).await;
        f.delete("new").unwrap();
        f.delete("old").unwrap();
        assert_gone_for_reads(&f, "new", &format!("{b:?}")).await;
        assert_gone_for_reads(&f, "old", &format!("{b:?}")).await;
        assert!(f.list_arrays().is_empty());
        f.flush().await.unwrap();
        let f = env.reopen(f).await;
        assert!(f.list_arrays().is_empty(), "{b:?}");
    }
}

/// Where the delete and the redefinition happen relative to flushes.
#[derive(Clone, Copy, Debug)]
enum Redefine {
    /// define, write, delete, define: all in one pending session.
    AllPending,
    /// write + flush, then delete + define in one pending session.
    SameSession,
    /// write + flush, delete + flush, define + flush.
    AcrossFlushes,
}

const REDEFINES: [Redefine; 3] = [
    Redefine::AllPending,
    Redefine::SameSession,
    Redefine::AcrossFlushes,
];

/// Writes `old` into array "x", deletes it and redefines it with the
/// redefine closure; returns the file with the new "x" defined.
async fn delete_and_redefine<T: ArrayElement>(
    env: &Env,
    how: Redefine,
    old: &ArrayD<T>,
    chunk: &[usize],
    redefine: impl Fn(&mut ArrayFile),
) -> ArrayFile {
    let mut f = env.create().await;
    define::<T>(&mut f, "x", old.shape(), Some(chunk), None);
    write(&mut f, "x", &vec![0; old.ndim()], old).await;
    f.set_attribute("x", "old", AttributeValue::Bool(true))
        .unwrap();
    if !matches!(how, Redefine::AllPending) {
        f.flush().await.unwrap();
    }
    f.delete("x").unwrap();
    if matches!(how, Redefine::AcrossFlushes) {
        f.flush().await.unwrap();
        assert_gone(&f, "x", "between delete and redefine");
    }
    redefine(&mut f);
    if matches!(how, Redefine::AcrossFlushes) {
        f.flush().await.unwrap();
    }
    f
}

async fn check_redefined<T: ArrayElement>(
    env: &Env,
    mut f: ArrayFile,
    expected: &ArrayD<T>,
    dtype: DType,
    ctx: &str,
) {
    for pass in [
        "as is",
        "flushed",
        "reopened",
        "compacted",
        "compacted+reopened",
    ] {
        match pass {
            "flushed" => f.flush().await.unwrap(),
            "reopened" | "compacted+reopened" => f = env.reopen(f).await,
            "compacted" => f.compact().await.unwrap(),
            _ => {}
        }
        assert_eq!(f.get_array("x").unwrap().dtype, dtype, "{ctx} {pass}");
        assert_eq!(names(&f), strings(&["x"]), "{ctx} {pass}");
        assert_eq!(&read_all::<T>(&f, "x").await, expected, "{ctx} {pass}");
        assert!(
            f.attributes("x").unwrap().is_empty(),
            "{ctx} {pass}: attributes of the old array came back"
        );
        if pass != "as is" {
            let s = stats(&f, "x").unwrap();
            assert_eq!(
                s.null_count,
                expected.len() as u64,
                "{ctx} {pass}: all null"
            );
            assert_eq!(s.min, None, "{ctx} {pass}");
        }
    }
}

#[tokio::test]
async fn redefine_after_delete_same_dtype_reads_fill() {
    for b in BACKENDS {
        for how in REDEFINES {
            let env = Env::new(b);
            let old = nd(&[10], (1..=10).collect::<Vec<i32>>());
            let f = delete_and_redefine(&env, how, &old, &[4], |f| {
                define::<i32>(f, "x", &[10], Some(&[4]), Some(FillValue::Int(-1)));
            })
            .await;
            let expected = ArrayD::from_elem(IxDyn(&[10]), -1i32);
            check_redefined(&env, f, &expected, DType::Int32, &format!("{b:?} {how:?}")).await;
        }
    }
}

#[tokio::test]
async fn redefine_after_delete_i32_to_string_reads_fill() {
    for b in BACKENDS {
        for how in REDEFINES {
            let env = Env::new(b);
            let old = nd(&[3, 4], (100..112).collect::<Vec<i32>>());
            let f = delete_and_redefine(&env, how, &old, &[2, 2], |f| {
                define::<String>(f, "x", &[3, 4], Some(&[2, 2]), None);
            })
            .await;
            let expected = ArrayD::from_elem(IxDyn(&[3, 4]), String::new());
            check_redefined(&env, f, &expected, DType::String, &format!("{b:?} {how:?}")).await;
        }
    }
}

#[tokio::test]
async fn redefine_after_delete_f64_to_u8_reads_fill() {
    for b in BACKENDS {
        for how in REDEFINES {
            let env = Env::new(b);
            let old = nd(&[16], (0..16).map(|v| f64::from(v) + 0.25).collect());
            let f = delete_and_redefine(&env, how, &old, &[8], |f| {
                define::<u8>(f, "x", &[16], Some(&[8]), None);
            })
            .await;
            let expected = ArrayD::from_elem(IxDyn(&[16]), 0u8);
            check_redefined(&env, f, &expected, DType::UInt8, &format!("{b:?} {how:?}")).await;
        }
    }
}

#[tokio::test]
async fn redefine_with_another_shape_and_chunk_grid() {
    for b in BACKENDS {
        for how in REDEFINES {
            let env = Env::new(b);
            let old = nd(&[10], (1..=10).collect::<Vec<i32>>());
            let mut f = delete_and_redefine(&env, how, &old, &[4], |f| {
                define::<i32>(f, "x", &[4, 5], Some(&[3, 2]), None);
            })
            .await;
            let ctx = format!("{b:?} {how:?}");
            assert_eq!(f.get_array("x").unwrap().shape, vec![4, 5], "{ctx}");
            assert_eq!(f.get_array("x").unwrap().chunk_shape, vec![3, 2], "{ctx}");
            let patch = nd(&[1, 2], vec![7, 8]);
            write(&mut f, "x", &[3, 3], &patch).await;
            let mut expected = ArrayD::<i32>::zeros(IxDyn(&[4, 5]));
            region_mut(&mut expected, &[3, 3], &[1, 2]).assign(&patch);
            assert_eq!(read_all::<i32>(&f, "x").await, expected, "{ctx} pending");
            f.flush().await.unwrap();
            let mut f = env.reopen(f).await;
            assert_eq!(read_all::<i32>(&f, "x").await, expected, "{ctx} reopened");
            assert_eq!(stats(&f, "x"), ints(0, 8, 17, 20), "{ctx}");
            f.compact().await.unwrap();
            assert_eq!(read_all::<i32>(&f, "x").await, expected, "{ctx} compacted");
            assert_eq!(stats(&f, "x"), ints(0, 8, 17, 20), "{ctx} compacted");
        }
    }
}

#[tokio::test]
async fn redefined_array_takes_new_writes_only() {
    for b in BACKENDS {
        let env = Env::new(b);
        let mut f = env.create().await;
        define::<i32>(&mut f, "x", &[8], Some(&[4]), None);
        write(&mut f, "x", &[0], &nd(&[8], vec![9; 8])).await;
        f.flush().await.unwrap();
        f.delete("x").unwrap();
        define::<i32>(&mut f, "x", &[8], Some(&[4]), None);
        // Partial write into a chunk that the old array had written.
        write(&mut f, "x", &[1], &nd(&[1], vec![5])).await;
        let expected = nd(&[8], vec![0, 5, 0, 0, 0, 0, 0, 0]);
        assert_eq!(read_all::<i32>(&f, "x").await, expected, "{b:?} pending");
        f.flush().await.unwrap();
        assert_eq!(read_all::<i32>(&f, "x").await, expected, "{b:?} flushed");
        assert_eq!(
            stats(&f, "x"),
            ints(0, 5, 4, 8),
            "{b:?}: no explicit fill, so the zeros of the written chunk are values"
        );
        let mut f = env.reopen(f).await;
        f.compact().await.unwrap();
        assert_eq!(read_all::<i32>(&f, "x").await, expected, "{b:?} compacted");
        assert_eq!(stats(&f, "x"), ints(0, 5, 4, 8), "{b:?} compacted");
    }
}

// ── Attributes ──────────────────────────────────────────────────────

#[tokio::test]
async fn attributes_set_overwrite_remove_across_layers() {
    for b in BACKENDS {
        let env = Env::new(b);
        let mut f = env.create().await;
        define::<i32>(&mut f, "a", &[2], None, None);
        f.set_attribute("a", "unit", AttributeValue::String("m".into()))
            .unwrap();
        f.set_attribute("a", "scale", AttributeValue::Float64(0.5))
            .unwrap();
        f.set_attribute("a", "keep", AttributeValue::Int32(1))
            .unwrap();
        assert_eq!(
            f.get_attribute("a", "unit").unwrap(),
            Some(&AttributeValue::String("m".into())),
            "{b:?} pending"
        );
        f.flush().await.unwrap();

        f.set_attribute("a", "unit", AttributeValue::String("km".into()))
            .unwrap();
        f.flush().await.unwrap();
        assert_eq!(
            f.get_attribute("a", "unit").unwrap(),
            Some(&AttributeValue::String("km".into())),
            "{b:?} overwritten"
        );

        assert!(f.remove_attribute("a", "scale").unwrap(), "{b:?}");
        assert!(!f.remove_attribute("a", "scale").unwrap(), "{b:?} twice");
        assert!(
            !f.remove_attribute("a", "never").unwrap(),
            "{b:?} never set"
        );
        assert_eq!(
            f.get_attribute("a", "scale").unwrap(),
            None,
            "{b:?} pending"
        );
        f.flush().await.unwrap();
        assert_eq!(f.num_layers(), 3);

        let expected = vec![
            ("keep".to_owned(), AttributeValue::Int32(1)),
            ("unit".to_owned(), AttributeValue::String("km".into())),
        ];
        for pass in ["flushed", "reopened", "compacted", "compacted+reopened"] {
            match pass {
                "reopened" | "compacted+reopened" => f = env.reopen(f).await,
                "compacted" => f.compact().await.unwrap(),
                _ => {}
            }
            assert_eq!(f.attributes("a").unwrap(), expected, "{b:?} {pass}");
            assert_eq!(f.get_attribute("a", "scale").unwrap(), None, "{b:?} {pass}");
            assert_eq!(
                f.get_attribute("a", "unit").unwrap(),
                Some(&AttributeValue::String("km".into())),
                "{b:?} {pass}"
            );
        }
        // A removed key can be set again.
        f.set_attribute("a", "scale", AttributeValue::Float64(2.0))
            .unwrap();
        f.flush().await.unwrap();
        let f = env.reopen(f).await;
        assert_eq!(
            f.get_attribute("a", "scale").unwrap(),
            Some(&AttributeValue::Float64(2.0)),
            "{b:?}"
        );
    }
}

fn every_attribute_value() -> Vec<(String, AttributeValue)> {
    use AttributeValue as A;
    let mut v = vec![
        ("bool", A::Bool(true)),
        ("i8", A::Int8(-8)),
        ("i16", A::Int16(-1600)),
        ("i32", A::Int32(i32::MIN)),
        ("i64", A::Int64(i64::MAX)),
        ("u8", A::UInt8(u8::MAX)),
        ("u16", A::UInt16(65_000)),
        ("u32", A::UInt32(u32::MAX)),
        ("u64", A::UInt64(u64::MAX)),
        ("f32", A::Float32(-1.25)),
        ("f32_nan", A::Float32(f32::NAN)),
        ("f64", A::Float64(std::f64::consts::PI)),
        ("f64_nan", A::Float64(f64::NAN)),
        ("f64_neg_inf", A::Float64(f64::NEG_INFINITY)),
        ("f64_neg_zero", A::Float64(-0.0)),
        ("string", A::String("héllo ✓".into())),
        ("string_empty", A::String(String::new())),
        ("binary", A::Binary(vec![0, 1, 254, 255])),
        ("binary_empty", A::Binary(vec![])),
        ("bool_list", A::BoolList(vec![true, false, true])),
        ("i8_list", A::Int8List(vec![i8::MIN, 0, i8::MAX])),
        ("i16_list", A::Int16List(vec![-2, 3])),
        ("i32_list", A::Int32List(vec![1, -2, 3])),
        ("i32_list_empty", A::Int32List(vec![])),
        ("i64_list", A::Int64List(vec![i64::MIN, i64::MAX])),
        ("u8_list", A::UInt8List(vec![1, 2, 255])),
        ("u16_list", A::UInt16List(vec![u16::MAX])),
        ("u32_list", A::UInt32List(vec![7, 8])),
        ("u64_list", A::UInt64List(vec![u64::MAX, 0])),
        (
            "f32_list",
            A::Float32List(vec![1.5, f32::NAN, -0.0, f32::INFINITY]),
        ),
        ("f64_list", A::Float64List(vec![f64::NAN, 1e300, -2.5])),
        ("string_list", A::StringList(strings(&["a", "", "ü"]))),
        ("string_list_empty", A::StringList(vec![])),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect::<Vec<_>>();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

#[tokio::test]
async fn every_attribute_value_round_trips() {
    for b in BACKENDS {
        let env = Env::new(b);
        let mut f = env.create().await;
        define::<i32>(&mut f, "a", &[1], None, None);
        // Set in reverse key order: attributes() must sort.
        for (key, value) in every_attribute_value().into_iter().rev() {
            f.set_attribute("a", &key, value).unwrap();
        }
        let expected = every_attribute_value();
        assert_eq!(f.attributes("a").unwrap(), expected, "{b:?} pending");
        f.flush().await.unwrap();
        let mut f = env.reopen(f).await;
        assert_eq!(f.attributes("a").unwrap(), expected, "{b:?} reopened");
        for (key, value) in &expected {
            assert_eq!(
                f.get_attribute("a", key).unwrap(),
                Some(value),
                "{b:?} {key}"
            );
        }
        f.compact().await.unwrap();
        let f = env.reopen(f).await;
        assert_eq!(f.attributes("a").unwrap(), expected, "{b:?} compacted");
    }
}

#[tokio::test]
async fn attributes_sorted_by_key_across_layers() {
    for b in BACKENDS {
        let env = Env::new(b);
        let mut f = env.create().await;
        define::<i32>(&mut f, "a", &[1], None, None);
        f.set_attribute("a", "zeta", AttributeValue::Int64(1))
            .unwrap();
        f.set_attribute("a", "alpha", AttributeValue::Int64(2))
            .unwrap();
        f.flush().await.unwrap();
        f.set_attribute("a", "mid", AttributeValue::Int64(3))
            .unwrap();
        f.set_attribute("a", "Beta", AttributeValue::Int64(4))
            .unwrap();
        let expected = vec![
            ("Beta".to_owned(), AttributeValue::Int64(4)),
            ("alpha".to_owned(), AttributeValue::Int64(2)),
            ("mid".to_owned(), AttributeValue::Int64(3)),
            ("zeta".to_owned(), AttributeValue::Int64(1)),
        ];
        assert_eq!(f.attributes("a").unwrap(), expected, "{b:?} pending");
        f.flush().await.unwrap();
        let f = env.reopen(f).await;
        assert_eq!(f.attributes("a").unwrap(), expected, "{b:?} reopened");
    }
}

#[tokio::test]
async fn attributes_of_redefined_array_start_empty() {
    for b in BACKENDS {
        for flush_before_delete in [false, true] {
            let env = Env::new(b);
            let mut f = env.create().await;
            define::<i32>(&mut f, "a", &[1], None, None);
            f.set_attribute("a", "unit", AttributeValue::String("m".into()))
                .unwrap();
            if flush_before_delete {
                f.flush().await.unwrap();
            }
            f.delete("a").unwrap();
            define::<f32>(&mut f, "a", &[1], None, None);
            let ctx = format!("{b:?} flush_before_delete={flush_before_delete}");
            assert!(f.attributes("a").unwrap().is_empty(), "{ctx}");
            assert_eq!(f.get_attribute("a", "unit").unwrap(), None, "{ctx}");
            f.flush().await.unwrap();
            let mut f = env.reopen(f).await;
            assert!(f.attributes("a").unwrap().is_empty(), "{ctx} reopened");
            f.compact().await.unwrap();
            assert_eq!(
                f.get_attribute("a", "unit").unwrap(),
                None,
                "{ctx} compacted"
            );
        }
    }
}

// ── Statistics ──────────────────────────────────────────────────────

#[tokio::test]
async fn stats_seed_example() {
    for b in BACKENDS {
        let env = Env::new(b);
        let mut f = env.create().await;
        f.define_array::<i32>(
            "sensor",
            vec!["t".into()],
            vec![8],
            Some(vec![4]),
            Some(FillValue::Int(-999)),
        )
        .unwrap();
        write(&mut f, "sensor", &[0], &nd(&[4], vec![23, -999, 31, 28])).await;
        assert_eq!(stats(&f, "sensor"), None, "{b:?} before first flush");
        f.flush().await.unwrap();
        assert_eq!(stats(&f, "sensor"), ints(23, 31, 5, 8), "{b:?} flush 1");

        write(&mut f, "sensor", &[4], &nd(&[4], vec![19, 25, 30, 27])).await;
        assert_eq!(
            stats(&f, "sensor"),
            ints(23, 31, 5, 8),
            "{b:?} pending writes are not in the stats"
        );
        f.flush().await.unwrap();
        assert_eq!(stats(&f, "sensor"), ints(19, 31, 1, 8), "{b:?} flush 2");

        write(&mut f, "sensor", &[0], &nd(&[4], vec![23, 20, 31, 28])).await;
        f.flush().await.unwrap();
        assert_eq!(stats(&f, "sensor"), ints(19, 31, 0, 8), "{b:?} flush 3");

        let mut f = env.reopen(f).await;
        assert_eq!(stats(&f, "sensor"), ints(19, 31, 0, 8), "{b:?} reopened");
        f.compact().await.unwrap();
        assert_eq!(stats(&f, "sensor"), ints(19, 31, 0, 8), "{b:?} compacted");
        let f = env.reopen(f).await;
        assert_eq!(
            stats(&f, "sensor"),
            ints(19, 31, 0, 8),
            "{b:?} compacted+reopened"
        );
    }
}

#[tokio::test]
async fn stats_none_before_first_flush_and_for_deleted_arrays() {
    for b in BACKENDS {
        let env = Env::new(b);
        let mut f = env.create().await;
        assert!(f.array_stats("nothing").is_none());
        define::<i32>(&mut f, "a", &[4], None, None);
        define::<i32>(&mut f, "b", &[4], None, None);
        write(&mut f, "a", &[0], &nd(&[4], vec![1, 2, 3, 4])).await;
        assert!(f.array_stats("a").is_none(), "{b:?} before first flush");
        f.flush().await.unwrap();
        assert_eq!(stats(&f, "a"), ints(1, 4, 0, 4), "{b:?}");
        // Never written: all null.
        assert_eq!(stats(&f, "b"), Some(st(None, None, 4, 4)), "{b:?}");
        // A pending definition has no stats yet.
        define::<i32>(&mut f, "c", &[4], None, None);
        assert!(f.array_stats("c").is_none(), "{b:?} pending array");
        f.delete("a").unwrap();
        // Stats are the committed state: the delete is not committed yet.
        assert_eq!(stats(&f, "a"), ints(1, 4, 0, 4), "{b:?} pending delete");
        f.flush().await.unwrap();
        assert!(f.array_stats("a").is_none(), "{b:?} deleted");
        assert_eq!(stats(&f, "c"), Some(st(None, None, 4, 4)), "{b:?}");
        let mut f = env.reopen(f).await;
        assert!(f.array_stats("a").is_none(), "{b:?} deleted, reopened");
        f.compact().await.unwrap();
        assert!(f.array_stats("a").is_none(), "{b:?} deleted, compacted");
        assert_eq!(
            stats(&f, "b"),
            Some(st(None, None, 4, 4)),
            "{b:?} compacted"
        );
    }
}

#[tokio::test]
async fn stats_follow_the_data_after_every_flush_and_compact() {
    for b in BACKENDS {
        let env = Env::new(b);
        let mut f = env.create().await;
        let shape = [10, 7];
        let chunk = [3, 4];
        define::<i64>(&mut f, "m", &shape, Some(&chunk), Some(FillValue::Int(5)));
        define::<i64>(&mut f, "n", &shape, Some(&chunk), None);
        let mut with_fill = Model::new(&shape, &chunk, Some(5));
        let mut no_fill = Model::new(&shape, &chunk, None);
        let steps: Vec<(Vec<usize>, ArrayD<i64>)> = vec![
            (vec![1, 1], nd(&[3, 3], vec![5, 6, 7, 8, 9, 10, 11, 5, 13])),
            (vec![8, 5], nd(&[2, 2], vec![-40, 0, 5, 100])),
            (
                vec![4, 0],
                nd(&[3, 7], (0..21).map(|v| 5 - v % 3).collect()),
            ),
            (vec![0, 0], nd(&[10, 7], vec![5; 70])),
            (vec![9, 6], nd(&[1, 1], vec![-1])),
        ];
        assert_eq!(stats(&f, "m"), None);
        for (i, (start, patch)) in steps.iter().enumerate() {
            let before = stats(&f, "m");
            write(&mut f, "m", start, patch).await;
            write(&mut f, "n", start, patch).await;
            with_fill.write(start, patch);
            no_fill.write(start, patch);
            assert_eq!(
                stats(&f, "m"),
                before,
                "{b:?} step {i}: pending not reflected"
            );
            f.flush().await.unwrap();
            assert_eq!(stats(&f, "m"), Some(with_fill.stats()), "{b:?} step {i} m");
            assert_eq!(stats(&f, "n"), Some(no_fill.stats()), "{b:?} step {i} n");
            assert_eq!(
                read_all::<i64>(&f, "m").await,
                with_fill.data,
                "{b:?} step {i}"
            );
            if i == 2 {
                f.compact().await.unwrap();
                assert_eq!(stats(&f, "m"), Some(with_fill.stats()), "{b:?} compact {i}");
                assert_eq!(stats(&f, "n"), Some(no_fill.stats()), "{b:?} compact {i}");
            }
        }
        // The last step's data: all fill except one element.
        assert_eq!(with_fill.stats(), ints(-1, -1, 69, 70).unwrap());
        let mut f = env.reopen(f).await;
        assert_eq!(stats(&f, "m"), Some(with_fill.stats()), "{b:?} reopened");
        f.compact().await.unwrap();
        assert_eq!(stats(&f, "m"), Some(with_fill.stats()), "{b:?} compacted");
        assert_eq!(stats(&f, "n"), Some(no_fill.stats()), "{b:?} compacted");
    }
}

#[tokio::test]
async fn stats_after_compact_equal_stats_before() {
    for b in BACKENDS {
        let env = Env::new(b);
        let mut f = env.create().await;
        define::<i32>(&mut f, "i", &[10], Some(&[3]), Some(FillValue::Int(0)));
        define::<f64>(&mut f, "f", &[6], Some(&[2]), None);
        define::<String>(&mut f, "s", &[4], Some(&[2]), None);
        define::<u16>(&mut f, "never", &[5], Some(&[2]), None);
        write(&mut f, "i", &[2], &nd(&[5], vec![4, 0, -3, 9, 1])).await;
        write(&mut f, "f", &[0], &nd(&[3], vec![0.5, -1.5, 2.0])).await;
        f.flush().await.unwrap();
        write(&mut f, "i", &[8], &nd(&[2], vec![100, -100])).await;
        write(&mut f, "s", &[1], &nd(&[2], strings(&["kiwi", "apple"]))).await;
        f.flush().await.unwrap();
        let all = ["i", "f", "s", "never"];
        let before: Vec<Option<Stats>> = all.iter().map(|n| stats(&f, n)).collect();
        assert_eq!(before[0], ints(-100, 100, 4, 10), "{b:?}");
        assert_eq!(
            before[1],
            Some(st(
                Some(StatValue::Float(-1.5)),
                Some(StatValue::Float(2.0)),
                2,
                6
            )),
            "{b:?}"
        );
        assert_eq!(
            before[2],
            Some(st(
                Some(StatValue::Bytes(b"".to_vec())),
                Some(StatValue::Bytes(b"kiwi".to_vec())),
                0,
                4
            )),
            "{b:?}: no explicit fill, so the empty strings are values"
        );
        assert_eq!(before[3], Some(st(None, None, 5, 5)), "{b:?}");
        f.compact().await.unwrap();
        let after: Vec<Option<Stats>> = all.iter().map(|n| stats(&f, n)).collect();
        assert_eq!(after, before, "{b:?} compacted");
        let f = env.reopen(f).await;
        let reopened: Vec<Option<Stats>> = all.iter().map(|n| stats(&f, n)).collect();
        assert_eq!(reopened, before, "{b:?} compacted+reopened");
    }
}

#[tokio::test]
async fn stats_loaded_after_reopen() {
    for b in [Backend::Store(Kind::Memory), Backend::Store(Kind::Disk)] {
        let env = Env::new(b);
        let mut f = env.create().await;
        define::<u32>(&mut f, "u", &[6], Some(&[2]), Some(FillValue::UInt(1)));
        write(&mut f, "u", &[0], &nd(&[3], vec![7u32, 1, 3])).await;
        f.flush().await.unwrap();
        let expected = Some(st(Some(StatValue::UInt(3)), Some(StatValue::UInt(7)), 4, 6));
        assert_eq!(stats(&f, "u"), expected, "{b:?}");
        // Pending changes are dropped with the handle.
        write(&mut f, "u", &[3], &nd(&[3], vec![100u32; 3])).await;
        let f = env.reopen(f).await;
        assert_eq!(stats(&f, "u"), expected, "{b:?} reopened");
    }
}

#[tokio::test]
async fn stats_of_strings_are_bytes() {
    for b in BACKENDS {
        let env = Env::new(b);
        let mut f = env.create().await;
        define::<String>(&mut f, "s", &[6], Some(&[2]), None);
        write(
            &mut f,
            "s",
            &[0],
            &nd(&[4], strings(&["pear", "apple", "zebra", "Mango"])),
        )
        .await;
        define::<String>(
            &mut f,
            "t",
            &[6],
            Some(&[3]),
            Some(FillValue::String("n/a".into())),
        );
        write(&mut f, "t", &[0], &nd(&[3], strings(&["n/a", "b", "ä"]))).await;
        define::<Vec<u8>>(&mut f, "y", &[3], None, None);
        write(
            &mut f,
            "y",
            &[0],
            &nd(&[3], vec![vec![2u8], vec![1, 255], vec![1]]),
        )
        .await;
        f.flush().await.unwrap();
        // Bytewise: "Mango" < "apple" < "pear" < "zebra".
        assert_eq!(
            stats(&f, "s"),
            Some(st(
                Some(StatValue::Bytes(b"Mango".to_vec())),
                Some(StatValue::Bytes(b"zebra".to_vec())),
                2,
                6
            )),
            "{b:?}"
        );
        assert_eq!(
            stats(&f, "t"),
            Some(st(
                Some(StatValue::Bytes(b"b".to_vec())),
                Some(StatValue::Bytes("ä".as_bytes().to_vec())),
                4,
                6
            )),
            "{b:?}"
        );
        assert_eq!(
            stats(&f, "y"),
            Some(st(
                Some(StatValue::Bytes(vec![1])),
                Some(StatValue::Bytes(vec![2])),
                0,
                3
            )),
            "{b:?}"
        );
    }
}

#[tokio::test]
async fn stats_of_long_strings_have_no_min_max() {
    for b in BACKENDS {
        let env = Env::new(b);
        let mut f = env.create().await;
        define::<String>(&mut f, "s", &[4], Some(&[2]), None);
        let long = "z".repeat(2000);
        write(
            &mut f,
            "s",
            &[0],
            &nd(&[4], vec!["a".into(), "b".into(), "c".into(), long]),
        )
        .await;
        f.flush().await.unwrap();
        assert_eq!(stats(&f, "s"), Some(st(None, None, 0, 4)), "{b:?}");
        // A long value that is neither min nor max of its chunk does not matter.
        define::<String>(&mut f, "t", &[3], None, None);
        write(
            &mut f,
            "t",
            &[0],
            &nd(&[3], vec!["a".into(), "b".repeat(2000), "c".into()]),
        )
        .await;
        f.flush().await.unwrap();
        assert_eq!(
            stats(&f, "t"),
            Some(st(
                Some(StatValue::Bytes(b"a".to_vec())),
                Some(StatValue::Bytes(b"c".to_vec())),
                0,
                3
            )),
            "{b:?}"
        );
    }
}

#[tokio::test]
async fn stats_of_bool() {
    for b in BACKENDS {
        let env = Env::new(b);
        let mut f = env.create().await;
        define::<bool>(&mut f, "mixed", &[4], Some(&[2]), None);
        write(&mut f, "mixed", &[0], &nd(&[3], vec![true, false, true])).await;
        define::<bool>(&mut f, "ones", &[3], None, Some(FillValue::Bool(false)));
        write(&mut f, "ones", &[0], &nd(&[3], vec![true, false, true])).await;
        f.flush().await.unwrap();
        assert_eq!(
            stats(&f, "mixed"),
            Some(st(Some(StatValue::UInt(0)), Some(StatValue::UInt(1)), 0, 4)),
            "{b:?}: the unwritten element of a written chunk is a value"
        );
        assert_eq!(
            stats(&f, "ones"),
            Some(st(Some(StatValue::UInt(1)), Some(StatValue::UInt(1)), 1, 3)),
            "{b:?}"
        );
    }
}

#[tokio::test]
async fn stats_of_floats_leave_out_nan() {
    for b in BACKENDS {
        let env = Env::new(b);
        let mut f = env.create().await;
        define::<f32>(&mut f, "a", &[4], None, None);
        write(
            &mut f,
            "a",
            &[0],
            &nd(&[4], vec![1.5f32, f32::NAN, -2.0, 3.25]),
        )
        .await;
        define::<f32>(
            &mut f,
            "b",
            &[6],
            Some(&[3]),
            Some(FillValue::Float(f64::NAN)),
        );
        write(&mut f, "b", &[0], &nd(&[2], vec![1.0f32, f32::NAN])).await;
        define::<f64>(&mut f, "c", &[2], None, None);
        write(&mut f, "c", &[0], &nd(&[2], vec![f64::NAN, f64::NAN])).await;
        f.flush().await.unwrap();
        assert_eq!(
            stats(&f, "a"),
            Some(st(
                Some(StatValue::Float(-2.0)),
                Some(StatValue::Float(3.25)),
                0,
                4
            )),
            "{b:?}"
        );
        assert_eq!(
            stats(&f, "b"),
            Some(st(
                Some(StatValue::Float(1.0)),
                Some(StatValue::Float(1.0)),
                5,
                6
            )),
            "{b:?}: written NaN equals the NaN fill"
        );
        assert_eq!(stats(&f, "c"), Some(st(None, None, 0, 2)), "{b:?} only NaN");
        let out = read_all::<f32>(&f, "b").await;
        assert_eq!(out[[0]], 1.0);
        assert!(out.iter().skip(1).all(|v| v.is_nan()), "{b:?}: {out:?}");
    }
}

#[tokio::test]
async fn stats_of_timestamps() {
    for b in BACKENDS {
        let env = Env::new(b);
        let mut f = env.create().await;
        define::<TimestampNs>(
            &mut f,
            "t",
            &[5],
            Some(&[2]),
            Some(FillValue::TimestampNs(0)),
        );
        let values = vec![
            TimestampNs::new(1_700_000_000_000_000_000),
            TimestampNs::new(-5),
            TimestampNs::new(0),
            TimestampNs::new(1_600_000_000_000_000_000),
        ];
        write(&mut f, "t", &[0], &nd(&[4], values.clone())).await;
        f.flush().await.unwrap();
        assert_eq!(
            stats(&f, "t"),
            Some(st(
                Some(StatValue::TimestampNs(-5)),
                Some(StatValue::TimestampNs(1_700_000_000_000_000_000)),
                2,
                5
            )),
            "{b:?}"
        );
        let mut expected = values;
        expected.push(TimestampNs(0));
        assert_eq!(
            read_all::<TimestampNs>(&f, "t").await,
            nd(&[5], expected),
            "{b:?}"
        );
    }
}

// ── Pending changes, flush, compact ─────────────────────────────────

#[tokio::test]
async fn unflushed_changes_vanish_on_reopen() {
    for b in [Backend::Store(Kind::Memory), Backend::Store(Kind::Disk)] {
        let env = Env::new(b);
        let mut f = env.create().await;
        assert!(env.can_reopen());
        assert!(!f.has_pending_changes(), "{b:?} fresh file");
        define::<i32>(&mut f, "a", &[4], None, None);
        assert!(f.has_pending_changes(), "{b:?} after define");
        define::<i32>(&mut f, "c", &[4], None, None);
        write(&mut f, "a", &[0], &nd(&[4], vec![1, 2, 3, 4])).await;
        write(&mut f, "c", &[0], &nd(&[4], vec![5, 6, 7, 8])).await;
        f.set_attribute("a", "k", AttributeValue::Int8(1)).unwrap();
        f.flush().await.unwrap();
        assert!(!f.has_pending_changes(), "{b:?} after flush");
        let layers = f.num_layers();

        f.set_attribute("a", "k", AttributeValue::Int8(2)).unwrap();
        assert!(f.has_pending_changes(), "{b:?} after set_attribute");
        define::<i32>(&mut f, "b", &[2], None, None);
        write(&mut f, "a", &[1], &nd(&[2], vec![20, 30])).await;
        f.set_attribute("a", "new", AttributeValue::Bool(true))
            .unwrap();
        f.delete("c").unwrap();
        assert!(f.has_pending_changes());

        let f = env.reopen(f).await;
        assert!(!f.has_pending_changes(), "{b:?} reopened");
        assert_eq!(f.num_layers(), layers, "{b:?}");
        assert_eq!(names(&f), strings(&["a", "c"]), "{b:?}");
        assert!(matches!(f.get_array("b"), Err(Error::ArrayNotFound { .. })));
        assert_eq!(
            read_all::<i32>(&f, "a").await,
            nd(&[4], vec![1, 2, 3, 4]),
            "{b:?}"
        );
        assert_eq!(
            read_all::<i32>(&f, "c").await,
            nd(&[4], vec![5, 6, 7, 8]),
            "{b:?}"
        );
        assert_eq!(
            f.attributes("a").unwrap(),
            vec![("k".to_owned(), AttributeValue::Int8(1))],
            "{b:?}"
        );
    }
}

#[tokio::test]
async fn has_pending_changes_tracks_every_mutation() {
    for b in BACKENDS {
        let env = Env::new(b);
        let mut f = env.create().await;
        assert!(!f.has_pending_changes(), "{b:?}");
        define::<i32>(&mut f, "a", &[4], None, None);
        assert!(f.has_pending_changes(), "{b:?} define");
        f.flush().await.unwrap();
        assert!(!f.has_pending_changes(), "{b:?}");
        write(&mut f, "a", &[0], &nd(&[1], vec![1])).await;
        assert!(f.has_pending_changes(), "{b:?} write");
        f.flush().await.unwrap();
        assert!(f.remove_attribute("a", "missing").is_ok());
        f.set_attribute("a", "k", AttributeValue::Bool(false))
            .unwrap();
        assert!(f.has_pending_changes(), "{b:?} set_attribute");
        f.flush().await.unwrap();
        assert!(f.remove_attribute("a", "k").unwrap());
        assert!(f.has_pending_changes(), "{b:?} remove_attribute");
        f.flush().await.unwrap();
        f.delete("a").unwrap();
        assert!(f.has_pending_changes(), "{b:?} delete");
        f.compact().await.unwrap();
        assert!(!f.has_pending_changes(), "{b:?} compact");
        assert_eq!(f.num_layers(), 1);
    }
}

#[tokio::test]
async fn compact_commits_pending_changes_first() {
    for b in BACKENDS {
        let env = Env::new(b);
        let mut f = env.create().await;
        define::<i32>(&mut f, "a", &[8], Some(&[4]), None);
        write(&mut f, "a", &[0], &nd(&[8], (1..=8).collect())).await;
        f.flush().await.unwrap();
        write(&mut f, "a", &[2], &nd(&[4], vec![-1, -2, -3, -4])).await;
        define::<String>(&mut f, "late", &[2], None, None);
        write(&mut f, "late", &[0], &nd(&[2], strings(&["p", "q"]))).await;
        f.set_attribute("late", "k", AttributeValue::UInt64(9))
            .unwrap();
        assert!(f.has_pending_changes());
        f.compact().await.unwrap();
        assert_eq!(f.num_layers(), 1, "{b:?}");
        assert!(!f.has_pending_changes(), "{b:?}");
        let expected = nd(&[8], vec![1, 2, -1, -2, -3, -4, 7, 8]);
        for pass in ["compacted", "reopened"] {
            assert_eq!(read_all::<i32>(&f, "a").await, expected, "{b:?} {pass}");
            assert_eq!(
                read_all::<String>(&f, "late").await,
                nd(&[2], strings(&["p", "q"])),
                "{b:?} {pass}"
            );
            assert_eq!(
                f.get_attribute("late", "k").unwrap(),
                Some(&AttributeValue::UInt64(9)),
                "{b:?} {pass}"
            );
            assert_eq!(stats(&f, "a"), ints(-4, 8, 0, 8), "{b:?} {pass}");
            assert_eq!(f.num_layers(), 1, "{b:?} {pass}");
            f = env.reopen(f).await;
        }
        // Compact of a file that has never been flushed.
        let env2 = Env::new(b);
        let mut g = env2.create().await;
        define::<u8>(&mut g, "x", &[3], None, None);
        write(&mut g, "x", &[0], &nd(&[3], vec![1u8, 2, 3])).await;
        g.compact().await.unwrap();
        assert_eq!(g.num_layers(), 1, "{b:?}");
        let g = env2.reopen(g).await;
        assert_eq!(
            read_all::<u8>(&g, "x").await,
            nd(&[3], vec![1, 2, 3]),
            "{b:?}"
        );
    }
}

#[tokio::test]
async fn flush_memory_commits_like_flush() {
    let mut f = ArrayFile::create_memory(small_config()).await.unwrap();
    assert_eq!(f.num_layers(), 1);
    define::<i32>(&mut f, "a", &[6], Some(&[4]), None);
    write(&mut f, "a", &[1], &nd(&[3], vec![1, 2, 3])).await;
    let overlay = InMemoryStorage::new();
    f.flush_memory(&overlay).await.unwrap();
    assert_eq!(f.num_layers(), 1);
    assert!(!f.has_pending_changes());
    assert_eq!(
        read_all::<i32>(&f, "a").await,
        nd(&[6], vec![0, 1, 2, 3, 0, 0])
    );
    assert_eq!(stats(&f, "a"), ints(0, 3, 2, 6));

    // Nothing pending: no new layer, with either form.
    f.flush_memory(&overlay).await.unwrap();
    assert_eq!(f.num_layers(), 1);
    f.flush().await.unwrap();
    assert_eq!(f.num_layers(), 1);

    // Mixed with flush.
    write(&mut f, "a", &[4], &nd(&[2], vec![8, 9])).await;
    f.flush().await.unwrap();
    assert_eq!(f.num_layers(), 2);
    write(&mut f, "a", &[0], &nd(&[1], vec![7])).await;
    f.flush_memory(&InMemoryStorage::new()).await.unwrap();
    assert_eq!(f.num_layers(), 3);
    assert_eq!(
        read_all::<i32>(&f, "a").await,
        nd(&[6], vec![7, 1, 2, 3, 8, 9])
    );
    f.compact().await.unwrap();
    assert_eq!(f.num_layers(), 1);
    assert_eq!(
        read_all::<i32>(&f, "a").await,
        nd(&[6], vec![7, 1, 2, 3, 8, 9])
    );
}

/// The first commit on a new file is written as a snapshot: the file has
/// one layer after it, and a compaction right after finds nothing to merge
/// and writes nothing. An array defined and deleted before that commit
/// leaves no trace in it.
#[tokio::test]
async fn the_first_commit_is_a_snapshot_and_leaves_compact_nothing_to_do() {
    for b in BACKENDS {
        let env = Env::new(b);
        let mut f = env.create().await;
        define::<i32>(&mut f, "a", &[6], Some(&[2]), None);
        write(&mut f, "a", &[0], &nd(&[6], vec![1, 2, 3, 4, 5, 6])).await;
        define::<i32>(&mut f, "gone", &[2], None, None);
        f.delete("gone").unwrap();
        f.flush().await.unwrap();
        assert_eq!(f.num_layers(), 1, "{b:?}");
        let versions = f.versions().await.unwrap();
        let kinds: Vec<(u64, bool, bool)> = versions
            .iter()
            .map(|v| (v.layer, v.snapshot, v.visible))
            .collect();
        assert_eq!(kinds, vec![(0, true, false), (1, true, true)], "{b:?}");
        f.compact().await.unwrap();
        assert_eq!(f.versions().await.unwrap().len(), 2, "{b:?}: compact wrote");
        let f = env.reopen(f).await;
        assert_eq!(f.num_layers(), 1, "{b:?}");
        let names: Vec<String> = f.list_arrays().into_iter().map(|m| m.name).collect();
        assert_eq!(names, vec!["a".to_string()], "{b:?}");
        assert_eq!(
            read_all::<i32>(&f, "a").await,
            nd(&[6], vec![1, 2, 3, 4, 5, 6]),
            "{b:?}"
        );
        // The second commit is a delta on top of it.
        let mut f = f;
        write(&mut f, "a", &[0], &nd(&[1], vec![9])).await;
        f.flush().await.unwrap();
        assert_eq!(f.num_layers(), 2, "{b:?}");
    }
}

#[tokio::test]
async fn flush_without_changes_is_a_no_op() {
    for b in BACKENDS {
        let env = Env::new(b);
        let mut f = env.create().await;
        assert_eq!(f.num_layers(), 1, "{b:?} after create");
        f.flush().await.unwrap();
        assert_eq!(f.num_layers(), 1, "{b:?} empty flush");
        define::<i32>(&mut f, "a", &[2], None, None);
        f.flush().await.unwrap();
        assert_eq!(f.num_layers(), 1, "{b:?}");
        f.flush().await.unwrap();
        f.flush().await.unwrap();
        assert_eq!(f.num_layers(), 1, "{b:?} empty flushes");
        let mut f = env.reopen(f).await;
        assert_eq!(f.num_layers(), 1, "{b:?} reopened");
        f.flush().await.unwrap();
        assert_eq!(f.num_layers(), 1, "{b:?} reopened, empty flush");
        f.compact().await.unwrap();
        assert_eq!(f.num_layers(), 1, "{b:?} compacted");
        f.flush().await.unwrap();
        assert_eq!(f.num_layers(), 1, "{b:?} compacted, empty flush");
    }
}

#[tokio::test]
async fn create_replaces_an_existing_file() {
    for b in [Backend::Store(Kind::Memory), Backend::Store(Kind::Disk)] {
        for compact in [false, true] {
            let env = Env::new(b);
            let ctx = format!("{b:?} compact={compact}");
            let mut f = env.create().await;
            define::<i32>(&mut f, "old", &[8], Some(&[4]), None);
            for v in 1..=3 {
                write(&mut f, "old", &[0], &nd(&[8], vec![v; 8])).await;
                f.flush().await.unwrap();
            }
            if compact {
                f.compact().await.unwrap();
            }
            close(f);

            let mut f = env.create().await;
            assert_eq!(f.num_layers(), 1, "{ctx}");
            assert!(f.list_arrays().is_empty(), "{ctx}: old arrays visible");
            assert!(f.array_stats("old").is_none(), "{ctx}");
            // The same name and chunk grid again: old chunks must not appear.
            define::<i32>(&mut f, "old", &[8], Some(&[4]), None);
            write(&mut f, "old", &[5], &nd(&[1], vec![42])).await;
            f.flush().await.unwrap();
            let expected = nd(&[8], vec![0, 0, 0, 0, 0, 42, 0, 0]);
            assert_eq!(read_all::<i32>(&f, "old").await, expected, "{ctx}");
            let mut f = env.reopen(f).await;
            assert_eq!(f.num_layers(), 1, "{ctx}: only the new layer");
            assert_eq!(read_all::<i32>(&f, "old").await, expected, "{ctx} reopened");
            assert_eq!(stats(&f, "old"), ints(0, 42, 4, 8), "{ctx}");
            f.compact().await.unwrap();
            let f = env.reopen(f).await;
            assert_eq!(
                read_all::<i32>(&f, "old").await,
                expected,
                "{ctx} compacted"
            );
        }
    }
}

// ── Caches ──────────────────────────────────────────────────────────

fn shared_config(cache: &Arc<DeltaCache>) -> FileConfig<Lz4Codec> {
    FileConfig {
        block_target_size: 4096,
        frame_target_size: 512,
        cache: Some(Arc::clone(cache)),
        ..FileConfig::new(Lz4Codec)
    }
}

async fn fill_x(f: &mut ArrayFile, base: i32) -> ArrayD<i32> {
    define::<i32>(f, "x", &[2000], Some(&[100]), None);
    let data = nd(&[2000], (0..2000).map(|v| base + v).collect());
    write(f, "x", &[0], &data).await;
    f.flush().await.unwrap();
    data
}

#[tokio::test]
async fn shared_cache_serves_each_memory_file_its_own_data() {
    let cache = Arc::new(DeltaCache::new(1 << 20, 1 << 20));
    let mut a = ArrayFile::create_memory(shared_config(&cache))
        .await
        .unwrap();
    let mut b = ArrayFile::create_memory(shared_config(&cache))
        .await
        .unwrap();
    let da = fill_x(&mut a, 0).await;
    let db = fill_x(&mut b, 1_000_000).await;
    for round in 0..3 {
        assert_eq!(read_all::<i32>(&a, "x").await, da, "a round {round}");
        assert_eq!(read_all::<i32>(&b, "x").await, db, "b round {round}");
        assert_eq!(
            read_region::<i32>(&b, "x", &[150], &[100]).await,
            region(&db, &[150], &[100]),
            "b region {round}"
        );
    }
}

#[tokio::test]
async fn shared_cache_serves_each_disk_file_its_own_data() {
    let disk = af_testkit::Backend::fresh(Kind::Disk);
    let store = Arc::clone(&disk.store);
    let cache = Arc::new(DeltaCache::new(1 << 20, 1 << 20));
    let pa = Path::from("a.af");
    let pb = Path::from("b.af");
    let mut a = ArrayFile::create(Arc::clone(&store), pa.clone(), shared_config(&cache))
        .await
        .unwrap();
    let mut b = ArrayFile::create(Arc::clone(&store), pb.clone(), shared_config(&cache))
        .await
        .unwrap();
    let da = fill_x(&mut a, 0).await;
    let db = fill_x(&mut b, 1_000_000).await;
    for round in 0..3 {
        assert_eq!(read_all::<i32>(&a, "x").await, da, "a round {round}");
        assert_eq!(read_all::<i32>(&b, "x").await, db, "b round {round}");
    }
    close(a);
    close(b);
    let a = ArrayFile::open(Arc::clone(&store), pa, shared_config(&cache))
        .await
        .unwrap();
    let b = ArrayFile::open(Arc::clone(&store), pb, shared_config(&cache))
        .await
        .unwrap();
    assert_eq!(read_all::<i32>(&b, "x").await, db, "b reopened");
    assert_eq!(read_all::<i32>(&a, "x").await, da, "a reopened");
}

#[tokio::test]
async fn shared_cache_never_serves_a_replaced_file() {
    let disk = af_testkit::Backend::fresh(Kind::Disk);
    let store = Arc::clone(&disk.store);
    let cache = Arc::new(DeltaCache::new(1 << 20, 1 << 20));
    let path = Path::from("a.af");
    let open = || ArrayFile::open(Arc::clone(&store), path.clone(), shared_config(&cache));

    let mut first = ArrayFile::create(Arc::clone(&store), path.clone(), shared_config(&cache))
        .await
        .unwrap();
    let old = fill_x(&mut first, 0).await;
    assert_eq!(read_all::<i32>(&first, "x").await, old);
    let reader = open().await.unwrap();
    assert_eq!(read_all::<i32>(&reader, "x").await, old, "cache warmed");
    close(reader);
    close(first);

    // Re-create the file at the same path with different content.
    let mut second = ArrayFile::create(Arc::clone(&store), path.clone(), shared_config(&cache))
        .await
        .unwrap();
    let new = fill_x(&mut second, 500_000).await;
    close(second);
    let reader = open().await.unwrap();
    assert_eq!(read_all::<i32>(&reader, "x").await, new, "re-created file");
    close(reader);

    // Compaction rewrites the base: readers opened afterwards see the merge.
    let mut writer = open().await.unwrap();
    writer.compact().await.unwrap();
    let reader = open().await.unwrap();
    assert_eq!(
        read_all::<i32>(&reader, "x").await,
        new,
        "compacted base warmed"
    );
    close(reader);
    let patch = nd(&[300], (0..300).map(|v| -v).collect());
    write(&mut writer, "x", &[50], &patch).await;
    writer.flush().await.unwrap();
    writer.compact().await.unwrap();
    let mut expected = new.clone();
    region_mut(&mut expected, &[50], &[300]).assign(&patch);
    assert_eq!(
        read_all::<i32>(&writer, "x").await,
        expected,
        "writer after compact"
    );
    close(writer);
    let reader = open().await.unwrap();
    assert_eq!(
        read_all::<i32>(&reader, "x").await,
        expected,
        "second compaction"
    );
    assert_eq!(stats(&reader, "x"), ints(-299, 501_999, 0, 2000));
}

// ── Concurrency ─────────────────────────────────────────────────────

fn assert_send_sync<T: Send + Sync>() {}

#[test]
fn array_file_is_send_and_sync() {
    assert_send_sync::<ArrayFile>();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn concurrent_reads_of_different_arrays() {
    assert_send_sync::<ArrayFile>();
    for b in [Backend::Memory, Backend::Store(Kind::Disk)] {
        let env = Env::new(b);
        let mut f = env.create().await;
        let data = |i: i32| {
            nd(
                &[1000],
                (0..1000).map(|v| i * 100_000 + v).collect::<Vec<i32>>(),
            )
        };
        for i in 0..64 {
            let name = format!("arr_{i:02}");
            define::<i32>(&mut f, &name, &[1000], Some(&[128]), None);
            write(&mut f, &name, &[0], &data(i)).await;
            // Half committed, half still pending when the reads run.
            if i == 31 {
                f.flush().await.unwrap();
            }
        }
        let f = Arc::new(f);
        let mut tasks = Vec::new();
        for i in 0..64 {
            let f = Arc::clone(&f);
            let expected = data(i);
            tasks.push(tokio::spawn(async move {
                let name = format!("arr_{i:02}");
                for _ in 0..4 {
                    let out = f.read_array::<i32>(&name, vec![], vec![]).await.unwrap();
                    assert_eq!(out, expected, "{name}");
                    let part = f
                        .read_array::<i32>(&name, vec![100 + i as usize], vec![200])
                        .await
                        .unwrap();
                    assert_eq!(
                        part,
                        region(&expected, &[100 + i as usize], &[200]),
                        "{name}"
                    );
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        // Still usable as a plain file afterwards.
        let Ok(mut f) = Arc::try_unwrap(f) else {
            panic!("a task still holds the file");
        };
        f.flush().await.unwrap();
        let f = Arc::new(env.reopen(f).await);
        let tasks: Vec<_> = (0..64)
            .map(|i| {
                let f = Arc::clone(&f);
                tokio::spawn(async move {
                    let name = format!("arr_{i:02}");
                    let out = f.read_array::<i32>(&name, vec![], vec![]).await.unwrap();
                    (i, out.into_owned())
                })
            })
            .collect();
        for t in tasks {
            let (i, out) = t.await.unwrap();
            assert_eq!(out, data(i), "{b:?} arr_{i:02} after reopen");
        }
    }
}

// ── Large writes ────────────────────────────────────────────────────

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn large_unaligned_slab_write_round_trips() {
    let env = Env::new(Backend::Store(Kind::Disk));
    let mut f = env.create_with(FileConfig::new(Lz4Codec)).await;
    // 256 x 256 x 256 f32 = 64 MiB, chunks that divide nothing evenly.
    let shape = [256usize, 256, 256];
    let chunk = [48usize, 40, 100];
    define::<f32>(
        &mut f,
        "vol",
        &shape,
        Some(&chunk),
        Some(FillValue::Float(-1.0)),
    );
    let value = |i: usize, j: usize, k: usize| ((i << 16) | (j << 8) | k) as f32;
    let expected = Array3::from_shape_fn((256, 256, 256), |(i, j, k)| value(i, j, k)).into_dyn();
    // Slabs of 37 planes along axis 0, each written in two halves along axis 1.
    let mut i0 = 0;
    while i0 < shape[0] {
        let n = 37.min(shape[0] - i0);
        for (j0, m) in [(0usize, 131usize), (131, 125)] {
            let slab = region(&expected, &[i0, j0, 0], &[n, m, 256]);
            f.write_array("vol", vec![i0, j0, 0], slab).await.unwrap();
        }
        i0 += n;
    }
    f.flush().await.unwrap();
    let f = env.reopen(f).await;
    let out = read_all::<f32>(&f, "vol").await;
    assert_eq!(out.shape(), &shape);
    assert!(out == expected, "64 MiB volume differs after reopen");
    let window = read_region::<f32>(&f, "vol", &[40, 39, 99], &[10, 3, 3]).await;
    assert_eq!(window, region(&expected, &[40, 39, 99], &[10, 3, 3]));
    assert_eq!(
        stats(&f, "vol"),
        Some(st(
            Some(StatValue::Float(0.0)),
            Some(StatValue::Float(value(255, 255, 255).into())),
            0,
            1 << 24
        ))
    );
}

// ── Codecs ──────────────────────────────────────────────────────────

struct CodecData {
    random: ArrayD<f32>,
    zeros: ArrayD<i64>,
    text: ArrayD<String>,
}

fn codec_data() -> CodecData {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(42);
    CodecData {
        random: nd(&[50, 40], (0..2000).map(|_| rng.random::<f32>()).collect()),
        zeros: ArrayD::zeros(IxDyn(&[3000])),
        text: nd(
            &[300],
            (0..300)
                .map(|i| format!("value-{i}-{}", "x".repeat(i % 17)))
                .collect(),
        ),
    }
}

async fn check_codec_data(f: &ArrayFile, d: &CodecData, ctx: &str) {
    assert_eq!(read_all::<f32>(f, "random").await, d.random, "{ctx}");
    assert_eq!(read_all::<i64>(f, "zeros").await, d.zeros, "{ctx}");
    assert_eq!(read_all::<String>(f, "text").await, d.text, "{ctx}");
}

/// Writes with codec `w`, reads with a config of codec `r`, writes more with
/// `r`, compacts, and reads again with `w`.
async fn cross_codec<W, R>(w: fn() -> W, r: fn() -> R, ctx: &str)
where
    W: CompressionCodec + 'static,
    R: CompressionCodec + 'static,
{
    let cfg_w = || FileConfig {
        block_target_size: 4096,
        frame_target_size: 512,
        ..FileConfig::new(w())
    };
    let cfg_r = || FileConfig {
        block_target_size: 4096,
        frame_target_size: 512,
        ..FileConfig::new(r())
    };
    let disk = af_testkit::Backend::fresh(Kind::Disk);
    let store = Arc::clone(&disk.store);
    let path = Path::from("t.af");
    let mut d = codec_data();
    let mut f = ArrayFile::create(Arc::clone(&store), path.clone(), cfg_w())
        .await
        .unwrap();
    define::<f32>(&mut f, "random", &[50, 40], Some(&[7, 9]), None);
    define::<i64>(
        &mut f,
        "zeros",
        &[3000],
        Some(&[256]),
        Some(FillValue::Int(1)),
    );
    define::<String>(&mut f, "text", &[300], Some(&[64]), None);
    write(&mut f, "random", &[0, 0], &d.random).await;
    write(&mut f, "zeros", &[0], &d.zeros).await;
    write(&mut f, "text", &[0], &d.text).await;
    check_codec_data(&f, &d, &format!("{ctx} pending")).await;
    f.flush().await.unwrap();
    check_codec_data(&f, &d, &format!("{ctx} flushed")).await;
    close(f);

    let mut f = ArrayFile::open(Arc::clone(&store), path.clone(), cfg_r())
        .await
        .unwrap();
    check_codec_data(&f, &d, &format!("{ctx} opened with the other codec")).await;
    // A second layer written with the other codec.
    let patch = nd(&[10, 10], vec![-3.5f32; 100]);
    write(&mut f, "random", &[20, 15], &patch).await;
    region_mut(&mut d.random, &[20, 15], &[10, 10]).assign(&patch);
    let text_patch = nd(&[2], strings(&["ü", ""]));
    write(&mut f, "text", &[63], &text_patch).await;
    region_mut(&mut d.text, &[63], &[2]).assign(&text_patch);
    f.flush().await.unwrap();
    close(f);

    let mut f = ArrayFile::open(Arc::clone(&store), path.clone(), cfg_w())
        .await
        .unwrap();
    check_codec_data(&f, &d, &format!("{ctx} mixed layers")).await;
    f.compact().await.unwrap();
    close(f);
    let f = ArrayFile::open(Arc::clone(&store), path.clone(), cfg_r())
        .await
        .unwrap();
    check_codec_data(&f, &d, &format!("{ctx} compacted")).await;
}

fn no_compression() -> NoCompression {
    NoCompression
}

fn lz4() -> Lz4Codec {
    Lz4Codec
}

fn zstd5() -> ZstdCodec {
    ZstdCodec { level: 5 }
}

#[tokio::test]
async fn every_codec_round_trips() {
    cross_codec(no_compression, no_compression, "none").await;
    cross_codec(lz4, lz4, "lz4").await;
    cross_codec(zstd5, zstd5, "zstd").await;
}

#[tokio::test]
async fn every_codec_round_trips_in_memory() {
    let d = codec_data();
    async fn one<C: CompressionCodec + 'static>(codec: C, d: &CodecData, ctx: &str) {
        let mut f = ArrayFile::create_memory(FileConfig {
            block_target_size: 4096,
            frame_target_size: 512,
            ..FileConfig::new(codec)
        })
        .await
        .unwrap();
        define::<f32>(&mut f, "random", &[50, 40], Some(&[7, 9]), None);
        define::<i64>(&mut f, "zeros", &[3000], Some(&[256]), None);
        define::<String>(&mut f, "text", &[300], Some(&[64]), None);
        write(&mut f, "random", &[0, 0], &d.random).await;
        write(&mut f, "zeros", &[0], &d.zeros).await;
        write(&mut f, "text", &[0], &d.text).await;
        f.flush().await.unwrap();
        check_codec_data(&f, d, ctx).await;
        f.compact().await.unwrap();
        check_codec_data(&f, d, ctx).await;
    }
    one(NoCompression, &d, "none").await;
    one(Lz4Codec, &d, "lz4").await;
    one(ZstdCodec { level: 5 }, &d, "zstd").await;
}

#[tokio::test]
async fn file_written_with_one_codec_opens_with_another() {
    cross_codec(no_compression, lz4, "none -> lz4").await;
    cross_codec(no_compression, zstd5, "none -> zstd").await;
    cross_codec(lz4, no_compression, "lz4 -> none").await;
    cross_codec(lz4, zstd5, "lz4 -> zstd").await;
    cross_codec(zstd5, no_compression, "zstd -> none").await;
    cross_codec(zstd5, lz4, "zstd -> lz4").await;
}

/// A codec of the user's own, implementing only what the trait requires
/// (no `compress_into`, no bound): each byte is stored complemented and
/// the frame prefixed with a marker, so that a frame it did not write fails.
struct Complement;

impl CompressionCodec for Complement {
    fn id(&self) -> array_format::CodecId {
        array_format::CodecId::Named("complement".into())
    }

    fn compress(&self, data: &[u8]) -> array_format::Result<Vec<u8>> {
        Ok(std::iter::once(0xC0)
            .chain(data.iter().map(|b| !b))
            .collect())
    }

    fn decompress(&self, data: &[u8], size: usize) -> array_format::Result<Vec<u8>> {
        match data.split_first() {
            Some((0xC0, rest)) if rest.len() == size => Ok(rest.iter().map(|b| !b).collect()),
            _ => Err(Error::Codec {
                codec: "complement".into(),
                message: "not a complement frame".into(),
            }),
        }
    }
}

#[tokio::test]
async fn a_codec_of_the_users_own_writes_and_reads_back() {
    let store = af_testkit::Backend::fresh(Kind::Memory).store;
    let path = Path::from("own.af");
    let data = Array2::from_shape_fn((300, 200), |(r, c)| (r * 1000 + c) as i32).into_dyn();
    {
        let mut f = ArrayFile::create(store.clone(), path.clone(), FileConfig::new(Complement))
            .await
            .unwrap();
        f.define_array::<i32>("a", vec![], vec![300, 200], Some(vec![64, 64]), None)
            .unwrap();
        f.write_array("a", vec![0, 0], data.view()).await.unwrap();
        f.flush().await.unwrap();
        assert_eq!(f.codecs(), vec!["complement".to_string()]);
    }
    let f = ArrayFile::open(store.clone(), path.clone(), FileConfig::new(Complement))
        .await
        .unwrap();
    let got = f.read_array::<i32>("a", vec![], vec![]).await.unwrap();
    assert_eq!(got, data.clone().into_shared());
    let window = f
        .read_array::<i32>("a", vec![50, 30], vec![100, 100])
        .await
        .unwrap();
    assert_eq!(
        window,
        data.slice(s![50..150, 30..130])
            .to_owned()
            .into_dyn()
            .into_shared()
    );
    // A handle that does not know the codec names it.
    let other = ArrayFile::open(store, path, FileConfig::new(Lz4Codec))
        .await
        .unwrap();
    match other.read_array::<i32>("a", vec![], vec![]).await {
        Err(Error::UnknownCodec { name, .. }) => assert_eq!(name, "complement"),
        r => panic!("expected UnknownCodec, got {r:?}"),
    }
}
