//! Corrupted files on every backend: every damaged byte or truncation gives
//! a typed error (`Corrupted`, naming the damaged object) or exactly the
//! right data — never a panic, a hang or wrong data — and `verify()` names
//! the damaged frame.
//!
//! `corruption` (run on every store of `af_testkit::Backend` by
//! `conformance::corruption`) builds a real file in the backend's store:
//! seven layers written with all three built-in codecs
//! (`none`, `lz4`, `zstd`, one per handle, small frame and block targets so
//! every layer has several frames and blocks), a compaction in the middle
//! (so the final file is the base, a snapshot holding frames of three codecs
//! and three deltas above it), fourteen dtypes' worth of arrays (every
//! dtype, `String` and `bool` included, a 0-d array, fill values, partial
//! and overlapping writes, a deletion, a redefinition with another dtype)
//! and attributes of many types, set, replaced and removed, and a last
//! delta that adopts two staged parts (written by two handles, with lz4
//! and none), whose frames are read from the parts. It records the
//! expected state (metadata, attributes, statistics and full contents of
//! every array) by reopening the intact file.
//!
//! Then, for every object of the file (layers and parts) and each of its regions — data
//! region (frames), footer, trailer — it XORs one byte at a sample of
//! positions (about 40 per region, deterministic, including the first and
//! last byte of each region), and it truncates the object to a sample of
//! lengths (0, 1, 31, 32, 33, each region boundary ±1, and random ones).
//! Each mutation is applied to its object through the store (a GET and a
//! PUT, `af_testkit::damage`) and undone after its case; on a remote store
//! an evenly spread sample of the mutations runs (`AF_TEST_REMOTE_SHARE`).
//! The file is opened through a new client of the store (local disk, given
//! as a `LocalFileSystem`, reads its layers with `pread` as `open_path`
//! does), every array is read in full with its element type, every
//! attribute and statistic is read, and `verify()` runs.
//! Every call must return an `Err` or exactly the expected data, and the
//! first error of a case must be `Corrupted` naming the damaged object. Each case
//! runs on its own thread, so a panic (caught with `catch_unwind`) or a hang
//! (the thread does not answer within `CASE_TIMEOUT`, whether it is stuck
//! in a future or in a loop) fails the test with the case's description.
//!
//! Also: a flipped byte in the data region must make `verify()` report the
//! frame holding it (`Damage` with that object and a range covering the
//! byte); and no mutation may go unnoticed (every one gives an error or a
//! damage report). The reference writer leaves no bytes between frames, so
//! every data-region byte is covered by a frame checksum.
//!
//! With `--nocapture` it prints per-object figures and
//! `corruption: N mutations tried (F flips, T truncations), E errors, C correct reads, 0 wrong, 0 panics; verify flagged X of Y frame flips`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use crate::common::Rng;
use af_testkit::{Backend, damage, restore};
use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use std::collections::BTreeMap;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use array_format::{
    ArrayElement, ArrayFile, AttributeValue, CompressionCodec, DType, Error, FileConfig, FillValue,
    Lz4Codec, MergedArrayMeta, NoCompression, TimestampNs, VerifyReport, ZstdCodec,
};
use ndarray::{ArrayD, IxDyn};

/// Name of the file's base object.
const BASE: &str = "c.af";

/// Byte flips per region of each object (first and last byte included);
/// `AF_CORRUPTION_FLIPS` overrides it (a large value flips every byte).
const FLIPS_PER_REGION: usize = 40;

/// Random truncation lengths per object, on top of the fixed ones.
const RANDOM_TRUNCATIONS: usize = 6;

/// A case taking longer than this is a hang.
const CASE_TIMEOUT: Duration = Duration::from_secs(30);

const TRAILER_LEN: usize = 32;

// ── Deterministic data ──────────────────────────────────────────────

fn values<T>(seed: u64, n: usize, f: impl Fn(u64) -> T) -> Vec<T> {
    let mut rng = Rng::new(seed);
    (0..n).map(|_| f(rng.next())).collect()
}

fn arr<T: Clone>(v: Vec<T>, shape: &[usize]) -> ArrayD<T> {
    ArrayD::from_shape_vec(IxDyn(shape), v).unwrap()
}

