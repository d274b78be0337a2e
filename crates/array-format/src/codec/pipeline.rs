//! [`Pipeline`]: what an array's chunks go through on their way to disk,
//! named by a *pipeline spec*: filters, then a codec, joined by `+`
//! (`shuffle+zstd:5`, `bitround:10+pco`), the form an array records and
//! the command line and Python take.

use std::fmt;
use std::str::FromStr;

use super::BuiltinCodec;
use super::spec::CodecSpecError;
use crate::dtype::DType;

/// The pco level `pco` without a level means (pco's own default).
pub(crate) const DEFAULT_PCO_LEVEL: u8 = 8;

/// The highest pco level.
const MAX_PCO_LEVEL: u8 = 12;

/// A filter: a reversible (or, for [`BitRound`](Filter::BitRound), a
/// deliberately lossy) transform of an array's values before compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Filter {
    /// Keeps `keep_bits` mantissa bits of every finite float that is not
    /// the fill value, rounding to nearest (ties to even), as netCDF's
    /// quantize and numcodecs' `BitRound` do: lossy, and applied to the
    /// values as they are written, so reads and statistics see the rounded
    /// values. Floats only (complex numbers are not rounded).
    BitRound {
        /// Mantissa bits kept: at most 7 for `bf16`, 10 for `f16`, 23 for
        /// `f32`, 52 for `f64`.
        keep_bits: u8,
    },
    /// Stores each integer as its difference from the previous one
    /// (wrapping), so slowly changing sequences compress well. Integers and
    /// timestamps only.
    Delta,
    /// Stores the first byte of every element, then every second byte, and
    /// so on, so the bytes that vary little (sign, exponent, high digits)
    /// end up side by side. Fixed-width types; no effect on 1-byte ones.
    Shuffle,
}

impl Filter {
    /// The place of the filter in a pipeline: filters run in this order.
    fn rank(&self) -> u8 {
        match self {
            Filter::BitRound { .. } => 0,
            Filter::Delta => 1,
            Filter::Shuffle => 2,
        }
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Filter::BitRound { keep_bits } => write!(f, "bitround:{keep_bits}"),
            Filter::Delta => f.write_str("delta"),
            Filter::Shuffle => f.write_str("shuffle"),
        }
    }
}

/// The codec at the end of a pipeline.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PipelineCodec {
    /// A built-in byte codec: `none`, `lz4` or `zstd:LEVEL`.
    Builtin(BuiltinCodec),
    /// pcodec at a level, 0-12: compresses numbers as numbers. Numeric
    /// types and timestamps only, and no other filter than `bitround`.
    Pco(u8),
    /// A custom [`CompressionCodec`](super::CompressionCodec), by its id.
    Custom(String),
}

impl fmt::Display for PipelineCodec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PipelineCodec::Builtin(b) => b.fmt(f),
            PipelineCodec::Pco(level) => write!(f, "pco:{level}"),
            PipelineCodec::Custom(name) => f.write_str(name),
        }
    }
}

/// Filters and a codec: what an array's chunks go through before they are
/// stored.
///
/// Its spec ([`Display`](fmt::Display), [`parse`](Self::parse)) is the
/// filters in order, then the codec, joined by `+`: `lz4`, `zstd:5`,
/// `shuffle+zstd:3`, `delta+shuffle+lz4`, `bitround:12+shuffle+zstd:5`,
/// `pco`, `bitround:10+pco:12`. Filters are `bitround:N`, `delta` and
/// `shuffle`, each at most once, in that order; codecs are those of
/// [`BuiltinCodec`] plus `pco` / `pco:LEVEL` (0-12, default 8). Whether a
/// pipeline suits an element type is checked by
/// [`check_dtype`](Self::check_dtype).
///
/// ```
/// use array_format::{DType, Filter, Pipeline};
///
/// let p = Pipeline::parse("Shuffle + ZSTD")?;
/// assert_eq!(p.to_string(), "shuffle+zstd:3");
/// assert_eq!(p.filters(), [Filter::Shuffle]);
/// assert!(Pipeline::parse("bitround:10+pco")?.check_dtype(DType::Float32).is_ok());
/// assert!(Pipeline::parse("delta+zstd")?.check_dtype(DType::Float32).is_err());
/// # Ok::<(), array_format::PipelineError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Pipeline {
    filters: Vec<Filter>,
    codec: PipelineCodec,
}

