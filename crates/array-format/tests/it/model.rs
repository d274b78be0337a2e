//! Model-based test of `ArrayFile`.
//!
//! Each sequence is a seeded random list of operations: define (0-3 dims,
//! zero-length dims, nine dtypes, random chunk shapes and fill values),
//! write (random regions, data in standard, permuted, strided, reversed and
//! broadcast layouts), read, delete, redefine, set/remove/get attributes of
//! arrays and of the file itself, flush, flush_memory, stage + commit_parts
//! (a flush when only chunks of committed arrays changed, else refused with
//! `NotStageable` and nothing changed), compact, reopen,
//! create over the file, and invalid calls that must fail with a given
//! error and change nothing. Arrays are defined with `define_array` or with
//! `define` and an `ArraySpec`, often recording a codec of their own (`none`,
//! `lz4`, `zstd`, `zstd:5`) beside the handle's. Every operation is applied
//! both to the file and to a plain in-memory model, and after every step the
//! visible state of the file (array list, metadata, recorded codecs,
//! attributes of the arrays and of the file, layer count, pending flag,
//! statistics, the codecs committed chunks are stored with, a full read) is
//! compared with the model.
//!
//! `model_memory` runs the sequences on `ArrayFile::create_memory` (no
//! reopen); the conformance suite (`conformance::model`) runs them on every
//! store of `af_testkit::Backend` (memory, local disk, the S3 servers,
//! azurite), each sequence's file in a directory of its own, fewer of them
//! on remote stores when `AF_TEST_REMOTE_SHARE` says so. Each sequence draws its configuration from its seed: codec, small block
//! and frame targets, tiny or disabled caches, a cache shared across reopens,
//! a tiny or disabled buffer of partly written chunks.
//!
//! Environment variables:
//! - `AF_MODEL_SEQUENCES`: sequences per backend (default 128; on remote
//!   stores times `AF_TEST_REMOTE_SHARE` when set),
//! - `AF_MODEL_STEPS`: operations per sequence (default 200),
//! - `AF_MODEL_SEED`: run only this seed (printed by a failure report,
//!   together with the numbered operation log).
//!
//! With `--nocapture` each test prints
//! `model: N sequences x M steps on <backend>, T steps, F failures` and a
//! tally of the operations and comparisons made.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Instant;

use af_testkit::Backend;
use array_format::{
    ArrayElement, ArrayFile, ArraySpec, ArrayStats, AttributeValue, CompressionCodec, DType,
    DeltaCache, Error, FileConfig, FillValue, InMemoryStorage, Lz4Codec, MergedArrayMeta,
    NoCompression, StatValue, TimestampNs, ZstdCodec,
};
use array_format::{half, num_complex::Complex};
use futures::FutureExt;
use ndarray::{ArrayD, Axis, IxDyn, Slice};
use object_store::ObjectStore;
use object_store::path::Path;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const DEFAULT_SEQUENCES: u64 = 128;
const DEFAULT_STEPS: usize = 200;
/// First seed of the default run; sequence `i` uses `BASE_SEED + i` (plus
/// an offset: `create_memory`, which never reopens, and the stores explore
/// different sequences; every store runs the same ones).
const BASE_SEED: u64 = 0xAF00_0000;
const FILE_NAME: &str = "model.af";
/// Array names used by the sequences. A small pool makes redefinitions of
/// deleted names frequent.
const NAMES: [&str; 6] = ["a", "b", "c", "d", "e", "temp"];
/// A name no sequence ever defines.
const MISSING: &str = "no_such_array";
const ATTR_KEYS: [&str; 5] = ["units", "scale", "long_name", "k", "ü"];
/// Codecs arrays record (`None`: the handle's); what they record (the
/// canonical spec) and the name of the blocks their chunks are stored in.
const ARRAY_CODECS: [(Option<&str>, Option<&str>, Option<&str>); 6] = [
    (None, None, None),
    (None, None, None),
    (Some("none"), Some("none"), Some("none")),
    (Some("lz4"), Some("lz4"), Some("lz4")),
    (Some("zstd"), Some("zstd:3"), Some("zstd")),
    (Some("ZSTD:5"), Some("zstd:5"), Some("zstd")),
];
/// Codec specs no handle of the test can write with.
const BAD_CODECS: [&str; 4] = ["gzip", "zstd:0", "zstd:23", "xor"];
/// Strings and byte strings longer than this disable min/max statistics.
const STAT_VALUE_LIMIT: usize = 1024;

// ---------------------------------------------------------------------------
// Element kinds and model values
// ---------------------------------------------------------------------------

/// The dtypes the model exercises.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    I32,
    I64,
    U8,
    U16,
    F64,
    Bool,
    Str,
    Bin,
    Ts,
    F16,
    C64,
}

const ALL_KINDS: [Kind; 11] = [
    Kind::I32,
    Kind::I64,
    Kind::U8,
    Kind::U16,
    Kind::F64,
    Kind::Bool,
    Kind::Str,
    Kind::Bin,
    Kind::Ts,
    Kind::F16,
    Kind::C64,
];

/// Runs `$body` with `$t` bound to the Rust element type of `$kind`.
macro_rules! with_elem_type {
    ($kind:expr, $t:ident => $body:expr) => {
        match $kind {
            Kind::I32 => {
                type $t = i32;
                $body
            }
            Kind::I64 => {
                type $t = i64;
                $body
            }
            Kind::U8 => {
                type $t = u8;
                $body
            }
            Kind::U16 => {
                type $t = u16;
                $body
            }
            Kind::F64 => {
                type $t = f64;
                $body
            }
            Kind::Bool => {
                type $t = bool;
                $body
            }
            Kind::Str => {
                type $t = String;
                $body
            }
            Kind::Bin => {
                type $t = Vec<u8>;
                $body
            }
            Kind::Ts => {
                type $t = TimestampNs;
                $body
            }
            Kind::F16 => {
                type $t = half::f16;
                $body
            }
            Kind::C64 => {
                type $t = Complex<f32>;
                $body
            }
        }
    };
}

/// One element of the model, independent of the Rust type. Floats are kept
/// as bits so that comparisons are exact (and NaN equals itself).
#[derive(Clone, Debug, PartialEq, Eq)]
enum Elem {
    I(i64),
    U(u64),
    F(u64),
    B(bool),
    S(String),
    Bin(Vec<u8>),
    T(i64),
    /// A complex number: the bits of its `f32` parts. Unordered.
    C(u32, u32),
}

impl Elem {
    fn float(v: f64) -> Elem {
        Elem::F(v.to_bits())
    }

    fn is_nan(&self) -> bool {
        matches!(self, Elem::F(bits) if f64::from_bits(*bits).is_nan())
    }

    /// Null test of the statistics: equal to the fill element, NaN equal to
    /// NaN (part by part for complex numbers).
    fn same_as_fill(&self, fill: &Elem) -> bool {
        if let (Elem::C(a, b), Elem::C(c, d)) = (self, fill) {
            let same = |x: u32, y: u32| {
                x == y || (f32::from_bits(x).is_nan() && f32::from_bits(y).is_nan())
            };
            return same(*a, *c) && same(*b, *d);
        }
        self == fill || (self.is_nan() && fill.is_nan())
    }

    /// Whether statistics order it (complex numbers have no order).
    fn ordered(&self) -> bool {
        !matches!(self, Elem::C(..))
    }

    /// The order statistics use (values of one kind only, NaN excluded).
    fn stat_cmp(&self, other: &Elem) -> Ordering {
        match (self, other) {
            (Elem::I(a), Elem::I(b)) | (Elem::T(a), Elem::T(b)) => a.cmp(b),
            (Elem::U(a), Elem::U(b)) => a.cmp(b),
            (Elem::F(a), Elem::F(b)) => f64::from_bits(*a).total_cmp(&f64::from_bits(*b)),
            (Elem::B(a), Elem::B(b)) => a.cmp(b),
            (Elem::S(a), Elem::S(b)) => a.as_bytes().cmp(b.as_bytes()),
            (Elem::Bin(a), Elem::Bin(b)) => a.cmp(b),
            (a, b) => panic!("model bug: comparing {a:?} with {b:?}"),
        }
    }

    fn to_stat(&self) -> StatValue {
        match self {
            Elem::I(v) => StatValue::Int(*v),
            Elem::U(v) => StatValue::UInt(*v),
            Elem::F(bits) => StatValue::Float(f64::from_bits(*bits)),
            Elem::B(b) => StatValue::UInt(u64::from(*b)),
            Elem::S(s) => StatValue::Bytes(s.as_bytes().to_vec()),
            Elem::Bin(b) => StatValue::Bytes(b.clone()),
            Elem::T(v) => StatValue::TimestampNs(*v),
            Elem::C(..) => panic!("model bug: complex numbers have no statistic"),
        }
    }

    /// Byte length of variable-length values, 0 for the others.
    fn byte_len(&self) -> usize {
        match self {
            Elem::S(s) => s.len(),
            Elem::Bin(b) => b.len(),
            _ => 0,
        }
    }
}

impl fmt::Display for Elem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Elem::I(v) => write!(f, "{v}"),
            Elem::U(v) => write!(f, "{v}u"),
            Elem::F(bits) => write!(f, "{:?}", f64::from_bits(*bits)),
            Elem::B(b) => write!(f, "{b}"),
            Elem::S(s) if s.len() > 16 => {
                let head: String = s.chars().take(4).collect();
                write!(f, "<{}-byte string {head:?}..>", s.len())
            }
            Elem::S(s) => write!(f, "{s:?}"),
            Elem::Bin(b) if b.len() > 16 => write!(f, "<{} bytes>", b.len()),
            Elem::Bin(b) => write!(f, "b{b:?}"),
            Elem::T(v) => write!(f, "{v}ns"),
            Elem::C(re, im) => write!(f, "{:?}{:+?}i", f32::from_bits(*re), f32::from_bits(*im)),
        }
    }
}

/// Conversion between the Rust element types and model elements.
trait ModelElem: ArrayElement {
    fn from_elem(e: &Elem) -> Self;
    fn to_elem(&self) -> Elem;
}

fn wrong_elem(kind: &str, e: &Elem) -> ! {
    panic!("model bug: {e:?} is not a {kind} element")
}

impl ModelElem for i32 {
    fn from_elem(e: &Elem) -> Self {
        match e {
            Elem::I(v) => i32::try_from(*v).expect("i32 range"),
            other => wrong_elem("i32", other),
        }
    }
    fn to_elem(&self) -> Elem {
        Elem::I(i64::from(*self))
    }
}

impl ModelElem for i64 {
    fn from_elem(e: &Elem) -> Self {
        match e {
            Elem::I(v) => *v,
            other => wrong_elem("i64", other),
        }
    }
    fn to_elem(&self) -> Elem {
        Elem::I(*self)
    }
}

impl ModelElem for u8 {
    fn from_elem(e: &Elem) -> Self {
        match e {
            Elem::U(v) => u8::try_from(*v).expect("u8 range"),
            other => wrong_elem("u8", other),
        }
    }
    fn to_elem(&self) -> Elem {
        Elem::U(u64::from(*self))
    }
}

impl ModelElem for u16 {
    fn from_elem(e: &Elem) -> Self {
        match e {
            Elem::U(v) => u16::try_from(*v).expect("u16 range"),
            other => wrong_elem("u16", other),
        }
    }
    fn to_elem(&self) -> Elem {
        Elem::U(u64::from(*self))
    }
}

impl ModelElem for f64 {
    fn from_elem(e: &Elem) -> Self {
        match e {
            Elem::F(bits) => f64::from_bits(*bits),
            other => wrong_elem("f64", other),
        }
    }
    fn to_elem(&self) -> Elem {
        Elem::float(*self)
    }
}

impl ModelElem for bool {
    fn from_elem(e: &Elem) -> Self {
        match e {
            Elem::B(b) => *b,
            other => wrong_elem("bool", other),
        }
    }
    fn to_elem(&self) -> Elem {
        Elem::B(*self)
    }
}

impl ModelElem for String {
    fn from_elem(e: &Elem) -> Self {
        match e {
            Elem::S(s) => s.clone(),
            other => wrong_elem("string", other),
        }
    }
    fn to_elem(&self) -> Elem {
        Elem::S(self.clone())
    }
}

impl ModelElem for Vec<u8> {
    fn from_elem(e: &Elem) -> Self {
        match e {
            Elem::Bin(b) => b.clone(),
            other => wrong_elem("binary", other),
        }
    }
    fn to_elem(&self) -> Elem {
        Elem::Bin(self.clone())
    }
}

impl ModelElem for TimestampNs {
    fn from_elem(e: &Elem) -> Self {
        match e {
            Elem::T(v) => TimestampNs(*v),
            other => wrong_elem("timestamp", other),
        }
    }
    fn to_elem(&self) -> Elem {
        Elem::T(self.0)
    }
}

impl ModelElem for half::f16 {
    fn from_elem(e: &Elem) -> Self {
        match e {
            Elem::F(bits) => half::f16::from_f64(f64::from_bits(*bits)),
            other => wrong_elem("f16", other),
        }
    }
    fn to_elem(&self) -> Elem {
        Elem::float(self.to_f64())
    }
}

