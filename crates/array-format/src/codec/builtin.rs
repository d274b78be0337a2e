//! The built-in codecs: `none`, `lz4` and `zstd`.

use super::{CodecId, CompressionCodec, codec_error};
use crate::error::Result;

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
        ZSTD_COMPRESSORS.with_borrow_mut(|slots| {
            let at = match slots.iter().position(|(level, _)| *level == self.level) {
                Some(at) => at,
                None => {
                    let c = zstd::bulk::Compressor::new(self.level)
                        .map_err(|e| codec_error("zstd", e.to_string()))?;
                    if slots.len() >= ZSTD_LEVELS_KEPT {
                        slots.remove(0);
                    }
                    slots.push((self.level, c));
                    slots.len() - 1
                }
            };
            let (_, compressor) = slots
                .get_mut(at)
                .ok_or_else(|| codec_error("zstd", "no compression context".into()))?;
            f(compressor).map_err(|e| codec_error("zstd", e.to_string()))
        })
    }
}

impl Default for ZstdCodec {
    fn default() -> Self {
        Self { level: 3 }
    }
}

/// Compression contexts a thread keeps, one per zstd level: arrays may
/// record different levels, and a pool thread compresses frames of several
/// of them in turn.
const ZSTD_LEVELS_KEPT: usize = 4;

thread_local! {
    // zstd contexts cost more to create than a small frame costs to code
    // (a decompression context is ~100 KiB to allocate and clear; creating
    // one per frame was 8% of a W2 window), so each thread keeps them.
    static ZSTD_COMPRESSORS: std::cell::RefCell<Vec<(i32, zstd::bulk::Compressor<'static>)>> =
        const { std::cell::RefCell::new(Vec::new()) };
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
    fn zstd_compresses_at_each_level_of_several_in_turn() {
        let data: Vec<u8> = (0..50_000u32).map(|i| (i % 251) as u8).collect();
        for round in 0..2 {
            for level in [1, 3, 9, 19, 22] {
                let codec = ZstdCodec::new(level);
                let c = codec.compress(&data).unwrap();
                assert_eq!(
                    codec.decompress(&c, data.len()).unwrap(),
                    data,
                    "{round} {level}"
                );
            }
        }
    }
}
