//! An immutable, committed layer: its footer tables and checked access to
//! its frames.

use std::ops::Range;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;

use crate::cache::{DeltaCache, FrameKey};
use crate::codec::CodecSet;
use crate::error::{Error, Result};
use crate::format::{self, ArrayRecord, BlockEntry, Footer, FrameEntry, LayerHeader, TRAILER_LEN};
use crate::storage::FileStore;

/// Bytes fetched from the end of a layer on open: the trailer and, for most
/// layers, the whole footer, in one request.
const TAIL_PROBE: u64 = 64 * 1024;

/// Frames separated by at most this many bytes are fetched in one request.
const COALESCE_GAP: u64 = 32 * 1024;

/// Largest single coalesced request.
const MAX_REQUEST: u64 = 16 * 1024 * 1024;

/// Requests in flight per read.
const FETCH_CONCURRENCY: usize = 16;

/// A committed layer.
#[derive(Debug)]
pub(crate) struct LayerReader {
    pub(crate) path: Path,
    /// Object size in bytes.
    pub(crate) size: u64,
    pub(crate) header: LayerHeader,
    pub(crate) codecs: Vec<String>,
    pub(crate) blocks: Vec<BlockEntry>,
    pub(crate) frames: Vec<FrameEntry>,
    /// How many chunk records of this layer point into each frame.
    pub(crate) frame_refs: Vec<u32>,
    /// Cache identity of the layer.
    pub(crate) uid: u128,
}

