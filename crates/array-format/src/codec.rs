//! Compression codecs.
//!
//! Every block of a layer records the name of the codec its frames are
//! compressed with, so a reader needs no configuration for the built-in
//! codecs (`none`, `lz4`, `zstd`). A custom [`CompressionCodec`] is used for
//! writing when it is the configured codec, and for reading blocks that carry
//! its name.

use std::sync::Arc;

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

/// Stores frames uncompressed.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoCompression;

impl CompressionCodec for NoCompression {
    fn id(&self) -> CodecId {
        CodecId::None
    }

    fn compress(&self, data: &[u8]) -> Result<Vec<u8>> {
        Ok(data.to_vec())
    }

    fn max_compressed_len(&self, len: usize) -> Option<usize> {
        Some(len)
    }

    fn compress_into(&self, data: &[u8], out: &mut [u8]) -> Result<usize> {
        let room = out.len();
        out.get_mut(..data.len())
            .ok_or_else(|| {
                codec_error(
                    "none",
                    format!("{} bytes to store, {room} available", data.len()),
                )
            })?
            .copy_from_slice(data);
        Ok(data.len())
    }

    fn decompress(&self, data: &[u8], _uncompressed_size: usize) -> Result<Vec<u8>> {
        Ok(data.to_vec())
    }

    fn decompress_into(&self, data: &[u8], out: &mut [u8]) -> Result<()> {
        if data.len() != out.len() {
            return Err(codec_error(
                "none",
                format!("frame holds {} bytes, expected {}", data.len(), out.len()),
            ));
        }
        out.copy_from_slice(data);
        Ok(())
    }
}

/// LZ4 block compression (fast; the usual choice for scans).
#[derive(Debug, Clone, Copy, Default)]
pub struct Lz4Codec;

impl CompressionCodec for Lz4Codec {
    fn id(&self) -> CodecId {
        CodecId::Named("lz4".into())
    }

    fn compress(&self, data: &[u8]) -> Result<Vec<u8>> {
        Ok(lz4_flex::block::compress(data))
    }

    fn max_compressed_len(&self, len: usize) -> Option<usize> {
        Some(lz4_flex::block::get_maximum_output_size(len))
    }

    fn compress_into(&self, data: &[u8], out: &mut [u8]) -> Result<usize> {
        lz4_flex::block::compress_into(data, out).map_err(|e| codec_error("lz4", e.to_string()))
    }

    fn decompress(&self, data: &[u8], uncompressed_size: usize) -> Result<Vec<u8>> {
        let mut out = vec![0u8; uncompressed_size];
        self.decompress_into(data, &mut out)?;
        Ok(out)
    }

    fn decompress_into(&self, data: &[u8], out: &mut [u8]) -> Result<()> {
        // liblz4's decoder copies short-offset matches (runs, repeated
        // values) about six times faster than lz4_flex's, which compresses
        // faster; both read and write the same raw LZ4 block format.
        let n = match i32::try_from(out.len()) {
            Ok(len) if len > 0 => lz4::block::decompress_to_buffer(data, Some(len), out)
                .map_err(|e| codec_error("lz4", e.to_string()))?,
            _ => lz4_flex::block::decompress_into(data, out)
                .map_err(|e| codec_error("lz4", e.to_string()))?,
        };
        if n != out.len() {
            return Err(codec_error(
                "lz4",
                format!("decoded {n} bytes, expected {}", out.len()),
            ));
        }
        Ok(())
    }
}

/// Zstandard compression at a configurable level (denser, slower).
#[derive(Debug, Clone, Copy)]
pub struct ZstdCodec {
    /// Compression level (1-22; 3 is zstd's default).
    pub level: i32,
}

impl ZstdCodec {
    /// A codec compressing at `level`.
    pub fn new(level: i32) -> Self {
        Self { level }
    }
}