fn word(x: u64) -> String {
    const WORDS: [&str; 6] = ["", "a", "wörld", "ünïcödé ✓", "longer text here", "z"];
    format!("{}{}", WORDS[(x % 6) as usize], x % 97)
}

fn cfg<C: CompressionCodec>(codec: C) -> FileConfig<C> {
    FileConfig {
        block_target_size: 1024,
        frame_target_size: 256,
        durable: false,
        // Replaced layers are deleted at once: the harshest case for the
        // protocol (a reader or a stale writer finds its layers gone).
        retention: Duration::ZERO,
        ..FileConfig::new(codec)
    }
}

// ── Building the file ───────────────────────────────────────────────

async fn write<T: ArrayElement>(f: &mut ArrayFile, name: &str, start: &[usize], data: ArrayD<T>) {
    f.write_array(name, start.to_vec(), data.view())
        .await
        .unwrap();
}

/// Opens the file in `store` with `codec`.
async fn open<C: CompressionCodec + 'static>(
    store: &Arc<dyn ObjectStore>,
    codec: C,
) -> Result<ArrayFile, Error> {
    ArrayFile::open(Arc::clone(store), Path::from(BASE), cfg(codec)).await
}

/// Builds the file in `store`; returns the state the writing handle sees
/// at the end.
async fn build(store: &Arc<dyn ObjectStore>) -> State {
    ArrayFile::create(Arc::clone(store), Path::from(BASE), cfg(NoCompression))
        .await
        .unwrap();

    // Layer 1 (none): every dtype, partial writes, attributes.
    let mut f = open(store, NoCompression).await.unwrap();
    let dims = |names: &[&str]| names.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    f.define_array::<f32>(
        "temp",
        dims(&["y", "x"]),
        vec![24, 20],
        Some(vec![8, 8]),
        Some(FillValue::Float(-999.0)),
    )
    .unwrap();
    f.define_array::<i64>("count", dims(&["i"]), vec![64], Some(vec![16]), None)
        .unwrap();
    f.define_array::<bool>("flag", dims(&["i"]), vec![30], Some(vec![7]), None)
        .unwrap();
    f.define_array::<String>(
        "label",
        dims(&["i"]),
        vec![18],
        Some(vec![5]),
        Some(FillValue::String("?".into())),
    )
    .unwrap();
    f.define_array::<Vec<u8>>("blob", vec![], vec![10], Some(vec![4]), None)
        .unwrap();
    f.define_array::<u8>(
        "cube",
        dims(&["a", "b", "c"]),
        vec![4, 5, 6],
        Some(vec![2, 3, 4]),
        Some(FillValue::UInt(7)),
    )
    .unwrap();
    f.define_array::<TimestampNs>("when", vec![], vec![9], Some(vec![4]), None)
        .unwrap();
    f.define_array::<u16>("scalar", vec![], vec![], None, None)
        .unwrap();
    f.define_array::<i16>(
        "small",
        vec![],
        vec![5],
        Some(vec![2]),
        Some(FillValue::Int(-1)),
    )
    .unwrap();
    f.define_array::<u32>("u32s", vec![], vec![40], Some(vec![10]), None)
        .unwrap();
    f.define_array::<f64>("f64s", vec![], vec![12], Some(vec![5]), None)
        .unwrap();
    f.define_array::<i8>("i8s", vec![], vec![6], None, None)
        .unwrap();
    f.define_array::<u64>("u64s", vec![], vec![8], Some(vec![3]), None)
        .unwrap();
    f.define_array::<i32>(
        "i32s",
        vec![],
        vec![16],
        Some(vec![4]),
        Some(FillValue::Int(0)),
    )
    .unwrap();
    write(
        &mut f,
        "temp",
        &[0, 0],
        arr(values(1, 16 * 20, |x| (x % 1000) as f32 / 8.0), &[16, 20]),
    )
    .await;
    write(
        &mut f,
        "count",
        &[0],
        arr(values(2, 40, |x| x as i64), &[40]),
    )
    .await;
    write(
        &mut f,
        "flag",
        &[3],
        arr(values(3, 20, |x| x % 3 == 0), &[20]),
    )
    .await;
    write(&mut f, "label", &[0], arr(values(4, 12, word), &[12])).await;
    write(
        &mut f,
        "blob",
        &[1],
        arr(values(5, 6, |x| vec![x as u8; (x % 9) as usize]), &[6]),
    )
    .await;
    write(
        &mut f,
        "cube",
        &[0, 0, 0],
        arr(values(6, 3 * 5 * 6, |x| x as u8), &[3, 5, 6]),
    )
    .await;
    write(
        &mut f,
        "when",
        &[0],
        arr(values(7, 9, |x| TimestampNs(x as i64 >> 3)), &[9]),
    )
    .await;
    write(&mut f, "scalar", &[], arr(vec![4242u16], &[])).await;
    write(&mut f, "small", &[1], arr(vec![3i16, -4, 5], &[3])).await;
    write(
        &mut f,
        "u32s",
        &[5],
        arr(values(8, 30, |x| x as u32), &[30]),
    )
    .await;
    write(
        &mut f,
        "f64s",
        &[0],
        arr(values(9, 12, |x| f64::from_bits(x >> 2)), &[12]),
    )
    .await;
    write(
        &mut f,
        "i8s",
        &[0],
        arr(vec![-128i8, -1, 0, 1, 2, 127], &[6]),
    )
    .await;
    write(&mut f, "u64s", &[0], arr(values(10, 8, |x| x), &[8])).await;
    write(
        &mut f,
        "i32s",
        &[2],
        arr(values(11, 10, |x| x as i32), &[10]),
    )
    .await;
    f.set_attribute("temp", "units", "K".into()).unwrap();
    f.set_attribute("temp", "scale", AttributeValue::Float64(0.125))
        .unwrap();
    f.set_attribute("count", "ids", AttributeValue::Int32List(vec![1, -2, 3]))
        .unwrap();
    f.set_attribute("flag", "ok", AttributeValue::Bool(true))
        .unwrap();
    f.set_attribute(
        "label",
        "names",
        AttributeValue::StringList(vec!["α".into(), String::new()]),
    )
    .unwrap();
    f.set_attribute("blob", "raw", AttributeValue::Binary(vec![0, 1, 255]))
        .unwrap();
    f.set_attribute("cube", "w", AttributeValue::UInt64List(vec![u64::MAX, 0]))
        .unwrap();
    f.flush().await.unwrap();
    drop(f);

    // Layer 2 (lz4): overwrites, more data, attribute changes, a new array.
    let mut f = open(store, Lz4Codec).await.unwrap();
    write(
        &mut f,
        "temp",
        &[10, 4],
        arr(values(12, 14 * 16, |x| (x % 77) as f32), &[14, 16]),
    )
    .await;
    write(
        &mut f,
        "count",
        &[30],
        arr(values(13, 34, |x| -(x as i64 >> 1)), &[34]),
    )
    .await;
    write(&mut f, "label", &[10], arr(values(14, 8, word), &[8])).await;
    write(
        &mut f,
        "blob",
        &[6],
        arr(values(15, 4, |x| vec![x as u8; (x % 5) as usize]), &[4]),
    )
    .await;
    f.define_array::<f32>("late", vec![], vec![33], Some(vec![11]), None)
        .unwrap();
    write(
        &mut f,
        "late",
        &[0],
        arr(values(16, 33, |x| x as f32), &[33]),
    )
    .await;
    f.set_attribute("temp", "units", "degC".into()).unwrap();
    f.remove_attribute("temp", "scale").unwrap();
    f.set_attribute("late", "n", AttributeValue::Int8(-3))
        .unwrap();
    f.flush().await.unwrap();
    drop(f);

    // Layer 3 (zstd): a deletion, a redefinition with another dtype, a chunk
    // written twice before the commit; then layer 4, a snapshot.
    let mut f = open(store, ZstdCodec::new(3)).await.unwrap();
    f.delete("i8s").unwrap();
    f.delete("u64s").unwrap();
    f.define_array::<String>("u64s", vec![], vec![7], Some(vec![2]), None)
        .unwrap();
    write(&mut f, "u64s", &[0], arr(values(17, 7, word), &[7])).await;
    write(
        &mut f,
        "flag",
        &[0],
        arr(values(18, 14, |x| x % 2 == 0), &[14]),
    )
    .await;
    write(
        &mut f,
        "flag",
        &[0],
        arr(values(19, 7, |x| x % 5 == 0), &[7]),
    )
    .await;
    f.set_attribute("flag", "ok", AttributeValue::Bool(false))
        .unwrap();
    f.compact().await.unwrap();
    assert_eq!(f.num_layers(), 1);
    drop(f);

    // Layer 5 (lz4): overwrite chunks the snapshot holds.
    let mut f = open(store, Lz4Codec).await.unwrap();
    write(
        &mut f,
        "temp",
        &[0, 0],
        arr(values(20, 8 * 16, |x| (x % 5) as f32), &[8, 16]),
    )
    .await;
    write(
        &mut f,
        "cube",
        &[2, 0, 0],
        arr(values(21, 2 * 5 * 6, |x| (x >> 7) as u8), &[2, 5, 6]),
    )
    .await;
    write(
        &mut f,
        "when",
        &[4],
        arr(values(22, 4, |x| TimestampNs(-(x as i64 >> 2))), &[4]),
    )
    .await;
    f.set_attribute("when", "tz", "UTC".into()).unwrap();
    f.flush().await.unwrap();
    drop(f);

    // Layer 6 (none): delete one array, define another, more writes.
    let mut f = open(store, NoCompression).await.unwrap();
    f.delete("f64s").unwrap();
    f.define_array::<bool>(
        "tail",
        vec![],
        vec![13],
        Some(vec![4]),
        Some(FillValue::Bool(true)),
    )
    .unwrap();
    write(
        &mut f,
        "tail",
        &[2],
        arr(values(23, 9, |x| x % 4 == 1), &[9]),
    )
    .await;
    write(&mut f, "label", &[2], arr(values(24, 5, word), &[5])).await;
    write(&mut f, "scalar", &[], arr(vec![7u16], &[])).await;
    f.set_attribute("tail", "f", AttributeValue::Float32List(vec![1.5, -0.0]))
        .unwrap();
    f.flush().await.unwrap();
    drop(f);

    // Layer 7 (zstd): overwrite some of layer 6 and older data.
    let mut f = open(store, ZstdCodec::new(5)).await.unwrap();
    write(
        &mut f,
        "tail",
        &[0],
        arr(values(25, 4, |x| x % 2 == 1), &[4]),
    )
    .await;
    write(
        &mut f,
        "count",
        &[60],
        arr(values(26, 4, |x| x as i64), &[4]),
    )
    .await;
    write(
        &mut f,
        "u32s",
        &[0],
        arr(values(27, 12, |x| (x >> 40) as u32), &[12]),
    )
    .await;
    f.set_attribute("count", "ids", AttributeValue::Int32List(vec![9]))
        .unwrap();
    f.remove_attribute("cube", "w").unwrap();
    f.flush().await.unwrap();
    assert_eq!(f.num_layers(), 4);

    // Layer 8: two handles (lz4, none) stage chunk writes, one layer
    // adopts both parts.
    let mut a = open(store, Lz4Codec).await.unwrap();
    write(
        &mut a,
        "count",
        &[16],
        arr(values(28, 32, |x| (x >> 3) as i64), &[32]),
    )
    .await;
    write(&mut a, "label", &[0], arr(values(29, 2, word), &[2])).await;
    let mut b = open(store, NoCompression).await.unwrap();
    write(
        &mut b,
        "temp",
        &[16, 8],
        arr(values(30, 64, |x| (x % 1000) as f32 / 8.0), &[8, 8]),
    )
    .await;
    write(
        &mut b,
        "u32s",
        &[20],
        arr(values(31, 10, |x| (x >> 33) as u32), &[10]),
    )
    .await;
    let parts = [a.stage().await.unwrap(), b.stage().await.unwrap()];
    f.commit_parts(&parts).await.unwrap();
    assert_eq!(f.num_layers(), 5);
    capture(&f).await.unwrap()
}

