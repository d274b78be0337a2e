//! The read path: plan which chunks a region needs and where they are, fetch
//! the frames (cache first, then coalesced concurrent requests per layer),
//! and copy each chunk's overlap straight into the output.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::channel::oneshot;
use futures::{StreamExt, TryStreamExt};
use ndarray::{ArcArray, IxDyn};
use rayon::prelude::*;

use super::ArrayFile;
use super::schema::{ChunkSource, Resolved};
use crate::cache::{DeltaCache, FrameKey};
use crate::codec::CodecSet;
use crate::element::ArrayElement;
use crate::error::{Error, Result};
use crate::layer::{Kept, LayerReader, worth_parallel};
use crate::meta::ArrayInfo;
use crate::nd::{self, Region};
use crate::storage::FileStore;

pub(crate) use crate::layer::PENDING;

/// A chunk wanted from a layer: output slot, position of its frame in the
/// frame list, offset and length in the frame.
type Wanted = (usize, usize, u64, u64);

/// A chunk decoded straight into the output: its frame and its byte range in
/// the output.
struct Direct {
    layer: u32,
    frame: u32,
    start: usize,
    len: usize,
    stored: Bytes,
}

/// A chunk that is a whole frame of its own but not one run of the output
/// (a tile of a 2-D read, or a chunk the region covers only part of):
/// decoded into a buffer and the box it shares with the region copied into
/// place.
struct Tile {
    layer: u32,
    frame: u32,
    /// Decoded size in bytes.
    len: usize,
    /// The chunk's shape.
    shape: Vec<usize>,
    /// The box copied: where it starts in the chunk and in the output, and
    /// its shape.
    from: Vec<usize>,
    at: Vec<usize>,
    copy: Vec<usize>,
    /// The decoded frame goes to the frame cache: the region covers only
    /// part of the chunk, and the next read (a neighbouring window) is
    /// likely to want the rest.
    keep: bool,
}

/// A tile for the thread pool, with where its stored bytes come from.
struct Job {
    tile: Tile,
    reader: Arc<LayerReader>,
    from: Source,
}

/// Where a [`Job`]'s stored bytes come from.
enum Source {
    /// Fetched already; `checked` when a read unit verified the checksum.
    Fetched { stored: Bytes, checked: bool },
    /// A layer on a backend whose reads are system calls (a local
    /// directory read directly): the pool thread reads the frame itself.
    /// Such a read costs microseconds, so it needs no fetch stage of its own, and the thread's reused read buffer fills no fresh
    /// memory (a fresh buffer per frame costs a page fault per 4 KiB).
    SystemCall(FileStore),
}

/// What the decodes of one read share.
#[derive(Clone)]
struct Decoding {
    codecs: CodecSet,
    cache: Option<Arc<DeltaCache>>,
    /// Stored frames are held by the I/O cache, so an uncompressed frame
    /// needs no second copy in the frame cache.
    io_cached: bool,
    esize: usize,
}

impl Job {
    /// Reads the frame if it is local, checks it (unless a read unit did),
    /// decodes it and hands the chunk to `place`; a kept frame then goes to
    /// the frame cache.
    fn run(self, cx: &Decoding, place: impl FnOnce(&Tile, &[u8]) -> Result<()>) -> Result<()> {
        let Job { tile, reader, from } = self;
        match from {
            Source::Fetched { stored, checked } => {
                if !checked {
                    reader.check_stored(tile.frame, &stored)?;
                }
                cx.decode(&reader, &tile, Stored::Shared(stored), place)
            }
            Source::SystemCall(store) => {
                with_stored_by_system_call(&reader, &store, tile.frame, |stored| {
                    cx.decode(&reader, &tile, Stored::Borrowed(stored), place)
                })
            }
        }
    }
}

/// Runs `use_stored` on the checked stored bytes of `frame` of a local file
/// read directly, read with `pread` into this thread's read buffer.
fn with_stored_by_system_call<R>(
    reader: &LayerReader,
    store: &FileStore,
    frame: u32,
    use_stored: impl FnOnce(&[u8]) -> Result<R>,
) -> Result<R> {
    READ_SCRATCH.with_borrow_mut(|buf| {
        let done = match reader.read_stored_into(store, frame, buf) {
            Ok(true) => use_stored(buf),
            Ok(false) => Err(not_by_system_call(reader)),
            Err(e) => Err(e),
        };
        keep_ordinary(buf);
        done
    })
}