impl ModelElem for Complex<f32> {
    fn from_elem(e: &Elem) -> Self {
        match e {
            Elem::C(re, im) => Complex::new(f32::from_bits(*re), f32::from_bits(*im)),
            other => wrong_elem("c64", other),
        }
    }
    fn to_elem(&self) -> Elem {
        Elem::C(self.re.to_bits(), self.im.to_bits())
    }
}

/// A valid fill value: what `define_array` is given, the canonical form
/// `list_arrays` must report, and the element it stands for.
#[derive(Clone, Debug)]
struct FillSpec {
    given: FillValue,
    canonical: FillValue,
    elem: Elem,
}

fn pick<T: Clone>(rng: &mut StdRng, items: &[T]) -> T {
    items[rng.random_range(0..items.len())].clone()
}

/// Mostly small values (so that data often equals the fill value), sometimes
/// the extremes or anything in `lo..=hi`.
fn random_int(rng: &mut StdRng, lo: i64, hi: i64) -> i64 {
    match rng.random_range(0..10) {
        0 => lo,
        1 => hi,
        2 | 3 => rng.random_range(lo..=hi),
        _ => rng.random_range(lo.max(-4)..=hi.min(4)),
    }
}

fn random_uint(rng: &mut StdRng, hi: u64) -> u64 {
    match rng.random_range(0..10) {
        0 => hi,
        1 | 2 => rng.random_range(0..=hi),
        _ => rng.random_range(0..=hi.min(4)),
    }
}

fn random_f64(rng: &mut StdRng) -> f64 {
    match rng.random_range(0..40) {
        0..=2 => f64::NAN,
        3 => -0.0,
        4 => f64::INFINITY,
        5 => f64::NEG_INFINITY,
        6 => f64::MAX,
        7 => f64::MIN_POSITIVE,
        8..=21 => f64::from(rng.random_range(-3i32..=3)),
        _ => rng.random_range(-100.0..100.0),
    }
}

/// Strings of 1024 bytes (still allowed as min/max) and 1025 bytes (not):
/// U+10FFFF (bytes F4 8F BF BF) sorts after every other string, so these
/// are usually a chunk's max; runs of "a" are sometimes its min.
fn long_string(rng: &mut StdRng) -> String {
    let top = "\u{10FFFF}".repeat(256);
    match rng.random_range(0..4) {
        0 => top,
        1 => top + "a",
        2 => "a".repeat(1024),
        _ => "a".repeat(1025),
    }
}

/// Short strings with interesting byte orders, and with `long_ok` sometimes
/// strings at the 1024-byte statistics limit.
fn random_string(rng: &mut StdRng, long_ok: bool) -> String {
    if long_ok && rng.random_range(0..8) == 0 {
        return long_string(rng);
    }
    match rng.random_range(0..3) {
        0 => pick(
            rng,
            &[
                "",
                "a",
                "b",
                "ab",
                "ba",
                "zz",
                "a\0b",
                "é",
                "日本",
                "\u{10FFFF}",
            ],
        )
        .to_owned(),
        _ => {
            let len = rng.random_range(0..6);
            (0..len).map(|_| pick(rng, &['a', 'b', 'c'])).collect()
        }
    }
}

fn random_bytes(rng: &mut StdRng, long_ok: bool) -> Vec<u8> {
    if long_ok && rng.random_range(0..8) == 0 {
        // Like `long_string`: 0xff runs are usually the max, zero runs
        // sometimes the min.
        let (byte, len) = pick(rng, &[(0xff, 1024), (0xff, 1025), (0, 1024), (0, 1025)]);
        return vec![byte; len];
    }
    match rng.random_range(0..3) {
        0 => pick(
            rng,
            &[vec![], vec![0], vec![0xff], vec![1, 2, 3], vec![0, 0]],
        ),
        _ => {
            let len = rng.random_range(0..5);
            (0..len)
                .map(|_| pick(rng, &[0u8, 1, 0x7f, 0x80, 0xff]))
                .collect()
        }
    }
}

const TS_BASE: i64 = 1_700_000_000_000_000_000;

impl Kind {
    fn dtype(self) -> DType {
        match self {
            Kind::I32 => DType::Int32,
            Kind::I64 => DType::Int64,
            Kind::U8 => DType::UInt8,
            Kind::U16 => DType::UInt16,
            Kind::F64 => DType::Float64,
            Kind::Bool => DType::Bool,
            Kind::Str => DType::String,
            Kind::Bin => DType::Binary,
            Kind::Ts => DType::TimestampNs,
            Kind::F16 => DType::Float16,
            Kind::C64 => DType::Complex64,
        }
    }

    /// The element of never-written positions without a fill value.
    fn zero(self) -> Elem {
        match self {
            Kind::I32 | Kind::I64 => Elem::I(0),
            Kind::U8 | Kind::U16 => Elem::U(0),
            Kind::F64 => Elem::float(0.0),
            Kind::Bool => Elem::B(false),
            Kind::Str => Elem::S(String::new()),
            Kind::Bin => Elem::Bin(Vec::new()),
            Kind::Ts => Elem::T(0),
            Kind::F16 => Elem::float(0.0),
            Kind::C64 => Elem::C(0, 0),
        }
    }

    fn random_elem(self, rng: &mut StdRng, long_ok: bool) -> Elem {
        match self {
            Kind::I32 => Elem::I(random_int(rng, i32::MIN.into(), i32::MAX.into())),
            Kind::I64 => Elem::I(random_int(rng, i64::MIN, i64::MAX)),
            Kind::U8 => Elem::U(random_uint(rng, u8::MAX.into())),
            Kind::U16 => Elem::U(random_uint(rng, u16::MAX.into())),
            Kind::F64 => Elem::float(random_f64(rng)),
            Kind::Bool => Elem::B(rng.random()),
            Kind::Str => Elem::S(random_string(rng, long_ok)),
            Kind::Bin => Elem::Bin(random_bytes(rng, long_ok)),
            Kind::Ts => Elem::T(match rng.random_range(0..6) {
                0 => i64::MIN,
                1 => i64::MAX,
                2 => rng.random_range(-3..=3),
                _ => TS_BASE + rng.random_range(0..4),
            }),
            // Values an f16 holds exactly, so the model's f64 is the file's.
            Kind::F16 => Elem::float(half::f16::from_f64(random_f64(rng)).to_f64()),
            Kind::C64 => Elem::C(
                (random_f64(rng) as f32).to_bits(),
                (random_f64(rng) as f32).to_bits(),
            ),
        }
    }

    /// A valid fill value, sometimes given in a non-canonical variant that
    /// converts exactly (e.g. `Int(3)` for a `u8` array).
    fn random_fill(self, rng: &mut StdRng) -> FillSpec {
        let elem = self.random_elem(rng, false);
        let (given, canonical) = match (&elem, self) {
            (Elem::I(v), _) => {
                let canonical = FillValue::Int(*v);
                let given = match rng.random_range(0..4) {
                    0 if *v >= 0 => FillValue::UInt(v.unsigned_abs()),
                    // Small integers convert exactly from floats.
                    1 if v.unsigned_abs() < (1 << 52) => FillValue::Float(*v as f64),
                    _ => canonical.clone(),
                };
                (given, canonical)
            }
            (Elem::U(v), _) => {
                let canonical = FillValue::UInt(*v);
                let given = match rng.random_range(0..3) {
                    0 => FillValue::Int(i64::try_from(*v).expect("small")),
                    1 => FillValue::Float(*v as f64),
                    _ => canonical.clone(),
                };
                (given, canonical)
            }
            (Elem::F(bits), _) => {
                let v = f64::from_bits(*bits);
                let canonical = FillValue::Float(v);
                let given = if v.fract() == 0.0 && v.abs() < 100.0 && rng.random_bool(0.3) {
                    // Only non-negative zero survives the trip through Int.
                    if v.to_bits() == (-0.0f64).to_bits() {
                        canonical.clone()
                    } else {
                        FillValue::Int(v as i64)
                    }
                } else {
                    canonical.clone()
                };
                (given, canonical)
            }
            (Elem::B(b), _) => {
                let canonical = FillValue::Bool(*b);
                let given = if rng.random_bool(0.3) {
                    FillValue::Int(i64::from(*b))
                } else {
                    canonical.clone()
                };
                (given, canonical)
            }
            (Elem::S(s), _) => (FillValue::String(s.clone()), FillValue::String(s.clone())),
            (Elem::Bin(b), _) => {
                let canonical = FillValue::Binary(b.clone());
                // A UTF-8 string converts to its bytes.
                let given = match std::str::from_utf8(b) {
                    Ok(s) if rng.random_bool(0.3) => FillValue::String(s.to_owned()),
                    _ => canonical.clone(),
                };
                (given, canonical)
            }
            (Elem::C(re, im), _) => {
                let (re, im) = (
                    f64::from(f32::from_bits(*re)),
                    f64::from(f32::from_bits(*im)),
                );
                let canonical = FillValue::Complex(re, im);
                // A real value converts to a complex one with no imaginary part.
                let given = if im.to_bits() == 0 && rng.random_bool(0.5) {
                    FillValue::Float(re)
                } else {
                    canonical.clone()
                };
                (given, canonical)
            }
            (Elem::T(v), _) => {
                let canonical = FillValue::TimestampNs(*v);
                let given = if rng.random_bool(0.3) {
                    FillValue::Int(*v)
                } else {
                    canonical.clone()
                };
                (given, canonical)
            }
        };
        FillSpec {
            given,
            canonical,
            elem,
        }
    }

    /// A fill value that clearly does not fit the dtype.
    fn invalid_fill(self, rng: &mut StdRng) -> FillValue {
        let text = FillValue::String("x".into());
        let options = match self {
            Kind::I32 => vec![
                FillValue::Int(i64::from(i32::MAX) + 1),
                FillValue::Float(2.5),
                FillValue::UInt(u64::MAX),
                text,
            ],
            Kind::I64 => vec![FillValue::UInt(u64::MAX), FillValue::Float(0.5), text],
            Kind::U8 => vec![
                FillValue::Int(256),
                FillValue::Int(-1),
                FillValue::Float(0.5),
                text,
            ],
            Kind::U16 => vec![FillValue::Int(65536), FillValue::Int(-1), text],
            Kind::F64 => vec![text, FillValue::Binary(vec![1])],
            Kind::Bool => vec![FillValue::Int(2), text],
            Kind::Str => vec![FillValue::Int(1), FillValue::Float(1.0)],
            Kind::Bin => vec![FillValue::Int(1), FillValue::Float(1.0)],
            Kind::Ts => vec![FillValue::Float(1.5), FillValue::UInt(u64::MAX), text],
            Kind::F16 => vec![FillValue::Float(1e6), text, FillValue::Complex(1.0, 0.0)],
            Kind::C64 => vec![FillValue::Complex(1e300, 0.0), text, FillValue::Bool(true)],
        };
        pick(rng, &options)
    }
}

fn random_list<T>(rng: &mut StdRng, mut f: impl FnMut(&mut StdRng) -> T) -> Vec<T> {
    let len = rng.random_range(0..=4);
    (0..len).map(|_| f(rng)).collect()
}

fn random_attribute(rng: &mut StdRng) -> AttributeValue {
    use AttributeValue as A;
    match rng.random_range(0..16) {
        0 => A::Bool(rng.random()),
        1 => A::Int8(rng.random()),
        2 => A::Int32(rng.random()),
        3 => A::Int64(rng.random()),
        4 => A::UInt8(rng.random()),
        5 => A::UInt64(rng.random()),
        6 => A::Float32(if rng.random_bool(0.2) {
            f32::NAN
        } else {
            rng.random()
        }),
        7 => A::Float64(random_f64(rng)),
        8 => A::String(random_string(rng, false)),
        9 => A::Binary(random_bytes(rng, false)),
        10 => A::BoolList(random_list(rng, |r| r.random())),
        11 => A::Int16List(random_list(rng, |r| r.random())),
        12 => A::Int64List(random_list(rng, |r| r.random())),
        13 => A::UInt32List(random_list(rng, |r| r.random())),
        14 => A::Float64List(random_list(rng, random_f64)),
        _ => A::StringList(random_list(rng, |r| random_string(r, false))),
    }
}

// ---------------------------------------------------------------------------
// Index arithmetic
// ---------------------------------------------------------------------------

fn num_elements(shape: &[usize]) -> usize {
    shape.iter().product()
}

/// Calls `f` with every index of `shape` in row-major order: once for a 0-d
/// shape, never when an extent is 0.
fn for_each_index(shape: &[usize], mut f: impl FnMut(&[usize])) {
    if shape.contains(&0) {
        return;
    }
    let mut idx = vec![0; shape.len()];
    loop {
        f(&idx);
        let mut d = shape.len();
        loop {
            if d == 0 {
                return;
            }
            d -= 1;
            idx[d] += 1;
            if idx[d] < shape[d] {
                break;
            }
            idx[d] = 0;
        }
    }
}

fn to_u64(v: &[usize]) -> Vec<u64> {
    v.iter().map(|&x| x as u64).collect()
}

// ---------------------------------------------------------------------------
// The model
// ---------------------------------------------------------------------------

