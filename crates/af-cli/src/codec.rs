//! The codec choice of the command line (`none`, `lz4`, `zstd[:level]`) as
//! one [`CompressionCodec`], so that every command can use one `FileConfig`
//! type.

use array_format::{CodecId, CompressionCodec, Lz4Codec, NoCompression, Result, ZstdCodec};

/// A built-in codec chosen on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CliCodec {
    /// Stored uncompressed.
    None,
    /// LZ4 (fast).
    Lz4,
    /// Zstandard at a level (1-22).
    Zstd(i32),
}

impl CliCodec {
    /// Parses `none`, `lz4`, `zstd` or `zstd:LEVEL`.
    pub fn parse(s: &str) -> std::result::Result<CliCodec, String> {
        let lower = s.trim().to_ascii_lowercase();
        match lower.as_str() {
            "none" => Ok(CliCodec::None),
            "lz4" => Ok(CliCodec::Lz4),
            "zstd" => Ok(CliCodec::Zstd(3)),
            other => {
                if let Some(level) = other.strip_prefix("zstd:") {
                    let level: i32 = level
                        .parse()
                        .map_err(|_| format!("zstd level {level:?} is not a number (1-22)"))?;
                    if !(1..=22).contains(&level) {
                        return Err(format!("zstd level {level} is outside 1-22"));
                    }
                    Ok(CliCodec::Zstd(level))
                } else {
                    Err(format!(
                        "unknown codec {s:?}: use none, lz4, zstd or zstd:LEVEL"
                    ))
                }
            }
        }
    }

    /// The codec whose on-disk name is `name`, if it is a built-in one.
    pub fn from_name(name: &str) -> Option<CliCodec> {
        match name {
            "none" => Some(CliCodec::None),
            "lz4" => Some(CliCodec::Lz4),
            "zstd" => Some(CliCodec::Zstd(3)),
            _ => None,
        }
    }
}

impl std::fmt::Display for CliCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CliCodec::None => f.write_str("none"),
            CliCodec::Lz4 => f.write_str("lz4"),
            CliCodec::Zstd(level) => write!(f, "zstd:{level}"),
        }
    }
}

impl CompressionCodec for CliCodec {
    fn id(&self) -> CodecId {
        match self {
            CliCodec::None => NoCompression.id(),
            CliCodec::Lz4 => Lz4Codec.id(),
            CliCodec::Zstd(level) => ZstdCodec::new(*level).id(),
        }
    }

    fn compress(&self, data: &[u8]) -> Result<Vec<u8>> {
        match self {
            CliCodec::None => NoCompression.compress(data),
            CliCodec::Lz4 => Lz4Codec.compress(data),
            CliCodec::Zstd(level) => ZstdCodec::new(*level).compress(data),
        }
    }

    fn decompress(&self, data: &[u8], uncompressed_size: usize) -> Result<Vec<u8>> {
        match self {
            CliCodec::None => NoCompression.decompress(data, uncompressed_size),
            CliCodec::Lz4 => Lz4Codec.decompress(data, uncompressed_size),
            CliCodec::Zstd(level) => ZstdCodec::new(*level).decompress(data, uncompressed_size),
        }
    }

    fn decompress_into(&self, data: &[u8], out: &mut [u8]) -> Result<()> {
        match self {
            CliCodec::None => NoCompression.decompress_into(data, out),
            CliCodec::Lz4 => Lz4Codec.decompress_into(data, out),
            CliCodec::Zstd(level) => ZstdCodec::new(*level).decompress_into(data, out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_codecs() {
        assert_eq!(CliCodec::parse("none"), Ok(CliCodec::None));
        assert_eq!(CliCodec::parse("LZ4"), Ok(CliCodec::Lz4));
        assert_eq!(CliCodec::parse("zstd"), Ok(CliCodec::Zstd(3)));
        assert_eq!(CliCodec::parse("zstd:19"), Ok(CliCodec::Zstd(19)));
        assert!(CliCodec::parse("zstd:0").is_err());
        assert!(CliCodec::parse("zstd:x").is_err());
        assert!(CliCodec::parse("gzip").is_err());
        assert_eq!(CliCodec::Zstd(9).to_string(), "zstd:9");
    }

    #[test]
    fn round_trips() {
        let data: Vec<u8> = (0..5000u32).map(|i| (i % 7) as u8).collect();
        for c in [CliCodec::None, CliCodec::Lz4, CliCodec::Zstd(5)] {
            let z = c.compress(&data).unwrap();
            assert_eq!(c.decompress(&z, data.len()).unwrap(), data);
        }
    }
}