fn not_by_system_call(reader: &LayerReader) -> Error {
    Error::InvalidOperation {
        operation: "read_array",
        reason: format!("{} is not read with system calls", reader.path),
    }
}

/// Reads whole frame `frame` of a local file read directly into its place
/// `dst` in the output, on the calling thread: an uncompressed frame
/// straight into place, a compressed one through this thread's read buffer.
fn read_frame_by_system_call(
    reader: &LayerReader,
    store: &FileStore,
    frame: u32,
    dst: &mut [u8],
    codecs: &CodecSet,
) -> Result<()> {
    if reader.frame_codec(frame)? == "none" && reader.read_raw_by_system_call(store, frame, dst)? {
        return Ok(());
    }
    with_stored_by_system_call(reader, store, frame, |stored| {
        reader.decode_into(frame, stored, dst, codecs)
    })
}

/// Checked stored bytes of a frame: shared ones can be kept as they are.
enum Stored<'a> {
    Shared(Bytes),
    Borrowed(&'a [u8]),
}

impl Stored<'_> {
    fn bytes(&self) -> &[u8] {
        match self {
            Stored::Shared(b) => b,
            Stored::Borrowed(b) => b,
        }
    }
}

impl Decoding {
    /// Decodes the checked stored bytes of `tile` and hands the chunk to
    /// `place`; a kept frame then goes to the frame cache.
    fn decode(
        &self,
        reader: &LayerReader,
        tile: &Tile,
        stored: Stored<'_>,
        place: impl FnOnce(&Tile, &[u8]) -> Result<()>,
    ) -> Result<()> {
        if let Some(cache) = self.cache.as_deref().filter(|_| tile.keep) {
            let raw = match stored {
                Stored::Shared(b) => reader.decode(tile.frame, b, &self.codecs)?,
                Stored::Borrowed(b) => reader.decode_slice(tile.frame, b, &self.codecs)?,
            };
            place(tile, &raw)?;
            return reader.keep_decoded(cache, self.io_cached, tile.frame, raw);
        }
        let stored = stored.bytes();
        if reader.frame_codec(tile.frame)? == "none" {
            reader.check_raw_len(tile.frame, stored.len())?;
            return place(tile, stored);
        }
        SCRATCH.with_borrow_mut(|scratch| {
            scratch.resize(tile.len, 0);
            let buf = scratch
                .get_mut(..tile.len)
                .ok_or_else(|| Error::InvalidOperation {
                    operation: "read_array",
                    reason: "scratch buffer shorter than its tile".into(),
                })?;
            let placed = reader
                .decode_into(tile.frame, stored, buf, &self.codecs)
                .and_then(|()| place(tile, buf));
            keep_ordinary(scratch);
            placed
        })
    }
}

/// A thread keeps a buffer of ordinary chunk size, not the largest it ever
/// used.
fn keep_ordinary(buf: &mut Vec<u8>) {
    if buf.capacity() > SCRATCH_KEEP {
        *buf = Vec::new();
    }
}

/// Copies the box `t` shares with the region from its decoded chunk `src`
/// into the output bytes `dst` (shaped `out_shape`).
fn place_tile(
    dst: &mut [u8],
    out_shape: &[usize],
    t: &Tile,
    src: &[u8],
    esize: usize,
) -> Result<()> {
    nd::copy_region_bytes(
        src, &t.shape, &t.from, dst, out_shape, &t.at, &t.copy, esize,
    )
    .map_err(|e| Error::InvalidOperation {
        operation: "read_array",
        reason: format!("placing a chunk: {e}"),
    })
}

/// The output of a read as bytes; only plain element types take the tile
/// and direct routes.
fn out_bytes<T: ArrayElement>(out: &mut [T]) -> Result<&mut [u8]> {
    T::pod_bytes_mut(out).ok_or_else(|| Error::InvalidOperation {
        operation: "read_array",
        reason: "byte access to a non-plain element type".into(),
    })
}

fn decode_thread_lost() -> Error {
    Error::InvalidOperation {
        operation: "read_array",
        reason: "a decoding thread panicked".into(),
    }
}

/// How a committed chunk reaches the output.
enum Route {
    Direct(Direct),
    Tile(Tile),
    /// Through the frame cache and a copy of the overlap.
    General,
}

