//! The write path: split a region into the chunks it touches; chunks it
//! covers completely are measured and compressed straight from the caller's
//! data (in parallel when there are several); chunks it covers partly are
//! patched in the pending layer's buffer of uncompressed chunks, where later
//! writes keep patching them until they are evicted or committed, so each is
//! compressed once.

use std::borrow::Cow;
use std::sync::Arc;

use ndarray::{ArrayView, IxDyn};
use rayon::prelude::*;

use super::ArrayFile;
use super::read::{check_bounds, check_dtype, check_rank, internal, offsets};
use super::schema::ChunkSource;
use crate::codec::WriteCodec;
use crate::element::ArrayElement;
use crate::error::{Error, Result};
use crate::layer::{ChunkWrite, Compressed, Lane, Values, worth_parallel};
use crate::meta::ArrayInfo;
use crate::nd::{self, Region};
use crate::stats::{ChunkStats, chunk_stats};

/// Chunks are handled in batches of about this many bytes, so a large write
/// holds at most one batch of chunk copies (and compressed frames) besides
/// the caller's data and the buffer of partly written chunks.
const WRITE_BATCH_BYTES: u64 = 64 * 1024 * 1024;

/// A chunk of one write: grid coordinate, linear index, region.
struct Target {
    coord: Vec<u64>,
    index: u64,
    region: Region,
}

/// A chunk ready to be stored: statistics, encoded bytes and, for a chunk
/// with a frame of its own (unless the codec stores raw bytes), the frame
/// compressed ahead.
struct Encoded<'a> {
    stats: ChunkStats,
    bytes: Cow<'a, [u8]>,
    compressed: Option<Compressed<'static>>,
}

/// What the caller's data holds for one chunk it covers completely: a run
/// of it, or a copy gathered from it.
type WholeValues<'a, T> = Cow<'a, [T]>;

impl ArrayFile {
    /// Writes `data` into array `name` with its origin at `start`.
    ///
    /// The region may span many chunks and need not be aligned to them: a
    /// chunk covered only partly is read, patched and kept uncompressed in
    /// the write buffer ([`FileConfig::write_buffer_capacity`]), where later
    /// writes go on patching it, until it is evicted or committed; chunks
    /// covered fully are compressed straight from `data`. `data` may have
    /// any memory layout. Changes are pending until [`flush`](Self::flush).
    ///
    /// [`FileConfig::write_buffer_capacity`]: super::FileConfig::write_buffer_capacity
    ///
    /// Errors: [`Error::ArrayNotFound`], [`Error::DTypeMismatch`],
    /// [`Error::RankMismatch`], [`Error::OutOfBounds`].
    pub async fn write_array<T: ArrayElement>(
        &mut self,
        name: &str,
        start: Vec<usize>,
        data: ArrayView<'_, T, IxDyn>,
    ) -> Result<()> {
        let info: Arc<ArrayInfo> = Arc::clone(self.resolve(name)?.info());
        check_dtype::<T>(&info)?;
        check_rank(&info, "start", start.len())?;
        check_rank(&info, "data", data.ndim())?;
        let region = Region::new(
            start.iter().map(|&s| s as u64).collect(),
            data.shape().iter().map(|&s| s as u64).collect(),
        );
        check_bounds(&info, &region)?;
        if region.num_elements() == Some(0) {
            return Ok(());
        }
        let data = data.as_standard_layout();
        let src = data
            .as_slice()
            .ok_or_else(|| internal(&info, "standard-layout data is not contiguous"))?;
        // A `bitround` filter rounds the values as they come in, so that
        // what is stored, read back and summed up in statistics agrees.
        let rounded = info.keep_bits().map(|keep_bits| {
            let mut values = src.to_vec();
            T::bit_round(&mut values, keep_bits, explicit_fill::<T>(&info).as_ref());
            values
        });
        let src = rounded.as_deref().unwrap_or(src);
        let src_shape = data.shape().to_vec();

        let grid = &info.grid;
        let coords = grid.chunks_overlapping(&region);
        let esize = info.meta.dtype.element_size().unwrap_or(16) as u64;
        let mut batch: Vec<Vec<u64>> = Vec::new();
        let mut batch_bytes = 0u64;
        for coord in coords {
            batch_bytes += grid.chunk_len(&coord).unwrap_or(0).saturating_mul(esize);
            batch.push(coord);
            if batch_bytes >= WRITE_BATCH_BYTES {
                self.write_batch(&info, &std::mem::take(&mut batch), &region, src, &src_shape)
                    .await?;
                batch_bytes = 0;
            }
        }
        if !batch.is_empty() {
            self.write_batch(&info, &batch, &region, src, &src_shape)
                .await?;
        }
        Ok(())
    }

