//! The write path: split a region into the chunks it touches, read-modify-
//! write only the chunks it covers partially, compute each chunk's statistics
//! once, and hand the encoded chunks to the pending layer (which compresses
//! them into frames in its spill file).

use std::sync::Arc;

use ndarray::{ArrayView, IxDyn};

use super::ArrayFile;
use super::read::{check_bounds, check_dtype, check_rank, internal, offsets};
use crate::element::ArrayElement;
use crate::error::{Error, Result};
use crate::meta::ArrayInfo;
use crate::nd::{self, Region};
use crate::stats::{ChunkStats, chunk_stats};

/// Chunks are encoded in batches of about this many bytes, so a large write
/// holds at most one batch of encoded chunks besides the caller's data.
const WRITE_BATCH_BYTES: u64 = 64 * 1024 * 1024;

impl ArrayFile {
    /// Writes `data` into array `name` with its origin at `start`.
    ///
    /// The region may span many chunks and need not be aligned to them: a
    /// chunk covered only partly is read, patched and rewritten; chunks
    /// covered fully are written without reading. `data` may have any memory
    /// layout. Changes are pending until [`flush`](Self::flush).
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
        let name = info.meta.name.as_str();
        let grid = &info.grid;
        let mut chunk_regions = Vec::with_capacity(coords.len());
        let mut partial: Vec<u64> = Vec::new();
        let mut partial_slots: Vec<Option<usize>> = Vec::with_capacity(coords.len());
        for coord in coords {
            let cr = grid
                .chunk_region(coord)
                .ok_or_else(|| internal(info, "chunk outside the grid"))?;
            let index = grid
                .linear_index(coord)
                .ok_or_else(|| internal(info, "chunk outside the grid"))?;
            if region.contains(&cr) {
                partial_slots.push(None);
            } else {
                partial_slots.push(Some(partial.len()));
                partial.push(index);
            }
            chunk_regions.push((index, cr));
        }
        let latest = self.index.latest_seq();
        let (existing, partial_bases) = if partial.is_empty() {
            (Vec::new(), Vec::new())
        } else {
            let resolved = self.resolve(name)?;
            // A chunk patched on top of its pending copy still derives from
            // the view that copy was made against: it keeps that base, so a
            // refresh in between cannot hide another writer's change.
            let bases: Vec<u64> = partial
                .iter()
                .map(|&i| {
                    Ok(match resolved.chunk(i)? {
                        super::schema::ChunkSource::Pending(c) => c.base_seq,
                        _ => latest,
                    })
                })
                .collect::<Result<_>>()?;
            (self.load_chunks(&resolved, &partial).await?, bases)
        };

        let fill = T::fill_element(info.meta.fill_value.as_ref());
        let explicit_fill = info.meta.fill_value.as_ref().map(|_| fill.clone());
        let mut encoded: Vec<(u64, Vec<u8>, ChunkStats, u64)> = Vec::with_capacity(coords.len());
        for (((index, cr), slot), coord) in chunk_regions.into_iter().zip(partial_slots).zip(coords)
        {
            let shape = nd::to_usize(&cr.shape).ok_or_else(|| internal(info, "chunk shape"))?;
            let len: usize = shape.iter().product();
            let previous = slot.and_then(|s| existing.get(s)).and_then(Option::as_ref);
            let mut values: Vec<T> = match previous {
                Some(chunk) => T::decode_n(&chunk.bytes, len).map_err(|what| {
                    Error::corrupted(
                        chunk.origin.clone(),
                        format!("array {name:?}, chunk {coord:?}: {what}"),
                    )
                })?,
                None => vec![fill.clone(); len],
            };
            let ov = cr
                .intersect(region)
                .ok_or_else(|| internal(info, "chunk does not overlap the region"))?;
            let from = offsets(&ov.start, &region.start)?;
            let to = offsets(&ov.start, &cr.start)?;
            let copy = nd::to_usize(&ov.shape).ok_or_else(|| internal(info, "copy shape"))?;
            nd::copy_region(src, src_shape, &from, &mut values, &shape, &to, &copy)
                .map_err(|e| internal(info, &e))?;
            let stats = chunk_stats(&values, explicit_fill.as_ref());
            let bytes = T::encode_chunk(&values).map_err(|e| match e {
                Error::ChunkTooLarge { bytes, limit, .. } => Error::ChunkTooLarge {
                    name: name.to_owned(),
                    chunk: coord.clone(),
                    bytes,
                    limit,
                },
                other => other,
            })?;
            let chunk_base = slot
                .and_then(|s| partial_bases.get(s))
                .copied()
                .unwrap_or(latest);
            encoded.push((index, bytes, stats, chunk_base));
        }
        let base = self.base_of(&self.resolve(name)?);
        let pending = self.pending_mut()?;
        for (index, bytes, stats, chunk_base) in encoded {
            pending.put_chunk(name, index, &bytes, stats, base, chunk_base)?;
        }
        Ok(())
    }
}