/// The model of one array.
#[derive(Clone, Debug)]
struct ModelArray {
    /// Distinguishes incarnations of a name (delete + define gives a new id).
    id: u64,
    name: String,
    kind: Kind,
    shape: Vec<usize>,
    /// Canonical chunk shape (what `list_arrays` reports).
    chunk: Vec<usize>,
    dim_names: Vec<String>,
    fill: Option<FillValue>,
    /// Element of never-written positions.
    fill_elem: Elem,
    /// Row-major data, fill elements where never written.
    data: Vec<Elem>,
    /// Grid coordinates of the chunks any write touched.
    written: BTreeSet<Vec<usize>>,
    attrs: BTreeMap<String, AttributeValue>,
    /// The codec spec recorded (canonical), and the block name its chunks
    /// are stored with (`None`: the handle's).
    codec: Option<&'static str>,
    block_codec: Option<&'static str>,
}

impl ModelArray {
    fn new(id: u64, name: &str, spec: &DefineSpec) -> ModelArray {
        let rank = spec.shape.len();
        let chunk = match &spec.chunk {
            Some(c) => c.clone(),
            None => spec.shape.iter().map(|&n| n.max(1)).collect(),
        };
        let dim_names = if spec.dim_names.len() == rank {
            spec.dim_names.clone()
        } else {
            (0..rank).map(|d| format!("dim{d}")).collect()
        };
        let (fill, fill_elem) = match &spec.fill {
            FillArg::Valid(f) => (Some(f.canonical.clone()), f.elem.clone()),
            FillArg::None => (None, spec.kind.zero()),
            FillArg::Invalid(v) => panic!("model bug: defining with invalid fill {v:?}"),
        };
        ModelArray {
            id,
            name: name.to_owned(),
            kind: spec.kind,
            shape: spec.shape.clone(),
            chunk,
            dim_names,
            fill,
            data: vec![fill_elem.clone(); num_elements(&spec.shape)],
            fill_elem,
            written: BTreeSet::new(),
            attrs: BTreeMap::new(),
            codec: spec.codec.and_then(|c| c.1),
            block_codec: spec.codec.and_then(|c| c.2),
        }
    }

    fn flat(&self, idx: &[usize]) -> usize {
        idx.iter()
            .zip(&self.shape)
            .fold(0, |acc, (&i, &n)| acc * n + i)
    }

    fn offset(start: &[usize], idx: &[usize]) -> Vec<usize> {
        start.iter().zip(idx).map(|(s, i)| s + i).collect()
    }

    /// The elements of a region in row-major order.
    fn region(&self, start: &[usize], shape: &[usize]) -> Vec<Elem> {
        let mut out = Vec::with_capacity(num_elements(shape));
        for_each_index(shape, |idx| {
            out.push(self.data[self.flat(&Self::offset(start, idx))].clone());
        });
        out
    }

    fn write(&mut self, start: &[usize], shape: &[usize], values: &[Elem]) {
        let mut next = values.iter();
        for_each_index(shape, |idx| {
            let at = self.flat(&Self::offset(start, idx));
            self.data[at] = next.next().expect("one value per element").clone();
        });
        if shape.contains(&0) {
            return; // an empty write touches no chunk
        }
        // Every chunk between the first and the last element of the region.
        let first: Vec<usize> = start.iter().zip(&self.chunk).map(|(s, c)| s / c).collect();
        let counts: Vec<usize> = start
            .iter()
            .zip(shape)
            .zip(&self.chunk)
            .zip(&first)
            .map(|(((s, n), c), f)| (s + n - 1) / c - f + 1)
            .collect();
        for_each_index(&counts, |idx| {
            self.written.insert(Self::offset(&first, idx));
        });
    }

    fn grid(&self) -> Vec<usize> {
        self.shape
            .iter()
            .zip(&self.chunk)
            .map(|(n, c)| n.div_ceil(*c))
            .collect()
    }

    /// Statistics exactly as API.md defines them.
    fn expected_stats(&self) -> ExpStats {
        let mut null_count = 0u64;
        let mut min: Option<Elem> = None;
        let mut max: Option<Elem> = None;
        let mut too_long = false;
        for_each_index(&self.grid(), |cell| {
            let lo: Vec<usize> = cell.iter().zip(&self.chunk).map(|(g, c)| g * c).collect();
            let extent: Vec<usize> = lo
                .iter()
                .zip(&self.chunk)
                .zip(&self.shape)
                .map(|((l, c), n)| (*c).min(n - l))
                .collect();
            if !self.written.contains(cell) {
                null_count += num_elements(&extent) as u64;
                return;
            }
            let mut cmin: Option<&Elem> = None;
            let mut cmax: Option<&Elem> = None;
            for_each_index(&extent, |off| {
                let e = &self.data[self.flat(&Self::offset(&lo, off))];
                if self.fill.is_some() && e.same_as_fill(&self.fill_elem) {
                    null_count += 1;
                    return;
                }
                if e.is_nan() || !e.ordered() {
                    return;
                }
                if cmin.is_none_or(|m| e.stat_cmp(m) == Ordering::Less) {
                    cmin = Some(e);
                }
                if cmax.is_none_or(|m| e.stat_cmp(m) == Ordering::Greater) {
                    cmax = Some(e);
                }
            });
            for (chunk_value, global, keep) in [
                (cmin, &mut min, Ordering::Less),
                (cmax, &mut max, Ordering::Greater),
            ] {
                let Some(v) = chunk_value else { continue };
                too_long |= v.byte_len() > STAT_VALUE_LIMIT;
                if global.as_ref().is_none_or(|g| v.stat_cmp(g) == keep) {
                    *global = Some(v.clone());
                }
            }
        });
        if too_long {
            min = None;
            max = None;
        }
        ExpStats {
            min,
            max,
            null_count,
            row_count: num_elements(&self.shape) as u64,
        }
    }
}

/// Expected `ArrayStats`, computed from the model.
#[derive(Clone, Debug)]
struct ExpStats {
    min: Option<Elem>,
    max: Option<Elem>,
    null_count: u64,
    row_count: u64,
}

/// Whether the file has uncommitted changes, as far as the model can tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pending {
    No,
    Yes,
    /// After operations a library may legitimately treat as no change or as
    /// cancelling earlier changes (removing a pending-only attribute,
    /// deleting a pending-only array, an empty write on a clean file).
    Unknown,
}

/// A set of arrays in definition order, and the file's own attributes.
#[derive(Clone, Debug, Default)]
struct State {
    arrays: Vec<ModelArray>,
    file_attrs: BTreeMap<String, AttributeValue>,
}

impl State {
    fn get(&self, name: &str) -> Option<&ModelArray> {
        self.arrays.iter().find(|a| a.name == name)
    }

    fn get_mut(&mut self, name: &str) -> Option<&mut ModelArray> {
        self.arrays.iter_mut().find(|a| a.name == name)
    }

    fn remove(&mut self, name: &str) -> Option<ModelArray> {
        let pos = self.arrays.iter().position(|a| a.name == name)?;
        Some(self.arrays.remove(pos))
    }
}

struct Model {
    /// What the file shows, including pending changes.
    visible: State,
    /// What the last flush/compact/open committed.
    committed: State,
    /// Statistics of the committed arrays, by array id.
    committed_stats: HashMap<u64, ExpStats>,
    layers: usize,
    /// Nothing was committed since `create`: the next commit is a snapshot.
    base_only: bool,
    pending: Pending,
    next_id: u64,
    /// The latest successful definition of each name, for redefinitions
    /// with the same shape (used only to generate operations).
    last_spec: HashMap<String, DefineSpec>,
    /// A change other than a chunk write was made since the last commit
    /// (it may have been cancelled since, or not: a part can then be
    /// refused or not).
    touched: bool,
}

impl Model {
    fn new() -> Model {
        Model {
            visible: State::default(),
            committed: State::default(),
            committed_stats: HashMap::new(),
            layers: 1,
            base_only: true,
            pending: Pending::No,
            next_id: 0,
            last_spec: HashMap::new(),
            touched: false,
        }
    }

    fn define(&mut self, name: &str, spec: &DefineSpec) {
        self.next_id += 1;
        self.visible
            .arrays
            .push(ModelArray::new(self.next_id, name, spec));
        self.last_spec.insert(name.to_owned(), spec.clone());
        self.pending = Pending::Yes;
    }

    /// `true` when the visible incarnation of `name` is also committed.
    fn is_committed(&self, name: &str) -> bool {
        match (self.visible.get(name), self.committed.get(name)) {
            (Some(v), Some(c)) => v.id == c.id,
            _ => false,
        }
    }

    /// After a change that may cancel earlier pending changes (deleting a
    /// pending-only array, removing a pending-only attribute).
    fn may_cancel(&mut self) {
        self.pending = Pending::Unknown;
    }

    /// After a call that a library may or may not record as a change (an
    /// empty write, removing a missing attribute).
    fn may_change(&mut self) {
        if self.pending == Pending::No {
            self.pending = Pending::Unknown;
        }
    }

    fn commit(&mut self) {
        self.committed = self.visible.clone();
        self.committed_stats = self
            .committed
            .arrays
            .iter()
            .map(|a| (a.id, a.expected_stats()))
            .collect();
        self.pending = Pending::No;
        self.touched = false;
    }

    /// Whether the pending changes include more than chunk writes to
    /// committed arrays: arrays defined, deleted or redefined, definitions
    /// or attributes (of an array or of the file) that differ.
    fn structural_change(&self) -> bool {
        let (v, c) = (&self.visible, &self.committed);
        v.file_attrs != c.file_attrs
            || v.arrays.len() != c.arrays.len()
            || v.arrays.iter().zip(&c.arrays).any(|(a, b)| {
                a.id != b.id
                    || a.name != b.name
                    || a.shape != b.shape
                    || a.attrs != b.attrs
                    || a.codec != b.codec
            })
    }

    /// A new, empty file (ids keep counting, so old incarnations stay distinct).
    fn reset(&mut self) {
        self.visible = State::default();
        self.committed = State::default();
        self.committed_stats.clear();
        self.layers = 1;
        self.base_only = true;
        self.pending = Pending::No;
        self.touched = false;
    }

    fn revert(&mut self) {
        self.visible = self.committed.clone();
        self.pending = Pending::No;
        self.touched = false;
    }

    fn free_names(&self) -> Vec<&'static str> {
        NAMES
            .iter()
            .copied()
            .filter(|n| self.visible.get(n).is_none())
            .collect()
    }
}

// ---------------------------------------------------------------------------
// Operations
// ---------------------------------------------------------------------------

/// The error variants invalid operations must produce.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ErrKind {
    ArrayNotFound,
    ArrayAlreadyExists,
    InvalidName,
    InvalidShape,
    DTypeMismatch,
    RankMismatch,
    OutOfBounds,
    InvalidFillValue,
    InvalidCodec,
}

fn classify(e: &Error) -> Option<ErrKind> {
    Some(match e {
        Error::ArrayNotFound { .. } => ErrKind::ArrayNotFound,
        Error::ArrayAlreadyExists { .. } => ErrKind::ArrayAlreadyExists,
        Error::InvalidName { .. } => ErrKind::InvalidName,
        Error::InvalidShape { .. } => ErrKind::InvalidShape,
        Error::DTypeMismatch { .. } => ErrKind::DTypeMismatch,
        Error::RankMismatch { .. } => ErrKind::RankMismatch,
        Error::OutOfBounds { .. } => ErrKind::OutOfBounds,
        Error::InvalidFillValue { .. } => ErrKind::InvalidFillValue,
        Error::InvalidCodec { .. } => ErrKind::InvalidCodec,
        _ => return None,
    })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    Ok,
    Err(ErrKind),
}

impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expect::Ok => Ok(()),
            Expect::Err(k) => write!(f, " -> expect {k:?}"),
        }
    }
}

#[derive(Clone, Debug)]
enum FillArg {
    None,
    Valid(FillSpec),
    Invalid(FillValue),
}

#[derive(Clone, Debug)]
struct DefineSpec {
    kind: Kind,
    shape: Vec<usize>,
    chunk: Option<Vec<usize>>,
    dim_names: Vec<String>,
    fill: FillArg,
    /// Through `define` and an `ArraySpec` (else `define_array`), with this
    /// codec (given, recorded, block name; see [`ARRAY_CODECS`]).
    runtime: bool,
    codec: Option<(&'static str, Option<&'static str>, Option<&'static str>)>,
}

impl DefineSpec {
    fn given_fill(&self) -> Option<FillValue> {
        match &self.fill {
            FillArg::None => None,
            FillArg::Valid(f) => Some(f.given.clone()),
            FillArg::Invalid(v) => Some(v.clone()),
        }
    }
}

impl fmt::Display for DefineSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} shape={:?} chunk={:?} dims={:?} fill={:?}",
            self.kind.dtype(),
            self.shape,
            self.chunk,
            self.dim_names,
            self.given_fill()
        )?;
        match (self.runtime, self.codec) {
            (false, _) => Ok(()),
            (true, None) => write!(f, " (define)"),
            (true, Some((given, _, _))) => write!(f, " (define, codec {given:?})"),
        }
    }
}

