//! Packs chunks into compressed, checksummed frames in a spill file, and lays
//! the live frames out as the block and frame tables of a layer.
//!
//! A chunk of at least `frame_target` bytes gets a frame of its own; smaller
//! chunks share an open frame until adding one would push it past the
//! target. Chunks are written with the codec of their array, so the writer
//! keeps a *lane* per codec, each with its own open frame: small chunks of
//! arrays with different codecs never share a frame. Frames whose chunks
//! were all overwritten are left out of the layer.

use std::ops::Range;

use bytes::Bytes;

use crate::codec::{CodecSet, WriteCodec};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::format::{BlockEntry, FrameEntry};

use super::compressed::Compressed;
use crate::storage::SpillFile;

/// Names the pending layer's spill file in errors.
pub(crate) const PENDING: &str = "<pending spill file>";

/// Where a chunk's bytes are among the frames of a writer or layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ChunkLoc {
    /// Frame number.
    pub(crate) frame: u32,
    /// Offset in the decompressed frame.
    pub(crate) offset: u64,
    /// Length of the chunk's bytes.
    pub(crate) len: u64,
}

#[derive(Debug)]
enum FrameState {
    /// Still collecting chunks in memory.
    Open,
    /// Compressed into the spill file.
    Sealed {
        offset: u64,
        stored_len: u64,
        crc: u32,
    },
}

#[derive(Debug)]
struct FrameSlot {
    state: FrameState,
    raw_len: u64,
    codec: u16,
    /// Chunks that still point into the frame.
    live: u32,
}

/// The layout of a layer's data region: which spill ranges, in order, and the
/// tables describing them.
#[derive(Debug, Default)]
pub(crate) struct DataLayout {
    /// Spill-file ranges to copy, in order, to form the data region.
    pub(crate) ranges: Vec<Range<u64>>,
    /// Length of the data region.
    pub(crate) len: u64,
    pub(crate) codecs: Vec<String>,
    pub(crate) blocks: Vec<BlockEntry>,
    pub(crate) frames: Vec<FrameEntry>,
    /// New frame number of each writer frame (`None`: left out).
    pub(crate) remap: Vec<Option<u32>>,
}

/// Which of a frame writer's codecs a chunk is written with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Lane(u16);

impl Lane {
    /// The lane of the configured codec (arrays that record no codec).
    pub(crate) const CONFIGURED: Lane = Lane(0);
}

/// The frames of one codec being written: its open frame.
struct LaneState {
    /// The codec spec of the arrays it serves (`None`: the configured
    /// codec, for arrays that record none).
    spec: Option<Box<str>>,
    codec: WriteCodec,
    /// Index of the codec's name in the block codec table.
    block_codec: u16,
    open: Vec<u8>,
    open_slot: Option<u32>,
}

/// Writes frames to a spill file.
pub(crate) struct FrameWriter {
    spill: SpillFile,
    codecs: CodecSet,
    codec_names: Vec<String>,
    /// Lane 0 writes with the configured codec.
    lanes: Vec<LaneState>,
    /// The lane each (spec, dtype) met so far resolved to, so that a write
    /// finds its lane without resolving the spec again.
    resolved: Vec<(Box<str>, DType, Lane)>,
    frame_target: usize,
    frames: Vec<FrameSlot>,
    path: String,
}

impl std::fmt::Debug for FrameWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameWriter")
            .field("frames", &self.frames.len())
            .field("lanes", &self.lanes.len())
            .field("spilled", &self.spill.len())
            .finish()
    }
}

impl FrameWriter {
    #[cfg(test)]
    pub(crate) fn new(codecs: CodecSet, frame_target: usize) -> Result<Self> {
        Ok(Self::over(SpillFile::new()?, codecs, frame_target))
    }

    /// A writer spilling into `spill`.
    pub(crate) fn over(spill: SpillFile, codecs: CodecSet, frame_target: usize) -> Self {
        let configured = codecs.configured().clone();
        Self {
            spill,
            codec_names: vec![configured.name().to_owned()],
            lanes: vec![LaneState {
                spec: None,
                codec: configured,
                block_codec: 0,
                open: Vec::new(),
                open_slot: None,
            }],
            resolved: Vec::new(),
            codecs,
            frame_target: frame_target.max(1),
            frames: Vec::new(),
            path: PENDING.into(),
        }
    }