/// Why a pipeline spec names no pipeline, or does not suit an element type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PipelineError {
    /// The codec part is not a codec.
    #[error(transparent)]
    Codec(#[from] CodecSpecError),
    /// A filter is unknown or malformed.
    #[error("unknown filter {filter:?}: use bitround:N, delta or shuffle")]
    UnknownFilter {
        /// The filter as given.
        filter: String,
    },
    /// A filter's parameter is out of range or not a number.
    #[error("filter {filter:?}: {reason}")]
    InvalidParameter {
        /// The filter as given.
        filter: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Filters repeated or out of order.
    #[error("filters go in the order bitround, delta, shuffle, each at most once: {spec:?}")]
    Order {
        /// The spec given.
        spec: String,
    },
    /// Filters given both in a whole pipeline and apart.
    #[error("codec {codec:?} names its filters already: give them there or apart, not both")]
    FiltersTwice {
        /// The codec given.
        codec: String,
    },
    /// The pipeline does not suit the element type.
    #[error("{what} cannot be used for {dtype} arrays: {reason}")]
    DType {
        /// The filter or codec.
        what: String,
        /// The element type.
        dtype: DType,
        /// Why.
        reason: String,
    },
}

impl Pipeline {
    /// A pipeline of `filters` (applied in the order bitround, delta,
    /// shuffle) and `codec`.
    pub fn new(mut filters: Vec<Filter>, codec: PipelineCodec) -> Pipeline {
        filters.sort_by_key(Filter::rank);
        filters.dedup_by_key(|f| f.rank());
        Pipeline { filters, codec }
    }

    /// Parses a spec (see [`Pipeline`]); letter case and spaces around the
    /// parts do not matter, except in the name of a custom codec. A codec
    /// that is neither built in nor `pco` is taken as a custom codec's name
    /// when it is the spec's only part.
    pub fn parse(spec: &str) -> Result<Pipeline, PipelineError> {
        let parts: Vec<&str> = spec.split('+').map(str::trim).collect();
        let (codec_part, filter_parts) = match parts.split_last() {
            Some((c, f)) => (*c, f),
            None => (spec, &[][..]),
        };
        let mut filters = Vec::with_capacity(filter_parts.len());
        for part in filter_parts {
            let filter = parse_filter(part)?;
            if filters
                .last()
                .is_some_and(|f: &Filter| f.rank() >= filter.rank())
            {
                return Err(PipelineError::Order {
                    spec: spec.to_owned(),
                });
            }
            filters.push(filter);
        }
        let codec = parse_codec(codec_part, filters.is_empty(), spec)?;
        Ok(Pipeline { filters, codec })
    }

    /// The filters, in the order they run on write.
    pub fn filters(&self) -> &[Filter] {
        &self.filters
    }

    /// The codec.
    pub fn codec(&self) -> &PipelineCodec {
        &self.codec
    }

    /// Mantissa bits kept by a `bitround` filter, if there is one.
    pub fn keep_bits(&self) -> Option<u8> {
        self.filters.iter().find_map(|f| match f {
            Filter::BitRound { keep_bits } => Some(*keep_bits),
            _ => None,
        })
    }

    /// Checks that every filter and the codec suit arrays of `dtype`.
    pub fn check_dtype(&self, dtype: DType) -> Result<(), PipelineError> {
        let refuse = |what: &dyn fmt::Display, reason: &str| PipelineError::DType {
            what: what.to_string(),
            dtype,
            reason: reason.to_owned(),
        };
        for f in &self.filters {
            match f {
                Filter::BitRound { keep_bits } => {
                    let mantissa = match dtype {
                        DType::BFloat16 => 7,
                        DType::Float16 => 10,
                        DType::Float32 => 23,
                        DType::Float64 => 52,
                        _ => return Err(refuse(f, "it rounds floats")),
                    };
                    if *keep_bits > mantissa {
                        return Err(refuse(f, &format!("{dtype} has {mantissa} mantissa bits")));
                    }
                }
                Filter::Delta if !is_integer(dtype) => {
                    return Err(refuse(f, "it takes differences of integers"));
                }
                Filter::Shuffle if dtype.is_variable_length() => {
                    return Err(refuse(f, "it needs fixed-width elements"));
                }
                _ => {}
            }
        }
        if let PipelineCodec::Pco(_) = self.codec {
            if pco_number(dtype).is_none() {
                return Err(refuse(&self.codec, "pco compresses numbers"));
            }
            if let Some(f) = self
                .filters
                .iter()
                .find(|f| !matches!(f, Filter::BitRound { .. }))
            {
                return Err(refuse(
                    f,
                    "pco finds differences and byte patterns itself; only bitround goes before it",
                ));
            }
        }
        Ok(())
    }

    /// The pipeline for arrays of `dtype` from a codec and filters given
    /// apart, as the command line, Python and xarray take them: `codec` a
    /// codec (`zstd:5`) or a whole pipeline (`shuffle+zstd:5`, which then
    /// takes no `filters`), `filters` filter specs (`bitround:10`,
    /// `shuffle`; empty for none). Without a codec, the codec of
    /// [`default_for`](Self::default_for), or `zstd:3` when the filters
    /// include `delta` or `shuffle` (which pco does not take); without
    /// filters, `shuffle` before `lz4` and `zstd` for numbers of two bytes
    /// or more, and none otherwise (`pco` finds patterns in numbers
    /// itself, `none` gains nothing, a custom codec is the caller's own).
    /// Checked against `dtype`.
    ///
    /// ```
    /// use array_format::{DType, Pipeline};
    ///
    /// let p = |codec, filters: Option<&[&str]>| {
    ///     Pipeline::compose(DType::Float32, codec, filters).map(|p| p.to_string())
    /// };
    /// assert_eq!(p(None, None)?, "pco:8");
    /// assert_eq!(p(None, Some(&["shuffle"]))?, "shuffle+zstd:3");
    /// assert_eq!(p(Some("lz4"), None)?, "shuffle+lz4");
    /// assert_eq!(p(Some("pco"), Some(&["bitround:12"]))?, "bitround:12+pco:8");
    /// assert_eq!(p(Some("zstd:9"), Some(&[]))?, "zstd:9");
    /// assert!(p(Some("shuffle+lz4"), Some(&["shuffle"])).is_err());
    /// # Ok::<(), array_format::PipelineError>(())
    /// ```
    pub fn compose(
        dtype: DType,
        codec: Option<&str>,
        filters: Option<&[&str]>,
    ) -> Result<Pipeline, PipelineError> {
        if let Some(whole) = codec.filter(|c| c.contains('+')) {
            if filters.is_some_and(|f| !f.is_empty()) {
                return Err(PipelineError::FiltersTwice {
                    codec: whole.to_owned(),
                });
            }
            let p = Pipeline::parse(whole)?;
            p.check_dtype(dtype)?;
            return Ok(p);
        }
        let given = match filters {
            Some(given) => {
                let spec = given.join("+");
                let mut out: Vec<Filter> = Vec::with_capacity(given.len());
                for part in given {
                    let f = parse_filter(part.trim())?;
                    if out.last().is_some_and(|l| l.rank() >= f.rank()) {
                        return Err(PipelineError::Order { spec });
                    }
                    out.push(f);
                }
                Some(out)
            }
            None => None,
        };
        let codec = match codec {
            Some(c) => parse_codec(c.trim(), true, c.trim())?,
            // pco takes no byte filter: with one, the default is zstd.
            None => match &given {
                Some(f) if f.iter().any(|f| !matches!(f, Filter::BitRound { .. })) => zstd(),
                _ => Pipeline::default_for(dtype).codec,
            },
        };
        let filters = match given {
            Some(f) => f,
            None => byte_codec_filters(dtype, &codec),
        };
        let p = Pipeline { filters, codec };
        p.check_dtype(dtype)?;
        Ok(p)
    }

    /// The pipeline measured best for `dtype` on real data, which arrays
    /// defined without a codec by `af import`, Python and xarray get
    /// (`docs/PERFORMANCE.md`, "W9"): `pco:8` for the numbers pco
    /// compresses, of two bytes or more (it stores every real field there
    /// 1.06-1.92x smaller than HDF5's gzip with shuffle and reads them
    /// faster); `shuffle+zstd:3` for the other multi-byte numbers (`bf16`,
    /// complex numbers); `zstd:3` for the rest (bytes, where pco loses to
    /// zstd, bools, strings).
    pub fn default_for(dtype: DType) -> Pipeline {
        let multi_byte = dtype.element_size().is_some_and(|s| s > 1);
        if multi_byte && pco_number(dtype).is_some() {
            return Pipeline::new(Vec::new(), PipelineCodec::Pco(DEFAULT_PCO_LEVEL));
        }
        let codec = zstd();
        Pipeline::new(byte_codec_filters(dtype, &codec), codec)
    }
}

/// `zstd:3`.
fn zstd() -> PipelineCodec {
    PipelineCodec::Builtin(BuiltinCodec::Zstd(super::spec::DEFAULT_ZSTD_LEVEL))
}

/// The filters a codec gets when none are given: `shuffle` before `lz4`
/// and `zstd` for numbers of two bytes or more (it helps them on every
/// real field measured but one); none otherwise (`pco` finds patterns in
/// numbers itself, `none` gains nothing, a custom codec is the caller's).
fn byte_codec_filters(dtype: DType, codec: &PipelineCodec) -> Vec<Filter> {
    let byte_codec = matches!(
        codec,
        PipelineCodec::Builtin(BuiltinCodec::Lz4 | BuiltinCodec::Zstd(_))
    );
    let multi_byte = dtype.element_size().is_some_and(|s| s > 1) && dtype != DType::Bool;
    match byte_codec && multi_byte {
        true => vec![Filter::Shuffle],
        false => Vec::new(),
    }
}

fn is_integer(dtype: DType) -> bool {
    matches!(
        dtype,
        DType::Int8
            | DType::Int16
            | DType::Int32
            | DType::Int64
            | DType::UInt8
            | DType::UInt16
            | DType::UInt32
            | DType::UInt64
            | DType::TimestampNs
    )
}

/// The name pco frames of `dtype` record their numbers as (timestamps are
/// `i64`), or `None` for types pco does not compress.
pub(crate) fn pco_number(dtype: DType) -> Option<&'static str> {
    match dtype {
        DType::Int8 => Some("i8"),
        DType::Int16 => Some("i16"),
        DType::Int32 => Some("i32"),
        DType::Int64 | DType::TimestampNs => Some("i64"),
        DType::UInt8 => Some("u8"),
        DType::UInt16 => Some("u16"),
        DType::UInt32 => Some("u32"),
        DType::UInt64 => Some("u64"),
        DType::Float16 => Some("f16"),
        DType::Float32 => Some("f32"),
        DType::Float64 => Some("f64"),
        DType::Bool
        | DType::String
        | DType::Binary
        | DType::BFloat16
        | DType::Complex64
        | DType::Complex128 => None,
    }
}

