//! NumPy `.npy` files through `ndarray-npy`: the header, and the elements of
//! each dtype read and written in blocks (so files of any size stream).
//!
//! Numbers and booleans use `ndarray-npy`'s element codecs. Two dtypes it
//! does not handle are mapped by hand: `datetime64` (8-byte integers in a
//! time unit; stored as `timestamp_ns`) and fixed-width unicode strings
//! (`<U n`: `n` UTF-32 code units per element, NUL-padded).

use std::fs::File;
use std::io::{BufReader, Read, Seek, Write};
use std::path::Path;

use anyhow::Context;
use array_format::half::{bf16, f16};
use array_format::num_complex::Complex;
use array_format::{DType, TimestampNs};
use ndarray_npy::npy::header::{Header, Layout};
use ndarray_npy::{ReadableElement, WritableElement};
use py_literal::Value as PyValue;

use crate::error::usage;
use crate::format::Elem;

/// Widest `<U n` dtype accepted (characters per string).
const MAX_UNICODE_CHARS: usize = 1 << 20;

/// What the elements of a `.npy` file are.
#[derive(Debug, Clone, PartialEq)]
pub enum NpyKind {
    /// A number or bool: the dtype and the descriptor `ndarray-npy` reads.
    Plain(DType, String),
    /// `datetime64`: nanoseconds per unit, big-endian or not.
    Datetime {
        /// Nanoseconds in one unit of the stored values.
        unit_ns: i64,
        /// Big-endian values.
        big: bool,
    },
    /// `U n`: `chars` UTF-32 code units per element.
    Unicode {
        /// Code units per element.
        chars: usize,
        /// Big-endian code units.
        big: bool,
    },
}

impl NpyKind {
    /// The array-format dtype the elements become.
    pub fn dtype(&self) -> DType {
        match self {
            NpyKind::Plain(d, _) => *d,
            NpyKind::Datetime { .. } => DType::TimestampNs,
            NpyKind::Unicode { .. } => DType::String,
        }
    }

    /// Bytes per element in the file.
    pub fn item_size(&self) -> usize {
        match self {
            NpyKind::Plain(d, _) => d.element_size().unwrap_or(1),
            NpyKind::Datetime { .. } => 8,
            NpyKind::Unicode { chars, .. } => chars.saturating_mul(4),
        }
    }
}

/// Interprets a `.npy` type descriptor.
pub fn kind_of(descr: &PyValue) -> Result<NpyKind, String> {
    let PyValue::String(s) = descr else {
        return Err(format!(
            "structured .npy dtypes ({descr}) are not supported; af reads plain arrays"
        ));
    };
    let (order, body) = match s.chars().next() {
        Some(c @ ('<' | '>' | '|' | '=')) => (c, s.get(1..).unwrap_or_default()),
        _ => ('=', s.as_str()),
    };
    let big = order == '>';
    let plain = |d: DType| {
        let size = d.element_size().unwrap_or(1);
        let prefix = if size == 1 {
            "|"
        } else if big {
            ">"
        } else {
            "<"
        };
        let code = if d == DType::Bool {
            "b1".to_string()
        } else {
            body.to_string()
        };
        Ok(NpyKind::Plain(d, format!("{prefix}{code}")))
    };
    match body {
        "b1" | "?" => plain(DType::Bool),
        "i1" => plain(DType::Int8),
        "i2" => plain(DType::Int16),
        "i4" => plain(DType::Int32),
        "i8" => plain(DType::Int64),
        "u1" => plain(DType::UInt8),
        "u2" => plain(DType::UInt16),
        "u4" => plain(DType::UInt32),
        "u8" => plain(DType::UInt64),
        "f4" => plain(DType::Float32),
        "f8" => plain(DType::Float64),
        "f2" => plain(DType::Float16),
        "c8" => plain(DType::Complex64),
        "c16" => plain(DType::Complex128),
        _ => {
            if let Some(unit) = body.strip_prefix("M8[").and_then(|u| u.strip_suffix(']')) {
                let unit_ns = match unit {
                    "ns" => 1,
                    "us" => 1_000,
                    "ms" => 1_000_000,
                    "s" => 1_000_000_000,
                    "m" => 60_000_000_000,
                    "h" => 3_600_000_000_000,
                    "D" => 86_400_000_000_000,
                    "W" => 604_800_000_000_000,
                    other => {
                        return Err(format!(
                            "datetime64 unit {other:?} is not supported (use ns, us, ms, s, m, h, D or W)"
                        ));
                    }
                };
                return Ok(NpyKind::Datetime { unit_ns, big });
            }
            if let Some(n) = body.strip_prefix('U') {
                let chars: usize = n
                    .parse()
                    .map_err(|_| format!("bad unicode dtype {s:?} in the .npy header"))?;
                if chars > MAX_UNICODE_CHARS {
                    return Err(format!(
                        "unicode dtype {s:?} is wider than {MAX_UNICODE_CHARS} characters"
                    ));
                }
                return Ok(NpyKind::Unicode { chars, big });
            }
            let what = match body.chars().next() {
                Some('c') => "this complex size",
                Some('f') => "this float size",
                Some('S' | 'a') => "byte strings",
                Some('O') => "Python objects",
                Some('m') => "timedelta64",
                Some('V') => "raw void data",
                _ => "this dtype",
            };
            Err(format!(
                ".npy dtype {s:?} ({what}) is not supported; af imports bool, int8..int64, uint8..uint64, float16..float64, complex64, complex128, datetime64 and unicode strings"
            ))
        }
    }
}

