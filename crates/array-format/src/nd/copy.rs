//! Copies of hyper-rectangles between C-order buffers, and the runs of a
//! buffer a box covers.

/// Copies the hyper-rectangle of shape `copy_shape` that starts at `src_start` inside a C-order
/// buffer `src` of shape `src_shape` to `dst_start` inside a C-order buffer `dst` of shape `dst_shape`.
/// All shapes/starts are in elements and have the same rank (rank 0 = copy the single element).
/// Returns Err(reason) (never panics) if ranks differ, any region exceeds its buffer shape, or
/// a buffer is shorter than the product of its shape.
///
/// Contiguous runs are copied with `clone_from_slice`; trailing dimensions that are spanned
/// completely in both buffers are merged into one longer run.
pub(crate) fn copy_region<T: Clone>(
    src: &[T],
    src_shape: &[usize],
    src_start: &[usize],
    dst: &mut [T],
    dst_shape: &[usize],
    dst_start: &[usize],
    copy_shape: &[usize],
) -> Result<(), String> {
    copy_scaled(
        src, src_shape, src_start, dst, dst_shape, dst_start, copy_shape, 1,
    )
}

/// Same copy for fixed-width elements stored as raw bytes of `elem_size` bytes each:
/// shapes and starts are in ELEMENTS; the last dimension is scaled by `elem_size`
/// (rank 0 acts as rank 1 of length `elem_size`) and the bytes are copied as `u8`.
/// `elem_size == 0` is rejected with Err.
#[allow(clippy::too_many_arguments)]
pub(crate) fn copy_region_bytes(
    src: &[u8],
    src_shape: &[usize],
    src_start: &[usize],
    dst: &mut [u8],
    dst_shape: &[usize],
    dst_start: &[usize],
    copy_shape: &[usize],
    elem_size: usize,
) -> Result<(), String> {
    if elem_size == 0 {
        return Err("element size must be non-zero".to_string());
    }
    copy_scaled(
        src, src_shape, src_start, dst, dst_shape, dst_start, copy_shape, elem_size,
    )
}

/// The elements of the box of shape `sub` at `start` inside a C-order buffer
/// of shape `shape`, when they form one contiguous run of the buffer (every
/// dimension after the first one the box does not span completely is
/// spanned completely, and every one before it has extent 1); `None` when
/// they do not, or when the ranks differ or an index overflows.
pub(crate) fn contiguous_range(
    shape: &[usize],
    start: &[usize],
    sub: &[usize],
) -> Option<std::ops::Range<usize>> {
    if shape.len() != start.len() || shape.len() != sub.len() {
        return None;
    }
    let dims = || shape.iter().zip(start).zip(sub);
    // Trailing dimensions spanned completely.
    let spanned = dims()
        .rev()
        .take_while(|((n, s), b)| **s == 0 && **b == **n)
        .count();
    let partial = shape.len() - spanned;
    if dims().take(partial.saturating_sub(1)).any(|(_, b)| *b != 1) {
        return None;
    }
    let offset = dims().try_fold(0usize, |acc, ((n, s), _)| {
        acc.checked_mul(*n)?.checked_add(*s)
    })?;
    let len = sub.iter().try_fold(1usize, |acc, b| acc.checked_mul(*b))?;
    Some(offset..offset.checked_add(len)?)
}

/// Converts u64 dims to usize, None if any does not fit.
pub(crate) fn to_usize(dims: &[u64]) -> Option<Vec<usize>> {
    dims.iter().map(|&d| usize::try_from(d).ok()).collect()
}

/// Reads dimension `i` of `v` as the copy kernel sees it: the last dimension is widened by
/// `scale` (byte copies), and a rank-0 vector acts as one dimension of value `rank0`.
fn eff_dim(v: &[usize], i: usize, scale: usize, rank0: usize) -> Result<usize, String> {
    if v.is_empty() {
        return Ok(rank0);
    }
    let x = v
        .get(i)
        .copied()
        .ok_or_else(|| format!("dimension {i} out of range"))?;
    if i + 1 == v.len() {
        x.checked_mul(scale)
            .ok_or_else(|| format!("dimension {i} overflows when scaled by {scale}"))
    } else {
        Ok(x)
    }
}