fn parse_filter(part: &str) -> Result<Filter, PipelineError> {
    let lower = part.to_ascii_lowercase();
    let (name, param) = match lower.split_once(':') {
        Some((n, p)) => (n.trim(), Some(p.trim())),
        None => (lower.as_str(), None),
    };
    let invalid = |reason: &str| PipelineError::InvalidParameter {
        filter: part.to_owned(),
        reason: reason.to_owned(),
    };
    match (name, param) {
        ("shuffle", None) => Ok(Filter::Shuffle),
        ("delta", None) => Ok(Filter::Delta),
        ("bitround", Some(p)) => {
            let keep_bits: u8 = p
                .parse()
                .map_err(|_| invalid("the mantissa bits kept are a number, 0-52"))?;
            if keep_bits > 52 {
                return Err(invalid("at most 52 mantissa bits can be kept"));
            }
            Ok(Filter::BitRound { keep_bits })
        }
        ("bitround", None) => Err(invalid("say how many mantissa bits to keep: bitround:N")),
        ("shuffle" | "delta", Some(_)) => Err(invalid("takes no parameter")),
        _ => Err(PipelineError::UnknownFilter {
            filter: part.to_owned(),
        }),
    }
}

fn parse_codec(part: &str, alone: bool, spec: &str) -> Result<PipelineCodec, PipelineError> {
    let lower = part.to_ascii_lowercase();
    if lower == "pco" {
        return Ok(PipelineCodec::Pco(DEFAULT_PCO_LEVEL));
    }
    if let Some(level) = lower.strip_prefix("pco:") {
        let invalid = |reason: String| PipelineError::InvalidParameter {
            filter: part.to_owned(),
            reason,
        };
        let n: u8 = level
            .trim()
            .parse()
            .map_err(|_| invalid(format!("pco level {level:?} is not a number (0-12)")))?;
        if n > MAX_PCO_LEVEL {
            return Err(invalid(format!("pco level {n} is outside 0-12")));
        }
        return Ok(PipelineCodec::Pco(n));
    }
    match BuiltinCodec::parse(part) {
        Ok(b) => Ok(PipelineCodec::Builtin(b)),
        // Only a whole spec can name a custom codec, so that a typo in a
        // filter is not taken for one.
        Err(CodecSpecError::Unknown { .. }) if alone && spec == part && !part.is_empty() => {
            Ok(PipelineCodec::Custom(part.to_owned()))
        }
        Err(e) => Err(e.into()),
    }
}

impl FromStr for Pipeline {
    type Err = PipelineError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Pipeline::parse(s)
    }
}

impl fmt::Display for Pipeline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for filter in &self.filters {
            write!(f, "{filter}+")?;
        }
        self.codec.fmt(f)
    }
}

#[cfg(test)]
mod tests;
