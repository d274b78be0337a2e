// The three fuzz targets' logic, shared by the cargo-fuzz targets
// (`fuzz/fuzz_targets/*.rs`) and the stable in-process driver
// (`crates/array-format/tests/it/fuzz_driver.rs`): both `include!` this file, so
// it holds only items (no inner attributes or `//!` docs).
//
// Every target treats its input as untrusted layer bytes, opens the file
// through the public API, lists every array, reads each one (dispatching on
// its dtype), reads attributes and statistics and runs `verify()`. Errors are
// expected and ignored; a panic, an abort, a hang or an allocation far beyond
// the input's size is a finding.
//
// * `open_read`: the input is the base object `f.af` of a one-layer file.
// * `open_layers`: the input holds one or two layers (`f.1.af`, `f.2.af`)
//   above the fixed, valid base `base_layer.bin` (written by
//   `ArrayFile::create`), see `split_layers`. When the file opens, it is
//   also compacted and the compacted file must read back exactly as before.
// * `footer_decode`: the input is a footer (optionally preceded by a data
//   region, see `wrap_footer`) that is given a correct trailer, so the
//   footer checksum passes and the footer decoder itself is exercised.

use std::sync::Arc;

use array_format::{ArrayElement, ArrayFile, DType, FileConfig, Lz4Codec, MergedArrayMeta};
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

/// The valid base layer (`f.af`) below the fuzzed layers of `open_layers`
/// and `footer_decode`. Written once by `ArrayFile::create`; the seed layers
/// under `fuzz/corpus/` carry its dataset and layer ids, so they chain onto
/// it. Regenerate both together (see `fuzz/README.md`).
pub const BASE_LAYER: &[u8] = include_bytes!("base_layer.bin");

/// Arrays with more elements than this are read only partly (their first
/// chunk, if that is small enough): a valid 100-byte footer may declare an
/// array of 2^60 elements, and reading all of it is the caller's mistake,
/// not the library's.
pub const MAX_READ_ELEMENTS: u64 = 1 << 16;

/// Length of the trailer at the end of every layer object.
pub const TRAILER_LEN: usize = 32;

// Built without timers, like the runtimes in the crate's own examples: if
// library code needs a timer on some path, the target panics there, and that
// is a finding.
thread_local! {
    static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a current-thread tokio runtime");
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    RUNTIME.with(|rt| rt.block_on(f))
}

fn config() -> FileConfig<Lz4Codec> {
    FileConfig {
        cache_capacity: 1 << 20,
        io_cache_capacity: 1 << 20,
        ..FileConfig::new(Lz4Codec)
    }
}

async fn store_with(objects: &[(String, &[u8])]) -> Arc<dyn ObjectStore> {
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    for (name, bytes) in objects {
        store
            .put(&Path::from(name.as_str()), PutPayload::from(bytes.to_vec()))
            .await
            .expect("put into an in-memory store");
    }
    store
}

// ── targets ─────────────────────────────────────────────────────────

/// `open_read`: the input is the whole base object `f.af`. Returns whether
/// the file opened and every array and attribute read back.
pub fn open_read(data: &[u8]) -> bool {
    block_on(async {
        let store = store_with(&[("f.af".to_owned(), data)]).await;
        exercise(store, false).await
    })
}

/// `open_layers`: the valid base plus one or two fuzzed layers. Returns
/// whether the file opened and every array and attribute read back.
pub fn open_layers(data: &[u8]) -> bool {
    let (layers, fix) = split_layers(data);
    let mut objects: Vec<(String, Vec<u8>)> = vec![("f.af".to_owned(), BASE_LAYER.to_vec())];
    for (i, layer) in layers.iter().enumerate() {
        let mut layer = layer.to_vec();
        if fix {
            fix_checksums(&mut layer);
        }
        objects.push((format!("f.{}.af", i + 1), layer));
    }
    block_on(async {
        let refs: Vec<(String, &[u8])> = objects
            .iter()
            .map(|(n, b)| (n.clone(), b.as_slice()))
            .collect();
        let store = store_with(&refs).await;
        exercise(store, true).await
    })
}

/// `footer_decode`: the input as a footer with a correct trailer. The object
/// is named after the layer number its footer claims (`f.af` for 0, else
/// `f.N.af` above the valid base), so that layers built on the base open.
/// Returns whether the file opened and every array and attribute read back.
pub fn footer_decode(data: &[u8]) -> bool {
    let (seq, object) = wrap_footer(data);
    let mut objects: Vec<(String, &[u8])> = Vec::new();
    if seq == 0 {
        objects.push(("f.af".to_owned(), &object));
    } else {
        objects.push(("f.af".to_owned(), BASE_LAYER));
        objects.push((format!("f.{seq}.af"), &object));
    }
    block_on(async {
        let store = store_with(&objects).await;
        exercise(store, false).await
    })
}

