//! What the decodes of one read share: the tiles and jobs of the thread
//! pool, and the decode of one frame into place.

use super::*;

/// A chunk that is a whole frame of its own but not one run of the output
/// (a tile of a 2-D read, or a chunk the region covers only part of):
/// decoded into a buffer and the box it shares with the region copied into
/// place.
pub(super) struct Tile {
    pub(super) layer: u32,
    pub(super) frame: u32,
    /// Decoded size in bytes.
    pub(super) len: usize,
    /// The chunk's shape.
    pub(super) shape: Vec<usize>,
    /// The box copied: where it starts in the chunk and in the output, and
    /// its shape.
    pub(super) from: Vec<usize>,
    pub(super) at: Vec<usize>,
    pub(super) copy: Vec<usize>,
    /// The decoded frame goes to the frame cache: the region covers only
    /// part of the chunk, and the next read (a neighbouring window) is
    /// likely to want the rest.
    pub(super) keep: bool,
}

/// A tile for the thread pool, with where its stored bytes come from.
pub(super) struct Job {
    pub(super) tile: Tile,
    pub(super) reader: Arc<LayerReader>,
    pub(super) from: Source,
}

/// Where a [`Job`]'s stored bytes come from.
pub(super) enum Source {
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
pub(super) struct Decoding {
    pub(super) codecs: CodecSet,
    pub(super) cache: Option<Arc<DeltaCache>>,
    /// Stored frames are held by the I/O cache, so an uncompressed frame
    /// needs no second copy in the frame cache.
    pub(super) io_cached: bool,
    pub(super) esize: usize,
}

impl Job {
    /// Reads the frame if it is local, checks it (unless a read unit did),
    /// decodes it and hands the chunk to `place`; a kept frame then goes to
    /// the frame cache.
    pub(super) fn run(
        self,
        cx: &Decoding,
        place: impl FnOnce(&Tile, &[u8]) -> Result<()>,
    ) -> Result<()> {
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

/// Checked stored bytes of a frame: shared ones can be kept as they are.
pub(super) enum Stored<'a> {
    Shared(Bytes),
    Borrowed(&'a [u8]),
}

impl Stored<'_> {
    pub(super) fn bytes(&self) -> &[u8] {
        match self {
            Stored::Shared(b) => b,
            Stored::Borrowed(b) => b,
        }
    }
}

impl Decoding {
    /// Decodes the checked stored bytes of `tile` and hands the chunk to
    /// `place`; a kept frame then goes to the frame cache.
    pub(super) fn decode(
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
pub(super) fn keep_ordinary(buf: &mut Vec<u8>) {
    if buf.capacity() > SCRATCH_KEEP {
        *buf = Vec::new();
    }
}

/// Copies the box `t` shares with the region from its decoded chunk `src`
/// into the output bytes `dst` (shaped `out_shape`).
pub(super) fn place_tile(
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
pub(super) fn out_bytes<T: ArrayElement>(out: &mut [T]) -> Result<&mut [u8]> {
    T::pod_bytes_mut(out).ok_or_else(|| Error::InvalidOperation {
        operation: "read_array",
        reason: "byte access to a non-plain element type".into(),
    })
}

pub(super) fn decode_thread_lost() -> Error {
    Error::InvalidOperation {
        operation: "read_array",
        reason: "a decoding thread panicked".into(),
    }
}

/// Runs `job` on the thread pool and places it in the shared output
/// (bytes and shape); the receiver gets the outcome, a panic included.
pub(super) fn spawn_decode<T: ArrayElement>(
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
pub(super) fn copy_chunk_into<T: ArrayElement>(
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
