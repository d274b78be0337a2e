//! Checking and decoding a layer's frames: checksums, codecs, and decoding
//! into a caller's buffer or a local file's bytes read in place.

use bytes::Bytes;

use super::reader::LayerReader;
use crate::codec::CodecSet;
use crate::error::{Error, Result};
use crate::format;
use crate::storage::FileStore;

impl LayerReader {
    /// Checks the stored bytes of `frame` against its length and checksum.
    pub(crate) fn check_stored(&self, frame: u32, stored: &[u8]) -> Result<()> {
        format::check_frame(
            stored,
            self.frame(frame)?,
            frame as usize,
            self.frame_path(frame).as_ref(),
        )
    }

    /// Reads the stored bytes of frame `index` into `buf` (resized to them)
    /// and checks them, on the calling thread whatever their size, when the
    /// layer is a local file read directly; `false` otherwise.
    pub(crate) fn read_stored_into(
        &self,
        store: &FileStore,
        index: u32,
        buf: &mut Vec<u8>,
    ) -> Result<bool> {
        let f = self.frame(index)?;
        let len = usize::try_from(f.stored_len).map_err(|_| {
            Error::corrupted(
                self.path.as_ref(),
                format!("frame {index} is too large for memory"),
            )
        })?;
        buf.resize(len, 0);
        let (path, pin) = self.object(f.object)?;
        if !store.read_into_now(path, pin, f.offset, buf)? {
            return Ok(false);
        }
        self.check_stored(index, buf)?;
        Ok(true)
    }

    /// Reads uncompressed frame `index` straight into `out` (its exact size)
    /// and checks it, on the calling thread, when the layer is a local file
    /// read directly; `false` (and `out` untouched) otherwise. An async task
    /// calls it only for reads that [`FileStore::reads_inline`].
    pub(crate) fn read_raw_by_system_call(
        &self,
        store: &FileStore,
        index: u32,
        out: &mut [u8],
    ) -> Result<bool> {
        let f = self.frame(index)?;
        if self.frame_codec(index)? != "none"
            || f.stored_len != out.len() as u64
            || f.raw_len != f.stored_len
        {
            return Ok(false);
        }
        let (path, pin) = self.object(f.object)?;
        if !store.read_into_now(path, pin, f.offset, out)? {
            return Ok(false);
        }
        self.check_stored(index, out)?;
        Ok(true)
    }

    /// Decompresses a frame's checked stored bytes (an uncompressed frame
    /// is its stored bytes, shared).
    pub(crate) fn decode(&self, index: u32, stored: Bytes, codecs: &CodecSet) -> Result<Bytes> {
        if self.frame_codec(index)? == "none" {
            self.check_raw_len(index, stored.len())?;
            return Ok(stored);
        }
        self.decode_slice(index, &stored, codecs)
    }

    /// Decompresses a frame's checked stored bytes into a buffer of its own.
    pub(crate) fn decode_slice(
        &self,
        index: u32,
        stored: &[u8],
        codecs: &CodecSet,
    ) -> Result<Bytes> {
        let f = self.frame(index)?;
        if self.frame_codec(index)? == "none" {
            self.check_raw_len(index, stored.len())?;
            return Ok(Bytes::copy_from_slice(stored));
        }
        let raw_len = usize::try_from(f.raw_len).map_err(|_| {
            Error::corrupted(
                self.path.as_ref(),
                format!("frame {index} is too large for memory"),
            )
        })?;
        let mut raw = vec![0u8; raw_len];
        self.decode_into(index, stored, &mut raw, codecs)?;
        Ok(Bytes::from(raw))
    }

    pub(crate) fn check_raw_len(&self, index: u32, len: usize) -> Result<()> {
        let f = self.frame(index)?;
        if len as u64 != f.raw_len {
            return Err(Error::corrupted(
                self.path.as_ref(),
                format!(
                    "frame {index} decodes to {} bytes, but {len} are wanted",
                    f.raw_len
                ),
            ));
        }
        Ok(())
    }

    /// Decompresses a frame's checked stored bytes into `out`, which must be
    /// exactly the frame's decompressed size.
    pub(crate) fn decode_into(
        &self,
        index: u32,
        stored: &[u8],
        out: &mut [u8],
        codecs: &CodecSet,
    ) -> Result<()> {
        self.check_raw_len(index, out.len())?;
        let name = self.frame_codec(index)?;
        if name == "none" {
            self.check_raw_len(index, stored.len())?;
            out.copy_from_slice(stored);
            return Ok(());
        }
        let codec = codecs.for_name(name).ok_or_else(|| Error::UnknownCodec {
            path: self.path.to_string(),
            name: name.to_owned(),
        })?;
        codec.decompress_into(stored, out).map_err(|e| {
            let f = self.frame(index);
            let (len, at) = f.map_or((0, 0), |f| (f.stored_len, f.offset));
            Error::corrupted(
                self.frame_path(index).as_ref(),
                format!("frame {index} ({len} bytes at offset {at}) does not decode: {e}"),
            )
        })
    }
}
