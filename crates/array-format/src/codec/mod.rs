//! Compression codecs.
//!
//! Every block of a layer records the name of the codec its frames are
//! compressed with, so a reader needs no configuration for the built-in
//! codecs (`none`, `lz4`, `zstd`). A custom [`CompressionCodec`] is used for
//! writing when it is the configured codec, and for reading blocks that carry
//! its name.
//!
//! An array may also record the [`Pipeline`] its chunks are written with:
//! filters (`bitround:N`, `delta`, `shuffle`) and a codec (`none`, `lz4`,
//! `zstd:LEVEL`, `pco:LEVEL`, or the name of a custom codec), as a spec
//! such as `shuffle+zstd:5`; every handle that writes the array then uses
//! it, whatever codec the handle is configured with. `bitround` rounds the
//! values as they are written; the other filters and the codec become the
//! frame codec, whose block name (`shuffle:4+zstd`, `pco:f32`) tells any
//! reader how to decode the frames.
//!
//! | file | holds |
//! |------|-------|
//! | `builtin.rs` | the built-in codecs `NoCompression`, `Lz4Codec`, `ZstdCodec` |
//! | `spec.rs` | [`BuiltinCodec`]: a built-in codec named by its spec, parsed and printed |
//! | `pipeline.rs` | [`Pipeline`]: filters and a codec, parsed, printed and checked against a dtype |
//! | `filters.rs` | the filters' transforms: shuffle, delta, bit rounding |
//! | `pco.rs` | pcodec as a frame codec of one number type |
//! | `chain.rs` | byte filters then a codec, as one frame codec |
//! | `set.rs` | the codecs a handle reads and writes with, and the resolution of specs |

mod builtin;
mod chain;
pub(crate) mod filters;
mod pco;
mod pipeline;
mod set;
mod spec;

pub use builtin::{Lz4Codec, NoCompression, ZstdCodec};
pub use pipeline::{Filter, Pipeline, PipelineCodec, PipelineError};
pub(crate) use set::{CodecSet, WriteCodec};
pub use spec::{BuiltinCodec, CodecSpecError};

use crate::error::{Error, Result};

/// Identifies a codec in the block table.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CodecId {
    /// Stored uncompressed.
    None,
    /// A named codec: `"lz4"`, `"zstd"` or a custom name.
    Named(String),
}

impl CodecId {
    /// The name recorded on disk (`"none"` for [`CodecId::None`]).
    pub fn name(&self) -> &str {
        match self {
            CodecId::None => "none",
            CodecId::Named(n) => n,
        }
    }

    /// The id whose on-disk name is `name`.
    pub fn from_name(name: &str) -> CodecId {
        match name {
            "none" => CodecId::None,
            other => CodecId::Named(other.to_owned()),
        }
    }
}

/// A block compression algorithm.
///
/// Implement it to plug in another algorithm; give it a unique
/// [`id`](Self::id), since that name is what files record.
pub trait CompressionCodec: Send + Sync {
    /// The id recorded for blocks this codec writes.
    fn id(&self) -> CodecId;

    /// Compresses one frame.
    fn compress(&self, data: &[u8]) -> Result<Vec<u8>>;

    /// Decompresses one frame whose original length is `uncompressed_size`.
    fn decompress(&self, data: &[u8], uncompressed_size: usize) -> Result<Vec<u8>>;

    /// The most bytes `len` bytes can compress to, when the codec knows it.
    /// Writers then compress with [`compress_into`](Self::compress_into)
    /// into a buffer they reuse and keep only the bytes written, instead of
    /// a fresh allocation of that bound per frame. The default, `None`,
    /// leaves them to [`compress`](Self::compress).
    fn max_compressed_len(&self, len: usize) -> Option<usize> {
        let _ = len;
        None
    }

    /// Compresses one frame into `out`, which holds at least
    /// [`max_compressed_len`](Self::max_compressed_len) bytes, and returns
    /// the length written. The default goes through
    /// [`compress`](Self::compress); the built-in codecs write in place.
    fn compress_into(&self, data: &[u8], out: &mut [u8]) -> Result<usize> {
        let c = self.compress(data)?;
        let room = out.len();
        out.get_mut(..c.len())
            .ok_or_else(|| Error::Codec {
                codec: self.id().name().to_owned(),
                message: format!("compressed to {} bytes, {room} available", c.len()),
            })?
            .copy_from_slice(&c);
        Ok(c.len())
    }

    /// Decompresses one frame into `out`, which has exactly the original
    /// length. The default goes through [`decompress`](Self::decompress);
    /// the built-in codecs decode in place.
    fn decompress_into(&self, data: &[u8], out: &mut [u8]) -> Result<()> {
        let v = self.decompress(data, out.len())?;
        if v.len() != out.len() {
            return Err(Error::Codec {
                codec: self.id().name().to_owned(),
                message: format!("decoded {} bytes, expected {}", v.len(), out.len()),
            });
        }
        out.copy_from_slice(&v);
        Ok(())
    }
}

fn codec_error(codec: &str, message: String) -> Error {
    Error::Codec {
        codec: codec.to_owned(),
        message,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// A codec that implements only what the trait requires.
    struct Xor;

    impl CompressionCodec for Xor {
        fn id(&self) -> CodecId {
            CodecId::Named("xor".into())
        }
        fn compress(&self, data: &[u8]) -> Result<Vec<u8>> {
            Ok(data.iter().map(|b| b ^ 0x5a).collect())
        }
        fn decompress(&self, data: &[u8], _: usize) -> Result<Vec<u8>> {
            self.compress(data)
        }
    }

    #[test]
    fn the_default_compress_into_goes_through_compress() {
        let data = [1u8, 2, 3, 4];
        assert_eq!(Xor.max_compressed_len(4), None);
        let mut out = [0u8; 6];
        assert_eq!(Xor.compress_into(&data, &mut out).unwrap(), 4);
        assert_eq!(out[..4], Xor.compress(&data).unwrap()[..]);
        assert!(Xor.compress_into(&data, &mut [0u8; 3]).is_err());
    }

    #[test]
    fn codec_ids_name_their_blocks() {
        assert_eq!(CodecId::from_name("none"), CodecId::None);
        assert_eq!(CodecId::Named("lz4".into()).name(), "lz4");
    }
}