// ── Observable state ────────────────────────────────────────────────

include!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../fuzz/canon.rs"));

async fn read_as<T: ArrayElement + Canon>(f: &ArrayFile, name: &str) -> Result<Vec<u8>, Error> {
    let a = f.read_array::<T>(name, vec![], vec![]).await?;
    let mut out = Vec::new();
    for v in a.iter() {
        v.canon(&mut out);
    }
    Ok(out)
}

/// Reads a whole array with the element type its dtype names.
async fn read_whole(f: &ArrayFile, name: &str, dtype: DType) -> Result<Vec<u8>, Error> {
    match dtype {
        DType::Bool => read_as::<bool>(f, name).await,
        DType::Int8 => read_as::<i8>(f, name).await,
        DType::Int16 => read_as::<i16>(f, name).await,
        DType::Int32 => read_as::<i32>(f, name).await,
        DType::Int64 => read_as::<i64>(f, name).await,
        DType::UInt8 => read_as::<u8>(f, name).await,
        DType::UInt16 => read_as::<u16>(f, name).await,
        DType::UInt32 => read_as::<u32>(f, name).await,
        DType::UInt64 => read_as::<u64>(f, name).await,
        DType::Float32 => read_as::<f32>(f, name).await,
        DType::Float64 => read_as::<f64>(f, name).await,
        DType::String => read_as::<String>(f, name).await,
        DType::Binary => read_as::<Vec<u8>>(f, name).await,
        DType::TimestampNs => read_as::<TimestampNs>(f, name).await,
        DType::Float16 => read_as::<array_format::half::f16>(f, name).await,
        DType::BFloat16 => read_as::<array_format::half::bf16>(f, name).await,
        DType::Complex64 => read_as::<array_format::num_complex::Complex<f32>>(f, name).await,
        DType::Complex128 => read_as::<array_format::num_complex::Complex<f64>>(f, name).await,
    }
}