impl LayerReader {
    /// Reads and checks the trailer and footer of the object at `path`;
    /// returns the layer and its array records.
    pub(crate) async fn open(store: &FileStore, path: Path) -> Result<(Self, Vec<ArrayRecord>)> {
        let p = path.to_string();
        let (tail, size) = store.read_tail(&path, TAIL_PROBE).await?;
        if size < TRAILER_LEN as u64 || (tail.len() as u64) < (TRAILER_LEN as u64).min(size) {
            return Err(Error::corrupted(
                &p,
                format!(
                    "{size} bytes is too short for a layer (the trailer alone is {TRAILER_LEN})"
                ),
            ));
        }
        let trailer_bytes: [u8; TRAILER_LEN] = tail
            .get(tail.len() - TRAILER_LEN..)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| Error::corrupted(&p, "short trailer read"))?;
        let (trailer, footer_range) = format::check_trailer(trailer_bytes, size, &p)?;
        let tail_start = size - tail.len() as u64;
        let footer_bytes = if footer_range.start >= tail_start {
            let from = (footer_range.start - tail_start) as usize;
            let to = (footer_range.end - tail_start) as usize;
            tail.slice(from..to)
        } else {
            store.read_range(&path, footer_range.clone()).await?
        };
        let footer = format::decode_footer(&footer_bytes, &trailer, footer_range.start, &p)?;
        Ok(Self::from_footer(path, size, footer))
    }

    /// Wraps a footer this process just wrote.
    pub(crate) fn from_footer(path: Path, size: u64, footer: Footer) -> (Self, Vec<ArrayRecord>) {
        let mut frame_refs = vec![0u32; footer.frames.len()];
        for a in &footer.arrays {
            for c in &a.chunks {
                if let Some(r) = frame_refs.get_mut(c.frame as usize) {
                    *r = r.saturating_add(1);
                }
            }
        }
        let uid = u128::from_le_bytes(footer.header.layer_id);
        (
            Self {
                path,
                size,
                header: footer.header,
                codecs: footer.codecs,
                blocks: footer.blocks,
                frames: footer.frames,
                frame_refs,
                uid,
            },
            footer.arrays,
        )
    }

    pub(crate) fn frame(&self, index: u32) -> Result<&FrameEntry> {
        self.frames.get(index as usize).ok_or_else(|| {
            Error::corrupted(
                self.path.as_ref(),
                format!("reference to missing frame {index}"),
            )
        })
    }

    /// The codec name of a frame.
    pub(crate) fn frame_codec(&self, index: u32) -> Result<&str> {
        let f = self.frame(index)?;
        self.blocks
            .get(f.block as usize)
            .and_then(|b| self.codecs.get(b.codec as usize))
            .map(String::as_str)
            .ok_or_else(|| {
                Error::corrupted(self.path.as_ref(), format!("frame {index} has no codec"))
            })
    }

    /// Fetches the stored (compressed) bytes of `frames`, checking each
    /// checksum. Neighbouring frames are fetched with one request; requests
    /// run concurrently. The result is in the order of `frames`.
    pub(crate) async fn fetch_stored(
        &self,
        store: &FileStore,
        frames: &[u32],
    ) -> Result<Vec<Bytes>> {
        let mut order: Vec<(usize, &FrameEntry, u32)> = Vec::with_capacity(frames.len());
        for (i, &f) in frames.iter().enumerate() {
            order.push((i, self.frame(f)?, f));
        }
        order.sort_by_key(|(_, f, _)| f.offset);
        // Group frames into coalesced requests.
        let mut requests: Vec<(Range<u64>, Members<'_>)> = Vec::new();
        for item in order {
            let (_, f, _) = item;
            let end = f.offset + f.stored_len;
            match requests.last_mut() {
                Some((r, members))
                    if f.offset <= r.end + COALESCE_GAP && end - r.start <= MAX_REQUEST =>
                {
                    r.end = r.end.max(end);
                    members.push(item);
                }
                _ => requests.push((f.offset..end, vec![item])),
            }
        }
        let mut fetches = Vec::with_capacity(requests.len());
        for (range, members) in requests {
            fetches.push(fetch_request(store, &self.path, range, members));
        }
        let fetched: Vec<(Range<u64>, Bytes, Members<'_>)> = futures::stream::iter(fetches)
            .buffered(FETCH_CONCURRENCY)
            .try_collect()
            .await?;
        let mut out: Vec<Bytes> = vec![Bytes::new(); frames.len()];
        for (range, bytes, members) in fetched {
            for (i, f, index) in members {
                let from = (f.offset - range.start) as usize;
                let stored = bytes
                    .get(from..from + f.stored_len as usize)
                    .map(|_| bytes.slice(from..from + f.stored_len as usize))
                    .ok_or_else(|| {
                        Error::corrupted(self.path.as_ref(), format!("frame {index}: short read"))
                    })?;
                format::check_frame(&stored, f, index as usize, self.path.as_ref())?;
                if let Some(slot) = out.get_mut(i) {
                    *slot = stored;
                }
            }
        }
        Ok(out)
    }

    /// Decompresses a frame's checked stored bytes.
    pub(crate) fn decode(&self, index: u32, stored: Bytes, codecs: &CodecSet) -> Result<Bytes> {
        let f = self.frame(index)?;
        let name = self.frame_codec(index)?;
        if name == "none" {
            if stored.len() as u64 != f.raw_len {
                return Err(Error::corrupted(
                    self.path.as_ref(),
                    format!(
                        "uncompressed frame {index} holds {} bytes, expected {}",
                        stored.len(),
                        f.raw_len
                    ),
                ));
            }
            return Ok(stored);
        }
        let codec = codecs.for_name(name).ok_or_else(|| Error::UnknownCodec {
            path: self.path.to_string(),
            name: name.to_owned(),
        })?;
        let raw_len = usize::try_from(f.raw_len).map_err(|_| {
            Error::corrupted(
                self.path.as_ref(),
                format!("frame {index} is too large for memory"),
            )
        })?;
        let mut raw = vec![0u8; raw_len];
        codec.decompress_into(&stored, &mut raw).map_err(|e| {
            Error::corrupted(
                self.path.as_ref(),
                format!(
                    "frame {index} ({} bytes at offset {}) does not decode: {e}",
                    f.stored_len, f.offset
                ),
            )
        })?;
        Ok(Bytes::from(raw))
    }

    /// The decompressed bytes of `frames`, through the cache.
    pub(crate) async fn load(
        &self,
        store: &FileStore,
        frames: &[u32],
        cache: Option<&DeltaCache>,
        codecs: &CodecSet,
    ) -> Result<Vec<Bytes>> {
        let mut out: Vec<Option<Bytes>> = vec![None; frames.len()];
        let mut missing: Vec<(usize, u32)> = Vec::new();
        for (i, &f) in frames.iter().enumerate() {
            let key = FrameKey {
                layer: self.uid,
                frame: f,
            };
            match cache.and_then(|c| c.get_frame(&key)) {
                Some(b) => set(&mut out, i, b),
                None => match cache.and_then(|c| c.get_raw(&key)) {
                    Some(stored) => {
                        let raw = self.decode(f, stored, codecs)?;
                        if let Some(c) = cache {
                            c.put_frame(key, raw.clone());
                        }
                        set(&mut out, i, raw);
                    }
                    None => missing.push((i, f)),
                },
            }
        }
        if !missing.is_empty() {
            let ids: Vec<u32> = missing.iter().map(|&(_, f)| f).collect();
            let stored = self.fetch_stored(store, &ids).await?;
            for ((i, f), stored) in missing.into_iter().zip(stored) {
                let key = FrameKey {
                    layer: self.uid,
                    frame: f,
                };
                if let Some(c) = cache
                    && c.has_io_cache()
                    && self.frame_codec(f)? != "none"
                {
                    c.put_raw(key, stored.clone());
                }
                let raw = self.decode(f, stored, codecs)?;
                if let Some(c) = cache {
                    c.put_frame(key, raw.clone());
                }
                set(&mut out, i, raw);
            }
        }
        out.into_iter()
            .zip(frames)
            .map(|(b, f)| {
                b.ok_or_else(|| {
                    Error::corrupted(self.path.as_ref(), format!("frame {f} was not loaded"))
                })
            })
            .collect()
    }
}

fn set(out: &mut [Option<Bytes>], i: usize, b: Bytes) {
    if let Some(slot) = out.get_mut(i) {
        *slot = Some(b);
    }
}

/// The frames served by one request: output position, entry, frame number.
type Members<'a> = Vec<(usize, &'a FrameEntry, u32)>;

async fn fetch_request<'a>(
    store: &FileStore,
    path: &Path,
    range: Range<u64>,
    members: Members<'a>,
) -> Result<(Range<u64>, Bytes, Members<'a>)> {
    let bytes = store.read_range(path, range.clone()).await?;
    Ok((range, bytes, members))
}