/// An open `.npy` file positioned at its first element.
pub struct NpyReader {
    /// The element kind.
    pub kind: NpyKind,
    /// The shape.
    pub shape: Vec<u64>,
    /// Whether the elements are in Fortran (column-major) order.
    pub fortran: bool,
    reader: BufReader<File>,
}

impl NpyReader {
    /// Opens `path` and reads its header.
    pub fn open(path: &Path) -> anyhow::Result<NpyReader> {
        let file = File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
        let mut reader = BufReader::with_capacity(1 << 20, file);
        let header = Header::from_reader(&mut reader)
            .map_err(|e| usage(format!("{} is not a valid .npy file: {e}", path.display())))?;
        let kind = kind_of(&header.type_descriptor)
            .map_err(|e| usage(format!("{}: {e}", path.display())))?;
        // The header promises a number of data bytes: check that the file
        // has them before anything is allocated for them.
        let promised = header
            .shape
            .iter()
            .try_fold(kind.item_size() as u64, |a, &n| a.checked_mul(n as u64));
        let header_len = reader
            .stream_position()
            .with_context(|| format!("cannot read {}", path.display()))?;
        let file_len = reader
            .get_ref()
            .metadata()
            .with_context(|| format!("cannot read {}", path.display()))?
            .len();
        let have = file_len.saturating_sub(header_len);
        match promised {
            Some(p) if p <= have => {}
            _ => {
                return Err(usage(format!(
                    "{} is truncated: its header describes {} elements of {} bytes, the file holds {have} bytes of data",
                    path.display(),
                    header
                        .shape
                        .iter()
                        .map(|n| n.to_string())
                        .collect::<Vec<_>>()
                        .join("x"),
                    kind.item_size()
                )));
            }
        }
        Ok(NpyReader {
            kind,
            shape: header.shape.iter().map(|&n| n as u64).collect(),
            fortran: header.layout == Layout::Fortran,
            reader,
        })
    }

    /// Reads the next `n` elements.
    pub fn read<T: NpyElem>(&mut self, n: usize) -> anyhow::Result<Vec<T>> {
        let bytes = n.saturating_mul(self.kind.item_size()) as u64;
        let mut limited = (&mut self.reader).take(bytes);
        T::read(&mut limited, &self.kind, n)
            .context("the .npy file ends early or holds invalid data")
    }
}

/// An element type with a `.npy` form.
pub trait NpyElem: Elem + Sized {
    /// Whether the `.npy` descriptor depends on the data (strings: their
    /// longest length).
    const NEEDS_WIDTH: bool = false;