/// One array as the public API shows it (`Debug` renderings for metadata,
/// attributes and statistics; canonical bytes for the data).
#[derive(Debug, Clone, PartialEq)]
struct ArrayState {
    name: String,
    dtype: DType,
    meta: String,
    attrs: String,
    stats: String,
    data: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq)]
struct State {
    list: String,
    arrays: Vec<ArrayState>,
}

fn meta_string(m: &MergedArrayMeta) -> String {
    format!("{m:?}")
}

async fn capture(f: &ArrayFile) -> Result<State, Error> {
    let listed = f.list_arrays();
    let mut arrays = Vec::new();
    for m in &listed {
        arrays.push(ArrayState {
            name: m.name.clone(),
            dtype: m.dtype,
            meta: meta_string(m),
            attrs: format!("{:?}", f.attributes(&m.name)?),
            stats: format!("{:?}", f.array_stats(&m.name)),
            data: read_whole(f, &m.name, m.dtype).await?,
        });
    }
    Ok(State {
        list: format!("{listed:?}"),
        arrays,
    })
}

// ── Mutations ───────────────────────────────────────────────────────

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Region {
    Data,
    Footer,
    Trailer,
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Region::Data => "data",
            Region::Footer => "footer",
            Region::Trailer => "trailer",
        })
    }
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip {
        object: String,
        region: Region,
        pos: usize,
        xor: u8,
    },
    Truncate {
        object: String,
        len: usize,
        size: usize,
    },
}