/// One outer (non-merged) dimension of the copy odometer.
struct OuterDim {
    /// Current index within the copied extent.
    idx: usize,
    /// Copied extent of this dimension.
    count: usize,
    /// Source stride in elements.
    src_stride: usize,
    /// Destination stride in elements.
    dst_stride: usize,
}

/// Shared kernel of `copy_region` and `copy_region_bytes`: `scale` widens the last dimension
/// so byte buffers can reuse the element-wise logic without reallocating the shape vectors.
#[allow(clippy::too_many_arguments)]
fn copy_scaled<T: Clone>(
    src: &[T],
    src_shape: &[usize],
    src_start: &[usize],
    dst: &mut [T],
    dst_shape: &[usize],
    dst_start: &[usize],
    copy_shape: &[usize],
    scale: usize,
) -> Result<(), String> {
    let rank = copy_shape.len();
    if src_shape.len() != rank
        || src_start.len() != rank
        || dst_shape.len() != rank
        || dst_start.len() != rank
    {
        return Err(format!(
            "rank mismatch: copy {rank}, src shape {}, src start {}, dst shape {}, dst start {}",
            src_shape.len(),
            src_start.len(),
            dst_shape.len(),
            dst_start.len()
        ));
    }
    let erank = rank.max(1);

    // Validate bounds and buffer lengths.
    let mut src_total = 1usize;
    let mut dst_total = 1usize;
    let mut empty = false;
    for i in 0..erank {
        let c = eff_dim(copy_shape, i, scale, scale)?;
        let ss = eff_dim(src_shape, i, scale, scale)?;
        let st = eff_dim(src_start, i, scale, 0)?;
        let ds = eff_dim(dst_shape, i, scale, scale)?;
        let dt = eff_dim(dst_start, i, scale, 0)?;
        if st.checked_add(c).is_none_or(|e| e > ss) {
            return Err(format!(
                "source region {src_start:?}+{copy_shape:?} exceeds source shape {src_shape:?}"
            ));
        }
        if dt.checked_add(c).is_none_or(|e| e > ds) {
            return Err(format!(
                "destination region {dst_start:?}+{copy_shape:?} exceeds destination shape {dst_shape:?}"
            ));
        }
        src_total = src_total
            .checked_mul(ss)
            .ok_or_else(|| format!("source shape {src_shape:?} overflows usize"))?;
        dst_total = dst_total
            .checked_mul(ds)
            .ok_or_else(|| format!("destination shape {dst_shape:?} overflows usize"))?;
        empty |= c == 0;
    }
    if src.len() < src_total {
        return Err(format!(
            "source buffer has {} elements, shape {src_shape:?} needs {src_total}",
            src.len()
        ));
    }
    if dst.len() < dst_total {
        return Err(format!(
            "destination buffer has {} elements, shape {dst_shape:?} needs {dst_total}",
            dst.len()
        ));
    }
    if empty {
        return Ok(());
    }

    // Merge trailing dimensions: dims j..erank form one contiguous run in both buffers
    // as long as every dim after j is spanned completely in both.
    let mut j = erank - 1;
    let mut run = eff_dim(copy_shape, j, scale, scale)?;
    while j > 0 {
        let c = eff_dim(copy_shape, j, scale, scale)?;
        if c != eff_dim(src_shape, j, scale, scale)? || c != eff_dim(dst_shape, j, scale, scale)? {
            break;
        }
        j -= 1;
        run = run
            .checked_mul(eff_dim(copy_shape, j, scale, scale)?)
            .ok_or("run length overflows usize")?;
    }

    // Strides, base offsets, and the odometer over outer dims (innermost first).
    let mut outer = Vec::with_capacity(j);
    let mut src_stride = 1usize;
    let mut dst_stride = 1usize;
    let mut src_off = 0usize;
    let mut dst_off = 0usize;
    for i in (0..erank).rev() {
        let st = eff_dim(src_start, i, scale, 0)?;
        let dt = eff_dim(dst_start, i, scale, 0)?;
        src_off = st
            .checked_mul(src_stride)
            .and_then(|o| o.checked_add(src_off))
            .ok_or("source offset overflows usize")?;
        dst_off = dt
            .checked_mul(dst_stride)
            .and_then(|o| o.checked_add(dst_off))
            .ok_or("destination offset overflows usize")?;
        if i < j {
            outer.push(OuterDim {
                idx: 0,
                count: eff_dim(copy_shape, i, scale, scale)?,
                src_stride,
                dst_stride,
            });
        }
        src_stride = src_stride
            .checked_mul(eff_dim(src_shape, i, scale, scale)?)
            .ok_or("source stride overflows usize")?;
        dst_stride = dst_stride
            .checked_mul(eff_dim(dst_shape, i, scale, scale)?)
            .ok_or("destination stride overflows usize")?;
    }

    loop {
        let s = src_off
            .checked_add(run)
            .and_then(|end| src.get(src_off..end))
            .ok_or("source run out of bounds")?;
        let d = dst_off
            .checked_add(run)
            .and_then(|end| dst.get_mut(dst_off..end))
            .ok_or("destination run out of bounds")?;
        d.clone_from_slice(s);

        // Advance the odometer. Offsets stay within the validated buffers, so wrapping
        // arithmetic never actually wraps; any bug surfaces as Err via `get`, not a panic.
        let mut finished = true;
        for o in &mut outer {
            o.idx += 1;
            src_off = src_off.wrapping_add(o.src_stride);
            dst_off = dst_off.wrapping_add(o.dst_stride);
            if o.idx < o.count {
                finished = false;
                break;
            }
            o.idx = 0;
            src_off = src_off.wrapping_sub(o.count.wrapping_mul(o.src_stride));
            dst_off = dst_off.wrapping_sub(o.count.wrapping_mul(o.dst_stride));
        }
        if finished {
            return Ok(());
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn contiguous_ranges_of_boxes() {
        // Whole rows of a 4 x 5 buffer.
        assert_eq!(contiguous_range(&[4, 5], &[1, 0], &[2, 5]), Some(5..15));
        // Part of one row.
        assert_eq!(contiguous_range(&[4, 5], &[2, 1], &[1, 3]), Some(11..14));
        // Parts of two rows are not contiguous.
        assert_eq!(contiguous_range(&[4, 5], &[1, 1], &[2, 3]), None);
        // A 3-D slab of whole planes, and one plane's rows.
        assert_eq!(
            contiguous_range(&[3, 4, 5], &[1, 0, 0], &[2, 4, 5]),
            Some(20..60)
        );
        assert_eq!(
            contiguous_range(&[3, 4, 5], &[2, 1, 0], &[1, 2, 5]),
            Some(45..55)
        );
        assert_eq!(contiguous_range(&[3, 4, 5], &[1, 1, 0], &[2, 2, 5]), None);
        assert_eq!(contiguous_range(&[], &[], &[]), Some(0..1));
        assert_eq!(contiguous_range(&[4], &[1], &[2, 1]), None);
    }

    #[test]
    fn copy_2d_block() {
        // 4x5 src, copy 2x3 at (1,1) to 3x4 dst at (0,1)
        let src: Vec<u32> = (0..20).collect();
        let mut dst = vec![0u32; 12];
        copy_region(&src, &[4, 5], &[1, 1], &mut dst, &[3, 4], &[0, 1], &[2, 3]).unwrap();
        assert_eq!(dst, vec![0, 6, 7, 8, 0, 11, 12, 13, 0, 0, 0, 0]);
    }

    #[test]
    fn copy_whole_rows_and_full() {
        let src: Vec<u32> = (0..20).collect();
        let mut dst = vec![0u32; 10];
        copy_region(&src, &[4, 5], &[2, 0], &mut dst, &[2, 5], &[0, 0], &[2, 5]).unwrap();
        assert_eq!(dst, (10..20).collect::<Vec<_>>());
        let mut dst = vec![0u32; 20];
        copy_region(&src, &[4, 5], &[0, 0], &mut dst, &[4, 5], &[0, 0], &[4, 5]).unwrap();
        assert_eq!(dst, src);
    }

    #[test]
    fn copy_rank0_and_empty() {
        let mut dst = vec![0u8; 1];
        copy_region(&[7u8], &[], &[], &mut dst, &[], &[], &[]).unwrap();
        assert_eq!(dst, vec![7]);
        assert!(copy_region(&[] as &[u8], &[], &[], &mut dst, &[], &[], &[]).is_err());

        let src = vec![1u8; 6];
        let mut dst = vec![0u8; 6];
        copy_region(&src, &[2, 3], &[1, 3], &mut dst, &[2, 3], &[0, 0], &[1, 0]).unwrap();
        assert_eq!(dst, vec![0; 6]);
        // zero-size buffers
        let mut empty: Vec<u8> = vec![];
        copy_region(
            &[] as &[u8],
            &[0, 3],
            &[0, 0],
            &mut empty,
            &[0, 3],
            &[0, 0],
            &[0, 3],
        )
        .unwrap();
    }

    #[test]
    fn copy_errors() {
        let src = vec![0u8; 6];
        let mut dst = vec![0u8; 6];
        // rank mismatch
        assert!(copy_region(&src, &[6], &[0], &mut dst, &[2, 3], &[0, 0], &[1, 1]).is_err());
        assert!(copy_region(&src, &[2, 3], &[0], &mut dst, &[2, 3], &[0, 0], &[1, 1]).is_err());
        // region exceeds shape
        assert!(copy_region(&src, &[2, 3], &[1, 1], &mut dst, &[2, 3], &[0, 0], &[1, 3]).is_err());
        assert!(copy_region(&src, &[2, 3], &[0, 0], &mut dst, &[2, 3], &[2, 0], &[1, 1]).is_err());
        assert!(
            copy_region(
                &src,
                &[2, 3],
                &[usize::MAX, 0],
                &mut dst,
                &[2, 3],
                &[0, 0],
                &[1, 1]
            )
            .is_err()
        );
        // buffer too short
        assert!(copy_region(&src, &[2, 4], &[0, 0], &mut dst, &[2, 3], &[0, 0], &[1, 1]).is_err());
        assert!(copy_region(&src, &[2, 3], &[0, 0], &mut dst, &[3, 3], &[0, 0], &[1, 1]).is_err());
        // shape product overflow
        assert!(
            copy_region(
                &src,
                &[usize::MAX, 2],
                &[0, 0],
                &mut dst,
                &[2, 3],
                &[0, 0],
                &[1, 1]
            )
            .is_err()
        );
        // bytes: zero elem size, overflowing scale
        assert!(copy_region_bytes(&src, &[6], &[0], &mut dst, &[6], &[0], &[1], 0).is_err());
        assert!(
            copy_region_bytes(&src, &[usize::MAX], &[0], &mut dst, &[6], &[0], &[1], 2).is_err()
        );
        assert!(copy_region_bytes(&src, &[3], &[0], &mut dst, &[3], &[0], &[3], 3).is_err());
    }

    #[test]
    fn copy_bytes_basic() {
        // 2x3 elements of 2 bytes each
        let src: Vec<u8> = (0..12).collect();
        let mut dst = vec![0u8; 4];
        copy_region_bytes(
            &src,
            &[2, 3],
            &[0, 1],
            &mut dst,
            &[2, 1],
            &[0, 0],
            &[2, 1],
            2,
        )
        .unwrap();
        assert_eq!(dst, vec![2, 3, 8, 9]);
        // rank 0
        let mut dst = vec![0u8; 4];
        copy_region_bytes(&[1, 2, 3, 4], &[], &[], &mut dst, &[], &[], &[], 4).unwrap();
        assert_eq!(dst, vec![1, 2, 3, 4]);
        assert!(copy_region_bytes(&[1, 2, 3], &[], &[], &mut dst, &[], &[], &[], 4).is_err());
    }

    #[test]
    fn to_usize_works() {
        assert_eq!(to_usize(&[1, 2, 3]), Some(vec![1, 2, 3]));
        assert_eq!(to_usize(&[]), Some(vec![]));
        if usize::BITS < 64 {
            assert_eq!(to_usize(&[u64::MAX]), None);
        }
    }
}