/// How the data handed to `write_array` is laid out in memory.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Layout {
    Standard,
    /// The data stored with its axes permuted (`[1, 0]` is column-major),
    /// viewed through the inverse permutation.
    Permuted(Vec<usize>),
    /// Every other element of a larger array in every axis.
    Strided,
    /// Negative stride along axis 0.
    Reversed,
    /// Stride 0 along axis 0: every slab along it is the same data.
    Broadcast,
}

/// A `write_array` call.
#[derive(Clone, Debug)]
struct WriteOp {
    name: String,
    /// Element type of the data (not the array's in invalid writes).
    kind: Kind,
    start: Vec<usize>,
    /// Shape of the data.
    shape: Vec<usize>,
    /// The data in row-major order.
    values: Vec<Elem>,
    layout: Layout,
    /// Fills the gaps of the strided layout; must never be stored.
    junk: Elem,
    expect: Expect,
}

#[derive(Clone, Debug)]
enum Op {
    Define {
        name: String,
        spec: DefineSpec,
        expect: Expect,
    },
    /// Delete an existing array and define the name again.
    Redefine {
        name: String,
        spec: DefineSpec,
    },
    Write(WriteOp),
    Read {
        name: String,
        kind: Kind,
        start: Vec<usize>,
        shape: Vec<usize>,
        expect: Expect,
    },
    Delete {
        name: String,
        expect: Expect,
    },
    SetAttr {
        name: String,
        key: String,
        value: AttributeValue,
        expect: Expect,
    },
    RemoveAttr {
        name: String,
        key: String,
        expect: Expect,
    },
    GetAttr {
        name: String,
        key: String,
        expect: Expect,
    },
    /// The file's own attributes.
    SetFileAttr {
        key: String,
        value: AttributeValue,
    },
    RemoveFileAttr {
        key: String,
    },
    GetFileAttr {
        key: String,
    },
    Flush,
    /// `flush_memory`, the 0.9 form of `flush` (also copies the layer into
    /// an `InMemoryStorage`).
    FlushMemory,
    Compact,
    /// `stage` the pending changes as a part, then `commit_parts` it: like
    /// a flush when they are only chunk writes to committed arrays;
    /// `NotStageable`, changing nothing, for deletions and attribute
    /// changes; a refused commit of a part that defines arrays the handle
    /// does not (the handle gave its changes to the part).
    StageCommit,
    Reopen,
    /// `create` over the existing file: it starts empty again.
    Recreate,
}

impl Op {
    /// The operation's category in the summary tally.
    fn label(&self) -> &'static str {
        match self {
            Op::Define {
                expect: Expect::Err(_),
                ..
            }
            | Op::Write(WriteOp {
                expect: Expect::Err(_),
                ..
            })
            | Op::Read {
                expect: Expect::Err(_),
                ..
            }
            | Op::Delete {
                expect: Expect::Err(_),
                ..
            }
            | Op::SetAttr {
                expect: Expect::Err(_),
                ..
            }
            | Op::RemoveAttr {
                expect: Expect::Err(_),
                ..
            }
            | Op::GetAttr {
                expect: Expect::Err(_),
                ..
            } => "invalid",
            Op::Define { .. } => "define",
            Op::Redefine { .. } => "redefine",
            Op::Write(_) => "write",
            Op::Read { .. } => "read",
            Op::Delete { .. } => "delete",
            Op::SetAttr { .. } | Op::RemoveAttr { .. } | Op::GetAttr { .. } => "attribute",
            Op::SetFileAttr { .. } | Op::RemoveFileAttr { .. } | Op::GetFileAttr { .. } => {
                "file attribute"
            }
            Op::Flush | Op::FlushMemory => "flush",
            Op::Compact => "compact",
            Op::StageCommit => "stage + commit_parts",
            Op::Reopen => "reopen",
            Op::Recreate => "recreate",
        }
    }

    /// The array an operation expected to fail names, if it exists.
    fn failing_target(&self) -> Option<&str> {
        match self {
            Op::Write(WriteOp {
                name,
                expect: Expect::Err(_),
                ..
            })
            | Op::Read {
                name,
                expect: Expect::Err(_),
                ..
            }
            | Op::Define {
                name,
                expect: Expect::Err(_),
                ..
            } => Some(name),
            _ => None,
        }
    }
}

/// Counts of what the sequences did, for the summary.
type Tally = BTreeMap<&'static str, u64>;

fn show_values(values: &[Elem]) -> String {
    const SHOWN: usize = 12;
    let head: Vec<String> = values.iter().take(SHOWN).map(Elem::to_string).collect();
    if values.len() > SHOWN {
        format!("[{}, ... ({} values)]", head.join(", "), values.len())
    } else {
        format!("[{}]", head.join(", "))
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::Define { name, spec, expect } => write!(f, "define {name:?} {spec}{expect}"),
            Op::Redefine { name, spec } => write!(f, "delete + define {name:?} {spec}"),
            Op::Write(WriteOp {
                name,
                kind,
                start,
                shape,
                values,
                layout,
                junk: _,
                expect,
            }) => write!(
                f,
                "write {name:?} as {} start={start:?} shape={shape:?} layout={layout:?} values={}{expect}",
                kind.dtype(),
                show_values(values)
            ),
            Op::Read {
                name,
                kind,
                start,
                shape,
                expect,
            } => write!(
                f,
                "read {name:?} as {} start={start:?} shape={shape:?}{expect}",
                kind.dtype()
            ),
            Op::Delete { name, expect } => write!(f, "delete {name:?}{expect}"),
            Op::SetAttr {
                name,
                key,
                value,
                expect,
            } => write!(f, "set_attribute {name:?} {key:?} = {value:?}{expect}"),
            Op::RemoveAttr { name, key, expect } => {
                write!(f, "remove_attribute {name:?} {key:?}{expect}")
            }
            Op::GetAttr { name, key, expect } => {
                write!(f, "get_attribute {name:?} {key:?}{expect}")
            }
            Op::SetFileAttr { key, value } => write!(f, "set_file_attribute {key:?} = {value:?}"),
            Op::RemoveFileAttr { key } => write!(f, "remove_file_attribute {key:?}"),
            Op::GetFileAttr { key } => write!(f, "file_attribute {key:?}"),
            Op::Flush => write!(f, "flush"),
            Op::FlushMemory => write!(f, "flush_memory"),
            Op::Compact => write!(f, "compact"),
            Op::StageCommit => write!(f, "stage + commit_parts"),
            Op::Reopen => write!(f, "drop + reopen"),
            Op::Recreate => write!(f, "drop + create (truncate)"),
        }
    }
}

// ---------------------------------------------------------------------------
// Operation generation (depends only on the rng and the model, so a seed
// always gives the same sequence)
// ---------------------------------------------------------------------------

fn gen_define_spec(rng: &mut StdRng, kind: Kind) -> DefineSpec {
    let rank = if rng.random_range(0..20) == 0 {
        0
    } else {
        rng.random_range(1..=3)
    };
    let shape: Vec<usize> = (0..rank)
        .map(|_| {
            if rng.random_range(0..12) == 0 {
                0
            } else {
                rng.random_range(1..=12)
            }
        })
        .collect();
    let chunk = if rng.random_range(0..4) == 0 {
        None
    } else {
        Some(
            shape
                .iter()
                .map(|&n| {
                    if rng.random_bool(0.5) {
                        rng.random_range(1..=3)
                    } else {
                        // Up to one past the extent: chunks may overhang.
                        rng.random_range(1..=n.max(1) + 1)
                    }
                })
                .collect(),
        )
    };
    let dim_names = match rng.random_range(0..10) {
        0..=6 => (0..rank)
            .map(|d| pick(rng, &["x", "y", "z", "time", "lat"]).to_owned() + &d.to_string())
            .collect(),
        7 | 8 => Vec::new(),
        // A wrong length is replaced by dim0, dim1, ...
        _ => vec!["only".to_owned(); rank + 1],
    };
    let fill = if rng.random_bool(0.6) {
        FillArg::Valid(kind.random_fill(rng))
    } else {
        FillArg::None
    };
    let runtime = rng.random_bool(0.5);
    let codec = if runtime {
        let (given, recorded, block) = pick(rng, &ARRAY_CODECS);
        given.map(|g| (g, recorded, block))
    } else {
        None
    };
    DefineSpec {
        kind,
        shape,
        chunk,
        dim_names,
        fill,
        runtime,
        codec,
    }
}

/// The same dtype, shape and chunks as an earlier definition of the name
/// (a new fill value or none): a file that resurrected the old chunks would
/// return the old data.
fn respec(rng: &mut StdRng, old: &DefineSpec) -> DefineSpec {
    let fill = if rng.random_bool(0.6) {
        FillArg::Valid(old.kind.random_fill(rng))
    } else {
        FillArg::None
    };
    DefineSpec {
        fill,
        ..old.clone()
    }
}

fn random_define_spec(rng: &mut StdRng) -> DefineSpec {
    let kind = pick(rng, &ALL_KINDS);
    gen_define_spec(rng, kind)
}

/// A random in-bounds region. Mostly non-empty; sometimes the whole array,
/// sometimes empty along a dimension.
fn gen_region(rng: &mut StdRng, shape: &[usize]) -> (Vec<usize>, Vec<usize>) {
    if rng.random_range(0..7) == 0 {
        return (vec![0; shape.len()], shape.to_vec());
    }
    shape
        .iter()
        .map(|&n| {
            if n == 0 {
                return (0, 0);
            }
            match rng.random_range(0..50) {
                0 => (n, 0), // empty, starting at the end
                1 | 2 => (rng.random_range(0..n), 0),
                _ => {
                    let start = rng.random_range(0..n);
                    (start, rng.random_range(1..=n - start))
                }
            }
        })
        .unzip()
}

/// A region with at least one dimension past the end of the array (all
/// extents >= 1). `shape` must have rank >= 1.
fn gen_oob_region(rng: &mut StdRng, shape: &[usize]) -> (Vec<usize>, Vec<usize>) {
    let (mut start, mut len): (Vec<usize>, Vec<usize>) = shape
        .iter()
        .map(|&n| {
            let len = rng.random_range(1..=n.max(1));
            (rng.random_range(0..=n.saturating_sub(len)), len)
        })
        .unzip();
    let d = rng.random_range(0..shape.len());
    len[d] = rng.random_range(1..=3);
    start[d] = rng.random_range(shape[d].saturating_sub(len[d]) + 1..=shape[d] + 1);
    (start, len)
}

fn gen_values(rng: &mut StdRng, kind: Kind, n: usize, fill: &Elem) -> Vec<Elem> {
    // Long strings only in some writes, so that statistics are often defined.
    let long_ok = rng.random_range(0..4) == 0;
    (0..n)
        .map(|_| {
            if rng.random_range(0..7) == 0 {
                fill.clone()
            } else {
                kind.random_elem(rng, long_ok)
            }
        })
        .collect()
}

/// A memory layout for data of `shape`; the non-standard ones only where
/// they differ from the standard layout.
fn gen_layout(rng: &mut StdRng, shape: &[usize]) -> Layout {
    let rank = shape.len();
    match rng.random_range(0..12) {
        4..=6 if rank >= 2 => {
            // A random non-identity permutation of the axes.
            let mut perm: Vec<usize> = (0..rank).collect();
            while perm.iter().enumerate().all(|(i, &p)| i == p) {
                for i in (1..rank).rev() {
                    perm.swap(i, rng.random_range(0..=i));
                }
            }
            Layout::Permuted(perm)
        }
        7 | 8 if rank >= 1 => Layout::Strided,
        9 | 10 if rank >= 1 => Layout::Reversed,
        11 if rank >= 1 && shape[0] > 1 => Layout::Broadcast,
        _ => Layout::Standard,
    }
}

fn other_kind(rng: &mut StdRng, kind: Kind) -> Kind {
    let others: Vec<Kind> = ALL_KINDS.into_iter().filter(|k| *k != kind).collect();
    pick(rng, &others)
}

fn write_op(
    rng: &mut StdRng,
    a: &ModelArray,
    kind: Kind,
    start: Vec<usize>,
    shape: Vec<usize>,
    expect: Expect,
) -> Op {
    // Writing the fill element sometimes exercises null counting.
    let fill = if kind == a.kind {
        a.fill_elem.clone()
    } else {
        kind.zero()
    };
    let layout = gen_layout(rng, &shape);
    let values = if layout == Layout::Broadcast {
        // One slab of axis 0, repeated.
        let slab = gen_values(rng, kind, num_elements(&shape[1..]), &fill);
        (0..shape[0]).flat_map(|_| slab.iter().cloned()).collect()
    } else {
        gen_values(rng, kind, num_elements(&shape), &fill)
    };
    Op::Write(WriteOp {
        name: a.name.clone(),
        kind,
        start,
        shape,
        values,
        layout,
        junk: kind.random_elem(rng, false),
        expect,
    })
}

#[derive(Clone, Copy)]
enum OpClass {
    Define,
    Redefine,
    Write,
    Read,
    Delete,
    SetAttr,
    RemoveAttr,
    GetAttr,
    SetFileAttr,
    RemoveFileAttr,
    GetFileAttr,
    Flush,
    FlushMemory,
    Compact,
    StageCommit,
    Reopen,
    Recreate,
    Invalid,
}

