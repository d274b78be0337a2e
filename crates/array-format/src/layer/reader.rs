//! An immutable, committed layer: its footer tables and checked access to
//! its frames.

use std::ops::Range;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use rayon::prelude::*;

use crate::cache::{DeltaCache, FrameKey};
use crate::codec::CodecSet;
use crate::error::{Error, Result};
use crate::format::{
    self, BlockEntry, FooterTables, FrameEntry, LayerHeader, ObjectEntry, RecordTable, TRAILER_LEN,
};
use crate::storage::{FileStore, ObjectPin};

use super::units::{Kept, Units, io_cached};

/// Largest single coalesced request.
const MAX_REQUEST: u64 = 16 * 1024 * 1024;

/// Decoding is spread over the cores once a read decodes this many bytes.
const PARALLEL_DECODE_BYTES: u64 = 512 * 1024;

/// Whether `count` pieces of work over `bytes` bytes in all (decodes,
/// compressions) are worth spreading over the cores: more than one, and
/// enough bytes that the pool's hand-offs are small beside them.
pub(crate) fn worth_parallel(count: usize, bytes: u64) -> bool {
    count > 1 && bytes >= PARALLEL_DECODE_BYTES
}

/// A committed layer: its footer tables decoded, its array records kept
/// encoded (in [`footer`](Self::footer)) for the index to read on demand.
#[derive(Debug)]
pub(crate) struct LayerReader {
    pub(crate) path: Path,
    /// Object size in bytes.
    pub(crate) size: u64,
    pub(crate) header: LayerHeader,
    pub(crate) codecs: Vec<String>,
    pub(crate) blocks: Vec<BlockEntry>,
    pub(crate) frames: Vec<FrameEntry>,
    /// The footer's attribute key dictionary.
    pub(crate) keys: Vec<Arc<str>>,
    /// The format version the layer was written in.
    pub(crate) version: u16,
    /// Where the footer's attribute region is (version 3 on).
    attrs_region: Range<usize>,
    /// Where the file's attribute section is (version 4; empty if none).
    pub(crate) file_attrs: Range<usize>,
    /// The footer bytes (checksum verified).
    footer: Bytes,
    /// Number of array records and the footer offset of the first.
    array_count: usize,
    arrays_at: usize,
    /// How many chunk records of this layer point into each frame; filled
    /// in by the walk over the records that builds the index.
    pub(crate) frame_refs: Vec<u32>,
    /// Cache identity of the layer.
    pub(crate) uid: u128,
    /// Read units, laid out on first use by the store's unit size.
    pub(super) units: OnceLock<Units>,
    /// The object the footer came from, which every read must reach.
    pin: ObjectPin,
    /// The parts whose frames the layer adopted (format 5), in the order
    /// of its object table: object `k` is entry `k - 1`.
    adopted: Vec<Adopted>,
}

/// A staged part whose frames a layer adopted, pinned as the layer object
/// is: its first read checks that it has the size the layer records.
#[derive(Debug)]
pub(crate) struct Adopted {
    /// The part's object path.
    pub(crate) path: Path,
    /// Its entry in the layer's object table.
    pub(crate) entry: ObjectEntry,
    pin: ObjectPin,
}

impl LayerReader {
    /// Reads and checks the trailer and footer of the object at `path`:
    /// the checksum and the tables before the array records, which stay
    /// encoded until [`records`](Self::records) are walked.
    pub(crate) async fn open(store: &FileStore, path: Path) -> Result<Self> {
        Self::open_pinned(store, path, ObjectPin::default()).await
    }