    async fn write_batch<T: ArrayElement>(
        &mut self,
        info: &ArrayInfo,
        coords: &[Vec<u64>],
        region: &Region,
        src: &[T],
        src_shape: &[usize],
    ) -> Result<()> {
        let grid = &info.grid;
        let mut whole: Vec<Target> = Vec::new();
        let mut partial: Vec<Target> = Vec::new();
        for coord in coords {
            let cr = grid
                .chunk_region(coord)
                .ok_or_else(|| internal(info, "chunk outside the grid"))?;
            let index = grid
                .linear_index(coord)
                .ok_or_else(|| internal(info, "chunk outside the grid"))?;
            let target = Target {
                coord: coord.clone(),
                index,
                region: cr,
            };
            if region.contains(&target.region) {
                whole.push(target);
            } else {
                partial.push(target);
            }
        }
        if !whole.is_empty() {
            self.write_whole(info, &whole, region, src, src_shape)?;
        }
        if !partial.is_empty() {
            self.write_partial(info, &partial, region, src, src_shape)
                .await?;
        }
        self.pending_mut()?.evict_over_budget()
    }

    /// Stores chunks the region covers completely. A chunk that is one
    /// contiguous run of the caller's data is measured and compressed
    /// straight from it (on all cores when there is enough to do); one that
    /// has to be gathered into a copy anyway goes to the write buffer as a
    /// complete chunk (fixed-width types, when the buffer is on), to be
    /// compressed in the background with the next eviction round.
    fn write_whole<T: ArrayElement>(
        &mut self,
        info: &ArrayInfo,
        targets: &[Target],
        region: &Region,
        src: &[T],
        src_shape: &[usize],
    ) -> Result<()> {
        let name = info.meta.name.as_str();
        let fill = explicit_fill::<T>(info);
        let latest = self.index.latest_seq();
        let base = self.base_of(&self.resolve(name)?);
        let w = ChunkWrite {
            base,
            chunk_base: latest,
            lane: self.lane(info)?,
        };
        let buffer = T::DTYPE.element_size().is_some() && self.settings.write_buffer > 0;
        let mut now: Vec<(&Target, WholeValues<'_, T>)> = Vec::with_capacity(targets.len());
        for t in targets {
            let from = offsets(&t.region.start, &region.start)?;
            let shape =
                nd::to_usize(&t.region.shape).ok_or_else(|| internal(info, "chunk shape"))?;
            if let Some(run) =
                nd::contiguous_range(src_shape, &from, &shape).and_then(|r| src.get(r))
            {
                now.push((t, Cow::Borrowed(run)));
                continue;
            }
            let len: usize = shape.iter().product();
            let mut gathered = vec![T::fill_element(None); len];
            nd::copy_region(
                src,
                src_shape,
                &from,
                &mut gathered,
                &shape,
                &vec![0; shape.len()],
                &shape,
            )
            .map_err(|e| internal(info, &e))?;
            if buffer {
                let values = Values {
                    values: gathered,
                    fill: fill.clone(),
                };
                self.pending_mut()?
                    .put_dirty(name, t.index, Box::new(values), len as u64, w);
            } else {
                now.push((t, Cow::Owned(gathered)));
            }
        }
        let pending = self.pending_mut()?;
        let frames = pending.frame_writer();
        // Chunks with a frame of their own are compressed here (unless the
        // codec stores them as they are); smaller ones share a frame.
        let target = frames.frame_target();
        let codec = Some(frames.codec(w.lane)).filter(|c| !c.stores_raw());
        let elements: usize = now.iter().map(|(_, v)| v.len()).sum();
        let total = elements.saturating_mul(std::mem::size_of::<T>()) as u64;
        let encoded: Vec<Result<Encoded<'_>>> = if worth_parallel(now.len(), total) {
            crate::pool::install(|| {
                now.par_iter()
                    .map(|(t, v)| encode_whole(codec, target, name, t, v, fill.as_ref()))
                    .collect()
            })
        } else {
            now.iter()
                .map(|(t, v)| encode_whole(codec, target, name, t, v, fill.as_ref()))
                .collect()
        };
        for ((t, _), e) in now.iter().zip(encoded) {
            let e = e?;
            match &e.compressed {
                Some(c) => pending.put_compressed(name, t.index, c, e.stats, w)?,
                None => pending.put_chunk(name, t.index, &e.bytes, e.stats, w)?,
            }
        }
        Ok(())
    }

