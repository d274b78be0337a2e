//! [`BuiltinCodec`]: a built-in codec named by its *spec* (`none`, `lz4`,
//! `zstd`, `zstd:LEVEL`), the form an array records its codec in and the
//! command line takes.

use std::fmt;
use std::str::FromStr;

use super::{CodecId, CompressionCodec, Lz4Codec, NoCompression, ZstdCodec};
use crate::error::Result;

/// The zstd level `zstd` without a level means (zstd's own default).
pub(crate) const DEFAULT_ZSTD_LEVEL: i32 = 3;

/// The zstd levels a spec may name.
const ZSTD_LEVELS: std::ops::RangeInclusive<i64> = 1..=22;

/// A built-in codec, as named by its spec.
///
/// The canonical spec ([`Display`](fmt::Display)) is `none`, `lz4` or
/// `zstd:LEVEL`; [`parse`](Self::parse) (and [`FromStr`]) also accepts
/// `zstd` (level 3), any letter case and surrounding spaces.
///
/// ```
/// use array_format::{BuiltinCodec, CodecSpecError};
///
/// assert_eq!("zstd".parse::<BuiltinCodec>(), Ok(BuiltinCodec::Zstd(3)));
/// assert_eq!(BuiltinCodec::parse(" LZ4 ")?.to_string(), "lz4");
/// assert_eq!(BuiltinCodec::Zstd(9).to_string(), "zstd:9");
/// assert!(matches!(
///     BuiltinCodec::parse("zstd:40"),
///     Err(CodecSpecError::LevelOutOfRange { level: 40 })
/// ));
/// # Ok::<(), CodecSpecError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BuiltinCodec {
    /// Stored uncompressed ([`NoCompression`]).
    None,
    /// LZ4 ([`Lz4Codec`]): fast.
    Lz4,
    /// Zstandard at a level, 1-22 ([`ZstdCodec`]): denser, slower.
    Zstd(i32),
}

/// Why a codec spec names no built-in codec.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CodecSpecError {
    /// Not `none`, `lz4`, `zstd` nor `zstd:LEVEL`.
    #[error("unknown codec {spec:?}: use none, lz4, zstd or zstd:LEVEL")]
    Unknown {
        /// The spec given.
        spec: String,
    },
    /// The level after `zstd:` is not a number.
    #[error("zstd level {level:?} is not a number (1-22)")]
    InvalidLevel {
        /// The text after `zstd:`.
        level: String,
    },
    /// The zstd level is outside 1-22.
    #[error("zstd level {level} is outside 1-22")]
    LevelOutOfRange {
        /// The level given.
        level: i64,
    },
}

impl BuiltinCodec {
    /// Parses a spec: `none`, `lz4`, `zstd` (level 3) or `zstd:LEVEL`
    /// (1-22), in any letter case.
    pub fn parse(spec: &str) -> std::result::Result<BuiltinCodec, CodecSpecError> {
        let lower = spec.trim().to_ascii_lowercase();
        match lower.as_str() {
            "none" => Ok(BuiltinCodec::None),
            "lz4" => Ok(BuiltinCodec::Lz4),
            "zstd" => Ok(BuiltinCodec::Zstd(DEFAULT_ZSTD_LEVEL)),
            other => {
                let level = other.strip_prefix("zstd:").ok_or(CodecSpecError::Unknown {
                    spec: spec.to_owned(),
                })?;
                let n: i64 = level
                    .trim()
                    .parse()
                    .map_err(|_| CodecSpecError::InvalidLevel {
                        level: level.to_owned(),
                    })?;
                let n = i32::try_from(n)
                    .ok()
                    .filter(|_| ZSTD_LEVELS.contains(&n))
                    .ok_or(CodecSpecError::LevelOutOfRange { level: n })?;
                Ok(BuiltinCodec::Zstd(n))
            }
        }
    }

    /// The built-in codec whose blocks are named `name` (`none`, `lz4`,
    /// `zstd`; zstd at level 3, since blocks do not record a level).
    pub fn from_name(name: &str) -> Option<BuiltinCodec> {
        match name {
            "none" => Some(BuiltinCodec::None),
            "lz4" => Some(BuiltinCodec::Lz4),
            "zstd" => Some(BuiltinCodec::Zstd(DEFAULT_ZSTD_LEVEL)),
            _ => None,
        }
    }

    /// The name its blocks record: `none`, `lz4` or `zstd`.
    pub fn name(&self) -> &'static str {
        match self {
            BuiltinCodec::None => "none",
            BuiltinCodec::Lz4 => "lz4",
            BuiltinCodec::Zstd(_) => "zstd",
        }
    }
}