    /// Reads exactly `n` elements of `kind` to the end of `r`.
    fn read(r: &mut dyn Read, kind: &NpyKind, n: usize) -> anyhow::Result<Vec<Self>>;

    /// The width `items` need (see [`NEEDS_WIDTH`](Self::NEEDS_WIDTH)).
    fn width(_items: &[Self]) -> usize {
        0
    }

    /// The descriptor written to the header.
    fn descr(width: usize) -> anyhow::Result<PyValue>;

    /// Writes `items` in the form `descr(width)` announced.
    fn write(w: &mut dyn Write, items: &[Self], width: usize) -> anyhow::Result<()>;
}

fn wrong_kind(kind: &NpyKind, t: &str) -> anyhow::Error {
    usage(format!(
        "the .npy elements ({}) cannot be read as {t}",
        kind.dtype()
    ))
}

macro_rules! plain_npy {
    ($($t:ty),*) => {$(
        impl NpyElem for $t {
            fn read(r: &mut dyn Read, kind: &NpyKind, n: usize) -> anyhow::Result<Vec<Self>> {
                let NpyKind::Plain(d, descr) = kind else {
                    return Err(wrong_kind(kind, stringify!($t)));
                };
                if *d != <$t as array_format::ArrayElement>::DTYPE {
                    return Err(wrong_kind(kind, stringify!($t)));
                }
                Ok(<$t as ReadableElement>::read_to_end_exact_vec(
                    r,
                    &PyValue::String(descr.clone()),
                    n,
                )?)
            }
            fn descr(_width: usize) -> anyhow::Result<PyValue> {
                Ok(<$t as WritableElement>::type_descriptor())
            }
            fn write(w: &mut dyn Write, items: &[Self], _width: usize) -> anyhow::Result<()> {
                <$t as WritableElement>::write_slice(items, w)?;
                Ok(())
            }
        }
    )*};
}
plain_npy!(bool, i8, i16, i32, i64, u8, u16, u32, u64, f32, f64);

/// Elements `.npy` stores as `count` numbers of a type `ndarray-npy` reads
/// (`raw`, whose descriptor is `raw_code` with the file's byte order),
/// made into elements by `from`; and written back the other way.
macro_rules! via_npy {
    ($t:ty, $raw:ty, $raw_code:expr, $code:expr, $count:expr, $from:expr, $to:expr) => {
        impl NpyElem for $t {
            fn read(r: &mut dyn Read, kind: &NpyKind, n: usize) -> anyhow::Result<Vec<Self>> {
                let NpyKind::Plain(d, descr) = kind else {
                    return Err(wrong_kind(kind, stringify!($t)));
                };
                if *d != <$t as array_format::ArrayElement>::DTYPE {
                    return Err(wrong_kind(kind, stringify!($t)));
                }
                let order = if descr.starts_with('>') { ">" } else { "<" };
                let raws = n
                    .checked_mul($count)
                    .ok_or_else(|| usage("the .npy file holds too many elements"))?;
                let raw = <$raw as ReadableElement>::read_to_end_exact_vec(
                    r,
                    &PyValue::String(format!("{order}{}", $raw_code)),
                    raws,
                )?;
                let from: fn([$raw; $count]) -> Self = $from;
                raw.chunks_exact($count)
                    .map(|c| {
                        <[$raw; $count]>::try_from(c)
                            .map(from)
                            .map_err(|_| usage("a .npy element is cut short"))
                    })
                    .collect()
            }
            fn descr(_width: usize) -> anyhow::Result<PyValue> {
                Ok(PyValue::String(format!("<{}", $code)))
            }
            fn write(w: &mut dyn Write, items: &[Self], _width: usize) -> anyhow::Result<()> {
                let to: fn(&Self) -> Vec<$raw> = $to;
                let raw: Vec<$raw> = items.iter().flat_map(to).collect();
                <$raw as WritableElement>::write_slice(&raw, w)?;
                Ok(())
            }
        }
    };
}
via_npy!(f16, u16, "u2", "f2", 1, |[b]| f16::from_bits(b), |v| vec![
    v.to_bits()
]);
via_npy!(
    Complex<f32>,
    f32,
    "f4",
    "c8",
    2,
    |[re, im]| Complex::new(re, im),
    |v| vec![v.re, v.im]
);
via_npy!(
    Complex<f64>,
    f64,
    "f8",
    "c16",
    2,
    |[re, im]| Complex::new(re, im),
    |v| vec![v.re, v.im]
);