    /// The lane that writes chunks of arrays of `dtype` recording pipeline
    /// `spec` (the configured codec for `None`); an error says why a spec
    /// cannot be written by this handle. Arrays share a lane when they
    /// record the same spec and their frames the same block codec (a
    /// shuffle's width depends on the element type).
    pub(crate) fn lane(
        &mut self,
        spec: Option<&str>,
        dtype: DType,
    ) -> std::result::Result<Lane, String> {
        let Some(spec) = spec else {
            return Ok(Lane::CONFIGURED);
        };
        if let Some((_, _, lane)) = self
            .resolved
            .iter()
            .find(|(s, d, _)| **s == *spec && *d == dtype)
        {
            return Ok(*lane);
        }
        let codec = self.codecs.writer_for(Some(spec), dtype)?;
        let lane = match self
            .lanes
            .iter()
            .position(|l| l.spec.as_deref() == Some(spec) && l.codec.name() == codec.name())
        {
            Some(i) => Lane(i as u16),
            None => {
                let block_codec = self.block_codec(codec.name()).map_err(|e| e.to_string())?;
                let id =
                    u16::try_from(self.lanes.len()).map_err(|_| "too many codecs".to_owned())?;
                self.lanes.push(LaneState {
                    spec: Some(Box::from(spec)),
                    codec,
                    block_codec,
                    open: Vec::new(),
                    open_slot: None,
                });
                Lane(id)
            }
        };
        self.resolved.push((Box::from(spec), dtype, lane));
        Ok(lane)
    }

    /// The codec of `lane`.
    pub(crate) fn codec(&self, lane: Lane) -> &WriteCodec {
        match self.lanes.get(usize::from(lane.0)) {
            Some(l) => &l.codec,
            None => self.codecs.configured(),
        }
    }

    /// Index of codec `name` in the block codec table, added if absent.
    fn block_codec(&mut self, name: &str) -> Result<u16> {
        let i = match self.codec_names.iter().position(|c| c == name) {
            Some(i) => i,
            None => {
                self.codec_names.push(name.to_owned());
                self.codec_names.len() - 1
            }
        };
        u16::try_from(i).map_err(|_| Error::InvalidOperation {
            operation: "write",
            reason: format!(
                "a layer cannot hold frames of more than {} codecs",
                u16::MAX
            ),
        })
    }

    fn lane_mut(&mut self, lane: Lane) -> Result<&mut LaneState> {
        self.lanes
            .get_mut(usize::from(lane.0))
            .ok_or_else(|| Error::internal(format!("no codec lane {}", lane.0)))
    }

    /// Chunks of at least this many bytes get a frame of their own.
    pub(crate) fn frame_target(&self) -> usize {
        self.frame_target
    }

    /// Whether a chunk of `len` bytes gets a frame of its own (and can be
    /// compressed ahead with [`Compressed::new`]).
    pub(crate) fn own_frame(&self, len: usize) -> bool {
        len >= self.frame_target
    }

    fn frame_id(&self) -> Result<u32> {
        u32::try_from(self.frames.len()).map_err(|_| Error::InvalidOperation {
            operation: "write",
            reason: "a layer cannot hold more than 2^32 frames; flush more often".into(),
        })
    }

    /// Adds a chunk's encoded bytes, compressed with the codec of `lane`.
    pub(crate) fn add_chunk(&mut self, lane: Lane, bytes: &[u8]) -> Result<ChunkLoc> {
        if self.own_frame(bytes.len()) {
            let compressed = Compressed::new(self.codec(lane), bytes)?;
            return self.add_compressed(lane, &compressed);
        }
        let target = self.frame_target;
        let l = self.lane_mut(lane)?;
        if !l.open.is_empty() && l.open.len() + bytes.len() > target {
            self.seal_lane(lane)?;
        }
        let next = self.frame_id()?;
        let l = self.lane_mut(lane)?;
        let (frame, fresh) = match l.open_slot {
            Some(f) => (f, false),
            None => {
                l.open_slot = Some(next);
                (next, true)
            }
        };
        let offset = l.open.len() as u64;
        l.open.extend_from_slice(bytes);
        let (raw_len, codec) = (l.open.len() as u64, l.block_codec);
        if fresh {
            self.frames.push(FrameSlot {
                state: FrameState::Open,
                raw_len,
                codec,
                live: 1,
            });
        } else if let Some(slot) = self.frames.get_mut(frame as usize) {
            slot.raw_len = raw_len;
            slot.live += 1;
        }
        Ok(ChunkLoc {
            frame,
            offset,
            len: bytes.len() as u64,
        })
    }