/// Largest decode buffer a thread keeps between reads.
const SCRATCH_KEEP: usize = 16 * 1024 * 1024;

thread_local! {
    /// Decode buffer of [`Tile`]s: one per thread, reused by every read, so
    /// that a large read does not allocate (and page-fault) a fresh buffer
    /// per frame.
    static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    /// Read buffer of [`Source::SystemCall`] jobs and direct local reads, likewise.
    static READ_SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

fn direct_overlap(at: usize) -> Error {
    Error::InvalidOperation {
        operation: "read_array",
        reason: format!("chunk targets overlap at output byte {at}"),
    }
}

/// The bytes of one chunk and the object they came from (for messages).
pub(crate) struct LoadedChunk {
    pub(crate) bytes: Bytes,
    pub(crate) origin: String,
}

impl ArrayFile {
    /// Loads the newest bytes of the chunks `indices` of an array; `None`
    /// for chunks never written.
    pub(crate) async fn load_chunks(
        &self,
        array: &Resolved<'_>,
        indices: &[u64],
    ) -> Result<Vec<Option<LoadedChunk>>> {
        let mut out: Vec<Option<LoadedChunk>> = Vec::with_capacity(indices.len());
        // layer -> (frames wanted, and for each output slot: frame position, offset, len)
        let mut by_layer: HashMap<u32, (Vec<u32>, Vec<Wanted>)> = HashMap::new();
        // (layer, frame) -> position in that layer's frame list.
        let mut positions: HashMap<(u32, u32), usize> = HashMap::new();
        for (slot, &index) in indices.iter().enumerate() {
            match array.chunk(index)? {
                ChunkSource::Missing => out.push(None),
                ChunkSource::Pending(c) => {
                    let pending = self
                        .pending
                        .as_ref()
                        .ok_or_else(|| Error::internal("pending chunk without a pending layer"))?;
                    out.push(Some(LoadedChunk {
                        bytes: pending.read_chunk(c)?,
                        origin: PENDING.into(),
                    }));
                }
                ChunkSource::Committed(c) => {
                    out.push(None);
                    let entry = by_layer.entry(c.layer).or_default();
                    let pos = *positions.entry((c.layer, c.loc.frame)).or_insert_with(|| {
                        entry.0.push(c.loc.frame);
                        entry.0.len() - 1
                    });
                    entry.1.push((slot, pos, c.loc.offset, c.loc.len));
                }
            }
        }
        // Futures are collected by a loop, not an iterator adaptor: a closure
        // in the future type makes read futures unusable with tokio::spawn.
        let mut loads = Vec::with_capacity(by_layer.len());
        for (layer, (frames, wanted)) in by_layer {
            loads.push(self.load_layer_frames(layer, frames, wanted));
        }
        for (origin, frames, wanted) in futures::future::try_join_all(loads).await? {
            for (slot, pos, offset, len) in wanted {
                let frame = frames
                    .get(pos)
                    .ok_or_else(|| Error::corrupted(&origin, "frame not loaded"))?;
                let end = offset
                    .checked_add(len)
                    .filter(|&e| e <= frame.len() as u64)
                    .ok_or_else(|| {
                        Error::corrupted(
                            &origin,
                            format!(
                                "chunk of {len} bytes at {offset} lies outside its {}-byte frame",
                                frame.len()
                            ),
                        )
                    })?;
                if let Some(o) = out.get_mut(slot) {
                    *o = Some(LoadedChunk {
                        bytes: frame.slice(offset as usize..end as usize),
                        origin: origin.clone(),
                    });
                }
            }
        }
        Ok(out)
    }

    /// How a committed chunk reaches the output. A chunk that is a whole
    /// frame of its own (no other chunk shares it) is decoded straight into
    /// the output when it lies wholly inside the region as a contiguous run
    /// of it (it spans the region in every dimension but the first), else
    /// it is a tile: decoded into a buffer and the part inside the region
    /// copied. The frame cache keeps the frames of tiles the region covers
    /// only in part, which a later read (the next window) is likely to want
    /// again. Chunks sharing a frame take the general path.
    fn route<T: ArrayElement>(
        &self,
        info: &ArrayInfo,
        resolved: &Resolved<'_>,
        coord: &[u64],
        index: u64,
        region: &Region,
    ) -> Result<Route> {
        let (ChunkSource::Committed(c), Some(esize)) =
            (resolved.chunk(index)?, T::DTYPE.element_size())
        else {
            return Ok(Route::General);
        };
        if T::pod_bytes_mut(&mut []).is_none() {
            return Ok(Route::General);
        }
        let cr = info
            .grid
            .chunk_region(coord)
            .ok_or_else(|| internal(info, "chunk outside the grid"))?;
        let Some(ov) = cr.intersect(region) else {
            return Ok(Route::General);
        };
        let Some(layer) = self.index.layers.get(c.layer as usize) else {
            return Ok(Route::General);
        };
        let Ok(frame) = layer.frame(c.loc.frame) else {
            return Ok(Route::General);
        };
        let len = cr.num_elements().and_then(|e| e.checked_mul(esize as u64));
        let whole_frame =
            len.is_some_and(|len| c.loc.offset == 0 && c.loc.len == len && frame.raw_len == len);
        let (Some(len), true) = (len.and_then(|l| usize::try_from(l).ok()), whole_frame) else {
            return Ok(Route::General);
        };
        let inside = region.contains(&cr);
        let contiguous = inside
            && cr
                .shape
                .iter()
                .zip(&region.shape)
                .skip(1)
                .all(|(a, b)| a == b);
        if !contiguous {
            let shape = nd::to_usize(&cr.shape).ok_or_else(|| internal(info, "chunk shape"))?;
            let copy = nd::to_usize(&ov.shape).ok_or_else(|| internal(info, "copy shape"))?;
            let caches_frames = self
                .settings
                .cache
                .as_deref()
                .is_some_and(DeltaCache::has_frame_cache);
            return Ok(Route::Tile(Tile {
                layer: c.layer,
                frame: c.loc.frame,
                len,
                shape,
                from: offsets(&ov.start, &cr.start)?,
                at: offsets(&ov.start, &region.start)?,
                copy,
                keep: !inside && caches_frames,
            }));
        }
        let row: u64 = region.shape.iter().skip(1).product();
        let (Some(&first), Some(&origin)) = (cr.start.first(), region.start.first()) else {
            return Ok(Route::General);
        };
        let start = (first - origin)
            .checked_mul(row)
            .and_then(|e| e.checked_mul(esize as u64))
            .and_then(|s| usize::try_from(s).ok());
        Ok(match start {
            Some(start) => Route::Direct(Direct {
                layer: c.layer,
                frame: c.loc.frame,
                start,
                len,
                stored: Bytes::new(),
            }),
            None => Route::General,
        })
    }

    /// The decoded bytes of `frame` of layer `layer` from the frame cache,
    /// when they are there at the expected length `len`.
    fn cached_frame(&self, layer: u32, frame: u32, len: usize) -> Result<Option<Bytes>> {
        let Some(cache) = self.settings.cache.as_deref() else {
            return Ok(None);
        };
        let key = FrameKey {
            layer: self.layer(layer)?.uid,
            frame,
        };
        Ok(cache.get_frame(&key).filter(|b| b.len() == len))
    }

    /// The checked stored bytes of `frames` (layer, frame), fetched per
    /// layer, concurrently across layers, through the I/O cache where it
    /// serves.
    async fn stored_of(&self, frames: &[(u32, u32)]) -> Result<Vec<Bytes>> {
        let cache = self.settings.cache.as_deref();
        let mut by_layer: HashMap<u32, (Vec<u32>, Vec<usize>)> = HashMap::new();
        for (i, &(layer, frame)) in frames.iter().enumerate() {
            let e = by_layer.entry(layer).or_default();
            e.0.push(frame);
            e.1.push(i);
        }
        let mut fetches = Vec::with_capacity(by_layer.len());
        for (layer, (ids, slots)) in by_layer {
            fetches.push(self.stored_in_layer(layer, ids, slots, cache));
        }
        let mut out = vec![Bytes::new(); frames.len()];
        for (slots, stored) in futures::future::try_join_all(fetches).await? {
            for (i, b) in slots.into_iter().zip(stored) {
                if let Some(o) = out.get_mut(i) {
                    *o = b;
                }
            }
        }
        Ok(out)
    }

    async fn stored_in_layer(
        &self,
        layer: u32,
        frames: Vec<u32>,
        slots: Vec<usize>,
        cache: Option<&crate::cache::DeltaCache>,
    ) -> Result<(Vec<usize>, Vec<Bytes>)> {
        let stored = self
            .layer(layer)?
            .stored_frames(&self.store, &frames, cache, Kept::None)
            .await?;
        Ok((slots, stored))
    }

    /// Reads the tiles of a region into `out` (shaped `out_shape`): frames
    /// in the frame cache are copied from there; the rest are fetched and,
    /// when there is enough to decode, each is decoded on the thread pool
    /// as soon as its request completes, while the others are still in
    /// flight.
    async fn read_tiles<T: ArrayElement>(
        &self,
        tiles: Vec<Tile>,
        out_shape: &[usize],
        mut out: Vec<T>,
    ) -> Result<Vec<T>> {
        let cache = self.settings.cache.as_deref();
        let esize = T::DTYPE.element_size().unwrap_or(1);
        let mut missing: Vec<Tile> = Vec::with_capacity(tiles.len());
        let bytes = out_bytes(&mut out)?;
        for t in tiles {
            match self.cached_frame(t.layer, t.frame, t.len)? {
                Some(b) => place_tile(bytes, out_shape, &t, &b, esize)?,
                None => missing.push(t),
            }
        }
        if missing.is_empty() {
            return Ok(out);
        }
        let total: usize = missing.iter().map(|t| t.len).sum();
        let parallel = worth_parallel(missing.len(), total as u64);
        let cx = Decoding {
            codecs: self.settings.codecs.clone(),
            cache: self.settings.cache.clone(),
            io_cached: crate::layer::io_cached(&self.store, cache),
            esize,
        };
        // Tiles of local files read directly are read by the thread that
        // decodes them; the others are fetched, per layer, and taken as
        // they arrive.
        let mut local: Vec<Job> = Vec::new();
        let mut by_layer: BTreeMap<u32, Vec<Option<Tile>>> = BTreeMap::new();
        for t in missing {
            let reader = self.layer(t.layer)?;
            // The pool thread that decodes a tile reads it, whatever its
            // size, into a buffer it keeps: no fresh memory per frame.
            if self.store.reads_by_system_call() {
                local.push(Job {
                    tile: t,
                    reader: Arc::clone(reader),
                    from: Source::SystemCall(self.store.clone()),
                });
            } else {
                by_layer.entry(t.layer).or_default().push(Some(t));
            }
        }
        let mut streams = Vec::with_capacity(by_layer.len());
        for (&layer, tiles) in &by_layer {
            let frames: Vec<u32> = tiles.iter().flatten().map(|t| t.frame).collect();
            let kept: Vec<bool> = tiles.iter().flatten().map(|t| t.keep).collect();
            let arrivals =
                self.layer(layer)?
                    .arrivals(&self.store, &frames, cache, Kept::Marked(&kept))?;
            streams.push(arrivals.map(move |a| a.map(|a| (layer, a))));
        }
        let mut arrivals = futures::stream::select_all(streams);
        let mut take = |layer: u32, i: usize, stored: Bytes, checked: bool| -> Result<Job> {
            let reader = Arc::clone(self.layer(layer)?);
            let tile = by_layer
                .get_mut(&layer)
                .and_then(|tiles| tiles.get_mut(i))
                .and_then(Option::take)
                .ok_or_else(|| {
                    Error::corrupted(reader.path.as_ref(), "a fetch returned an unasked frame")
                })?;
            Ok(Job {
                reader,
                tile,
                from: Source::Fetched { stored, checked },
            })
        };
        if !parallel {
            let bytes = out_bytes(&mut out)?;
            for t in local {
                t.run(&cx, |t, src| place_tile(bytes, out_shape, t, src, esize))?;
            }
            while let Some((layer, arrival)) = arrivals.try_next().await? {
                for (i, stored) in arrival.frames {
                    take(layer, i, stored, arrival.checked)?
                        .run(&cx, |t, src| place_tile(bytes, out_shape, t, src, esize))?;
                }
            }
            return Ok(out);
        }
        let shared = Arc::new((Mutex::new(out), out_shape.to_vec()));
        let mut decodes = Vec::new();
        for t in local {
            decodes.push(spawn_decode(t, cx.clone(), Arc::clone(&shared)));
        }
        while let Some((layer, arrival)) = arrivals.try_next().await? {
            for (i, stored) in arrival.frames {
                let job = take(layer, i, stored, arrival.checked)?;
                decodes.push(spawn_decode(job, cx.clone(), Arc::clone(&shared)));
            }
        }
        for decoded in decodes {
            decoded.await.map_err(|_| decode_thread_lost())??;
        }
        let (out, _) = Arc::try_unwrap(shared).map_err(|_| decode_thread_lost())?;
        out.into_inner().map_err(|_| decode_thread_lost())
    }

    /// Decodes whole-frame chunks straight into the output bytes, fetching
    /// what the caches lack (per layer, by read unit or coalesced ranges),
    /// on all cores when there is enough to decode.
    async fn read_direct<T: ArrayElement>(
        &self,
        direct: &mut [Direct],
        out: &mut [T],
    ) -> Result<()> {
        let bytes = out_bytes(out)?;
        direct.sort_by_key(|d| d.start);
        let mut targets: Vec<(&mut Direct, &mut [u8])> = Vec::with_capacity(direct.len());
        let mut rest: &mut [u8] = bytes;
        let mut consumed = 0usize;
        for d in direct.iter_mut() {
            let skip = d.start.checked_sub(consumed);
            let (_, tail) = skip
                .and_then(|k| std::mem::take(&mut rest).split_at_mut_checked(k))
                .ok_or_else(|| direct_overlap(d.start))?;
            let (mine, tail) = tail
                .split_at_mut_checked(d.len)
                .ok_or_else(|| direct_overlap(d.start))?;
            rest = tail;
            consumed = d.start + d.len;
            targets.push((d, mine));
        }
        // Decoded frames already cached are copied; the rest are fetched.
        let mut pending: Vec<(&mut Direct, &mut [u8])> = Vec::with_capacity(targets.len());
        for (d, dst) in targets {
            match self.cached_frame(d.layer, d.frame, dst.len())? {
                Some(b) => dst.copy_from_slice(&b),
                None => pending.push((d, dst)),
            }
        }
        let codecs = &self.settings.codecs;
        let total: usize = pending.iter().map(|(d, _)| d.len).sum();
        let parallel = worth_parallel(pending.len(), total as u64);
        // Frames of a local file read directly are read by the thread that
        // decodes them (see `Source::SystemCall`): on the pool when there is enough
        // to decode, else here, frames small enough for an async task.
        if self.store.reads_by_system_call() {
            let read = |(d, dst): (&mut Direct, &mut [u8])| -> Result<()> {
                read_frame_by_system_call(self.layer(d.layer)?, &self.store, d.frame, dst, codecs)
            };
            if parallel {
                return crate::pool::install(|| pending.into_par_iter().try_for_each(read));
            }
            let mut rest = Vec::with_capacity(pending.len());
            for (d, dst) in pending {
                let stored_len = self.layer(d.layer)?.frame(d.frame)?.stored_len;
                if self.store.reads_inline(stored_len) {
                    read((d, dst))?;
                } else {
                    rest.push((d, dst));
                }
            }
            pending = rest;
        }
        let ids: Vec<(u32, u32)> = pending.iter().map(|(d, _)| (d.layer, d.frame)).collect();
        for ((d, _), stored) in pending.iter_mut().zip(self.stored_of(&ids).await?) {
            d.stored = stored;
        }
        let decode = |(d, dst): (&mut Direct, &mut [u8])| -> Result<()> {
            self.layer(d.layer)?
                .decode_into(d.frame, &d.stored, dst, codecs)
        };
        let total: usize = pending.iter().map(|(d, _)| d.len).sum();
        if worth_parallel(pending.len(), total as u64) {
            crate::pool::install(|| pending.into_par_iter().try_for_each(decode))
        } else {
            pending.into_iter().try_for_each(decode)
        }
    }

    async fn load_layer_frames(
        &self,
        layer: u32,
        frames: Vec<u32>,
        wanted: Vec<Wanted>,
    ) -> Result<(String, Vec<Bytes>, Vec<Wanted>)> {
        let reader = self.layer(layer)?;
        let loaded = reader
            .load(
                &self.store,
                &frames,
                self.settings.cache.as_deref(),
                &self.settings.codecs,
            )
            .await?;
        Ok((reader.path.to_string(), loaded, wanted))
    }

    /// Reads the region of array `name` that starts at `start` and has
    /// `shape`; `vec![], vec![]` reads the whole array.
    ///
    /// Elements never written read as the fill value. Errors:
    /// [`Error::ArrayNotFound`], [`Error::DTypeMismatch`] when `T` is not the
    /// array's element type, [`Error::RankMismatch`], [`Error::OutOfBounds`],
    /// and [`Error::Corrupted`] when stored bytes fail their checks.
    ///
    /// ```
    /// use array_format::{ArrayFile, FileConfig, Lz4Codec};
    /// use ndarray::{Array, IxDyn};
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let mut file = ArrayFile::create_memory(FileConfig::new(Lz4Codec)).await?;
    /// file.define_array::<i64>("grid", vec![], vec![6, 6], Some(vec![4, 4]), None)?;
    /// let block = Array::from_shape_fn(IxDyn(&[3, 3]), |ix| (ix[0] * 10 + ix[1]) as i64);
    /// file.write_array("grid", vec![2, 2], block.view()).await?; // touches four chunks
    /// let window = file.read_array::<i64>("grid", vec![3, 3], vec![2, 2]).await?;
    /// assert_eq!(window.iter().copied().collect::<Vec<_>>(), vec![11, 12, 21, 22]);
    /// let whole = file.read_array::<i64>("grid", vec![], vec![]).await?;
    /// assert_eq!(whole.shape(), &[6, 6]);
    /// # Ok::<(), array_format::Error>(()) }).unwrap();
    /// ```
    pub async fn read_array<T: ArrayElement>(
        &self,
        name: &str,
        start: Vec<usize>,
        shape: Vec<usize>,
    ) -> Result<ArcArray<T, IxDyn>> {
        let resolved = self.resolve(name)?;
        let info = resolved.info();
        check_dtype::<T>(info)?;
        let region = if start.is_empty() && shape.is_empty() {
            Region::whole(&info.meta.shape)
        } else {
            check_rank(info, "start", start.len())?;
            check_rank(info, "shape", shape.len())?;
            Region::new(
                start.iter().map(|&s| s as u64).collect(),
                shape.iter().map(|&s| s as u64).collect(),
            )
        };
        check_bounds(info, &region)?;
        let out_shape = nd::to_usize(&region.shape).ok_or_else(|| too_large(info, &region))?;
        let n = region
            .num_elements()
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| too_large(info, &region))?;
        let mut out: Vec<T> = vec![T::fill_element(info.meta.fill_value.as_ref()); n];

        let grid = &info.grid;
        let coords = grid.chunks_overlapping(&region);
        let mut direct: Vec<Direct> = Vec::new();
        let mut tiles: Vec<Tile> = Vec::new();
        let mut rest: Vec<(Vec<u64>, u64)> = Vec::with_capacity(coords.len());
        for coord in coords {
            let index = grid
                .linear_index(&coord)
                .ok_or_else(|| internal(info, "chunk outside the grid"))?;
            match self.route::<T>(info, &resolved, &coord, index, &region)? {
                Route::Direct(d) => direct.push(d),
                Route::Tile(t) => tiles.push(t),
                Route::General => rest.push((coord, index)),
            }
        }
        if !direct.is_empty() {
            self.read_direct(&mut direct, &mut out).await?;
        }
        if !tiles.is_empty() {
            out = self.read_tiles(tiles, &out_shape, out).await?;
        }
        let indices: Vec<u64> = rest.iter().map(|(_, i)| *i).collect();
        let loaded = self.load_chunks(&resolved, &indices).await?;
        for ((coord, _), chunk) in rest.iter().zip(loaded) {
            let Some(chunk) = chunk else { continue };
            copy_chunk_into(info, coord, &chunk, &region, &out_shape, &mut out)?;
        }
        ArcArray::from_shape_vec(IxDyn(&out_shape), out).map_err(|e| internal(info, &e.to_string()))
    }
}