// ── input framing ───────────────────────────────────────────────────

/// Splits an `open_layers` input: a 4-byte little-endian header whose low 31
/// bits give the length of `f.1.af` (clamped to what follows) and whose top
/// bit asks for the footer and trailer checksums of both layers to be
/// recomputed (so mutations of footers get past the checksums); then
/// `f.1.af`; then `f.2.af` if anything is left. Inputs shorter than the
/// header are `f.1.af` alone, unrepaired.
pub fn split_layers(data: &[u8]) -> (Vec<&[u8]>, bool) {
    let Some((head, rest)) = data.split_first_chunk::<4>() else {
        return (vec![data], false);
    };
    let head = u32::from_le_bytes(*head);
    let fix = head & 0x8000_0000 != 0;
    let len = ((head & 0x7fff_ffff) as usize).min(rest.len());
    let (first, second) = rest.split_at(len);
    if second.is_empty() {
        (vec![first], fix)
    } else {
        (vec![first, second], fix)
    }
}

/// Builds an `open_layers` input from layer objects.
pub fn join_layers(first: &[u8], second: Option<&[u8]>, fix: bool) -> Vec<u8> {
    let mut head = first.len() as u32;
    if fix {
        head |= 0x8000_0000;
    }
    let mut out = head.to_le_bytes().to_vec();
    out.extend_from_slice(first);
    if let Some(s) = second {
        out.extend_from_slice(s);
    }
    out
}

/// Recomputes the footer checksum and the trailer checksum of a layer
/// object in place, trusting its `footer_len`; leaves everything else
/// (magic, version, flags, lengths) as it is.
pub fn fix_checksums(object: &mut [u8]) {
    if object.len() < TRAILER_LEN {
        return;
    }
    let t = object.len() - TRAILER_LEN;
    let mut len = [0u8; 8];
    len.copy_from_slice(&object[t..t + 8]);
    let footer_len = u64::from_le_bytes(len);
    if footer_len <= t as u64 {
        let crc = crc32c::crc32c(&object[t - footer_len as usize..t]);
        object[t + 8..t + 12].copy_from_slice(&crc.to_le_bytes());
    }
    let crc = crc32c::crc32c(&object[t..t + 16]);
    object[t + 16..t + 20].copy_from_slice(&crc.to_le_bytes());
}

/// The trailer of `footer` (docs/FORMAT.md section 3): correct length,
/// checksums, version and magic.
pub fn trailer_for(footer: &[u8]) -> [u8; TRAILER_LEN] {
    let mut t = [0u8; TRAILER_LEN];
    t[0..8].copy_from_slice(&(footer.len() as u64).to_le_bytes());
    t[8..12].copy_from_slice(&crc32c::crc32c(footer).to_le_bytes());
    t[12..14].copy_from_slice(&array_format::FORMAT_VERSION.to_le_bytes());
    // flags (14..16) and reserved (20..24) stay zero.
    let crc = crc32c::crc32c(&t[0..16]);
    t[16..20].copy_from_slice(&crc.to_le_bytes());
    t[24..32].copy_from_slice(b"ARRAYFMT");
    t
}

/// Turns a `footer_decode` input into a layer object: a 2-byte
/// little-endian length `d` (clamped), `d` bytes of data region, then the
/// footer; the object is `[data][footer][trailer_for(footer)]`. Also returns
/// the layer number the footer claims (the varint after the three 16-byte
/// ids; 0 if it is missing or malformed) so the object can be given the
/// name a reader expects.
pub fn wrap_footer(data: &[u8]) -> (u64, Vec<u8>) {
    let (region, footer) = match data.split_first_chunk::<2>() {
        Some((head, rest)) => {
            let d = (u16::from_le_bytes(*head) as usize).min(rest.len());
            rest.split_at(d)
        }
        None => (&data[..0], data),
    };
    let mut object = Vec::with_capacity(region.len() + footer.len() + TRAILER_LEN);
    object.extend_from_slice(region);
    object.extend_from_slice(footer);
    object.extend_from_slice(&trailer_for(footer));
    (claimed_seq(footer), object)
}