impl ZstdCodec {
    /// Runs `f` with this thread's compression context at this level.
    fn with_compressor<R>(
        &self,
        f: impl FnOnce(&mut zstd::bulk::Compressor<'static>) -> std::io::Result<R>,
    ) -> Result<R> {
        ZSTD_COMPRESSOR.with_borrow_mut(|slot| {
            let compressor = match slot {
                Some((level, c)) if *level == self.level => c,
                _ => {
                    let c = zstd::bulk::Compressor::new(self.level)
                        .map_err(|e| codec_error("zstd", e.to_string()))?;
                    &mut slot.insert((self.level, c)).1
                }
            };
            f(compressor).map_err(|e| codec_error("zstd", e.to_string()))
        })
    }
}

impl Default for ZstdCodec {
    fn default() -> Self {
        Self { level: 3 }
    }
}

thread_local! {
    // zstd contexts cost more to create than a small frame costs to code
    // (a decompression context is ~100 KiB to allocate and clear; creating
    // one per frame was 8% of a W2 window), so each thread keeps one.
    static ZSTD_COMPRESSOR: std::cell::RefCell<Option<(i32, zstd::bulk::Compressor<'static>)>> =
        const { std::cell::RefCell::new(None) };
    static ZSTD_DECOMPRESSOR: std::cell::RefCell<Option<zstd::bulk::Decompressor<'static>>> =
        const { std::cell::RefCell::new(None) };
}

impl CompressionCodec for ZstdCodec {
    fn id(&self) -> CodecId {
        CodecId::Named("zstd".into())
    }

    fn compress(&self, data: &[u8]) -> Result<Vec<u8>> {
        self.with_compressor(|c| c.compress(data))
    }

    fn max_compressed_len(&self, len: usize) -> Option<usize> {
        Some(zstd::zstd_safe::compress_bound(len))
    }

    fn compress_into(&self, data: &[u8], out: &mut [u8]) -> Result<usize> {
        self.with_compressor(|c| c.compress_to_buffer(data, out))
    }

    fn decompress(&self, data: &[u8], uncompressed_size: usize) -> Result<Vec<u8>> {
        let mut out = vec![0u8; uncompressed_size];
        self.decompress_into(data, &mut out)?;
        Ok(out)
    }

    fn decompress_into(&self, data: &[u8], out: &mut [u8]) -> Result<()> {
        let n = ZSTD_DECOMPRESSOR.with_borrow_mut(|slot| {
            let decompressor = match slot {
                Some(d) => d,
                None => slot.insert(
                    zstd::bulk::Decompressor::new()
                        .map_err(|e| codec_error("zstd", e.to_string()))?,
                ),
            };
            decompressor
                .decompress_to_buffer(data, out)
                .map_err(|e| codec_error("zstd", e.to_string()))
        })?;
        if n != out.len() {
            return Err(codec_error(
                "zstd",
                format!("decoded {n} bytes, expected {}", out.len()),
            ));
        }
        Ok(())
    }
}

fn codec_error(codec: &str, message: String) -> Error {
    Error::Codec {
        codec: codec.to_owned(),
        message,
    }
}

/// The codecs a file can decode: the built-ins plus the configured one.
#[derive(Clone)]
pub(crate) struct CodecSet {
    configured: Arc<dyn CompressionCodec>,
    configured_name: String,
    /// The configured codec stores frames as they are ("none" is always
    /// read back by [`NoCompression`]), so writers can skip the copy.
    stores_raw: bool,
}

impl CodecSet {
    pub(crate) fn new(configured: Arc<dyn CompressionCodec>) -> Self {
        let id = configured.id();
        Self {
            stores_raw: id == CodecId::None,
            configured_name: id.name().to_owned(),
            configured,
        }
    }

    /// The codec new frames are written with.
    pub(crate) fn writer(&self) -> &Arc<dyn CompressionCodec> {
        &self.configured
    }

    /// Whether the writing codec stores frames uncompressed.
    pub(crate) fn stores_raw(&self) -> bool {
        self.stores_raw
    }

    /// The on-disk name of the writing codec.
    pub(crate) fn writer_name(&self) -> &str {
        &self.configured_name
    }

    /// The codec that decodes blocks recorded as `name`, if known.
    ///
    /// The built-in names always mean the built-in codecs, so a custom codec
    /// that reuses one of them cannot misread files.
    pub(crate) fn for_name(&self, name: &str) -> Option<&dyn CompressionCodec> {
        match name {
            "none" => Some(&NoCompression),
            "lz4" => Some(&Lz4Codec),
            // The level only matters for compression.
            "zstd" => Some(&ZstdCodec { level: 3 }),
            _ if name == self.configured_name => Some(self.configured.as_ref()),
            _ => None,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn round_trip(codec: &dyn CompressionCodec) {
        let data: Vec<u8> = (0..10_000u32)
            .flat_map(|i| (i % 97).to_le_bytes())
            .collect();
        let c = codec.compress(&data).unwrap();
        assert_eq!(codec.decompress(&c, data.len()).unwrap(), data);
        let mut out = vec![0u8; data.len()];
        codec.decompress_into(&c, &mut out).unwrap();
        assert_eq!(out, data);
        // A wrong expected size is an error, not a short or padded result.
        let mut short = vec![0u8; data.len() - 1];
        assert!(codec.decompress_into(&c, &mut short).is_err());
        let mut long = vec![0u8; data.len() + 1];
        assert!(codec.decompress_into(&c, &mut long).is_err());
        // Runs decode through short-offset match copies.
        let run: Vec<u8> = [1u8, 0, 0, 0].repeat(10_000);
        let c = codec.compress(&run).unwrap();
        assert_eq!(codec.decompress(&c, run.len()).unwrap(), run);
        let c = codec.compress(&[]).unwrap();
        assert!(codec.decompress(&c, 0).unwrap().is_empty());
        // Every truncation of a stream fails or, at worst, decodes into a
        // buffer of the right size without reading outside the input.
        let c = codec.compress(&data[..1000]).unwrap();
        for cut in 0..c.len() {
            let mut out = vec![0u8; 1000];
            let _ = codec.decompress_into(&c[..cut], &mut out);
        }
    }

    #[test]
    fn built_in_codecs_round_trip() {
        round_trip(&NoCompression);
        round_trip(&Lz4Codec);
        round_trip(&ZstdCodec::new(5));
    }

    /// Compressing into a buffer of the codec's bound gives what
    /// `compress` gives; a smaller buffer is an error, never a panic or a
    /// cut stream.
    fn compress_into_agrees(codec: &dyn CompressionCodec) {
        let name = codec.id().name().to_owned();
        for data in [
            (0..10_000u32)
                .flat_map(|i| (i % 97).to_le_bytes())
                .collect(),
            [7u8; 40_000].to_vec(),
            (0..5_000u32)
                .flat_map(|i| i.wrapping_mul(2_654_435_761).to_le_bytes())
                .collect::<Vec<u8>>(),
            Vec::new(),
        ] {
            let bound = codec.max_compressed_len(data.len()).unwrap();
            let mut out = vec![0u8; bound];
            let n = codec.compress_into(&data, &mut out).unwrap();
            assert!(n <= bound, "{name}");
            let mut back = vec![0u8; data.len()];
            codec.decompress_into(&out[..n], &mut back).unwrap();
            assert_eq!(back, data, "{name}");
            if n > 0 {
                let mut small = vec![0u8; n - 1];
                assert!(codec.compress_into(&data, &mut small).is_err(), "{name}");
            }
        }
    }

    #[test]
    fn built_in_codecs_compress_into_a_buffer() {
        compress_into_agrees(&NoCompression);
        compress_into_agrees(&Lz4Codec);
        compress_into_agrees(&ZstdCodec::new(3));
    }

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
    fn damaged_input_is_an_error() {
        let mut out = vec![0u8; 100];
        assert!(Lz4Codec.decompress_into(&[0xff; 7], &mut out).is_err());
        assert!(
            ZstdCodec::default()
                .decompress_into(&[1, 2, 3], &mut out)
                .is_err()
        );
    }

    #[test]
    fn codec_set_resolves_names() {
        let set = CodecSet::new(Arc::new(ZstdCodec::new(9)));
        assert_eq!(set.writer_name(), "zstd");
        assert!(set.for_name("lz4").is_some());
        assert!(set.for_name("none").is_some());
        assert!(set.for_name("brotli").is_none());
        assert_eq!(CodecId::from_name("none"), CodecId::None);
        assert_eq!(CodecId::Named("lz4".into()).name(), "lz4");
    }
}