impl Mutation {
    fn object(&self) -> &str {
        match self {
            Mutation::Flip { object, .. } | Mutation::Truncate { object, .. } => object,
        }
    }
}

impl fmt::Display for Mutation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mutation::Flip {
                object,
                region,
                pos,
                xor,
            } => write!(f, "{object}: byte {pos} ({region}) ^= {xor:#04x}"),
            Mutation::Truncate { object, len, size } => {
                write!(f, "{object}: truncated to {len} of {size} bytes")
            }
        }
    }
}

/// `(data_end, footer_end)` of an intact layer object.
fn regions(bytes: &[u8]) -> (usize, usize) {
    let footer_end = bytes.len() - TRAILER_LEN;
    let footer_len = u64::from_le_bytes(bytes[footer_end..footer_end + 8].try_into().unwrap());
    (footer_end - footer_len as usize, footer_end)
}

fn flips_per_region() -> usize {
    std::env::var("AF_CORRUPTION_FLIPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(FLIPS_PER_REGION)
        .max(2)
}

fn sample_positions(rng: &mut Rng, range: std::ops::Range<usize>) -> Vec<usize> {
    let per_region = flips_per_region();
    if range.len() <= per_region {
        return range.collect();
    }
    let mut out = vec![range.start, range.end - 1];
    while out.len() < per_region {
        let p = range.start + rng.below(range.len());
        if !out.contains(&p) {
            out.push(p);
        }
    }
    out.sort_unstable();
    out
}

fn mutations(objects: &BTreeMap<String, Vec<u8>>) -> Vec<Mutation> {
    let mut rng = Rng::new(0xc0ff_ee00);
    let mut out = Vec::new();
    for (name, bytes) in objects {
        let size = bytes.len();
        let (data_end, footer_end) = regions(bytes);
        for (region, range) in [
            (Region::Data, 0..data_end),
            (Region::Footer, data_end..footer_end),
            (Region::Trailer, footer_end..size),
        ] {
            for pos in sample_positions(&mut rng, range) {
                // Alternate single-bit flips and random byte changes.
                let xor = if out.len() % 2 == 0 {
                    1u8 << rng.below(8)
                } else {
                    (rng.below(255) + 1) as u8
                };
                out.push(Mutation::Flip {
                    object: name.clone(),
                    region,
                    pos,
                    xor,
                });
            }
        }
        let mut lens = vec![0, 1, 31, 32, 33, size - 1];
        for b in [data_end, footer_end] {
            lens.extend([b.saturating_sub(1), b, b + 1]);
        }
        for _ in 0..RANDOM_TRUNCATIONS {
            lens.push(rng.below(size));
        }
        lens.retain(|&l| l < size);
        lens.sort_unstable();
        lens.dedup();
        for len in lens {
            out.push(Mutation::Truncate {
                object: name.clone(),
                len,
                size,
            });
        }
    }
    out
}

// ── Running one case ────────────────────────────────────────────────

/// What one mutated file did.
#[derive(Debug, Default)]
struct Outcome {
    /// Calls that returned an error: `(call, error)`.
    errors: Vec<(String, Error)>,
    /// Calls that returned wrong data.
    wrong: Vec<String>,
    /// The verify report, if verify ran and returned `Ok`.
    report: Option<VerifyReport>,
}

/// Why `e` is not the error damage to `object` must give, a
/// `Corrupted` naming that object (`None`: it is).
fn not_corrupted(e: &Error, object: &str) -> Option<String> {
    match e {
        Error::Corrupted { path, .. }
            if path == object || path.ends_with(&format!("/{object}")) =>
        {
            None
        }
        other => Some(format!("{other:?}, not Corrupted naming {object}")),
    }
}

fn variant(e: &Error) -> String {
    let s = format!("{e:?}");
    s.split(|c: char| !c.is_alphanumeric())
        .next()
        .unwrap_or("?")
        .to_owned()
}

async fn check(store: Arc<dyn ObjectStore>, expected: Arc<State>) -> Outcome {
    let mut out = Outcome::default();
    let file = match open(&store, Lz4Codec).await {
        Ok(f) => f,
        Err(e) => {
            out.errors.push(("open".into(), e));
            return out;
        }
    };
    let listed = file.list_arrays();
    if format!("{listed:?}") != expected.list {
        out.wrong.push(format!("list_arrays: {listed:?}"));
    }
    for exp in &expected.arrays {
        let name = &exp.name;
        match file.get_array(name) {
            Ok(m) if meta_string(m) == exp.meta => {}
            Ok(m) => out.wrong.push(format!("get_array({name}): {m:?}")),
            Err(e) => out.errors.push((format!("get_array({name})"), e)),
        }
        match file.attributes(name) {
            Ok(a) if format!("{a:?}") == exp.attrs => {}
            Ok(a) => out.wrong.push(format!("attributes({name}): {a:?}")),
            Err(e) => out.errors.push((format!("attributes({name})"), e)),
        }
        let stats = format!("{:?}", file.array_stats(name));
        if stats != exp.stats {
            out.wrong.push(format!("array_stats({name}): {stats}"));
        }
        match read_whole(&file, name, exp.dtype).await {
            Ok(d) if d == exp.data => {}
            Ok(_) => out
                .wrong
                .push(format!("read_array({name}): different data")),
            Err(e) => out.errors.push((format!("read_array({name})"), e)),
        }
    }
    match file.verify().await {
        Ok(r) => out.report = Some(r),
        Err(e) => out.errors.push(("verify".into(), e)),
    }
    out
}

/// Applies `m` to its object in `store` (a GET and a PUT, so that it
/// works on every store); returns the original bytes, for [`restore`].
async fn apply(store: &Arc<dyn ObjectStore>, m: &Mutation) -> bytes::Bytes {
    damage(store.as_ref(), &Path::from(m.object()), |bytes| match m {
        Mutation::Flip { pos, xor, .. } => bytes[*pos] ^= xor,
        Mutation::Truncate { len, .. } => bytes.truncate(*len),
    })
    .await
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "<non-string panic payload>".to_owned()
    }
}