fn gen_op(rng: &mut StdRng, model: &Model, can_reopen: bool) -> Op {
    let has = !model.visible.arrays.is_empty();
    let w = |present: bool, weight: u32| if present { weight } else { 0 };
    let classes = [
        (w(true, if has { 8 } else { 40 }), OpClass::Define),
        (w(has, 4), OpClass::Redefine),
        (w(has, 26), OpClass::Write),
        (w(has, 12), OpClass::Read),
        (w(has, 4), OpClass::Delete),
        (w(has, 7), OpClass::SetAttr),
        (w(has, 3), OpClass::RemoveAttr),
        (w(has, 3), OpClass::GetAttr),
        (3, OpClass::SetFileAttr),
        (1, OpClass::RemoveFileAttr),
        (1, OpClass::GetFileAttr),
        (5, OpClass::Flush),
        (1, OpClass::FlushMemory),
        (2, OpClass::Compact),
        (w(has, 3), OpClass::StageCommit),
        (w(can_reopen, 3), OpClass::Reopen),
        (w(can_reopen, 1), OpClass::Recreate),
        (10, OpClass::Invalid),
    ];
    let total: u32 = classes.iter().map(|(w, _)| w).sum();
    let mut roll = rng.random_range(0..total);
    let mut class = OpClass::Flush;
    for (weight, c) in classes {
        if roll < weight {
            class = c;
            break;
        }
        roll -= weight;
    }
    let arrays = &model.visible.arrays;
    let random_array = |rng: &mut StdRng| &arrays[rng.random_range(0..arrays.len())];
    let key = |rng: &mut StdRng| pick(rng, &ATTR_KEYS).to_owned();
    match class {
        OpClass::Define if !model.free_names().is_empty() => {
            let name = pick(rng, &model.free_names()).to_owned();
            let spec = match model.last_spec.get(&name) {
                Some(old) if rng.random_bool(0.4) => respec(rng, old),
                _ => random_define_spec(rng),
            };
            Op::Define {
                name,
                spec,
                expect: Expect::Ok,
            }
        }
        OpClass::Define | OpClass::Redefine => {
            let old = random_array(rng);
            let spec = if rng.random_bool(0.4) {
                respec(rng, &model.last_spec[&old.name])
            } else {
                // Usually another dtype, so that stale chunks could not
                // even be decoded.
                let kind = if rng.random_bool(0.7) {
                    other_kind(rng, old.kind)
                } else {
                    old.kind
                };
                gen_define_spec(rng, kind)
            };
            Op::Redefine {
                name: old.name.clone(),
                spec,
            }
        }
        OpClass::Write => {
            let a = random_array(rng);
            let (start, shape) = gen_region(rng, &a.shape);
            write_op(rng, a, a.kind, start, shape, Expect::Ok)
        }
        OpClass::Read => {
            let a = random_array(rng);
            let (start, shape) = if rng.random_range(0..5) == 0 {
                (vec![], vec![])
            } else {
                gen_region(rng, &a.shape)
            };
            Op::Read {
                name: a.name.clone(),
                kind: a.kind,
                start,
                shape,
                expect: Expect::Ok,
            }
        }
        OpClass::Delete => Op::Delete {
            name: random_array(rng).name.clone(),
            expect: Expect::Ok,
        },
        OpClass::SetAttr => Op::SetAttr {
            name: random_array(rng).name.clone(),
            key: key(rng),
            value: random_attribute(rng),
            expect: Expect::Ok,
        },
        OpClass::RemoveAttr => Op::RemoveAttr {
            name: random_array(rng).name.clone(),
            key: key(rng),
            expect: Expect::Ok,
        },
        OpClass::GetAttr => Op::GetAttr {
            name: random_array(rng).name.clone(),
            key: key(rng),
            expect: Expect::Ok,
        },
        OpClass::SetFileAttr => Op::SetFileAttr {
            key: key(rng),
            value: random_attribute(rng),
        },
        OpClass::RemoveFileAttr => Op::RemoveFileAttr { key: key(rng) },
        OpClass::GetFileAttr => Op::GetFileAttr { key: key(rng) },
        OpClass::Flush => Op::Flush,
        OpClass::FlushMemory => Op::FlushMemory,
        OpClass::Compact => Op::Compact,
        OpClass::StageCommit => Op::StageCommit,
        OpClass::Reopen => Op::Reopen,
        OpClass::Recreate => Op::Recreate,
        OpClass::Invalid => gen_invalid_op(rng, model),
    }
}

/// An operation that must fail with a specific error and change nothing.
fn gen_invalid_op(rng: &mut StdRng, model: &Model) -> Op {
    let arrays = &model.visible.arrays;
    let mut missing: Vec<&str> = model.free_names();
    missing.push(MISSING);
    let missing_name = pick(rng, &missing).to_owned();
    let not_found = Expect::Err(ErrKind::ArrayNotFound);
    // Choices that need no array come first; the rest need one.
    let choice = rng.random_range(0..if arrays.is_empty() { 9 } else { 18 });
    match choice {
        8 => {
            let mut spec = random_define_spec(rng);
            spec.runtime = true;
            spec.codec = Some((pick(rng, &BAD_CODECS), None, None));
            Op::Define {
                name: missing_name,
                spec,
                expect: Expect::Err(ErrKind::InvalidCodec),
            }
        }
        0 => Op::Delete {
            name: missing_name,
            expect: not_found,
        },
        1 => Op::SetAttr {
            name: missing_name,
            key: pick(rng, &ATTR_KEYS).to_owned(),
            value: random_attribute(rng),
            expect: not_found,
        },
        2 => Op::GetAttr {
            name: missing_name,
            key: pick(rng, &ATTR_KEYS).to_owned(),
            expect: not_found,
        },
        3 => Op::RemoveAttr {
            name: missing_name,
            key: pick(rng, &ATTR_KEYS).to_owned(),
            expect: not_found,
        },
        4 => Op::Define {
            name: String::new(),
            spec: random_define_spec(rng),
            expect: Expect::Err(ErrKind::InvalidName),
        },
        5 => {
            let mut spec = random_define_spec(rng);
            let mut chunk: Vec<usize> = spec.shape.iter().map(|&n| n.max(1)).collect();
            match rng.random_range(0..4) {
                // A zero in the chunk shape.
                0 if !chunk.is_empty() => {
                    let d = rng.random_range(0..chunk.len());
                    chunk[d] = 0;
                }
                // An element count (and chunk grid) overflowing u64.
                1 => {
                    spec.shape = vec![1 << 40; 3];
                    chunk = vec![1; 3];
                }
                // One chunk of 8 GiB of i64.
                2 => {
                    spec.kind = Kind::I64;
                    spec.fill = FillArg::None;
                    spec.shape = vec![1 << 30];
                    chunk = vec![1 << 30];
                }
                // A chunk shape of the wrong rank.
                _ => chunk.push(rng.random_range(1..=3)),
            }
            spec.chunk = Some(chunk);
            Op::Define {
                name: missing_name,
                spec,
                expect: Expect::Err(ErrKind::InvalidShape),
            }
        }
        6 => {
            let kind = pick(rng, &ALL_KINDS);
            let mut spec = gen_define_spec(rng, kind);
            spec.fill = FillArg::Invalid(kind.invalid_fill(rng));
            Op::Define {
                name: missing_name,
                spec,
                expect: Expect::Err(ErrKind::InvalidFillValue),
            }
        }
        7 => {
            let kind = pick(rng, &ALL_KINDS);
            if rng.random_bool(0.5) {
                Op::Read {
                    name: missing_name,
                    kind,
                    start: vec![],
                    shape: vec![],
                    expect: not_found,
                }
            } else {
                Op::Write(WriteOp {
                    name: missing_name,
                    kind,
                    start: vec![0],
                    shape: vec![1],
                    values: vec![kind.random_elem(rng, false)],
                    layout: Layout::Standard,
                    junk: kind.zero(),
                    expect: not_found,
                })
            }
        }
        _ => {
            let a = &arrays[rng.random_range(0..arrays.len())];
            gen_invalid_array_op(rng, a)
        }
    }
}

/// An invalid operation on an existing array.
fn gen_invalid_array_op(rng: &mut StdRng, a: &ModelArray) -> Op {
    let rank = a.shape.len();
    match rng.random_range(0..7) {
        0 => Op::Define {
            name: a.name.clone(),
            spec: random_define_spec(rng),
            expect: Expect::Err(ErrKind::ArrayAlreadyExists),
        },
        1 | 2 if rank > 0 => {
            let (start, shape) = gen_oob_region(rng, &a.shape);
            if rng.random_bool(0.5) {
                write_op(
                    rng,
                    a,
                    a.kind,
                    start,
                    shape,
                    Expect::Err(ErrKind::OutOfBounds),
                )
            } else {
                Op::Read {
                    name: a.name.clone(),
                    kind: a.kind,
                    start,
                    shape,
                    expect: Expect::Err(ErrKind::OutOfBounds),
                }
            }
        }
        1..=3 => {
            let kind = other_kind(rng, a.kind);
            let (start, shape) = gen_region(rng, &a.shape);
            let expect = Expect::Err(ErrKind::DTypeMismatch);
            if rng.random_bool(0.5) {
                write_op(rng, a, kind, start, shape, expect)
            } else {
                Op::Read {
                    name: a.name.clone(),
                    kind,
                    start,
                    shape,
                    expect,
                }
            }
        }
        4 | 5 => {
            // Write with start and/or data of the wrong rank.
            let mut pairs = vec![(rank + 1, rank), (rank, rank + 1), (rank + 1, rank + 1)];
            if rank > 0 {
                pairs.extend([(rank - 1, rank - 1), (rank, rank - 1), (rank - 1, rank)]);
            }
            let (start_rank, data_rank) = pick(rng, &pairs);
            write_op(
                rng,
                a,
                a.kind,
                vec![0; start_rank],
                vec![1; data_rank],
                Expect::Err(ErrKind::RankMismatch),
            )
        }
        _ => {
            // Read with start and/or shape of the wrong rank. Both empty
            // means "whole array", so that pair is never used.
            let mut pairs = vec![(rank + 1, rank + 1), (rank, rank + 1), (rank + 1, rank)];
            if rank >= 2 {
                pairs.push((rank - 1, rank - 1));
            }
            if rank >= 1 {
                pairs.push((rank, rank - 1));
            }
            let (start_rank, shape_rank) = pick(rng, &pairs);
            Op::Read {
                name: a.name.clone(),
                kind: a.kind,
                start: vec![0; start_rank],
                shape: vec![1; shape_rank],
                expect: Expect::Err(ErrKind::RankMismatch),
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Backends and configurations
// ---------------------------------------------------------------------------

/// Where each sequence's file lives.
#[derive(Clone, Copy)]
pub(crate) enum Target<'a> {
    /// `ArrayFile::create_memory`: the file cannot be reopened, so the
    /// sequences never reopen or recreate it.
    CreateMemory,
    /// `s{seed}/model.af` in the backend's store (one directory per
    /// sequence).
    Store(&'a Backend),
}

impl Target<'_> {
    fn can_reopen(self) -> bool {
        matches!(self, Target::Store(_))
    }
}

impl fmt::Display for Target<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::CreateMemory => f.write_str("create_memory"),
            Target::Store(backend) => write!(f, "{backend:?}"),
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Codec {
    None,
    Lz4,
    Zstd1,
}

impl Codec {
    /// The name of the blocks it writes.
    fn block(self) -> &'static str {
        match self {
            Codec::None => "none",
            Codec::Lz4 => "lz4",
            Codec::Zstd1 => "zstd",
        }
    }
}

/// A file configuration; `None` fields keep the library default.
#[derive(Clone, Copy, Debug)]
struct Config {
    codec: Codec,
    block_target_size: Option<usize>,
    frame_target_size: Option<usize>,
    cache_capacity: Option<usize>,
    io_cache_capacity: Option<usize>,
    /// Capacities of a `DeltaCache` shared by every file the sequence
    /// creates or opens (so reopen and recreate must not see stale frames).
    shared_cache: Option<(u64, u64)>,
    write_buffer_capacity: Option<usize>,
}

impl Config {
    fn random(rng: &mut StdRng) -> Config {
        Config {
            codec: pick(rng, &[Codec::None, Codec::Lz4, Codec::Zstd1]),
            // Small targets give many blocks and frames even for tiny arrays.
            block_target_size: pick(rng, &[Some(2048), Some(2048), Some(4096), None]),
            frame_target_size: pick(rng, &[Some(256), Some(256), Some(512), None]),
            // Tiny caches evict constantly.
            cache_capacity: pick(rng, &[Some(0), Some(4096), None, None]),
            io_cache_capacity: pick(rng, &[Some(0), Some(4096), None, None]),
            shared_cache: pick(
                rng,
                &[None, None, Some((1 << 20, 1 << 20)), Some((4096, 0))],
            ),
            // No buffer, or one so small that partly written chunks are
            // evicted and loaded back all the time.
            write_buffer_capacity: pick(rng, &[Some(0), Some(512), Some(4096), None]),
        }
    }

    fn file_config<C: CompressionCodec>(
        &self,
        codec: C,
        shared: Option<&Arc<DeltaCache>>,
    ) -> FileConfig<C> {
        let mut config = FileConfig::new(codec);
        config.cache = shared.cloned();
        if let Some(v) = self.block_target_size {
            config.block_target_size = v;
        }
        if let Some(v) = self.frame_target_size {
            config.frame_target_size = v;
        }
        if let Some(v) = self.cache_capacity {
            config.cache_capacity = v;
        }
        if let Some(v) = self.io_cache_capacity {
            config.io_cache_capacity = v;
        }
        if let Some(v) = self.write_buffer_capacity {
            config.write_buffer_capacity = v;
        }
        config
    }
}

impl fmt::Display for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let opt = |v: Option<usize>| v.map_or("default".to_owned(), |v| v.to_string());
        write!(
            f,
            "codec={:?} block_target_size={} frame_target_size={} cache_capacity={} io_cache_capacity={} shared_cache={:?} write_buffer_capacity={}",
            self.codec,
            opt(self.block_target_size),
            opt(self.frame_target_size),
            opt(self.cache_capacity),
            opt(self.io_cache_capacity),
            self.shared_cache,
            opt(self.write_buffer_capacity)
        )
    }
}