    /// Like [`open`](Self::open), reaching the object `pin` holds (a pin
    /// that knows the object's size checks it before anything is read).
    pub(crate) async fn open_pinned(store: &FileStore, path: Path, pin: ObjectPin) -> Result<Self> {
        let p = path.to_string();
        let (tail, size) = store.read_tail_at(&path, &pin, store.tail_probe()).await?;
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
            // The layer keeps its footer; a copy lets the rest of the probe
            // (data-region bytes, up to 64 KiB a layer) go.
            Bytes::copy_from_slice(tail.get(from..to).unwrap_or_default())
        } else {
            store
                .read_range_at(&path, &pin, footer_range.clone())
                .await?
        };
        let tables = format::decode_tables(&footer_bytes, &trailer, footer_range.start, &p)?;
        Ok(Self::new(store, path, size, footer_bytes, tables, pin))
    }

    /// The layer this process just wrote: `footer` is its footer, which
    /// starts at byte `data_end` of a `size`-byte object that `pin` holds.
    pub(crate) fn written(
        store: &FileStore,
        path: Path,
        size: u64,
        footer: Bytes,
        data_end: u64,
        pin: ObjectPin,
    ) -> Result<Self> {
        let tables = FooterTables::decode(&footer, data_end, format::FORMAT_VERSION)
            .map_err(|what| Error::corrupted(path.as_ref(), format!("footer: {what}")))?;
        Ok(Self::new(store, path, size, footer, tables, pin))
    }

    fn new(
        store: &FileStore,
        path: Path,
        size: u64,
        footer: Bytes,
        tables: FooterTables,
        pin: ObjectPin,
    ) -> Self {
        let uid = u128::from_le_bytes(tables.header.layer_id);
        let adopted = tables
            .objects
            .iter()
            .map(|&entry| Adopted {
                path: store.part_path(&entry.part_id),
                entry,
                pin: ObjectPin::sized(entry.size),
            })
            .collect();
        Self {
            path,
            size,
            header: tables.header,
            codecs: tables.codecs,
            blocks: tables.blocks,
            frames: tables.frames,
            keys: tables.keys,
            version: tables.version,
            attrs_region: tables.attrs_region,
            file_attrs: tables.file_attrs,
            footer,
            array_count: tables.array_count,
            arrays_at: tables.arrays_at,
            frame_refs: Vec::new(),
            uid,
            units: OnceLock::new(),
            pin,
            adopted,
        }
    }

    /// The parts whose frames the layer adopted.
    pub(crate) fn adopted(&self) -> &[Adopted] {
        &self.adopted
    }

    /// The path and pin of `object` (0: the layer object, `k`: its
    /// adopted part `k - 1`).
    pub(super) fn object(&self, object: u32) -> Result<(&Path, &ObjectPin)> {
        match object.checked_sub(1) {
            None => Ok((&self.path, &self.pin)),
            Some(k) => self
                .adopted
                .get(k as usize)
                .map(|a| (&a.path, &a.pin))
                .ok_or_else(|| Error::corrupted(self.path.as_ref(), format!("no object {object}"))),
        }
    }

    /// The object holding frame `index`, for errors (the layer's own path
    /// for a frame it does not have).
    pub(crate) fn frame_path(&self, index: u32) -> &Path {
        self.frames
            .get(index as usize)
            .and_then(|f| self.object(f.object).ok())
            .map_or(&self.path, |(path, _)| path)
    }

    /// The layer's array records.
    pub(crate) fn records(&self) -> RecordTable<'_> {
        RecordTable {
            path: self.path.as_ref(),
            buf: &self.footer,
            at: self.arrays_at,
            count: self.array_count,
            keys: &self.keys,
            codecs: &self.codecs,
            blocks: &self.blocks,
            frames: &self.frames,
            layer: self.header.seq,
            version: self.version,
            attrs_region: self.attrs_region.clone(),
            file_attrs: self.file_attrs.clone(),
            kind: self.header.kind,
        }
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
        let requests = self.requests(store, frames)?;
        self.collect_checked(frames, requests).await
    }

    /// The stored bytes of `frames` as the requests that fetch them
    /// complete, in whatever order that is: neighbouring frames share a
    /// request, requests run concurrently, checksums are left to the caller.
    pub(super) fn requests<'a>(
        &'a self,
        store: &'a FileStore,
        frames: &[u32],
    ) -> Result<BoxStream<'a, Result<Arrival>>> {
        let mut order: Vec<(usize, &FrameEntry, u32)> = Vec::with_capacity(frames.len());
        for (i, &f) in frames.iter().enumerate() {
            order.push((i, self.frame(f)?, f));
        }
        // A request never spans objects: frames in parts are fetched from
        // their part.
        order.sort_by_key(|(_, f, _)| (f.object, f.offset));
        let mut requests: Vec<(u32, Range<u64>, Members)> = Vec::new();
        let policy = store.fetch_policy();
        for (i, f, index) in order {
            let end = f.offset + f.stored_len;
            match requests.last_mut() {
                Some((object, r, members))
                    if *object == f.object
                        && f.offset <= r.end.saturating_add(policy.coalesce_gap)
                        && end - r.start <= MAX_REQUEST =>
                {
                    r.end = r.end.max(end);
                    members.push((i, index));
                }
                _ => requests.push((f.object, f.offset..end, vec![(i, index)])),
            }
        }
        // Futures are collected by a loop, not an iterator adaptor: a closure
        // in the future type makes read futures unusable with tokio::spawn.
        let mut fetches = Vec::with_capacity(requests.len());
        for (object, range, members) in requests {
            fetches.push(self.fetch_request(store, object, range, members));
        }
        Ok(futures::stream::iter(fetches)
            .buffer_unordered(policy.requests_per_read)
            .boxed())
    }

    /// Gathers `arrivals` of `frames` into their order, checking every
    /// frame not checked yet.
    async fn collect_checked(
        &self,
        frames: &[u32],
        mut arrivals: BoxStream<'_, Result<Arrival>>,
    ) -> Result<Vec<Bytes>> {
        let mut out: Vec<Bytes> = vec![Bytes::new(); frames.len()];
        while let Some(arrival) = arrivals.try_next().await? {
            for (i, stored) in arrival.frames {
                let frame = frames.get(i).copied().ok_or_else(|| {
                    Error::internal(format!("{}: a fetch returned an unasked frame", self.path))
                })?;
                if !arrival.checked {
                    self.check_stored(frame, &stored)?;
                }
                if let Some(slot) = out.get_mut(i) {
                    *slot = stored;
                }
            }
        }
        Ok(out)
    }

    /// The checked stored bytes of `frames`, in their order: on a remote
    /// store with an I/O cache, through that cache by read unit (concurrent
    /// readers of a unit share one request); else by exact, coalesced
    /// ranges.
    pub(crate) async fn stored_frames(
        &self,
        store: &FileStore,
        frames: &[u32],
        cache: Option<&DeltaCache>,
        kept: Kept<'_>,
    ) -> Result<Vec<Bytes>> {
        let arrivals = self.arrivals(store, frames, cache, kept)?;
        self.collect_checked(frames, arrivals).await
    }

    /// Bytes `range` of `object` (0: the layer object, `k`: its adopted
    /// part `k - 1`).
    pub(crate) async fn read_range(
        &self,
        store: &FileStore,
        object: u32,
        range: Range<u64>,
    ) -> Result<Bytes> {
        let (path, pin) = self.object(object)?;
        store.read_range_at(path, pin, range).await
    }

    /// The frames `members` (position asked for, frame) of one coalesced
    /// request for `range` of `object`, unchecked.
    async fn fetch_request(
        &self,
        store: &FileStore,
        object: u32,
        range: Range<u64>,
        members: Members,
    ) -> Result<Arrival> {
        let bytes = self.read_range(store, object, range.clone()).await?;
        let frames = members
            .into_iter()
            .map(|(i, f)| Ok((i, self.frame_in(&bytes, range.start, f)?)))
            .collect::<Result<_>>()?;
        Ok(Arrival {
            frames,
            checked: false,
        })
    }

    /// The stored bytes of `frame` within `bytes`, fetched from object offset
    /// `at`, unchecked.
    pub(super) fn frame_in(&self, bytes: &Bytes, at: u64, frame: u32) -> Result<Bytes> {
        let f = self.frame(frame)?;
        let from = usize::try_from(f.offset.saturating_sub(at)).unwrap_or(usize::MAX);
        let to = from.saturating_add(usize::try_from(f.stored_len).unwrap_or(usize::MAX));
        if to > bytes.len() {
            return Err(Error::corrupted(
                self.frame_path(frame).as_ref(),
                format!("frame {frame}: short read"),
            ));
        }
        Ok(bytes.slice(from..to))
    }

    /// Puts the decoded bytes of `frame` in the frame cache, unless the
    /// frame is uncompressed and read through the I/O cache (`io_cached`,
    /// see [`io_cached`]), which already holds it: a second copy would only
    /// double its memory.
    pub(crate) fn keep_decoded(
        &self,
        cache: &DeltaCache,
        io_cached: bool,
        frame: u32,
        raw: Bytes,
    ) -> Result<()> {
        if !(io_cached && self.frame_codec(frame)? == "none") {
            let key = FrameKey {
                layer: self.uid,
                frame,
            };
            cache.put_frame(key, raw);
        }
        Ok(())
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
                None => missing.push((i, f)),
            }
        }
        if !missing.is_empty() {
            let ids: Vec<u32> = missing.iter().map(|&(_, f)| f).collect();
            let kept = if cache.is_some_and(DeltaCache::has_frame_cache) {
                Kept::All
            } else {
                Kept::None
            };
            let stored = self.stored_frames(store, &ids, cache, kept).await?;
            let raw_bytes: u64 = ids
                .iter()
                .filter_map(|&f| self.frame(f).ok())
                .map(|f| f.raw_len)
                .sum();
            let jobs: Vec<(u32, Bytes)> = ids.into_iter().zip(stored).collect();
            let decoded: Vec<Result<Bytes>> = if worth_parallel(jobs.len(), raw_bytes) {
                crate::pool::install(|| {
                    jobs.into_par_iter()
                        .map(|(f, b)| self.decode(f, b, codecs))
                        .collect()
                })
            } else {
                jobs.into_iter()
                    .map(|(f, b)| self.decode(f, b, codecs))
                    .collect()
            };
            let io_cached = io_cached(store, cache);
            for ((i, f), raw) in missing.into_iter().zip(decoded) {
                let raw = raw?;
                if let Some(c) = cache {
                    self.keep_decoded(c, io_cached, f, raw.clone())?;
                }
                set(&mut out, i, raw);
            }
        }
        out.into_iter()
            .zip(frames)
            .map(|(b, f)| {
                b.ok_or_else(|| Error::internal(format!("{}: frame {f} was not loaded", self.path)))
            })
            .collect()
    }
}

fn set(out: &mut [Option<Bytes>], i: usize, b: Bytes) {
    if let Some(slot) = out.get_mut(i) {
        *slot = Some(b);
    }
}

/// The frames one request or read unit serves: position in the list of
/// frames asked for, and frame number.
pub(super) type Members = Vec<(usize, u32)>;

/// Stored bytes of frames as one request or read unit delivers them.
pub(crate) struct Arrival {
    /// Position in the list of frames asked for, and the frame's stored
    /// bytes.
    pub(crate) frames: Vec<(usize, Bytes)>,
    /// Whether the checksums are verified already (a read unit checks its
    /// frames once, when fetched).
    pub(crate) checked: bool,
}