/// Builds a `footer_decode` input from a layer object (its data region and
/// footer), or `None` if the data region is too long for the 2-byte prefix.
pub fn unwrap_layer(object: &[u8]) -> Option<Vec<u8>> {
    let (data_end, footer_end) = regions(object)?;
    let d = u16::try_from(data_end).ok()?;
    let mut out = d.to_le_bytes().to_vec();
    out.extend_from_slice(&object[..footer_end]);
    Some(out)
}

/// `(data_end, footer_end)` of a well-formed layer object.
pub fn regions(object: &[u8]) -> Option<(usize, usize)> {
    let footer_end = object.len().checked_sub(TRAILER_LEN)?;
    let mut len = [0u8; 8];
    len.copy_from_slice(&object[footer_end..footer_end + 8]);
    let footer_len = usize::try_from(u64::from_le_bytes(len)).ok()?;
    Some((footer_end.checked_sub(footer_len)?, footer_end))
}

fn claimed_seq(footer: &[u8]) -> u64 {
    let mut value = 0u64;
    for (i, &b) in footer.iter().skip(48).take(10).enumerate() {
        value |= u64::from(b & 0x7f).checked_shl(7 * i as u32).unwrap_or(0);
        if b & 0x80 == 0 {
            return value;
        }
    }
    0
}

// ── exercising a file ───────────────────────────────────────────────

include!("canon.rs");

/// What a file shows through the public API; `data` is `None` where a read
/// failed.
#[derive(Debug, PartialEq)]
struct Observed {
    /// The file's own attributes.
    attrs: Option<String>,
    arrays: Vec<ObservedArray>,
}

#[derive(Debug, PartialEq)]
struct ObservedArray {
    meta: String,
    attrs: Option<String>,
    stats: Option<String>,
    data: Option<Vec<u8>>,
}

impl Observed {
    fn complete(&self) -> bool {
        self.attrs.is_some()
            && self
                .arrays
                .iter()
                .all(|a| a.attrs.is_some() && a.data.is_some())
    }
}

async fn read_as<T: ArrayElement + Canon>(
    file: &ArrayFile,
    name: &str,
    start: Vec<usize>,
    shape: Vec<usize>,
) -> Option<Vec<u8>> {
    let a = file.read_array::<T>(name, start, shape).await.ok()?;
    let mut out = Vec::new();
    for v in a.iter() {
        v.canon(&mut out);
    }
    Some(out)
}

/// The region to read: the whole array if small, else its first chunk if
/// that is small, else nothing.
fn read_region(meta: &MergedArrayMeta) -> Option<(Vec<usize>, Vec<usize>)> {
    let count = |shape: &[u64]| {
        shape
            .iter()
            .try_fold(1u64, |acc, &d| acc.checked_mul(d))
            .filter(|&n| n <= MAX_READ_ELEMENTS)
    };
    if count(&meta.shape).is_some() {
        return Some((vec![], vec![]));
    }
    let first: Vec<u64> = meta
        .shape
        .iter()
        .zip(&meta.chunk_shape)
        .map(|(&s, &c)| s.min(c))
        .collect();
    count(&first)?;
    let shape = first
        .iter()
        .map(|&d| usize::try_from(d).ok())
        .collect::<Option<Vec<usize>>>()?;
    Some((vec![0; shape.len()], shape))
}

async fn read_any(file: &ArrayFile, meta: &MergedArrayMeta) -> Option<Vec<u8>> {
    let (start, shape) = read_region(meta)?;
    let name = meta.name.as_str();
    match meta.dtype {
        DType::Bool => read_as::<bool>(file, name, start, shape).await,
        DType::Int8 => read_as::<i8>(file, name, start, shape).await,
        DType::Int16 => read_as::<i16>(file, name, start, shape).await,
        DType::Int32 => read_as::<i32>(file, name, start, shape).await,
        DType::Int64 => read_as::<i64>(file, name, start, shape).await,
        DType::UInt8 => read_as::<u8>(file, name, start, shape).await,
        DType::UInt16 => read_as::<u16>(file, name, start, shape).await,
        DType::UInt32 => read_as::<u32>(file, name, start, shape).await,
        DType::UInt64 => read_as::<u64>(file, name, start, shape).await,
        DType::Float32 => read_as::<f32>(file, name, start, shape).await,
        DType::Float64 => read_as::<f64>(file, name, start, shape).await,
        DType::String => read_as::<String>(file, name, start, shape).await,
        DType::Binary => read_as::<Vec<u8>>(file, name, start, shape).await,
        DType::TimestampNs => read_as::<array_format::TimestampNs>(file, name, start, shape).await,
        DType::Float16 => read_as::<array_format::half::f16>(file, name, start, shape).await,
        DType::BFloat16 => read_as::<array_format::half::bf16>(file, name, start, shape).await,
        DType::Complex64 => {
            read_as::<array_format::num_complex::Complex<f32>>(file, name, start, shape).await
        }
        DType::Complex128 => {
            read_as::<array_format::num_complex::Complex<f64>>(file, name, start, shape).await
        }
    }
}