/// Creates and reopens the file of one sequence.
struct Harness {
    config: Config,
    shared_cache: Option<Arc<DeltaCache>>,
    /// The store and the file's path; `None` for `create_memory`.
    store: Option<(Arc<dyn ObjectStore>, Path)>,
}

impl Harness {
    fn new(target: Target<'_>, config: Config, seed: u64) -> Harness {
        let shared_cache = config
            .shared_cache
            .map(|(frames, io)| Arc::new(DeltaCache::new(frames, io)));
        let store = match target {
            Target::CreateMemory => None,
            Target::Store(backend) => Some((
                Arc::clone(&backend.store),
                Path::from(format!("s{seed}/{FILE_NAME}")),
            )),
        };
        Harness {
            config,
            shared_cache,
            store,
        }
    }

    async fn create_with<C: CompressionCodec + 'static>(
        &self,
        codec: C,
    ) -> Result<ArrayFile, Error> {
        let config = self.config.file_config(codec, self.shared_cache.as_ref());
        match &self.store {
            None => ArrayFile::create_memory(config).await,
            Some((store, path)) => ArrayFile::create(store.clone(), path.clone(), config).await,
        }
    }

    async fn open_with<C: CompressionCodec + 'static>(&self, codec: C) -> Result<ArrayFile, Error> {
        let (store, path) = self.store.clone().expect("reopen needs a store");
        let config = self.config.file_config(codec, self.shared_cache.as_ref());
        ArrayFile::open(store, path, config).await
    }

    async fn create(&self) -> Result<ArrayFile, Error> {
        match self.config.codec {
            Codec::None => self.create_with(NoCompression).await,
            Codec::Lz4 => self.create_with(Lz4Codec).await,
            Codec::Zstd1 => self.create_with(ZstdCodec::new(1)).await,
        }
    }

    async fn open(&self) -> Result<ArrayFile, Error> {
        match self.config.codec {
            Codec::None => self.open_with(NoCompression).await,
            Codec::Lz4 => self.open_with(Lz4Codec).await,
            Codec::Zstd1 => self.open_with(ZstdCodec::new(1)).await,
        }
    }
}

// ---------------------------------------------------------------------------
// Executing operations
// ---------------------------------------------------------------------------

/// Writes `values` (row-major, of `shape`) through a view with `layout`.
async fn exec_write<T: ModelElem>(file: &mut ArrayFile, w: &WriteOp) -> Result<(), Error> {
    let (name, start, shape) = (w.name.as_str(), w.start.clone(), w.shape.as_slice());
    let data: Vec<T> = w.values.iter().map(T::from_elem).collect();
    let logical = ArrayD::from_shape_vec(IxDyn(shape), data).expect("values match shape");
    match &w.layout {
        Layout::Permuted(perm) => {
            let stored = logical
                .view()
                .permuted_axes(IxDyn(perm))
                .as_standard_layout()
                .into_owned();
            let mut inverse = vec![0; perm.len()];
            for (i, &p) in perm.iter().enumerate() {
                inverse[p] = i;
            }
            let view = stored.view().permuted_axes(IxDyn(&inverse));
            file.write_array(name, start, view).await
        }
        Layout::Broadcast => {
            let slab_len = num_elements(&shape[1..]);
            let slab = logical
                .as_slice()
                .expect("standard layout")
                .get(..slab_len)
                .expect("one slab")
                .to_vec();
            let mut slab_shape = shape.to_vec();
            slab_shape[0] = 1;
            let slab = ArrayD::from_shape_vec(IxDyn(&slab_shape), slab).expect("slab shape");
            let view = slab.broadcast(IxDyn(shape)).expect("broadcastable");
            file.write_array(name, start, view).await
        }
        Layout::Strided => {
            let big_shape: Vec<usize> = shape.iter().map(|n| n * 2).collect();
            let mut big = ArrayD::from_elem(IxDyn(&big_shape), T::from_elem(&w.junk));
            big.slice_each_axis_mut(|_| Slice::new(0, None, 2))
                .assign(&logical);
            let view = big.slice_each_axis(|_| Slice::new(0, None, 2));
            file.write_array(name, start, view).await
        }
        Layout::Reversed if !shape.is_empty() => {
            let mut stored = logical.clone();
            stored.invert_axis(Axis(0));
            let stored = stored.as_standard_layout().into_owned();
            let mut view = stored.view();
            view.invert_axis(Axis(0));
            file.write_array(name, start, view).await
        }
        Layout::Standard | Layout::Reversed => file.write_array(name, start, logical.view()).await,
    }
}

/// Reads a region and returns its shape and elements in logical order.
async fn read_elems<T: ModelElem>(
    file: &ArrayFile,
    name: &str,
    start: Vec<usize>,
    shape: Vec<usize>,
) -> Result<(Vec<usize>, Vec<Elem>), Error> {
    let array = file.read_array::<T>(name, start, shape).await?;
    Ok((
        array.shape().to_vec(),
        array.iter().map(ModelElem::to_elem).collect(),
    ))
}

/// What an error must name, for checking the fields of expected errors.
struct ErrContext<'a> {
    name: &'a str,
    array: Option<&'a ModelArray>,
    /// The dtype the call used (data, read type, or definition).
    dtype: Option<DType>,
}

impl<'a> ErrContext<'a> {
    /// Context of calls that only name an array.
    fn named(name: &'a str) -> Self {
        ErrContext {
            name,
            array: None,
            dtype: None,
        }
    }
}