impl FromStr for BuiltinCodec {
    type Err = CodecSpecError;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        BuiltinCodec::parse(s)
    }
}

impl fmt::Display for BuiltinCodec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuiltinCodec::None => f.write_str("none"),
            BuiltinCodec::Lz4 => f.write_str("lz4"),
            BuiltinCodec::Zstd(level) => write!(f, "zstd:{level}"),
        }
    }
}

/// Runs `$call` on the codec `$self` stands for.
macro_rules! delegate {
    ($self:ident, $c:ident => $call:expr) => {
        match $self {
            BuiltinCodec::None => {
                let $c = NoCompression;
                $call
            }
            BuiltinCodec::Lz4 => {
                let $c = Lz4Codec;
                $call
            }
            BuiltinCodec::Zstd(level) => {
                let $c = ZstdCodec::new(*level);
                $call
            }
        }
    };
}

impl CompressionCodec for BuiltinCodec {
    fn id(&self) -> CodecId {
        delegate!(self, c => c.id())
    }

    fn compress(&self, data: &[u8]) -> Result<Vec<u8>> {
        delegate!(self, c => c.compress(data))
    }

    fn decompress(&self, data: &[u8], uncompressed_size: usize) -> Result<Vec<u8>> {
        delegate!(self, c => c.decompress(data, uncompressed_size))
    }

    fn max_compressed_len(&self, len: usize) -> Option<usize> {
        delegate!(self, c => c.max_compressed_len(len))
    }

    fn compress_into(&self, data: &[u8], out: &mut [u8]) -> Result<usize> {
        delegate!(self, c => c.compress_into(data, out))
    }

    fn decompress_into(&self, data: &[u8], out: &mut [u8]) -> Result<()> {
        delegate!(self, c => c.decompress_into(data, out))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_and_print_canonically() {
        for (spec, codec, canonical) in [
            ("none", BuiltinCodec::None, "none"),
            ("LZ4", BuiltinCodec::Lz4, "lz4"),
            (" zstd ", BuiltinCodec::Zstd(3), "zstd:3"),
            ("zstd:1", BuiltinCodec::Zstd(1), "zstd:1"),
            ("Zstd:22", BuiltinCodec::Zstd(22), "zstd:22"),
            ("zstd: 9", BuiltinCodec::Zstd(9), "zstd:9"),
        ] {
            assert_eq!(BuiltinCodec::parse(spec), Ok(codec), "{spec}");
            assert_eq!(codec.to_string(), canonical);
            assert_eq!(canonical.parse::<BuiltinCodec>(), Ok(codec));
        }
        for (spec, err) in [
            (
                "gzip",
                CodecSpecError::Unknown {
                    spec: "gzip".into(),
                },
            ),
            ("", CodecSpecError::Unknown { spec: "".into() }),
            ("zstd:x", CodecSpecError::InvalidLevel { level: "x".into() }),
            ("zstd:", CodecSpecError::InvalidLevel { level: "".into() }),
            ("zstd:0", CodecSpecError::LevelOutOfRange { level: 0 }),
            ("zstd:-1", CodecSpecError::LevelOutOfRange { level: -1 }),
            (
                "zstd:99999999999",
                CodecSpecError::LevelOutOfRange {
                    level: 99_999_999_999,
                },
            ),
        ] {
            assert_eq!(BuiltinCodec::parse(spec), Err(err), "{spec:?}");
        }
    }

    #[test]
    fn block_names_and_ids_agree() {
        for c in [BuiltinCodec::None, BuiltinCodec::Lz4, BuiltinCodec::Zstd(7)] {
            assert_eq!(c.id().name(), c.name());
            assert_eq!(
                BuiltinCodec::from_name(c.name()).map(|b| b.name()),
                Some(c.name())
            );
        }
        assert_eq!(BuiltinCodec::from_name("zstd"), Some(BuiltinCodec::Zstd(3)));
        assert_eq!(BuiltinCodec::from_name("zstd:3"), None);
    }

    #[test]
    fn built_in_codecs_round_trip_through_their_spec() {
        let data: Vec<u8> = (0..20_000u32).map(|i| (i % 13) as u8).collect();
        for c in [BuiltinCodec::None, BuiltinCodec::Lz4, BuiltinCodec::Zstd(5)] {
            let z = c.compress(&data).unwrap();
            assert_eq!(c.decompress(&z, data.len()).unwrap(), data);
            let mut out = vec![0u8; c.max_compressed_len(data.len()).unwrap()];
            let n = c.compress_into(&data, &mut out).unwrap();
            let mut back = vec![0u8; data.len()];
            c.decompress_into(&out[..n], &mut back).unwrap();
            assert_eq!(back, data);
        }
    }
}