/// Runs `job` on the thread pool and places it in the shared output
/// (bytes and shape); the receiver gets the outcome, a panic included.
fn spawn_decode<T: ArrayElement>(
    job: Job,
    cx: Decoding,
    shared: Arc<(Mutex<Vec<T>>, Vec<usize>)>,
) -> oneshot::Receiver<Result<()>> {
    let (done, decoded) = oneshot::channel();
    crate::pool::spawn(move || {
        let run = || {
            let place = |t: &Tile, src: &[u8]| {
                let (out, shape) = &*shared;
                let mut out = out.lock().map_err(|_| decode_thread_lost())?;
                place_tile(out_bytes(&mut out)?, shape, t, src, cx.esize)
            };
            job.run(&cx, place)
        };
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(run))
            .unwrap_or_else(|_| Err(decode_thread_lost()));
        // The reader takes the output back once every decode has reported,
        // so this one lets go of it first.
        drop(shared);
        let _ = done.send(result);
    });
    decoded
}

/// Copies the part of a stored chunk that overlaps `region` into `out`.
fn copy_chunk_into<T: ArrayElement>(
    info: &ArrayInfo,
    coord: &[u64],
    chunk: &LoadedChunk,
    region: &Region,
    out_shape: &[usize],
    out: &mut [T],
) -> Result<()> {
    let grid = &info.grid;
    let cr = grid
        .chunk_region(coord)
        .ok_or_else(|| internal(info, "chunk outside the grid"))?;
    let Some(ov) = cr.intersect(region) else {
        return Ok(());
    };
    let damaged = |what: String| {
        Error::corrupted(
            chunk.origin.clone(),
            format!("array {:?}, chunk {coord:?}: {what}", info.meta.name),
        )
    };
    let src_shape = nd::to_usize(&cr.shape).ok_or_else(|| internal(info, "chunk shape"))?;
    let src_start = offsets(&ov.start, &cr.start)?;
    let dst_start = offsets(&ov.start, &region.start)?;
    let copy = nd::to_usize(&ov.shape).ok_or_else(|| internal(info, "copy shape"))?;
    match (T::pod_bytes_mut(out), T::DTYPE.element_size()) {
        (Some(dst), Some(esize)) => nd::copy_region_bytes(
            &chunk.bytes,
            &src_shape,
            &src_start,
            dst,
            out_shape,
            &dst_start,
            &copy,
            esize,
        )
        .map_err(damaged),
        _ => {
            let len: usize = src_shape.iter().product();
            let values = T::decode_n(&chunk.bytes, len).map_err(damaged)?;
            nd::copy_region(
                &values, &src_shape, &src_start, out, out_shape, &dst_start, &copy,
            )
            .map_err(damaged)
        }
    }
}