    /// Adds a chunk compressed ahead, with the codec of `lane`, as a frame
    /// of its own. On error nothing was added.
    pub(crate) fn add_compressed(
        &mut self,
        lane: Lane,
        chunk: &Compressed<'_>,
    ) -> Result<ChunkLoc> {
        self.seal_lane(lane)?;
        let codec = self.lane_mut(lane)?.block_codec;
        let frame = self.frame_id()?;
        let offset = self.spill.append(&chunk.stored)?;
        self.frames.push(FrameSlot {
            state: FrameState::Sealed {
                offset,
                stored_len: chunk.stored.len() as u64,
                crc: chunk.crc,
            },
            raw_len: chunk.raw_len,
            codec,
            live: 1,
        });
        Ok(ChunkLoc {
            frame,
            offset: 0,
            len: chunk.raw_len,
        })
    }

    /// Copies an already compressed and checked frame verbatim (compaction
    /// keeps frames whose chunks are all live without recompressing them).
    pub(crate) fn copy_frame(
        &mut self,
        stored: &[u8],
        raw_len: u64,
        crc: u32,
        codec: &str,
        live: u32,
    ) -> Result<u32> {
        let codec = self.block_codec(codec)?;
        let frame = self.frame_id()?;
        let offset = self.spill.append(stored)?;
        self.frames.push(FrameSlot {
            state: FrameState::Sealed {
                offset,
                stored_len: stored.len() as u64,
                crc,
            },
            raw_len,
            codec,
            live,
        });
        Ok(frame)
    }

    /// Compresses the open frame of `lane` into the spill file. On error
    /// the frame stays open, its chunks readable.
    fn seal_lane(&mut self, lane: Lane) -> Result<()> {
        let l = self.lane_mut(lane)?;
        let Some(frame) = l.open_slot else {
            return Ok(());
        };
        let raw = std::mem::take(&mut l.open);
        let codec = l.codec.clone();
        let sealed = Compressed::new(&codec, &raw).and_then(|c| {
            let offset = self.spill.append(&c.stored)?;
            Ok(FrameState::Sealed {
                offset,
                stored_len: c.stored.len() as u64,
                crc: c.crc,
            })
        });
        let l = self.lane_mut(lane)?;
        match sealed {
            Ok(state) => {
                l.open_slot = None;
                if let Some(slot) = self.frames.get_mut(frame as usize) {
                    slot.state = state;
                }
                Ok(())
            }
            Err(e) => {
                l.open = raw;
                Err(e)
            }
        }
    }

    /// Compresses the open frames into the spill file. On error the frames
    /// not sealed stay open, their chunks readable.
    pub(crate) fn seal(&mut self) -> Result<()> {
        for i in 0..self.lanes.len() {
            self.seal_lane(Lane(i as u16))?;
        }
        Ok(())
    }

    /// Marks a chunk as overwritten.
    pub(crate) fn release(&mut self, loc: &ChunkLoc) {
        if let Some(slot) = self.frames.get_mut(loc.frame as usize) {
            slot.live = slot.live.saturating_sub(1);
        }
    }