    /// Patches chunks the region covers partly. Fixed-width chunks are
    /// patched in the buffer of uncompressed chunks (loaded into it first
    /// if not there: from the spill file, a committed layer, or the fill);
    /// variable-length ones are read, patched and stored at once.
    async fn write_partial<T: ArrayElement>(
        &mut self,
        info: &ArrayInfo,
        targets: &[Target],
        region: &Region,
        src: &[T],
        src_shape: &[usize],
    ) -> Result<()> {
        let name = info.meta.name.as_str();
        let buffered = T::DTYPE.element_size().is_some();
        let latest = self.index.latest_seq();
        let lane = self.lane(info)?;
        // Chunks already buffered are patched in place; the others are
        // loaded, each with the base its new version is made against.
        let mut load: Vec<(&Target, u64)> = Vec::new();
        for t in targets {
            if buffered && let Some(dirty) = self.pending_mut()?.dirty_mut(name, t.index) {
                let values = dirty
                    .as_any_mut()
                    .downcast_mut::<Values<T>>()
                    .ok_or_else(|| internal(info, "a buffered chunk has another element type"))?;
                let written = patch(info, t, region, src, src_shape, &mut values.values)?;
                self.pending_mut()?.filled(name, t.index, written);
                continue;
            }
            // A chunk patched on top of its pending copy still derives from
            // the view that copy was made against: it keeps that base, so a
            // refresh in between cannot hide another writer's change.
            let chunk_base = match self.resolve(name)?.chunk(t.index)? {
                ChunkSource::Pending(c) => c.base_seq,
                _ => latest,
            };
            load.push((t, chunk_base));
        }
        if load.is_empty() {
            return Ok(());
        }
        let fill = T::fill_element(info.meta.fill_value.as_ref());
        let explicit = explicit_fill::<T>(info);
        let indices: Vec<u64> = load.iter().map(|(t, _)| t.index).collect();
        let (existing, base) = {
            let resolved = self.resolve(name)?;
            let base = self.base_of(&resolved);
            (self.load_chunks(&resolved, &indices).await?, base)
        };
        for ((t, chunk_base), previous) in load.into_iter().zip(existing) {
            let shape =
                nd::to_usize(&t.region.shape).ok_or_else(|| internal(info, "chunk shape"))?;
            let len: usize = shape.iter().product();
            let mut values: Vec<T> = match previous {
                Some(chunk) => T::decode_n(&chunk.bytes, len).map_err(|what| {
                    Error::corrupted(
                        chunk.origin,
                        format!("array {name:?}, chunk {:?}: {what}", t.coord),
                    )
                })?,
                None => vec![fill.clone(); len],
            };
            let written = patch(info, t, region, src, src_shape, &mut values)?;
            let pending = self.pending_mut()?;
            let w = ChunkWrite {
                base,
                chunk_base,
                lane,
            };
            if buffered {
                let values = Values {
                    values,
                    fill: explicit.clone(),
                };
                pending.put_dirty(name, t.index, Box::new(values), written, w);
            } else {
                let stats = chunk_stats(&values, explicit.as_ref());
                let bytes = T::encode_chunk(&values).map_err(|e| with_chunk(e, name, &t.coord))?;
                pending.put_chunk(name, t.index, &bytes, stats, w)?;
            }
        }
        Ok(())
    }
}

impl ArrayFile {
    /// The codec lane the chunks of `info`'s array are stored with: its
    /// recorded codec, else this handle's. A recorded codec this handle
    /// cannot write with (a custom codec it is not configured with) is an
    /// error, never another codec.
    pub(super) fn lane(&mut self, info: &ArrayInfo) -> Result<Lane> {
        let spec = info.codec.as_deref();
        self.pending_mut()?
            .lane(spec, info.meta.dtype)
            .map_err(|reason| Error::InvalidCodec {
                name: info.meta.name.clone(),
                codec: spec.unwrap_or_default().to_owned(),
                reason,
            })
    }
}

/// The fill element when the array has an explicit fill value (statistics
/// count it as null).
fn explicit_fill<T: ArrayElement>(info: &ArrayInfo) -> Option<T> {
    info.meta
        .fill_value
        .as_ref()
        .map(|f| T::fill_element(Some(f)))
}