impl NpyElem for bf16 {
    fn read(_: &mut dyn Read, kind: &NpyKind, _: usize) -> anyhow::Result<Vec<Self>> {
        Err(wrong_kind(kind, "bf16"))
    }
    fn descr(_width: usize) -> anyhow::Result<PyValue> {
        Err(usage(
            "bf16 arrays cannot be exported to .npy: numpy has no bfloat16 type of its own (read them from Python with ml_dtypes)",
        ))
    }
    fn write(_: &mut dyn Write, _: &[Self], _: usize) -> anyhow::Result<()> {
        Err(usage("bf16 arrays cannot be exported to .npy"))
    }
}

impl NpyElem for TimestampNs {
    fn read(r: &mut dyn Read, kind: &NpyKind, n: usize) -> anyhow::Result<Vec<Self>> {
        let NpyKind::Datetime { unit_ns, big } = kind else {
            return Err(wrong_kind(kind, "timestamps"));
        };
        let descr = if *big { ">i8" } else { "<i8" };
        let raw =
            <i64 as ReadableElement>::read_to_end_exact_vec(r, &PyValue::String(descr.into()), n)?;
        raw.into_iter()
            .map(|v| {
                if v == i64::MIN {
                    Ok(TimestampNs::new(v)) // NaT
                } else {
                    v.checked_mul(*unit_ns)
                        .map(TimestampNs::new)
                        .ok_or_else(|| {
                            usage(format!("datetime64 value {v} does not fit in nanoseconds"))
                        })
                }
            })
            .collect()
    }
    fn descr(_width: usize) -> anyhow::Result<PyValue> {
        Ok(PyValue::String("<M8[ns]".into()))
    }
    fn write(w: &mut dyn Write, items: &[Self], _width: usize) -> anyhow::Result<()> {
        let mut buf = Vec::with_capacity(items.len() * 8);
        for t in items {
            buf.extend_from_slice(&t.nanos().to_le_bytes());
        }
        w.write_all(&buf)?;
        Ok(())
    }
}

impl NpyElem for String {
    const NEEDS_WIDTH: bool = true;

    fn read(r: &mut dyn Read, kind: &NpyKind, n: usize) -> anyhow::Result<Vec<Self>> {
        let NpyKind::Unicode { chars, big } = kind else {
            return Err(wrong_kind(kind, "strings"));
        };
        let mut bytes = vec![0u8; n.saturating_mul(*chars).saturating_mul(4)];
        r.read_exact(&mut bytes)?;
        let mut out = Vec::with_capacity(n);
        for item in bytes.chunks_exact((chars * 4).max(1)).take(n) {
            let mut s = String::new();
            let mut units: Vec<u32> = item
                .chunks_exact(4)
                .map(|c| {
                    let b = [
                        c.first().copied().unwrap_or(0),
                        c.get(1).copied().unwrap_or(0),
                        c.get(2).copied().unwrap_or(0),
                        c.get(3).copied().unwrap_or(0),
                    ];
                    if *big {
                        u32::from_be_bytes(b)
                    } else {
                        u32::from_le_bytes(b)
                    }
                })
                .collect();
            // numpy strips trailing NULs.
            while units.last() == Some(&0) {
                units.pop();
            }
            for u in units {
                s.push(char::from_u32(u).ok_or_else(|| {
                    usage(format!(
                        "invalid unicode code point {u:#x} in the .npy file"
                    ))
                })?);
            }
            out.push(s);
        }
        if *chars == 0 {
            out.resize(n, String::new());
        }
        Ok(out)
    }
    fn width(items: &[Self]) -> usize {
        items.iter().map(|s| s.chars().count()).max().unwrap_or(0)
    }
    fn descr(width: usize) -> anyhow::Result<PyValue> {
        Ok(PyValue::String(format!("<U{}", width.max(1))))
    }
    fn write(w: &mut dyn Write, items: &[Self], width: usize) -> anyhow::Result<()> {
        let width = width.max(1);
        let mut buf = Vec::with_capacity(items.len() * width * 4);
        for s in items {
            let mut n = 0;
            for c in s.chars().take(width) {
                buf.extend_from_slice(&u32::from(c).to_le_bytes());
                n += 1;
            }
            for _ in n..width {
                buf.extend_from_slice(&[0; 4]);
            }
        }
        w.write_all(&buf)?;
        Ok(())
    }
}