/// Lists, reads and inspects everything the public API shows.
async fn observe(file: &ArrayFile) -> Observed {
    let mut arrays = Vec::new();
    for meta in file.list_arrays() {
        let _ = file.get_array(&meta.name);
        let attrs = file.attributes(&meta.name).ok();
        if let Some(attrs) = &attrs {
            for (key, _) in attrs {
                let _ = file.get_attribute(&meta.name, key);
            }
        }
        let stats = file.array_stats(&meta.name).map(|s| format!("{s:?}"));
        let data = read_any(file, &meta).await;
        let codec = file.array_codec(&meta.name);
        arrays.push(ObservedArray {
            meta: format!("{meta:?} codec {codec:?}"),
            attrs: attrs.map(|a| format!("{a:?}")),
            stats,
            data,
        });
    }
    let _ = file.stats();
    let attrs = file.file_attributes().ok();
    if let Some(attrs) = &attrs {
        for (key, _) in attrs {
            let _ = file.file_attribute(key);
        }
    }
    Observed {
        attrs: attrs.map(|a| format!("{a:?}")),
        arrays,
    }
}

/// Opens `f.af` in `store` and exercises everything; with `compact`, also
/// compacts a file that opened and requires the compacted file to read back
/// exactly as before (when every read before succeeded and the compaction
/// succeeded). Returns whether the file opened and every array and
/// attribute read back.
async fn exercise(store: Arc<dyn ObjectStore>, compact: bool) -> bool {
    let Ok(mut file) = ArrayFile::open(store.clone(), Path::from("f.af"), config()).await else {
        return false;
    };
    let _ = file.num_layers();
    let before = observe(&file).await;
    let _ = file.verify().await;
    let _ = file.versions().await;
    let complete = before.complete();
    if !compact || file.compact().await.is_err() {
        return complete;
    }
    let after_handle = observe(&file).await;
    let Ok(reopened) = ArrayFile::open(store, Path::from("f.af"), config()).await else {
        panic!("a file that compacted successfully does not open again");
    };
    let after = observe(&reopened).await;
    let _ = reopened.verify().await;
    if complete {
        assert_eq!(
            before, after,
            "compaction changed what the file reads back (reopened)"
        );
        assert_eq!(
            before, after_handle,
            "compaction changed what the compacting handle reads back"
        );
    }
    complete
}

// ── seeds ───────────────────────────────────────────────────────────

