//! pcodec as a frame codec: a frame of one number type compressed as
//! numbers (pco's standalone format), named `pco:TYPE` in block tables.

use super::{CodecId, CompressionCodec, codec_error};
use crate::error::Result;

/// Compresses frames of one number type with pco.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PcoCodec {
    /// The number type, as block names record it (`i8` ... `f64`).
    number: &'static str,
    level: u8,
}

/// The number types pco frames can hold, by block name.
const NUMBERS: [&str; 11] = [
    "i8", "i16", "i32", "i64", "u8", "u16", "u32", "u64", "f16", "f32", "f64",
];

/// Runs `$body` with `$t` bound to the Rust type of number type `$number`.
macro_rules! with_number {
    ($number:expr, $t:ident => $body:expr) => {
        match $number {
            "i8" => {
                type $t = i8;
                $body
            }
            "i16" => {
                type $t = i16;
                $body
            }
            "i32" => {
                type $t = i32;
                $body
            }
            "i64" => {
                type $t = i64;
                $body
            }
            "u8" => {
                type $t = u8;
                $body
            }
            "u16" => {
                type $t = u16;
                $body
            }
            "u32" => {
                type $t = u32;
                $body
            }
            "u64" => {
                type $t = u64;
                $body
            }
            "f16" => {
                type $t = half::f16;
                $body
            }
            "f32" => {
                type $t = f32;
                $body
            }
            _ => {
                type $t = f64;
                $body
            }
        }
    };
}

impl PcoCodec {
    /// The codec for numbers of type `number` (a block name's type) at
    /// `level`; `None` for another type.
    pub(crate) fn new(number: &str, level: u8) -> Option<PcoCodec> {
        let number = NUMBERS.into_iter().find(|n| *n == number)?;
        Some(PcoCodec { number, level })
    }

    /// The codec a block named `name` (`pco:TYPE`) was written with.
    pub(crate) fn from_block_name(name: &str) -> Option<PcoCodec> {
        PcoCodec::new(
            name.strip_prefix("pco:")?,
            super::pipeline::DEFAULT_PCO_LEVEL,
        )
    }

    fn fail(&self, message: String) -> crate::error::Error {
        codec_error(&format!("pco:{}", self.number), message)
    }

    fn compress_as<T: pco::data_types::Number + bytemuck::Pod>(
        &self,
        data: &[u8],
    ) -> Result<Vec<u8>> {
        let width = std::mem::size_of::<T>();
        if !data.len().is_multiple_of(width) {
            return Err(self.fail(format!(
                "a frame of {} bytes is not a whole number of {}",
                data.len(),
                self.number
            )));
        }
        if data.is_empty() {
            return Ok(Vec::new());
        }
        // Frames are byte buffers with no alignment promise.
        let numbers: std::borrow::Cow<'_, [T]> = match bytemuck::try_cast_slice(data) {
            Ok(n) => std::borrow::Cow::Borrowed(n),
            Err(_) => std::borrow::Cow::Owned(bytemuck::pod_collect_to_vec(data)),
        };
        let config = pco::ChunkConfig::default()
            .with_compression_level(usize::from(self.level))
            .with_enable_8_bit(true);
        pco::standalone::simple_compress(&numbers, &config).map_err(|e| self.fail(e.to_string()))
    }

    fn decompress_as<T: pco::data_types::Number + bytemuck::Pod>(
        &self,
        data: &[u8],
        out: &mut [u8],
    ) -> Result<()> {
        let width = std::mem::size_of::<T>();
        if !out.len().is_multiple_of(width) {
            return Err(self.fail(format!(
                "a frame of {} bytes is not a whole number of {}",
                out.len(),
                self.number
            )));
        }
        if out.is_empty() {
            return match data.is_empty() {
                true => Ok(()),
                false => Err(self.fail(format!("{} bytes for no number", data.len()))),
            };
        }
        let n = out.len() / width;
        let check = |p: pco::Progress| match p.n_processed == n && p.finished {
            true => Ok(()),
            false => Err(self.fail(format!(
                "decoded {} numbers{}, expected {n}",
                p.n_processed,
                if p.finished { "" } else { " and more" }
            ))),
        };
        match bytemuck::try_cast_slice_mut::<u8, T>(out) {
            Ok(numbers) => check(
                pco::standalone::simple_decompress_into(data, numbers)
                    .map_err(|e| self.fail(e.to_string()))?,
            ),
            Err(_) => {
                let mut numbers = vec![T::zeroed(); n];
                check(
                    pco::standalone::simple_decompress_into(data, &mut numbers)
                        .map_err(|e| self.fail(e.to_string()))?,
                )?;
                out.copy_from_slice(bytemuck::cast_slice(&numbers));
                Ok(())
            }
        }
    }
}

