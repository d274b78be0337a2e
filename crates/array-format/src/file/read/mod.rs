//! The read path: plan which chunks a region needs and where they are, fetch
//! the frames (cache first, then coalesced concurrent requests per layer),
//! and copy each chunk's overlap straight into the output.
//!
//! | file | holds |
//! |------|-------|
//! | `mod.rs` | `read_array`, the routing of each chunk, loading chunks for writers |
//! | `tiles.rs` | chunks decoded on the pool and their overlap copied into place |
//! | `direct.rs` | whole-frame chunks decoded straight into the output |
//! | `decode.rs` | what the decodes share: tiles, jobs, the decode of one frame |
//! | `local.rs` | frames read by system call from a local directory |
//! | `checks.rs` | the checks of a read's or write's arguments |

mod checks;
mod decode;
mod direct;
mod local;
mod tiles;

use checks::too_large;
pub(crate) use checks::{check_bounds, check_dtype, check_rank, internal, offsets};
use decode::*;
use local::*;

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
