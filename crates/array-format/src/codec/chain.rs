//! A frame codec that runs byte filters before a codec: what a pipeline
//! with `delta` or `shuffle` writes its frames with, named in block tables
//! by its parts joined with `+` (`shuffle:4+zstd`, `delta:8+shuffle:8+lz4`).

use std::cell::RefCell;
use std::sync::Arc;

use super::filters::ByteFilter;
use super::{CodecId, CompressionCodec};
use crate::error::Result;

/// Byte filters, then a codec.
pub(crate) struct Chain {
    name: String,
    filters: Vec<ByteFilter>,
    codec: Arc<dyn CompressionCodec>,
}

thread_local! {
    /// Room for filtered frames, kept per thread so that sealing or
    /// decoding a frame allocates nothing once warm.
    static SCRATCH: RefCell<(Vec<u8>, Vec<u8>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

/// Frames up to this size keep their scratch room on the thread; larger
/// ones give it back.
const KEEP_SCRATCH: usize = 64 << 20;

impl Chain {
    /// `filters` (in the order they run on write), then `codec`; at least
    /// one filter.
    pub(crate) fn new(filters: Vec<ByteFilter>, codec: Arc<dyn CompressionCodec>) -> Chain {
        let mut name = String::new();
        for f in &filters {
            name.push_str(&f.block_name());
            name.push('+');
        }
        name.push_str(codec.id().name());
        Chain {
            name,
            filters,
            codec,
        }
    }

    /// The filters and codec name of block name `name`, when it names a
    /// chain: filters, then a codec name (whether it is known is the
    /// caller's question).
    pub(crate) fn parse_block_name(name: &str) -> Option<(Vec<ByteFilter>, &str)> {
        let (filters, codec) = name.rsplit_once('+')?;
        let filters = filters
            .split('+')
            .map(ByteFilter::from_block_name)
            .collect::<Option<Vec<_>>>()?;
        Some((filters, codec))
    }

    /// Runs the filters over `data`, then `then` over the result.
    fn filtered<R>(&self, data: &[u8], then: impl FnOnce(&[u8]) -> R) -> R {
        SCRATCH.with(|s| {
            let mut guard = s.borrow_mut();
            let (a, b) = &mut *guard;
            let mut filters = self.filters.iter();
            let Some(first) = filters.next() else {
                return then(data);
            };
            first.encode(data, a);
            for f in filters {
                f.encode(a, b);
                std::mem::swap(a, b);
            }
            let input: &[u8] = a;
            let r = then(input);
            if a.capacity() > KEEP_SCRATCH {
                *a = Vec::new();
            }
            if b.capacity() > KEEP_SCRATCH {
                *b = Vec::new();
            }
            r
        })
    }
}

impl CompressionCodec for Chain {
    fn id(&self) -> CodecId {
        CodecId::Named(self.name.clone())
    }

    fn compress(&self, data: &[u8]) -> Result<Vec<u8>> {
        self.filtered(data, |f| self.codec.compress(f))
    }

    fn max_compressed_len(&self, len: usize) -> Option<usize> {
        self.codec.max_compressed_len(len)
    }

    fn compress_into(&self, data: &[u8], out: &mut [u8]) -> Result<usize> {
        self.filtered(data, |f| self.codec.compress_into(f, out))
    }

    fn decompress(&self, data: &[u8], uncompressed_size: usize) -> Result<Vec<u8>> {
        let mut out = vec![0u8; uncompressed_size];
        self.decompress_into(data, &mut out)?;
        Ok(out)
    }

    fn decompress_into(&self, data: &[u8], out: &mut [u8]) -> Result<()> {
        self.codec.decompress_into(data, out)?;
        SCRATCH.with(|s| {
            let mut guard = s.borrow_mut();
            let scratch = &mut guard.0;
            for f in self.filters.iter().rev() {
                f.decode(out, scratch);
            }
            if scratch.capacity() > KEEP_SCRATCH {
                *scratch = Vec::new();
            }
        });
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::codec::{Lz4Codec, ZstdCodec};

    #[test]
    fn chains_name_their_parts_and_round_trip() {
        let data: Vec<u8> = (0..40_000u32)
            .flat_map(|i| (1000 + i / 3).to_le_bytes())
            .collect();
        let plain = ZstdCodec::new(3).compress(&data).unwrap();
        for (filters, codec, name) in [
            (
                vec![ByteFilter::Shuffle(4)],
                Arc::new(ZstdCodec::new(3)) as Arc<dyn CompressionCodec>,
                "shuffle:4+zstd",
            ),
            (
                vec![ByteFilter::Delta(4), ByteFilter::Shuffle(4)],
                Arc::new(Lz4Codec),
                "delta:4+shuffle:4+lz4",
            ),
        ] {
            let chain = Chain::new(filters.clone(), codec);
            assert_eq!(chain.id().name(), name);
            assert_eq!(
                Chain::parse_block_name(name),
                Some((filters, name.rsplit('+').next().unwrap()))
            );
            let z = chain.compress(&data).unwrap();
            assert!(
                z.len() < plain.len(),
                "{name}: {} vs {}",
                z.len(),
                plain.len()
            );
            assert_eq!(chain.decompress(&z, data.len()).unwrap(), data);
            let mut out = vec![0u8; chain.max_compressed_len(data.len()).unwrap()];
            let n = chain.compress_into(&data, &mut out).unwrap();
            assert_eq!(out[..n], z[..]);
        }
        for not_a_chain in ["zstd", "shuffle:4", "bogus+zstd", "shuffle:4+delta:x+lz4"] {
            assert_eq!(Chain::parse_block_name(not_a_chain), None, "{not_a_chain}");
        }
    }
}