/// Runs one case on its own thread with its own runtime (and its own
/// client of the store, `client()`, so that no connection outlives the
/// runtime it was made on); `Err` describes a panic or a hang.
fn run_case(
    client: impl FnOnce() -> Arc<dyn ObjectStore> + Send + 'static,
    expected: Arc<State>,
) -> Result<Outcome, String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let result = catch_unwind(AssertUnwindSafe(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(check(client(), expected))
        }));
        let _ = tx.send(result.map_err(|p| panic_message(p.as_ref())));
    });
    match rx.recv_timeout(CASE_TIMEOUT) {
        Ok(Ok(outcome)) => Ok(outcome),
        Ok(Err(panic)) => Err(format!("panicked: {panic}")),
        Err(mpsc::RecvTimeoutError::Timeout) => {
            Err(format!("hung: no answer within {CASE_TIMEOUT:?}"))
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => Err("the case's thread died".into()),
    }
}

// ── The test ────────────────────────────────────────────────────────

#[derive(Default)]
struct Tally {
    tried: u64,
    errors: u64,
    correct: u64,
}

/// Every object of the file in `store`, by name, with its bytes.
async fn objects(store: &Arc<dyn ObjectStore>) -> BTreeMap<String, Vec<u8>> {
    let metas: Vec<_> = store.list(None).try_collect().await.unwrap();
    let mut out = BTreeMap::new();
    for m in metas {
        let bytes = store.get(&m.location).await.unwrap().bytes().await.unwrap();
        out.insert(m.location.to_string(), bytes.to_vec());
    }
    out
}