fn check_error_fields(e: &Error, ctx: &ErrContext<'_>) -> Result<(), String> {
    let wrong = |what: String| Err(format!("error {e:?} has wrong details: {what}"));
    let same_name = |name: &str| {
        if name == ctx.name {
            Ok(())
        } else {
            wrong(format!("names array {name:?}, expected {:?}", ctx.name))
        }
    };
    match e {
        Error::ArrayNotFound { name }
        | Error::ArrayAlreadyExists { name }
        | Error::InvalidShape { name, .. }
        | Error::InvalidCodec { name, .. } => same_name(name),
        Error::InvalidFillValue { name, dtype, .. } => {
            same_name(name)?;
            if Some(*dtype) != ctx.dtype {
                return wrong(format!("dtype {dtype:?}, expected {:?}", ctx.dtype));
            }
            Ok(())
        }
        Error::DTypeMismatch {
            name,
            expected,
            actual,
        } => {
            same_name(name)?;
            let array = ctx.array.expect("dtype mismatch on an existing array");
            if *expected != array.kind.dtype() || Some(*actual) != ctx.dtype {
                return wrong(format!(
                    "expected/actual should be {:?}/{:?}",
                    array.kind.dtype(),
                    ctx.dtype
                ));
            }
            Ok(())
        }
        Error::RankMismatch { name, expected, .. } => {
            same_name(name)?;
            let rank = ctx
                .array
                .expect("rank mismatch on an existing array")
                .shape
                .len();
            if *expected != rank {
                return wrong(format!("expected rank should be {rank}"));
            }
            Ok(())
        }
        Error::OutOfBounds {
            name, array_shape, ..
        } => {
            same_name(name)?;
            let shape = to_u64(&ctx.array.expect("bounds of an existing array").shape);
            if *array_shape != shape {
                return wrong(format!("array_shape should be {shape:?}"));
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Checks a call's outcome against the expectation; `Some(value)` when it
/// succeeded as expected, `None` when it failed as expected.
fn check_outcome<T>(
    res: Result<T, Error>,
    expect: Expect,
    ctx: &ErrContext<'_>,
) -> Result<Option<T>, String> {
    match (expect, res) {
        (Expect::Ok, Ok(v)) => Ok(Some(v)),
        (Expect::Ok, Err(e)) => Err(format!("unexpected error: {e} ({e:?})")),
        (Expect::Err(kind), Ok(_)) => {
            Err(format!("expected a {kind:?} error, but the call succeeded"))
        }
        (Expect::Err(kind), Err(e)) if classify(&e) == Some(kind) => {
            check_error_fields(&e, ctx)?;
            Ok(None)
        }
        (Expect::Err(kind), Err(e)) => Err(format!("expected a {kind:?} error, got: {e} ({e:?})")),
    }
}

/// Compares a read result with the model's region.
fn compare_region(
    a: &ModelArray,
    start: &[usize],
    shape: &[usize],
    got_shape: &[usize],
    got: &[Elem],
) -> Result<(), String> {
    if got_shape != shape {
        return Err(format!(
            "read of {:?} returned shape {got_shape:?}, expected {shape:?}",
            a.name
        ));
    }
    let expected = a.region(start, shape);
    if got.len() != expected.len() {
        return Err(format!(
            "read of {:?} returned {} elements, expected {}",
            a.name,
            got.len(),
            expected.len()
        ));
    }
    let mut first = None;
    let mut mismatches = 0;
    let mut pos = 0;
    for_each_index(shape, |idx| {
        if got[pos] != expected[pos] {
            mismatches += 1;
            if first.is_none() {
                first = Some((ModelArray::offset(start, idx), pos));
            }
        }
        pos += 1;
    });
    match first {
        None => Ok(()),
        Some((at, pos)) => Err(format!(
            "read of {:?} (start {start:?}, shape {shape:?}) differs from the model in {mismatches} element(s); \
             first at array index {at:?}: got {}, expected {} (fill {}, chunk written: {})",
            a.name,
            got[pos],
            expected[pos],
            a.fill_elem,
            a.written.contains(
                &at.iter()
                    .zip(&a.chunk)
                    .map(|(i, c)| i / c)
                    .collect::<Vec<_>>()
            )
        )),
    }
}

/// Reads a region (or the whole array for `vec![], vec![]`) and compares it.
async fn check_read(
    file: &ArrayFile,
    a: &ModelArray,
    start: Vec<usize>,
    shape: Vec<usize>,
    tally: &mut Tally,
) -> Result<(), String> {
    *tally.entry("reads compared").or_default() += 1;
    let (region_start, region_shape) = if start.is_empty() && shape.is_empty() {
        (vec![0; a.shape.len()], a.shape.clone())
    } else {
        (start.clone(), shape.clone())
    };
    let res = with_elem_type!(a.kind, T => read_elems::<T>(file, &a.name, start, shape).await);
    let (got_shape, got) = res.map_err(|e| format!("read of {:?} failed: {e} ({e:?})", a.name))?;
    compare_region(a, &region_start, &region_shape, &got_shape, &got)
}

/// One sequence: the file, its model and how to recreate the file.
struct Session {
    harness: Harness,
    file: Option<ArrayFile>,
    model: Model,
    /// Separate from the operation rng, so that changing the checks does not
    /// change the operation sequences.
    check_rng: StdRng,
    /// Comparisons made (reads, statistics), for the summary.
    tally: Tally,
}

impl Session {
    fn file(&mut self) -> &mut ArrayFile {
        self.file.as_mut().expect("file is open")
    }

    async fn step(&mut self, op: &Op) -> Result<(), String> {
        if matches!(
            op,
            Op::Define { .. }
                | Op::Redefine { .. }
                | Op::Delete { .. }
                | Op::SetAttr { .. }
                | Op::RemoveAttr { .. }
                | Op::SetFileAttr { .. }
                | Op::RemoveFileAttr { .. }
        ) {
            self.model.touched = true;
        }
        match op {
            Op::Define { name, spec, expect } => self.define(name, spec, *expect),
            Op::Redefine { name, spec } => self.redefine(name, spec),
            Op::Write(w) => self.write(w).await,
            Op::Read {
                name,
                kind,
                start,
                shape,
                expect,
            } => self.read(name, *kind, start, shape, *expect).await,
            Op::Delete { name, expect } => self.delete(name, *expect),
            Op::SetAttr {
                name,
                key,
                value,
                expect,
            } => self.set_attribute(name, key, value, *expect),
            Op::RemoveAttr { name, key, expect } => self.remove_attribute(name, key, *expect),
            Op::GetAttr { name, key, expect } => self.get_attribute(name, key, *expect),
            Op::SetFileAttr { key, value } => self.set_file_attribute(key, value),
            Op::RemoveFileAttr { key } => self.remove_file_attribute(key),
            Op::GetFileAttr { key } => self.get_file_attribute(key),
            Op::Flush | Op::FlushMemory | Op::Compact => self.commit(op).await,
            Op::StageCommit => self.stage_commit().await,
            Op::Reopen => self.reopen().await,
            Op::Recreate => self.recreate().await,
        }
    }

    fn define_in_file(&mut self, name: &str, spec: &DefineSpec) -> Result<(), Error> {
        if !spec.runtime {
            return with_elem_type!(spec.kind, T => self.file().define_array::<T>(
                name,
                spec.dim_names.clone(),
                spec.shape.clone(),
                spec.chunk.clone(),
                spec.given_fill(),
            ));
        }
        let mut a = ArraySpec::new(spec.kind.dtype(), to_u64(&spec.shape));
        a.chunk_shape = spec.chunk.as_deref().map(to_u64);
        // `define` refuses names of the wrong count, which `define_array`
        // replaces: give it none then, for the same default names.
        if spec.dim_names.len() == spec.shape.len() {
            a.dimension_names = spec.dim_names.clone();
        }
        a.fill_value = spec.given_fill();
        a.codec = spec.codec.map(|(given, _, _)| given.to_owned());
        self.file().define(name, a)
    }

    fn define(&mut self, name: &str, spec: &DefineSpec, expect: Expect) -> Result<(), String> {
        let res = self.define_in_file(name, spec);
        let ctx = ErrContext {
            name,
            array: None,
            dtype: Some(spec.kind.dtype()),
        };
        if check_outcome(res, expect, &ctx)?.is_some() {
            self.model.define(name, spec);
        }
        Ok(())
    }

    fn redefine(&mut self, name: &str, spec: &DefineSpec) -> Result<(), String> {
        self.file()
            .delete(name)
            .map_err(|e| format!("delete failed: {e} ({e:?})"))?;
        self.model.visible.remove(name);
        self.define_in_file(name, spec)
            .map_err(|e| format!("define after delete failed: {e} ({e:?})"))?;
        self.model.define(name, spec);
        Ok(())
    }

    async fn write(&mut self, w: &WriteOp) -> Result<(), String> {
        let file = self.file.as_mut().expect("file is open");
        let res = with_elem_type!(w.kind, T => exec_write::<T>(file, w).await);
        let ctx = ErrContext {
            name: &w.name,
            array: self.model.visible.get(&w.name),
            dtype: Some(w.kind.dtype()),
        };
        if check_outcome(res, w.expect, &ctx)?.is_none() {
            return Ok(());
        }
        let a = self.model.visible.get_mut(&w.name).expect("written array");
        a.write(&w.start, &w.shape, &w.values);
        if w.shape.contains(&0) {
            self.model.may_change();
        } else {
            self.model.pending = Pending::Yes;
        }
        Ok(())
    }

    async fn read(
        &mut self,
        name: &str,
        kind: Kind,
        start: &[usize],
        shape: &[usize],
        expect: Expect,
    ) -> Result<(), String> {
        let file = self.file.as_ref().expect("file is open");
        let array = self.model.visible.get(name);
        if expect == Expect::Ok {
            let a = array.expect("read array exists");
            return check_read(file, a, start.to_vec(), shape.to_vec(), &mut self.tally).await;
        }
        let res = with_elem_type!(kind, T => read_elems::<T>(
            file, name, start.to_vec(), shape.to_vec()
        ).await);
        let ctx = ErrContext {
            name,
            array,
            dtype: Some(kind.dtype()),
        };
        check_outcome(res, expect, &ctx)?;
        Ok(())
    }

    fn delete(&mut self, name: &str, expect: Expect) -> Result<(), String> {
        let res = self.file().delete(name);
        if check_outcome(res, expect, &ErrContext::named(name))?.is_some() {
            if self.model.is_committed(name) {
                self.model.pending = Pending::Yes;
            } else {
                self.model.may_cancel();
            }
            self.model.visible.remove(name);
        }
        Ok(())
    }

    fn set_attribute(
        &mut self,
        name: &str,
        key: &str,
        value: &AttributeValue,
        expect: Expect,
    ) -> Result<(), String> {
        let res = self.file().set_attribute(name, key, value.clone());
        if check_outcome(res, expect, &ErrContext::named(name))?.is_some() {
            let a = self.model.visible.get_mut(name).expect("array exists");
            a.attrs.insert(key.to_owned(), value.clone());
            self.model.pending = Pending::Yes;
        }
        Ok(())
    }

    fn remove_attribute(&mut self, name: &str, key: &str, expect: Expect) -> Result<(), String> {
        let res = self.file().remove_attribute(name, key);
        let Some(existed) = check_outcome(res, expect, &ErrContext::named(name))? else {
            return Ok(());
        };
        let a = self.model.visible.get_mut(name).expect("array exists");
        let model_existed = a.attrs.remove(key).is_some();
        if existed != model_existed {
            return Err(format!(
                "remove_attribute returned {existed}, the model says {model_existed}"
            ));
        }
        let committed_has = self.model.is_committed(name)
            && self
                .model
                .committed
                .get(name)
                .is_some_and(|c| c.attrs.contains_key(key));
        match (existed, committed_has) {
            (true, true) => self.model.pending = Pending::Yes,
            (true, false) => self.model.may_cancel(),
            (false, _) => self.model.may_change(),
        }
        Ok(())
    }

    fn get_attribute(&mut self, name: &str, key: &str, expect: Expect) -> Result<(), String> {
        let file = self.file.as_ref().expect("file is open");
        let res = file.get_attribute(name, key).map(|v| v.cloned());
        if let Some(got) = check_outcome(res, expect, &ErrContext::named(name))? {
            let want = self.model.visible.get(name).and_then(|a| a.attrs.get(key));
            if got.as_ref() != want {
                return Err(format!("get_attribute returned {got:?}, expected {want:?}"));
            }
        }
        Ok(())
    }

    fn set_file_attribute(&mut self, key: &str, value: &AttributeValue) -> Result<(), String> {
        self.file()
            .set_file_attribute(key, value.clone())
            .map_err(|e| format!("set_file_attribute failed: {e} ({e:?})"))?;
        self.model
            .visible
            .file_attrs
            .insert(key.to_owned(), value.clone());
        self.model.pending = Pending::Yes;
        Ok(())
    }

    fn remove_file_attribute(&mut self, key: &str) -> Result<(), String> {
        let existed = self
            .file()
            .remove_file_attribute(key)
            .map_err(|e| format!("remove_file_attribute failed: {e} ({e:?})"))?;
        let model_existed = self.model.visible.file_attrs.remove(key).is_some();
        if existed != model_existed {
            return Err(format!(
                "remove_file_attribute returned {existed}, the model says {model_existed}"
            ));
        }
        match (existed, self.model.committed.file_attrs.contains_key(key)) {
            (true, true) => self.model.pending = Pending::Yes,
            (true, false) => self.model.may_cancel(),
            (false, _) => self.model.may_change(),
        }
        Ok(())
    }

    fn get_file_attribute(&mut self, key: &str) -> Result<(), String> {
        let file = self.file.as_ref().expect("file is open");
        let got = file
            .file_attribute(key)
            .map_err(|e| format!("file_attribute failed: {e} ({e:?})"))?;
        let want = self.model.visible.file_attrs.get(key);
        if got != want {
            return Err(format!(
                "file_attribute returned {got:?}, expected {want:?}"
            ));
        }
        Ok(())
    }

    async fn reopen(&mut self) -> Result<(), String> {
        // Drop first: the reopened file must see only the committed layers.
        drop(self.file.take());
        let file = self
            .harness
            .open()
            .await
            .map_err(|e| format!("reopen failed: {e} ({e:?})"))?;
        self.file = Some(file);
        self.model.revert();
        self.check_all_reads().await
    }

    async fn recreate(&mut self) -> Result<(), String> {
        drop(self.file.take());
        let file = self
            .harness
            .create()
            .await
            .map_err(|e| format!("create over the old file failed: {e} ({e:?})"))?;
        self.file = Some(file);
        self.model.reset();
        Ok(())
    }

    /// Flush, flush_memory or compact; checks the pending flag before and
    /// after, and the layer count.
    async fn commit(&mut self, op: &Op) -> Result<(), String> {
        let pending = self.file().has_pending_changes();
        self.check_pending(pending)?;
        let file = self.file.as_mut().expect("file is open");
        let res = match op {
            Op::Compact => file.compact().await,
            Op::FlushMemory => file.flush_memory(&InMemoryStorage::new()).await,
            _ => file.flush().await,
        };
        res.map_err(|e| format!("{op} failed: {e} ({e:?})"))?;
        self.model.layers = if matches!(op, Op::Compact) {
            // Compaction commits the pending changes first.
            if self.model.layers > 1 || pending {
                self.model.base_only = false;
            }
            1
        } else if pending && self.model.base_only {
            // The first commit on a new file is a snapshot over the base.
            self.model.base_only = false;
            1
        } else {
            self.model.layers + usize::from(pending)
        };
        self.model.commit();
        if self.file().has_pending_changes() {
            return Err("has_pending_changes() is true right after a commit".into());
        }
        self.check_all_reads().await
    }

    /// Stages the pending changes and commits the part: the same as a
    /// flush when they are chunk writes to committed arrays only; refused
    /// with `NotStageable`, changing nothing, for other changes but
    /// definitions; with definitions, staged and then refused by
    /// `commit_parts` (the handle no longer defines the arrays).
    async fn stage_commit(&mut self) -> Result<(), String> {
        let pending = self.file().has_pending_changes();
        self.check_pending(pending)?;
        let structural = self.model.structural_change();
        let touched = self.model.touched;
        let part = match self.file().stage().await {
            Err(Error::NotStageable { .. }) if structural || touched => {
                *self.tally.entry("parts refused").or_default() += 1;
                if self.file().has_pending_changes() != pending {
                    return Err("a refused stage changed the pending flag".into());
                }
                return Ok(());
            }
            Err(e) => return Err(format!("stage failed: {e} ({e:?})")),
            Ok(part) => part,
        };
        if structural {
            // Definitions without attributes can be staged, but only a
            // handle defining the same arrays can commit the part: this one
            // gave its changes to the part, so they are lost, and nothing
            // is committed.
            return match self.file().commit_parts(std::slice::from_ref(&part)).await {
                Err(Error::InvalidOperation { .. }) => {
                    *self
                        .tally
                        .entry("parts defining arrays refused")
                        .or_default() += 1;
                    if self.file().has_pending_changes() {
                        return Err("changes are still pending after stage".into());
                    }
                    self.model.revert();
                    self.check_all_reads().await
                }
                other => Err(format!(
                    "commit_parts of a part defining arrays this handle does not define: {other:?}"
                )),
            };
        }
        if self.file().has_pending_changes() {
            return Err("has_pending_changes() is true right after stage".into());
        }
        if part.chunk_count() > 0 && !pending {
            return Err(format!(
                "stage wrote {} chunks with nothing pending",
                part.chunk_count()
            ));
        }
        let layers = self.file().num_layers();
        self.file()
            .commit_parts(std::slice::from_ref(&part))
            .await
            .map_err(|e| format!("commit_parts failed: {e} ({e:?})"))?;
        *self.tally.entry("parts committed").or_default() += 1;
        self.model.layers += usize::from(part.chunk_count() > 0);
        if self.file().num_layers() != layers + usize::from(part.chunk_count() > 0) {
            return Err(format!(
                "commit_parts of {} chunks went from {layers} to {} layers",
                part.chunk_count(),
                self.file().num_layers()
            ));
        }
        self.model.commit();
        self.check_all_reads().await
    }

    fn check_pending(&mut self, pending: bool) -> Result<(), String> {
        let want = match self.model.pending {
            Pending::No => false,
            Pending::Yes => true,
            Pending::Unknown => return Ok(()),
        };
        *self.tally.entry("pending flags compared").or_default() += 1;
        if pending != want {
            return Err(format!(
                "has_pending_changes() is {pending}, the model expects {want}"
            ));
        }
        Ok(())
    }

    async fn check_all_reads(&mut self) -> Result<(), String> {
        let file = self.file.as_ref().expect("file is open");
        for a in &self.model.visible.arrays {
            check_read(file, a, vec![], vec![], &mut self.tally).await?;
        }
        Ok(())
    }

    /// After an operation that had to fail: the array it named (if any)
    /// must be unchanged, not partly written.
    async fn check_unchanged(&mut self, op: &Op) -> Result<(), String> {
        let Some(a) = op.failing_target().and_then(|n| self.model.visible.get(n)) else {
            return Ok(());
        };
        let file = self.file.as_ref().expect("file is open");
        check_read(file, a, vec![], vec![], &mut self.tally).await
    }

    /// Everything the file shows must match the model.
    async fn check_invariants(&mut self) -> Result<(), String> {
        let file = self.file.as_ref().expect("file is open");
        let model = &self.model;
        let listed = file.list_arrays();
        let names: Vec<&str> = listed.iter().map(|m| m.name.as_str()).collect();
        let want: Vec<&str> = model
            .visible
            .arrays
            .iter()
            .map(|a| a.name.as_str())
            .collect();
        if names != want {
            return Err(format!("list_arrays() names {names:?}, expected {want:?}"));
        }
        for (meta, a) in listed.iter().zip(&model.visible.arrays) {
            check_meta(meta, a)?;
            let got = file
                .get_array(&a.name)
                .map_err(|e| format!("get_array({:?}) failed: {e}", a.name))?;
            check_meta(got, a)?;
            let attrs = file
                .attributes(&a.name)
                .map_err(|e| format!("attributes({:?}) failed: {e}", a.name))?;
            let want: Vec<(String, AttributeValue)> = a
                .attrs
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            if attrs != want {
                return Err(format!(
                    "attributes({:?}) = {attrs:?}, expected {want:?}",
                    a.name
                ));
            }
            let codec = file
                .array_codec(&a.name)
                .map_err(|e| format!("array_codec({:?}) failed: {e}", a.name))?;
            if codec.as_deref() != a.codec {
                return Err(format!(
                    "array_codec({:?}) = {codec:?}, expected {:?}",
                    a.name, a.codec
                ));
            }
        }
        let file_attrs = file
            .file_attributes()
            .map_err(|e| format!("file_attributes() failed: {e}"))?;
        let want: Vec<(String, AttributeValue)> = model
            .visible
            .file_attrs
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if file_attrs != want {
            return Err(format!(
                "file_attributes() = {file_attrs:?}, expected {want:?}"
            ));
        }
        for name in NAMES.iter().copied().chain([MISSING]) {
            if model.visible.get(name).is_none() {
                match file.get_array(name) {
                    Err(Error::ArrayNotFound { .. }) => {}
                    other => {
                        return Err(format!(
                            "get_array({name:?}) of a missing array gave {:?}",
                            other.map(|m| m.name.clone())
                        ));
                    }
                }
            }
        }
        let (pending, layers) = (file.has_pending_changes(), file.num_layers());
        if layers != model.layers {
            return Err(format!(
                "num_layers() is {layers}, expected {}",
                model.layers
            ));
        }
        self.check_pending(pending)?;
        self.check_stats()?;
        // A full read of one random array.
        if !self.model.visible.arrays.is_empty() {
            let i = self
                .check_rng
                .random_range(0..self.model.visible.arrays.len());
            let a = &self.model.visible.arrays[i];
            let file = self.file.as_ref().expect("file is open");
            if self.check_rng.random_bool(0.5) {
                check_read(file, a, vec![], vec![], &mut self.tally).await?;
            } else {
                let whole = (vec![0; a.shape.len()], a.shape.clone());
                check_read(file, a, whole.0, whole.1, &mut self.tally).await?;
            }
        }
        Ok(())
    }

    /// `array_stats` must match the committed model. Names whose committed
    /// incarnation is pending deletion or redefinition are not checked (the
    /// API leaves that case open); names never committed have no stats.
    fn check_stats(&mut self) -> Result<(), String> {
        let file = self.file.as_ref().expect("file is open");
        let model = &self.model;
        for name in NAMES.iter().copied().chain([MISSING]) {
            let got = file.array_stats(name);
            let committed = model.committed.get(name);
            let visible = model.visible.get(name);
            match (committed, visible) {
                (Some(c), Some(v)) if c.id == v.id => {
                    let want = &model.committed_stats[&c.id];
                    compare_stats(name, got, want)?;
                    *self.tally.entry("stats compared").or_default() += 1;
                    // Every committed chunk is stored with the array's codec.
                    let stored = file
                        .array_storage(name)
                        .map_err(|e| format!("array_storage({name:?}) failed: {e}"))?
                        .codecs;
                    let block = c.block_codec.unwrap_or(self.harness.config.codec.block());
                    if stored.iter().any(|s| s != block) {
                        return Err(format!(
                            "array_storage({name:?}).codecs = {stored:?}, expected only {block:?}"
                        ));
                    }
                    *self.tally.entry("stored codecs compared").or_default() += 1;
                }
                (Some(_), _) => {}
                (None, _) => {
                    if let Some(s) = got {
                        return Err(format!(
                            "array_stats({name:?}) is Some({}) for an array that was never committed",
                            show_stats(s.min.as_ref(), s.max.as_ref(), s.null_count, s.row_count)
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

fn check_meta(meta: &MergedArrayMeta, a: &ModelArray) -> Result<(), String> {
    let mismatch = |what: &str, got: String, want: String| {
        Err(format!(
            "metadata of {:?}: {what} is {got}, expected {want}",
            a.name
        ))
    };
    if meta.name != a.name {
        return mismatch("name", format!("{:?}", meta.name), format!("{:?}", a.name));
    }
    if meta.dtype != a.kind.dtype() {
        return mismatch("dtype", meta.dtype.to_string(), a.kind.dtype().to_string());
    }
    if meta.shape != to_u64(&a.shape) {
        return mismatch(
            "shape",
            format!("{:?}", meta.shape),
            format!("{:?}", a.shape),
        );
    }
    if meta.chunk_shape != to_u64(&a.chunk) {
        return mismatch(
            "chunk_shape",
            format!("{:?}", meta.chunk_shape),
            format!("{:?}", a.chunk),
        );
    }
    if meta.dimension_names != a.dim_names {
        return mismatch(
            "dimension_names",
            format!("{:?}", meta.dimension_names),
            format!("{:?}", a.dim_names),
        );
    }
    if meta.fill_value != a.fill {
        return mismatch(
            "fill_value",
            format!("{:?}", meta.fill_value),
            format!("{:?}", a.fill),
        );
    }
    Ok(())
}

/// A statistic for messages; long byte strings are abbreviated.
fn show_stat(v: Option<&StatValue>) -> String {
    match v {
        Some(StatValue::Bytes(b)) if b.len() > 16 => {
            format!("Bytes(<{} bytes: {:?}..>)", b.len(), &b[..8])
        }
        Some(v) => format!("{v:?}"),
        None => "None".to_owned(),
    }
}

fn show_stats(min: Option<&StatValue>, max: Option<&StatValue>, nulls: u64, rows: u64) -> String {
    format!(
        "min {} max {} null_count {nulls} row_count {rows}",
        show_stat(min),
        show_stat(max)
    )
}

fn compare_stats(name: &str, got: Option<&ArrayStats>, want: &ExpStats) -> Result<(), String> {
    let want_min = want.min.as_ref().map(Elem::to_stat);
    let want_max = want.max.as_ref().map(Elem::to_stat);
    let expected = show_stats(
        want_min.as_ref(),
        want_max.as_ref(),
        want.null_count,
        want.row_count,
    );
    let Some(got) = got else {
        return Err(format!(
            "array_stats({name:?}) is None, expected {expected}"
        ));
    };
    if got.name != name
        || got.min != want_min
        || got.max != want_max
        || got.null_count != want.null_count
        || got.row_count != want.row_count
    {
        return Err(format!(
            "array_stats({name:?}) is {:?}: {}, expected {expected}",
            got.name,
            show_stats(
                got.min.as_ref(),
                got.max.as_ref(),
                got.null_count,
                got.row_count
            ),
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Driver
// ---------------------------------------------------------------------------

struct Settings {
    sequences: u64,
    steps: usize,
    seed: Option<u64>,
}

fn env_number(name: &str) -> Option<u64> {
    let value = std::env::var(name).ok()?;
    Some(
        value
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={value:?} is not a number")),
    )
}

impl Settings {
    fn from_env() -> Settings {
        let seed = env_number("AF_MODEL_SEED");
        Settings {
            sequences: if seed.is_some() {
                1
            } else {
                env_number("AF_MODEL_SEQUENCES").unwrap_or(DEFAULT_SEQUENCES)
            },
            steps: env_number("AF_MODEL_STEPS")
                .map_or(DEFAULT_STEPS, |s| usize::try_from(s).expect("step count")),
            seed,
        }
    }
}

struct Failure {
    step: usize,
    message: String,
}

/// What a sequence leaves behind for the report, even when it panics.
#[derive(Default)]
struct Trace {
    config: String,
    /// Every operation, numbered, logged before it runs.
    log: Vec<String>,
    tally: Tally,
}

/// Runs one sequence and returns the number of steps done.
async fn run_sequence(
    target: Target<'_>,
    seed: u64,
    steps: usize,
    trace: &mut Trace,
) -> Result<usize, Failure> {
    let mut rng = StdRng::seed_from_u64(seed);
    let config = Config::random(&mut rng);
    trace.config = config.to_string();
    let harness = Harness::new(target, config, seed);
    let file = harness.create().await.map_err(|e| Failure {
        step: 0,
        message: format!("create failed: {e} ({e:?})"),
    })?;
    let mut session = Session {
        harness,
        file: Some(file),
        model: Model::new(),
        check_rng: StdRng::seed_from_u64(seed ^ 0x5EED_C0DE),
        tally: Tally::new(),
    };
    let result = run_steps(&mut session, &mut rng, target, steps, trace).await;
    for (k, v) in std::mem::take(&mut session.tally) {
        *trace.tally.entry(k).or_default() += v;
    }
    result
}

async fn run_steps(
    session: &mut Session,
    rng: &mut StdRng,
    target: Target<'_>,
    steps: usize,
    trace: &mut Trace,
) -> Result<usize, Failure> {
    session
        .check_invariants()
        .await
        .map_err(|message| Failure {
            step: 0,
            message: format!("after create: {message}"),
        })?;
    for step in 1..=steps {
        let op = gen_op(rng, &session.model, target.can_reopen());
        trace.log.push(format!("#{step} {op}"));
        let result = async {
            session.step(&op).await?;
            session.check_unchanged(&op).await?;
            session.check_invariants().await
        }
        .await;
        result.map_err(|message| Failure { step, message })?;
        *trace.tally.entry(op.label()).or_default() += 1;
    }
    Ok(steps)
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "<non-string panic payload>".to_owned()
    }
}

/// Runs the sequences (`AF_MODEL_SEQUENCES`, fewer on a remote backend:
/// [`Backend::cases`]) on `target`; `test` is the test's path, for the
/// line that reproduces a failure.
pub(crate) async fn run(target: Target<'_>, test: &str, seed_offset: u64) {
    let settings = Settings::from_env();
    let sequences = match target {
        Target::Store(backend) => backend.cases(settings.sequences as usize) as u64,
        Target::CreateMemory => settings.sequences,
    };
    let seeds: Vec<u64> = match settings.seed {
        Some(seed) => vec![seed],
        None => (0..sequences)
            .map(|i| BASE_SEED + seed_offset + i)
            .collect(),
    };
    let started = Instant::now();
    let mut total_steps = 0;
    let mut tally = Tally::new();
    let mut failures: Vec<(u64, String)> = Vec::new();
    for &seed in &seeds {
        let mut trace = Trace::default();
        let outcome = AssertUnwindSafe(run_sequence(target, seed, settings.steps, &mut trace))
            .catch_unwind()
            .await;
        for (k, v) in &trace.tally {
            *tally.entry(k).or_default() += v;
        }
        let (step, message) = match outcome {
            Ok(Ok(steps)) => {
                total_steps += steps;
                continue;
            }
            Ok(Err(Failure { step, message })) => (step, message),
            Err(payload) => (
                trace.log.len(),
                format!("panic: {}", panic_message(&*payload)),
            ),
        };
        total_steps += step;
        let report = format!(
            "model test failure on {target} ({})\n  seed: {seed}\n  failed at step #{step}: {message}\n  \
             reproduce: AF_MODEL_SEED={seed} cargo test -p array-format --test it {test} -- --exact --nocapture\n  \
             op log:\n    {}",
            trace.config,
            trace.log.join("\n    ")
        );
        eprintln!("{report}\n");
        failures.push((seed, report));
    }
    println!(
        "model: {} sequences x {} steps on {target}, {total_steps} steps, {} failures ({:.1} s)",
        seeds.len(),
        settings.steps,
        failures.len(),
        started.elapsed().as_secs_f64()
    );
    let (checks, ops): (Vec<_>, Vec<_>) = tally.iter().partition(|(k, _)| k.contains("compared"));
    let show = |items: Vec<(&&str, &u64)>| {
        let parts: Vec<String> = items.iter().map(|(k, v)| format!("{k} {v}")).collect();
        parts.join(", ")
    };
    println!(
        "model ({target}): ops: {}; checks: {}",
        show(ops),
        show(checks)
    );
    if !failures.is_empty() {
        let failed: Vec<u64> = failures.iter().map(|(s, _)| *s).collect();
        let shown: Vec<&str> = failures.iter().take(3).map(|(_, r)| r.as_str()).collect();
        panic!(
            "{} of {} model sequences failed on {target}; failing seeds: {failed:?}\n\n{}",
            failures.len(),
            seeds.len(),
            shown.join("\n\n")
        );
    }
}

/// The seeds of the sequences every store runs (`conformance::model`).
pub(crate) const STORE_SEEDS: u64 = 0x10_0000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn model_memory() {
    run(Target::CreateMemory, "model::model_memory", 0).await;
}