impl CompressionCodec for PcoCodec {
    fn id(&self) -> CodecId {
        CodecId::Named(format!("pco:{}", self.number))
    }

    fn compress(&self, data: &[u8]) -> Result<Vec<u8>> {
        with_number!(self.number, T => self.compress_as::<T>(data))
    }

    fn decompress(&self, data: &[u8], uncompressed_size: usize) -> Result<Vec<u8>> {
        let mut out = vec![0u8; uncompressed_size];
        self.decompress_into(data, &mut out)?;
        Ok(out)
    }

    fn decompress_into(&self, data: &[u8], out: &mut [u8]) -> Result<()> {
        with_number!(self.number, T => self.decompress_as::<T>(data, out))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn every_number_type_round_trips() {
        for number in NUMBERS {
            let codec = PcoCodec::new(number, 8).unwrap();
            assert_eq!(codec.id().name(), format!("pco:{number}"));
            assert_eq!(
                PcoCodec::from_block_name(&format!("pco:{number}")),
                Some(PcoCodec { number, level: 8 })
            );
            let width = match &number[1..] {
                "8" => 1,
                "16" => 2,
                "32" => 4,
                _ => 8,
            };
            let data: Vec<u8> = (0..4000 * width).map(|i| (i / width % 97) as u8).collect();
            let z = codec.compress(&data).unwrap();
            assert!(z.len() < data.len() / 4, "{number}: {}", z.len());
            assert_eq!(codec.decompress(&z, data.len()).unwrap(), data);
            // An unaligned destination goes through a copy.
            let mut out = vec![0u8; data.len() + 1];
            codec.decompress_into(&z, &mut out[1..]).unwrap();
            assert_eq!(&out[1..], &data[..]);
            // Too few bytes asked for, or damage, is an error, never a panic.
            assert!(codec.decompress(&z, data.len() + width).is_err());
            assert!(codec.decompress(&z[..z.len() / 2], data.len()).is_err());
        }
        let f = PcoCodec::new("f32", 3).unwrap();
        assert!(f.compress(&[0u8; 6]).is_err());
        assert_eq!(f.compress(&[]).unwrap(), Vec::<u8>::new());
        assert!(f.decompress(&[], 0).unwrap().is_empty());
        assert!(PcoCodec::new("bf16", 8).is_none());
        assert!(PcoCodec::from_block_name("pco:bool").is_none());
    }

    #[test]
    fn pco_beats_byte_codecs_on_smooth_floats() {
        let v: Vec<f32> = (0..50_000)
            .map(|i| 280.0 + (i as f32 * 0.01).sin() * 20.0)
            .collect();
        let bytes = bytemuck::cast_slice::<f32, u8>(&v);
        let pco = PcoCodec::new("f32", 8).unwrap().compress(bytes).unwrap();
        let zstd = crate::ZstdCodec::new(3).compress(bytes).unwrap();
        assert!(
            pco.len() < zstd.len(),
            "pco {} zstd {}",
            pco.len(),
            zstd.len()
        );
    }
}