/// One seed input: target name, file name, bytes.
pub type Seed = (&'static str, String, Vec<u8>);

async fn object(store: &Arc<dyn ObjectStore>, name: &str) -> Vec<u8> {
    store
        .get(&Path::from(name))
        .await
        .expect("get")
        .bytes()
        .await
        .expect("bytes")
        .to_vec()
}

fn cfg<C: array_format::CompressionCodec>(codec: C) -> FileConfig<C> {
    FileConfig {
        block_target_size: 256,
        frame_target_size: 64,
        ..FileConfig::new(codec)
    }
}

fn arr<T: Clone>(v: Vec<T>, shape: &[usize]) -> ndarray::ArrayD<T> {
    ndarray::ArrayD::from_shape_vec(ndarray::IxDyn(shape), v).expect("shape")
}

/// Small real files built on `base` (the bytes of a base layer written by
/// `ArrayFile::create`), as seed inputs for the three targets: every dtype,
/// every built-in codec, fill values, attributes of several types, the
/// file's attributes, arrays that record their codec, a deletion, a
/// redefinition, deltas and a snapshot.
pub async fn seed_inputs(base: &[u8]) -> Vec<Seed> {
    use array_format::{
        ArraySpec, AttributeValue, FillValue, NoCompression, TimestampNs, ZstdCodec,
    };
    let mut seeds: Vec<Seed> = Vec::new();
    let store = store_with(&[("f.af".to_owned(), base)]).await;
    let p = || Path::from("f.af");

    // Layer 1 (none): numeric arrays, attributes.
    let mut f = ArrayFile::open(store.clone(), p(), cfg(NoCompression))
        .await
        .expect("open");
    f.define_array::<f32>(
        "t",
        vec!["y".into(), "x".into()],
        vec![5, 4],
        Some(vec![2, 3]),
        Some(FillValue::Float(-1.5)),
    )
    .expect("define");
    f.define_array::<i64>("n", vec![], vec![9], Some(vec![4]), None)
        .expect("define");
    f.define_array::<bool>("b", vec!["i".into()], vec![7], Some(vec![3]), None)
        .expect("define");
    f.define_array::<u16>("scalar", vec![], vec![], None, Some(FillValue::UInt(7)))
        .expect("define");
    f.write_array(
        "t",
        vec![0, 0],
        arr((0..12).map(|i| i as f32 * 0.5).collect(), &[3, 4]).view(),
    )
    .await
    .expect("write");
    f.write_array(
        "n",
        vec![2],
        arr(vec![-3i64, 40, i64::MAX, i64::MIN, 0], &[5]).view(),
    )
    .await
    .expect("write");
    f.write_array(
        "b",
        vec![0],
        arr(vec![true, false, true, true, false, false, true], &[7]).view(),
    )
    .await
    .expect("write");
    f.define_array::<i16>("i16", vec![], vec![3], None, Some(FillValue::Int(-2)))
        .expect("define");
    f.define_array::<i32>("i32", vec![], vec![2, 2], Some(vec![1, 2]), None)
        .expect("define");
    f.define_array::<u8>("u8", vec![], vec![5], Some(vec![2]), None)
        .expect("define");
    f.define_array::<u32>("u32", vec![], vec![3], None, None)
        .expect("define");
    f.define_array::<u64>("u64", vec![], vec![2], None, Some(FillValue::UInt(9)))
        .expect("define");
    f.define_array::<f64>("f64", vec![], vec![4], Some(vec![3]), None)
        .expect("define");
    f.write_array("i16", vec![1], arr(vec![-300i16, 300], &[2]).view())
        .await
        .expect("write");
    f.write_array(
        "i32",
        vec![0, 0],
        arr(vec![i32::MIN, 1, 2, i32::MAX], &[2, 2]).view(),
    )
    .await
    .expect("write");
    f.write_array("u8", vec![0], arr(vec![0u8, 1, 255], &[3]).view())
        .await
        .expect("write");
    f.write_array("u32", vec![0], arr(vec![7u32, 8, u32::MAX], &[3]).view())
        .await
        .expect("write");
    f.write_array("u64", vec![1], arr(vec![u64::MAX], &[1]).view())
        .await
        .expect("write");
    f.write_array(
        "f64",
        vec![0],
        arr(vec![f64::NAN, -0.0, 1e300, f64::INFINITY], &[4]).view(),
    )
    .await
    .expect("write");
    f.set_attribute("t", "units", "K".into()).expect("attr");
    f.set_attribute("t", "scale", AttributeValue::Float64(0.25))
        .expect("attr");
    f.set_attribute("n", "ids", AttributeValue::Int32List(vec![1, -2, 3]))
        .expect("attr");
    f.set_attribute("b", "ok", AttributeValue::Bool(true))
        .expect("attr");
    // An array that records its codec, in a layer written with `none`.
    let spec = ArraySpec::new(DType::UInt16, vec![6])
        .with_chunk_shape(vec![4])
        .with_codec("zstd:5");
    f.define("z", spec).expect("define");
    f.write_array("z", vec![0], arr(vec![1u16, 1, 2, 3, 5, 8], &[6]).view())
        .await
        .expect("write");
    f.set_file_attribute("title", "seed file".into())
        .expect("file attr");
    f.set_file_attribute("version", AttributeValue::Int64(4))
        .expect("file attr");
    f.flush().await.expect("flush");
    let l1 = object(&store, "f.1.af").await;

    // Layer 2 (lz4): strings, binary, timestamps; overwrite; remove an attribute.
    let mut f = ArrayFile::open(store.clone(), p(), cfg(Lz4Codec))
        .await
        .expect("open");
    f.define_array::<String>(
        "s",
        vec!["k".into()],
        vec![6],
        Some(vec![4]),
        Some(FillValue::String("-".into())),
    )
    .expect("define");
    f.define_array::<Vec<u8>>("bin", vec![], vec![4], Some(vec![2]), None)
        .expect("define");
    f.define_array::<TimestampNs>("ts", vec![], vec![3], None, None)
        .expect("define");
    f.write_array(
        "s",
        vec![1],
        arr(
            vec![
                "alpha".to_owned(),
                String::new(),
                "wörld".into(),
                "z".into(),
            ],
            &[4],
        )
        .view(),
    )
    .await
    .expect("write");
    f.write_array(
        "bin",
        vec![0],
        arr(vec![vec![0u8, 255], vec![], vec![7; 5]], &[3]).view(),
    )
    .await
    .expect("write");
    f.write_array(
        "ts",
        vec![0],
        arr(
            vec![TimestampNs(1), TimestampNs(-5), TimestampNs(1 << 60)],
            &[3],
        )
        .view(),
    )
    .await
    .expect("write");
    f.write_array(
        "t",
        vec![3, 1],
        arr(vec![9.0f32, 8.0, 7.0, 6.0], &[2, 2]).view(),
    )
    .await
    .expect("write");
    f.set_attribute(
        "s",
        "names",
        AttributeValue::StringList(vec!["a".into(), "".into()]),
    )
    .expect("attr");
    f.remove_attribute("t", "scale").expect("remove");
    f.remove_file_attribute("version").expect("remove");
    f.set_file_attribute(
        "history",
        AttributeValue::StringList(vec!["made".into(), "seeded".into()]),
    )
    .expect("file attr");
    let spec = ArraySpec::new(DType::Int32, vec![3]).with_codec("none");
    f.define("raw", spec).expect("define");
    f.write_array("raw", vec![0], arr(vec![-1i32, 0, 1], &[3]).view())
        .await
        .expect("write");
    f.flush().await.expect("flush");
    let l2 = object(&store, "f.2.af").await;

    // Layer 3 (zstd): a deletion and a redefinition with another dtype;
    // then layer 4, a snapshot (compaction of 0..=3).
    let mut f = ArrayFile::open(store.clone(), p(), cfg(ZstdCodec::new(3)))
        .await
        .expect("open");
    change_for_snapshot(&mut f).await;
    f.flush().await.expect("flush");
    let l3 = object(&store, "f.3.af").await;
    f.compact().await.expect("compact");
    let snap4 = object(&store, "f.4.af").await;

    // Layer 1 is a snapshot: the first commit on the empty base holds
    // everything the file holds. `base` may be of an older version than
    // the layers; the base seeds are of the current one.
    let base_now = fresh_base().await;
    for (name, bytes) in [
        ("base", &base_now[..]),
        ("snapshot1", &l1),
        ("delta2", &l2),
        ("delta3", &l3),
        ("snapshot4", &snap4),
    ] {
        seeds.push(("open_read", name.to_owned(), bytes.to_vec()));
    }
    for fix in [false, true] {
        let tag = if fix { "_fixed" } else { "" };
        seeds.push((
            "open_layers",
            format!("snapshot{tag}"),
            join_layers(&l1, None, fix),
        ));
        seeds.push((
            "open_layers",
            format!("snapshot_delta{tag}"),
            join_layers(&l1, Some(&l2), fix),
        ));
    }
    // The harness stamps footers with the current version, and stores
    // them above the base alone: snapshots (or the base itself) only.
    for (name, object) in [
        ("base", &base_now[..]),
        ("snapshot1", &l1),
        ("snapshot4", &snap4),
    ] {
        if let Some(input) = unwrap_layer(object) {
            seeds.push(("footer_decode", name.to_owned(), input));
        }
    }
    seeds
}

async fn change_for_snapshot(f: &mut ArrayFile) {
    use array_format::{AttributeValue, FillValue};
    f.delete("b").expect("delete");
    f.define_array::<i8>(
        "b",
        vec![],
        vec![2, 2],
        Some(vec![1, 2]),
        Some(FillValue::Int(-1)),
    )
    .expect("define");
    f.write_array("b", vec![1, 0], arr(vec![5i8, -128], &[1, 2]).view())
        .await
        .expect("write");
    f.set_attribute("scalar", "note", AttributeValue::Binary(vec![1, 2, 3]))
        .expect("attr");
    f.write_array("n", vec![0], arr(vec![11i64, 12], &[2]).view())
        .await
        .expect("write");
}

/// Writes a fresh base layer with `ArrayFile::create` and returns its bytes.
pub async fn fresh_base() -> Vec<u8> {
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    ArrayFile::create(store.clone(), Path::from("f.af"), FileConfig::new(Lz4Codec))
        .await
        .expect("create");
    object(&store, "f.af").await
}