/// Copies the caller's values for chunk `t` into its `values`; returns how
/// many.
fn patch<T: ArrayElement>(
    info: &ArrayInfo,
    t: &Target,
    region: &Region,
    src: &[T],
    src_shape: &[usize],
    values: &mut [T],
) -> Result<u64> {
    let shape = nd::to_usize(&t.region.shape).ok_or_else(|| internal(info, "chunk shape"))?;
    let ov = t
        .region
        .intersect(region)
        .ok_or_else(|| internal(info, "chunk does not overlap the region"))?;
    let from = offsets(&ov.start, &region.start)?;
    let to = offsets(&ov.start, &t.region.start)?;
    let copy = nd::to_usize(&ov.shape).ok_or_else(|| internal(info, "copy shape"))?;
    nd::copy_region(src, src_shape, &from, values, &shape, &to, &copy)
        .map_err(|e| internal(info, &e))?;
    Ok(copy.iter().map(|&n| n as u64).product())
}

/// Statistics, encoding and (for a frame of its own, of at least
/// `frame_target` bytes) compression with `codec` (none: not compressed
/// ahead) of one whole chunk; runs on any thread.
fn encode_whole<'a, T: ArrayElement>(
    codec: Option<&WriteCodec>,
    frame_target: usize,
    name: &str,
    target: &Target,
    values: &'a [T],
    fill: Option<&T>,
) -> Result<Encoded<'a>> {
    let stats = chunk_stats(values, fill);
    let bytes = match T::pod_bytes(values) {
        Some(b) => Cow::Borrowed(b),
        None => {
            Cow::Owned(T::encode_chunk(values).map_err(|e| with_chunk(e, name, &target.coord))?)
        }
    };
    let compressed = match codec {
        Some(codec) if bytes.len() >= frame_target => {
            Some(Compressed::new(codec, &bytes)?.into_owned())
        }
        _ => None,
    };
    Ok(Encoded {
        stats,
        bytes,
        compressed,
    })
}

/// Names the array and chunk in a [`Error::ChunkTooLarge`].
fn with_chunk(e: Error, name: &str, coord: &[u64]) -> Error {
    match e {
        Error::ChunkTooLarge { bytes, limit, .. } => Error::ChunkTooLarge {
            name: name.to_owned(),
            chunk: coord.to_vec(),
            bytes,
            limit,
        },
        other => other,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use crate::{ArrayFile, FileConfig, NoCompression};
    use ndarray::ArrayD;

    /// Chunks of 8 x 8 x 8 f32 (2 KiB), four to a row of chunks.
    const ROW: usize = 4 * 2048;

    async fn ingest(buffer: usize) -> (u64, u64) {
        let mut file = ArrayFile::create_memory(FileConfig {
            write_buffer_capacity: buffer,
            // A frame per chunk, so the spill file holds every stored chunk.
            frame_target_size: 1024,
            ..FileConfig::new(NoCompression)
        })
        .await
        .unwrap();
        file.define_array::<f32>("v", vec![], vec![40, 16, 16], Some(vec![8, 8, 8]), None)
            .unwrap();
        // W3's pattern: slabs of 5 planes over chunks 8 planes deep.
        for z in (0..40).step_by(5) {
            let slab = ArrayD::from_elem(vec![5, 16, 16], z as f32);
            file.write_array("v", vec![z, 0, 0], slab.view())
                .await
                .unwrap();
        }
        let pending = file.pending.as_mut().unwrap();
        pending.evict(0).unwrap();
        let spilled = pending.frame_writer().spill().len();
        file.flush().await.unwrap();
        let w = file
            .read_array::<f32>("v", vec![0, 0, 0], vec![40, 1, 1])
            .await
            .unwrap();
        assert!(w.iter().enumerate().all(|(z, &v)| v == (z / 5 * 5) as f32));
        (spilled, 20 * 2048)
    }

    #[tokio::test]
    async fn unaligned_slabs_store_each_chunk_once_when_the_buffer_holds_the_open_rows() {
        // Three rows of chunks fit: every chunk is stored once, complete.
        let (spilled, chunks) = ingest(3 * ROW).await;
        assert_eq!(spilled, chunks);
        // Without a buffer, a chunk is stored after each write touching it.
        let (spilled, chunks) = ingest(0).await;
        assert!(spilled > chunks, "{spilled} bytes spilled for {chunks}");
    }
}