    /// The decoded bytes of a chunk.
    pub(crate) fn read_chunk(&self, loc: &ChunkLoc) -> Result<Bytes> {
        let range = loc.offset as usize..(loc.offset + loc.len) as usize;
        if let Some(open) = self.lanes.iter().find(|l| l.open_slot == Some(loc.frame)) {
            return open
                .open
                .get(range)
                .map(Bytes::copy_from_slice)
                .ok_or_else(|| self.damaged(loc.frame, "chunk outside the open frame"));
        }
        let slot = self
            .frames
            .get(loc.frame as usize)
            .ok_or_else(|| self.damaged(loc.frame, "no such frame"))?;
        let FrameState::Sealed {
            offset,
            stored_len,
            crc,
        } = slot.state
        else {
            return Err(self.damaged(loc.frame, "frame not sealed"));
        };
        let stored = self.spill.read(offset, stored_len)?;
        if crc32c::crc32c(&stored) != crc {
            return Err(self.damaged(loc.frame, "checksum mismatch in the spill file"));
        }
        let name = self
            .codec_names
            .get(slot.codec as usize)
            .map_or("?", String::as_str);
        let codec = self
            .codecs
            .for_name(name)
            .ok_or_else(|| self.damaged(loc.frame, "unknown codec"))?;
        let raw_len = usize::try_from(slot.raw_len)
            .map_err(|_| self.damaged(loc.frame, "frame too large for memory"))?;
        let mut raw = vec![0u8; raw_len];
        codec.decompress_into(&stored, &mut raw)?;
        let raw = Bytes::from(raw);
        if range.end > raw.len() {
            return Err(self.damaged(loc.frame, "chunk outside its frame"));
        }
        Ok(raw.slice(range))
    }

    fn damaged(&self, frame: u32, what: &str) -> Error {
        Error::corrupted(self.path.clone(), format!("frame {frame}: {what}"))
    }

    /// Seals the open frame and lays out the frames that still hold live
    /// chunks: contiguous, grouped into blocks of at most `block_target`
    /// decompressed bytes that share a codec.
    pub(crate) fn layout(&mut self, block_target: u64) -> Result<DataLayout> {
        self.layout_in(block_target, &[])
    }

    /// Like [`layout`](Self::layout), with the frames listed in `first`
    /// placed first, in that order (a frame listed twice is placed once),
    /// and the others after them in the order they were written.
    pub(crate) fn layout_in(&mut self, block_target: u64, first: &[u32]) -> Result<DataLayout> {
        self.seal()?;
        let mut out = DataLayout {
            codecs: self.codec_names.clone(),
            remap: vec![None; self.frames.len()],
            ..Default::default()
        };
        let mut placed = vec![false; self.frames.len()];
        let mut block_raw = 0u64;
        for id in first.iter().copied().chain(0..self.frames.len() as u32) {
            let (Some(slot), Some(seen)) =
                (self.frames.get(id as usize), placed.get_mut(id as usize))
            else {
                continue;
            };
            if std::mem::replace(seen, true) {
                continue;
            }
            let FrameState::Sealed {
                offset,
                stored_len,
                crc,
            } = slot.state
            else {
                continue;
            };
            if slot.live == 0 {
                continue;
            }
            let new_id = u32::try_from(out.frames.len()).unwrap_or(u32::MAX);
            let start_block = match out.blocks.last() {
                None => true,
                Some(b) => u32::from(slot.codec) != b.codec || block_raw >= block_target,
            };
            if start_block {
                out.blocks.push(BlockEntry {
                    object: 0,
                    offset: out.len,
                    codec: u32::from(slot.codec),
                    frame_count: 0,
                });
                block_raw = 0;
            }
            if let Some(b) = out.blocks.last_mut() {
                b.frame_count += 1;
            }
            block_raw += slot.raw_len;
            out.frames.push(FrameEntry {
                object: 0,
                offset: out.len,
                stored_len,
                raw_len: slot.raw_len,
                crc,
                block: (out.blocks.len() - 1) as u32,
            });
            // Adjacent spill ranges merge into one copy.
            match out.ranges.last_mut() {
                Some(r) if r.end == offset => r.end = offset + stored_len,
                _ => out.ranges.push(offset..offset + stored_len),
            }
            out.len += stored_len;
            if let Some(r) = out.remap.get_mut(id as usize) {
                *r = Some(new_id);
            }
        }
        Ok(out)
    }

    /// The spill file the layout's ranges refer to.
    pub(crate) fn spill(&self) -> &SpillFile {
        &self.spill
    }
}

#[cfg(test)]
mod tests;
