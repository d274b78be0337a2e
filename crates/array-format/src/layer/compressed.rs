//! A frame compressed and checksummed ahead of being added to a frame
//! writer, so that many can be compressed in parallel.

use std::borrow::Cow;

use crate::codec::WriteCodec;
use crate::error::{Error, Result};

/// A codec that reports writing more bytes than its own bound.
fn overrun(codec: &WriteCodec, n: usize) -> Error {
    Error::Codec {
        codec: codec.name().to_owned(),
        message: format!("reported {n} compressed bytes, beyond its max_compressed_len"),
    }
}

/// Largest compression buffer a thread keeps between frames.
const COMPRESS_SCRATCH_KEEP: usize = 16 * 1024 * 1024;

thread_local! {
    /// The buffer frames are compressed into before their bytes are copied
    /// out at their compressed size.
    static COMPRESS_SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A frame compressed (and checksummed) ahead of
/// [`FrameWriter::add_compressed`](super::FrameWriter::add_compressed).
#[derive(Debug)]
pub(crate) struct Compressed<'a> {
    /// The stored bytes; borrowed from the raw bytes when the codec stores
    /// them as they are.
    pub(super) stored: Cow<'a, [u8]>,
    pub(super) raw_len: u64,
    pub(super) crc: u32,
}

impl<'a> Compressed<'a> {
    /// Compresses `raw` as one frame with `codec`.
    pub(crate) fn new(codec: &WriteCodec, raw: &'a [u8]) -> Result<Self> {
        let writer = codec.codec();
        let stored = if codec.stores_raw() {
            Cow::Borrowed(raw)
        } else if let Some(bound) = writer.max_compressed_len(raw.len()) {
            // Into this thread's buffer, keeping only the bytes written: a
            // frame of repeated values compresses to a few hundred bytes,
            // and an allocation of the bound (zeroed, by lz4_flex) cost more
            // than compressing it.
            COMPRESS_SCRATCH.with_borrow_mut(|buf| -> Result<Cow<'a, [u8]>> {
                if buf.len() < bound {
                    buf.resize(bound, 0);
                }
                let out = buf.get_mut(..bound).ok_or_else(|| overrun(codec, bound))?;
                let n = writer.compress_into(raw, out)?;
                let stored = buf.get(..n).ok_or_else(|| overrun(codec, n))?.to_vec();
                if buf.len() > COMPRESS_SCRATCH_KEEP {
                    *buf = Vec::new();
                }
                Ok(Cow::Owned(stored))
            })?
        } else {
            Cow::Owned(writer.compress(raw)?)
        };
        Ok(Self {
            crc: crc32c::crc32c(&stored),
            stored,
            raw_len: raw.len() as u64,
        })
    }

    /// The same frame, owning its stored bytes.
    pub(crate) fn into_owned(self) -> Compressed<'static> {
        Compressed {
            stored: Cow::Owned(self.stored.into_owned()),
            raw_len: self.raw_len,
            crc: self.crc,
        }
    }
}