impl NpyElem for Vec<u8> {
    fn read(_r: &mut dyn Read, kind: &NpyKind, _n: usize) -> anyhow::Result<Vec<Self>> {
        Err(wrong_kind(kind, "binary"))
    }
    fn descr(_width: usize) -> anyhow::Result<PyValue> {
        Err(usage(
            "binary arrays cannot be exported to .npy (it has no variable-length byte type); use `af cat --format json`",
        ))
    }
    fn write(_w: &mut dyn Write, _items: &[Self], _width: usize) -> anyhow::Result<()> {
        Err(usage("binary arrays cannot be exported to .npy"))
    }
}

/// Writes a `.npy` header for `shape` with descriptor `descr`.
pub fn write_header(w: &mut dyn Write, descr: PyValue, shape: &[usize]) -> anyhow::Result<()> {
    let header = Header {
        type_descriptor: descr,
        layout: Layout::Standard,
        shape: shape.to_vec(),
    };
    let bytes = header
        .to_bytes()
        .map_err(|e| anyhow::anyhow!("cannot format the .npy header: {e}"))?;
    w.write_all(&bytes)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(s: &str) -> Result<NpyKind, String> {
        kind_of(&PyValue::String(s.into()))
    }

    #[test]
    fn descriptors() {
        assert_eq!(
            k("<f4").unwrap(),
            NpyKind::Plain(DType::Float32, "<f4".into())
        );
        assert_eq!(
            k(">i8").unwrap(),
            NpyKind::Plain(DType::Int64, ">i8".into())
        );
        assert_eq!(
            k("|u1").unwrap(),
            NpyKind::Plain(DType::UInt8, "|u1".into())
        );
        assert_eq!(k("|b1").unwrap(), NpyKind::Plain(DType::Bool, "|b1".into()));
        assert_eq!(
            k("=f8").unwrap(),
            NpyKind::Plain(DType::Float64, "<f8".into())
        );
        assert_eq!(
            k("<M8[us]").unwrap(),
            NpyKind::Datetime {
                unit_ns: 1000,
                big: false
            }
        );
        assert_eq!(
            k("<U7").unwrap(),
            NpyKind::Unicode {
                chars: 7,
                big: false
            }
        );
        assert_eq!(
            k("<c8").unwrap(),
            NpyKind::Plain(DType::Complex64, "<c8".into())
        );
        assert_eq!(
            k(">f2").unwrap(),
            NpyKind::Plain(DType::Float16, ">f2".into())
        );
        assert!(k("<c32").unwrap_err().contains("complex"));
        assert!(k("|O").unwrap_err().contains("Python objects"));
        assert!(k("<f16").is_err());
        assert!(
            kind_of(&PyValue::List(vec![]))
                .unwrap_err()
                .contains("structured")
        );
    }

    #[test]
    fn strings_round_trip() {
        let items = vec!["ab".to_string(), "".into(), "wörld".into()];
        let width = String::width(&items);
        let mut buf = Vec::new();
        String::write(&mut buf, &items, width).unwrap();
        let kind = NpyKind::Unicode {
            chars: width,
            big: false,
        };
        let back = String::read(&mut buf.as_slice(), &kind, 3).unwrap();
        assert_eq!(back, items);
    }
}
