//! Read units: runs of frames stored back to back in one block (so in one
//! object: the layer, or a part it adopted), fetched and cached together on
//! stores where a request costs more than a little over-read, each frame
//! checked once when its unit arrives.

use std::ops::Range;

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;

use super::reader::{Arrival, LayerReader, Members};
use crate::cache::{DeltaCache, FrameKey, Unit};
use crate::error::{Error, Result};
use crate::format::FrameEntry;
use crate::storage::FileStore;

/// Runs of frames stored back to back in one block, fetched and cached
/// together on stores where a request costs more than a little over-read.
#[derive(Debug)]
pub(crate) struct Units {
    ranges: Vec<Range<u32>>,
    /// The unit of each frame.
    frame_unit: Vec<u32>,
}

impl LayerReader {
    /// The stored bytes of `frames`, fetched as [`stored_frames`]
    /// (Self::stored_frames) does, as each request or read unit arrives, so
    /// that a caller can start on the first frames while others are on
    /// their way.
    pub(crate) fn arrivals<'a>(
        &'a self,
        store: &'a FileStore,
        frames: &[u32],
        cache: Option<&'a DeltaCache>,
        kept: Kept<'_>,
    ) -> Result<BoxStream<'a, Result<Arrival>>> {
        let Some((cache, unit_size)) = unit_cache(store, cache) else {
            return self.requests(store, frames);
        };
        let units = self
            .units
            .get_or_init(|| read_units(&self.frames, unit_size));
        let mut by_unit: Vec<(u32, usize, u32)> = Vec::with_capacity(frames.len());
        for (i, &f) in frames.iter().enumerate() {
            by_unit.push((self.unit_of(units, f)?, i, f));
        }
        by_unit.sort_unstable();
        let mut fetches = Vec::new();
        for group in by_unit.chunk_by(|a, b| a.0 == b.0) {
            let Some(&(unit, _, _)) = group.first() else {
                continue;
            };
            let members: Members = group.iter().map(|&(_, i, f)| (i, f)).collect();
            let exclusive = self.held_decoded(units, unit, &members, kept)?;
            fetches.push(self.unit_arrival(store, cache, units, unit, members, exclusive));
        }
        Ok(futures::stream::iter(fetches)
            .buffer_unordered(store.fetch_policy().requests_per_read)
            .boxed())
    }

    /// The frames `members` of read unit `unit`, through the I/O cache.
    async fn unit_arrival(
        &self,
        store: &FileStore,
        cache: &DeltaCache,
        units: &Units,
        unit: u32,
        members: Members,
        exclusive: bool,
    ) -> Result<Arrival> {
        let key = FrameKey {
            layer: self.uid,
            frame: unit,
        };
        let fetch = self.fetch_unit(store, units, unit);
        let fetched = if exclusive {
            match cache.get_unit(&key) {
                Some(u) => u,
                None => fetch.await?,
            }
        } else {
            cache.get_or_fetch_unit(key, fetch).await?
        };
        let frames = members
            .into_iter()
            .map(|(i, f)| Ok((i, self.slice_of_unit(units, unit, &fetched, f)?)))
            .collect::<Result<_>>()?;
        Ok(Arrival {
            frames,
            checked: true,
        })
    }

    /// Whether the frame cache is about to hold every frame of `unit`
    /// decoded: the read asks for all of them (`members`), keeps each
    /// (`kept`), and none is stored uncompressed (those are kept only here,
    /// see [`keep_decoded`](Self::keep_decoded)). The I/O cache then
    /// leaves the unit out: a second, compressed copy of frames already
    /// held would only take the room of others, and fresh memory costs a
    /// page fault per 4 KiB to fill. Concurrent readers of such a unit
    /// each fetch it.
    fn held_decoded(
        &self,
        units: &Units,
        unit: u32,
        members: &Members,
        kept: Kept<'_>,
    ) -> Result<bool> {
        let (frames, _, _) = self.unit_range(units, unit)?;
        for f in frames {
            let Some(&(i, _)) = members.iter().find(|&&(_, m)| m == f) else {
                return Ok(false);
            };
            if !kept.keeps(i) || self.frame_codec(f)? == "none" {
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn unit_of(&self, units: &Units, frame: u32) -> Result<u32> {
        units
            .frame_unit
            .get(frame as usize)
            .copied()
            .ok_or_else(|| {
                Error::corrupted(
                    self.path.as_ref(),
                    format!("reference to missing frame {frame}"),
                )
            })
    }

    /// The frames of read unit `unit`, their object and its bytes they
    /// span (a unit lies in one block, so in one object).
    fn unit_range(&self, units: &Units, unit: u32) -> Result<(Range<u32>, u32, Range<u64>)> {
        let frames = units
            .ranges
            .get(unit as usize)
            .cloned()
            .ok_or_else(|| Error::internal(format!("{}: missing read unit", self.path)))?;
        let first = self.frame(frames.start)?;
        let last = self.frame(frames.end.saturating_sub(1))?;
        let end = last.offset.saturating_add(last.stored_len);
        Ok((frames, first.object, first.offset..end))
    }

    /// Fetches one read unit and checks every frame in it once, noting the
    /// damaged ones, so that a cached unit needs no further checks.
    async fn fetch_unit(&self, store: &FileStore, units: &Units, unit: u32) -> Result<Unit> {
        let (frames, object, range) = self.unit_range(units, unit)?;
        let bytes = self.read_range(store, object, range.clone()).await?;
        let mut damaged = Vec::new();
        for f in frames {
            if self.check_in_unit(&bytes, range.start, f).is_err() {
                damaged.push(f);
            }
        }
        Ok(Unit {
            bytes,
            damaged: damaged.into(),
        })
    }

    /// The checked stored bytes of `frame` within the unit bytes `unit`
    /// fetched from offset `at`.
    fn check_in_unit(&self, unit: &Bytes, at: u64, frame: u32) -> Result<Bytes> {
        let stored = self.frame_in(unit, at, frame)?;
        self.check_stored(frame, &stored)?;
        Ok(stored)
    }

    /// A frame of a fetched unit: checked when the unit was fetched, or
    /// checked again to report exactly what is wrong with a damaged one.
    fn slice_of_unit(&self, units: &Units, unit: u32, fetched: &Unit, frame: u32) -> Result<Bytes> {
        let (_, _, range) = self.unit_range(units, unit)?;
        if fetched.damaged.contains(&frame) {
            return self.check_in_unit(&fetched.bytes, range.start, frame);
        }
        self.frame_in(&fetched.bytes, range.start, frame)
    }
}

/// Which of the frames a read fetches it will keep decoded in the frame
/// cache, by their position in the read's list.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Kept<'a> {
    /// Every one (a frame cache holds all it decodes).
    All,
    /// None (decoded straight into the output, or no frame cache).
    None,
    /// Those marked.
    Marked(&'a [bool]),
}

impl Kept<'_> {
    fn keeps(self, i: usize) -> bool {
        match self {
            Kept::All => true,
            Kept::None => false,
            Kept::Marked(m) => m.get(i).copied().unwrap_or(false),
        }
    }
}

/// The cache that read units go through, and their size: the I/O cache,
/// when there is one and requests to the store cost enough to be worth
/// saving (see [`FileStore::read_unit`]). In memory, or reading a local file
/// directly, a request costs about a microsecond, and fetching and checking
/// a whole unit to use one frame of it costs more than the requests saved.
fn unit_cache<'a>(
    store: &FileStore,
    cache: Option<&'a DeltaCache>,
) -> Option<(&'a DeltaCache, u64)> {
    let cache = cache.filter(|c| c.has_io_cache())?;
    Some((cache, store.read_unit()?))
}