/// The corruption test on `backend` (run by `conformance::corruption`):
/// every mutation, or on a remote backend an evenly spread sample of them
/// ([`Backend::sample`]), each applied to the object through the store and
/// undone after its case.
pub(crate) async fn corruption(backend: &Backend) {
    let started = Instant::now();
    let store = &backend.store;
    let written = build(store).await;
    let expected = async {
        let f = open(store, Lz4Codec).await?;
        let report = f.verify().await?;
        assert!(report.is_ok(), "the intact file verifies: {report:?}");
        capture(&f).await
    }
    .await
    .unwrap();
    assert_eq!(written, expected, "the reopened file reads as written");
    assert!(expected.arrays.len() >= 14);
    let expected = Arc::new(expected);

    let objects = objects(store).await;
    let names: Vec<&String> = objects.keys().collect();
    assert_eq!(names.len(), 8, "{names:?}");
    assert_eq!(
        names[..6],
        ["c.4.af", "c.5.af", "c.6.af", "c.7.af", "c.8.af", "c.af"],
        "base, snapshot 4, deltas 5..7 and 8 (adopting two parts)"
    );
    assert!(
        names[6..].iter().all(|n| n.starts_with("c.parts/")),
        "{names:?}"
    );

    let all = mutations(&objects);
    let cases: Vec<&Mutation> = backend
        .sample(all.len())
        .into_iter()
        .map(|i| &all[i])
        .collect();
    let mut failures: Vec<String> = Vec::new();
    let mut flips = 0u64;
    let mut truncations = 0u64;
    let mut total = Tally::default();
    let mut by_part: BTreeMap<(String, String), Tally> = BTreeMap::new();
    let mut error_kinds: BTreeMap<String, u64> = BTreeMap::new();
    let mut open_errors = 0u64;
    let (mut frame_flips, mut frame_flagged) = (0u64, 0u64);
    let mut undetected = 0u64;
    for &m in &cases {
        let original = apply(store, m).await;
        let part = match m {
            Mutation::Flip { region, .. } => {
                flips += 1;
                format!("{region} flips")
            }
            Mutation::Truncate { .. } => {
                truncations += 1;
                "truncations".to_owned()
            }
        };
        let tally = by_part.entry((m.object().to_owned(), part)).or_default();
        tally.tried += 1;
        total.tried += 1;
        let client = backend.connector();
        let outcome = tokio::task::block_in_place(|| run_case(client, expected.clone()));
        restore(store.as_ref(), &Path::from(m.object()), original).await;
        let outcome = match outcome {
            Ok(o) => o,
            Err(e) => {
                failures.push(format!("{m}: {e}"));
                continue;
            }
        };
        for w in &outcome.wrong {
            failures.push(format!("{m}: WRONG DATA from {w}"));
        }
        if let Some((call, e)) = outcome.errors.first() {
            if let Some(wrong) = not_corrupted(e, m.object()) {
                failures.push(format!("{m}: {call} failed with {wrong}"));
            }
            *error_kinds.entry(variant(e)).or_default() += 1;
            open_errors += u64::from(call == "open");
            tally.errors += 1;
            total.errors += 1;
        } else if outcome.wrong.is_empty() {
            tally.correct += 1;
            total.correct += 1;
        }
        let damaged = outcome.report.as_ref().is_some_and(|r| !r.is_ok());
        if outcome.errors.is_empty() && !damaged {
            undetected += 1;
            failures.push(format!("{m}: went unnoticed (no error, verify clean)"));
        }
        if let Mutation::Flip {
            object,
            region: Region::Data,
            pos,
            ..
        } = m
        {
            frame_flips += 1;
            let flagged = outcome.report.as_ref().is_some_and(|r| {
                r.damaged.iter().any(|d| {
                    (d.path == *object || d.path.rsplit('/').next() == Some(object.as_str()))
                        && d.frame.is_some()
                        && d.offset <= *pos as u64
                        && (*pos as u64) < d.offset + d.len
                })
            });
            if flagged {
                frame_flagged += 1;
            } else {
                failures.push(format!(
                    "{m}: verify did not report the frame holding the byte (errors: {:?}, report: {:?})",
                    outcome.errors.iter().map(|(c, e)| format!("{c}: {e}")).collect::<Vec<_>>(),
                    outcome.report
                ));
            }
        }
    }

    println!("corruption cases by object and kind (tried: errors / correct reads):");
    for ((object, part), t) in &by_part {
        println!(
            "  {object:8} {part:15} {:4}: {:4} / {:4}",
            t.tried, t.errors, t.correct
        );
    }
    println!(
        "erroring cases: {open_errors} failed to open, {} opened and then failed reads; first error by variant: {error_kinds:?}",
        total.errors - open_errors
    );
    let wrong = failures.iter().filter(|f| f.contains("WRONG DATA")).count();
    let panics = failures
        .iter()
        .filter(|f| f.contains("panicked") || f.contains("hung") || f.contains("died"))
        .count();
    println!(
        "corruption on {backend:?}: {} of {} mutations tried ({flips} flips, {truncations} truncations), {} errors, {} correct reads, {wrong} wrong, {panics} panics; verify flagged {frame_flagged} of {frame_flips} frame flips ({undetected} unnoticed, {:.1} s)",
        total.tried,
        all.len(),
        total.errors,
        total.correct,
        started.elapsed().as_secs_f64()
    );
    assert!(
        failures.is_empty(),
        "{} of {} corruption cases failed on {backend:?}:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