/// `a - b` per dimension, as `usize`.
pub(crate) fn offsets(a: &[u64], b: &[u64]) -> Result<Vec<usize>> {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| {
            x.checked_sub(y)
                .and_then(|d| usize::try_from(d).ok())
                .ok_or_else(|| Error::InvalidOperation {
                    operation: "copy",
                    reason: format!("region offset {x} - {y} is negative"),
                })
        })
        .collect()
}

pub(crate) fn check_dtype<T: ArrayElement>(info: &ArrayInfo) -> Result<()> {
    if T::DTYPE != info.meta.dtype {
        return Err(Error::DTypeMismatch {
            name: info.meta.name.clone(),
            expected: info.meta.dtype,
            actual: T::DTYPE,
        });
    }
    Ok(())
}

pub(crate) fn check_rank(info: &ArrayInfo, what: &'static str, actual: usize) -> Result<()> {
    let expected = info.meta.shape.len();
    if actual != expected {
        return Err(Error::RankMismatch {
            name: info.meta.name.clone(),
            what,
            expected,
            actual,
        });
    }
    Ok(())
}

pub(crate) fn check_bounds(info: &ArrayInfo, region: &Region) -> Result<()> {
    if !region.is_within(&info.meta.shape) {
        return Err(Error::OutOfBounds {
            name: info.meta.name.clone(),
            start: region.start.clone(),
            shape: region.shape.clone(),
            array_shape: info.meta.shape.clone(),
        });
    }
    Ok(())
}

fn too_large(info: &ArrayInfo, region: &Region) -> Error {
    Error::InvalidOperation {
        operation: "read_array",
        reason: format!(
            "a region of shape {:?} of array {:?} does not fit in memory",
            region.shape, info.meta.name
        ),
    }
}

pub(crate) fn internal(info: &ArrayInfo, what: &str) -> Error {
    Error::internal(format!("array {:?}: {what}", info.meta.name))
}