/// Whether reads of `store` through `cache` go by read unit, so that the
/// I/O cache holds the stored frames they fetch.
pub(crate) fn io_cached(store: &FileStore, cache: Option<&DeltaCache>) -> bool {
    unit_cache(store, cache).is_some()
}

/// Groups frames into read units: runs of consecutive frames that lie back to
/// back in one block, each run at most `unit_size` bytes (a larger frame is
/// a unit of its own).
fn read_units(frames: &[FrameEntry], unit_size: u64) -> Units {
    let mut units: Vec<Range<u32>> = Vec::new();
    let mut frame_unit = Vec::with_capacity(frames.len());
    let mut start = 0usize;
    let mut prev: Option<&FrameEntry> = None;
    for (i, f) in frames.iter().enumerate() {
        if let (Some(p), Some(first)) = (prev, frames.get(start)) {
            let adjacent = p.block == f.block && p.offset.saturating_add(p.stored_len) == f.offset;
            let size = f
                .offset
                .saturating_add(f.stored_len)
                .saturating_sub(first.offset);
            if !adjacent || size > unit_size {
                units.push(start as u32..i as u32);
                start = i;
            }
        }
        frame_unit.push(units.len() as u32);
        prev = Some(f);
    }
    if !frames.is_empty() {
        units.push(start as u32..frames.len() as u32);
    }
    Units {
        ranges: units,
        frame_unit,
    }
}
