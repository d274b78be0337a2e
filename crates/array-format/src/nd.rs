//! Region and chunk-grid arithmetic for n-dimensional chunked arrays, plus
//! copies of hyper-rectangles between C-order buffers.

/// A hyper-rectangle: start and shape per dimension. Rank 0 = a single element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Region {
    /// First element index covered, per dimension.
    pub(crate) start: Vec<u64>,
    /// Number of elements covered, per dimension.
    pub(crate) shape: Vec<u64>,
}

impl Region {
    /// Builds a region from its start and shape (caller keeps the ranks equal).
    pub(crate) fn new(start: Vec<u64>, shape: Vec<u64>) -> Self {
        Self { start, shape }
    }

    /// The region covering a whole array of the given shape.
    pub(crate) fn whole(shape: &[u64]) -> Self {
        Self {
            start: vec![0; shape.len()],
            shape: shape.to_vec(),
        }
    }

    /// Number of dimensions of the region.
    pub(crate) fn rank(&self) -> usize {
        self.shape.len()
    }

    /// Element count of the region, or `None` if it does not fit in `u64`.
    pub(crate) fn num_elements(&self) -> Option<u64> {
        self.shape
            .iter()
            .try_fold(1u64, |acc, &d| acc.checked_mul(d))
    }

    /// Exclusive end index in dimension `dim`; `None` if `dim` is out of range or the end overflows.
    #[cfg(test)]
    pub(crate) fn end(&self, dim: usize) -> Option<u64> {
        self.start.get(dim)?.checked_add(*self.shape.get(dim)?)
    }

    /// The overlap of two regions; `None` if ranks differ or the overlap is empty in any dimension.
    ///
    /// Ends are computed in `u128`, so regions reaching past `u64::MAX` still intersect exactly.
    pub(crate) fn intersect(&self, other: &Region) -> Option<Region> {
        let rank = self.rank();
        if self.start.len() != rank || other.rank() != rank || other.start.len() != rank {
            return None;
        }
        let mut start = Vec::with_capacity(rank);
        let mut shape = Vec::with_capacity(rank);
        for (((&s1, &n1), &s2), &n2) in self
            .start
            .iter()
            .zip(&self.shape)
            .zip(&other.start)
            .zip(&other.shape)
        {
            let lo = s1.max(s2);
            let hi = (u128::from(s1) + u128::from(n1)).min(u128::from(s2) + u128::from(n2));
            let lo128 = u128::from(lo);
            if hi <= lo128 {
                return None;
            }
            // hi - lo <= min(n1, n2), so it always fits in u64.
            start.push(lo);
            shape.push(u64::try_from(hi - lo128).ok()?);
        }
        Some(Region { start, shape })
    }

    /// Whether `other` lies fully inside `self` (same rank, coordinate-wise bounds check).
    pub(crate) fn contains(&self, other: &Region) -> bool {
        let rank = self.rank();
        if self.start.len() != rank || other.rank() != rank || other.start.len() != rank {
            return false;
        }
        self.start
            .iter()
            .zip(&self.shape)
            .zip(other.start.iter().zip(&other.shape))
            .all(|((&s1, &n1), (&s2, &n2))| {
                s2 >= s1 && u128::from(s2) + u128::from(n2) <= u128::from(s1) + u128::from(n1)
            })
    }

    /// Whether the region lies inside an array of the given shape (same rank, no overflow).
    pub(crate) fn is_within(&self, shape: &[u64]) -> bool {
        self.rank() == shape.len()
            && self.start.len() == shape.len()
            && self
                .start
                .iter()
                .zip(&self.shape)
                .zip(shape)
                .all(|((&s, &n), &limit)| s.checked_add(n).is_some_and(|e| e <= limit))
    }
}

/// The chunk grid of an array: shape, chunk shape, number of chunks per dimension.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ChunkGrid {
    /// Array shape in elements.
    shape: Vec<u64>,
    /// Nominal chunk shape in elements (edge chunks are clipped).
    chunk_shape: Vec<u64>,
    /// Number of chunks per dimension.
    grid_shape: Vec<u64>,
    /// Total number of chunks (product of `grid_shape`).
    num_chunks: u64,
}

impl ChunkGrid {
    /// Err(reason) if ranks differ, a chunk dim is 0, or the total chunk count overflows u64.
    /// Shape dims may be 0 (then num_chunks() == 0). Rank 0: exactly one chunk (coordinate []).
    #[cfg(test)]
    pub(crate) fn new(shape: &[u64], chunk_shape: &[u64]) -> Result<Self, String> {
        let mut grid = Self::default();
        grid.set(shape, chunk_shape)?;
        Ok(grid)
    }

    /// Makes this the grid of `shape` in chunks of `chunk_shape` (same
    /// errors as `new`), reusing the vectors: checking many definitions with
    /// one grid allocates nothing once they have grown.
    pub(crate) fn set(&mut self, shape: &[u64], chunk_shape: &[u64]) -> Result<(), String> {
        if shape.len() != chunk_shape.len() {
            return Err(format!(
                "array rank {} differs from chunk rank {}",
                shape.len(),
                chunk_shape.len()
            ));
        }
        self.grid_shape.clear();
        for (dim, (&s, &c)) in shape.iter().zip(chunk_shape).enumerate() {
            if c == 0 {
                return Err(format!("chunk shape is 0 in dimension {dim}"));
            }
            self.grid_shape.push(s.div_ceil(c));
        }
        self.num_chunks = if self.grid_shape.contains(&0) {
            0
        } else {
            self.grid_shape
                .iter()
                .try_fold(1u64, |acc, &g| acc.checked_mul(g))
                .ok_or_else(|| {
                    format!(
                        "chunk count of shape {shape:?} with chunks {chunk_shape:?} overflows u64"
                    )
                })?
        };
        self.shape.clear();
        self.shape.extend_from_slice(shape);
        self.chunk_shape.clear();
        self.chunk_shape.extend_from_slice(chunk_shape);
        Ok(())
    }

    /// Number of dimensions of the array.
    pub(crate) fn rank(&self) -> usize {
        self.shape.len()
    }

    /// Array shape in elements.
    #[cfg(test)]
    pub(crate) fn shape(&self) -> &[u64] {
        &self.shape
    }

    /// Nominal chunk shape in elements.
    #[cfg(test)]
    pub(crate) fn chunk_shape(&self) -> &[u64] {
        &self.chunk_shape
    }

    /// Number of chunks per dimension (edge chunks included).
    #[cfg(test)]
    pub(crate) fn grid_shape(&self) -> &[u64] {
        &self.grid_shape
    }

    /// Total number of chunks in the grid.
    pub(crate) fn num_chunks(&self) -> u64 {
        self.num_chunks
    }

    /// C-order (last dim fastest) position of a chunk, for chunk tables; `None` if outside the grid.
    pub(crate) fn linear_index(&self, coord: &[u64]) -> Option<u64> {
        if coord.len() != self.rank() {
            return None;
        }
        coord
            .iter()
            .zip(&self.grid_shape)
            .try_fold(0u64, |acc, (&c, &g)| {
                if c >= g {
                    return None;
                }
                acc.checked_mul(g)?.checked_add(c)
            })
    }

    /// Chunk coordinate of a C-order position (inverse of `linear_index`); `None` if out of range.
    pub(crate) fn coord_of(&self, linear: u64) -> Option<Vec<u64>> {
        if linear >= self.num_chunks {
            return None;
        }
        let mut coord = vec![0u64; self.rank()];
        let mut rem = linear;
        for (c, &g) in coord.iter_mut().zip(&self.grid_shape).rev() {
            // g > 0 for every dim because num_chunks > linear >= 0.
            *c = rem.checked_rem(g)?;
            rem = rem.checked_div(g)?;
        }
        Some(coord)
    }

    /// Element count of the chunk at C-order position `linear` (clipped at the
    /// array edge), without building its coordinate; `None` if out of range.
    pub(crate) fn chunk_len_at(&self, linear: u64) -> Option<u64> {
        if linear >= self.num_chunks {
            return None;
        }
        let mut rem = linear;
        let mut len = 1u64;
        for ((&g, &cs), &s) in self
            .grid_shape
            .iter()
            .zip(&self.chunk_shape)
            .zip(&self.shape)
            .rev()
        {
            let c = rem.checked_rem(g)?;
            rem = rem.checked_div(g)?;
            let begin = c.checked_mul(cs)?;
            len = len.checked_mul(s.checked_sub(begin)?.min(cs))?;
        }
        Some(len)
    }

    /// The elements the chunk covers, clipped at the array edge (edge chunks are smaller).
    pub(crate) fn chunk_region(&self, coord: &[u64]) -> Option<Region> {
        // Validates rank and bounds.
        self.linear_index(coord)?;
        let mut start = Vec::with_capacity(self.rank());
        let mut shape = Vec::with_capacity(self.rank());
        for ((&c, &cs), &s) in coord.iter().zip(&self.chunk_shape).zip(&self.shape) {
            // c < ceil(s / cs), so c * cs < s: no overflow, and s - begin > 0.
            let begin = c.checked_mul(cs)?;
            let len = s.checked_sub(begin)?.min(cs);
            start.push(begin);
            shape.push(len);
        }
        Some(Region { start, shape })
    }

    /// Element count of chunk_region (the stored chunk holds exactly these, C-order).
    pub(crate) fn chunk_len(&self, coord: &[u64]) -> Option<u64> {
        self.chunk_region(coord)?.num_elements()
    }

    /// Coordinates of every chunk that overlaps `region`, in C-order of the grid. Empty if region is empty (any dim 0) or outside.
    pub(crate) fn chunks_overlapping(&self, region: &Region) -> Vec<Vec<u64>> {
        let Some(clip) = Region::whole(&self.shape).intersect(region) else {
            return Vec::new();
        };
        // Inclusive chunk-coordinate range per dimension.
        let mut lo = Vec::with_capacity(self.rank());
        let mut hi = Vec::with_capacity(self.rank());
        for ((&s, &n), &cs) in clip.start.iter().zip(&clip.shape).zip(&self.chunk_shape) {
            // n >= 1 because the intersection is non-empty; s + n <= array shape.
            let (Some(last), Some(first)) = (
                s.checked_add(n)
                    .and_then(|e| e.checked_sub(1))
                    .and_then(|e| e.checked_div(cs)),
                s.checked_div(cs),
            ) else {
                return Vec::new();
            };
            lo.push(first);
            hi.push(last);
        }
        let count = lo
            .iter()
            .zip(&hi)
            .try_fold(1usize, |acc, (&l, &h)| {
                acc.checked_mul(usize::try_from(h - l + 1).ok()?)
            })
            .unwrap_or(0);
        let mut out = Vec::with_capacity(count);
        let mut cur = lo.clone();
        loop {
            out.push(cur.clone());
            let mut carried_out = true;
            for ((c, &l), &h) in cur.iter_mut().zip(&lo).zip(&hi).rev() {
                if *c < h {
                    *c += 1;
                    carried_out = false;
                    break;
                }
                *c = l;
            }
            if carried_out {
                break;
            }
        }
        out
    }
}

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
    use proptest::prelude::*;

    // ---------- Region ----------

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
    fn region_basics() {
        let r = Region::new(vec![1, 2], vec![3, 4]);
        assert_eq!(r.rank(), 2);
        assert_eq!(r.num_elements(), Some(12));
        assert_eq!(r.end(0), Some(4));
        assert_eq!(r.end(1), Some(6));
        assert_eq!(r.end(2), None);
        let w = Region::whole(&[5, 6]);
        assert_eq!(w, Region::new(vec![0, 0], vec![5, 6]));
    }

    #[test]
    fn region_rank0_and_overflow() {
        let r = Region::whole(&[]);
        assert_eq!(r.rank(), 0);
        assert_eq!(r.num_elements(), Some(1));
        assert_eq!(r.intersect(&Region::whole(&[])), Some(Region::whole(&[])));
        assert!(r.contains(&Region::whole(&[])));
        assert!(r.is_within(&[]));

        let big = Region::new(vec![u64::MAX], vec![1]);
        assert_eq!(big.end(0), None);
        assert!(!big.is_within(&[u64::MAX]));
        let huge = Region::whole(&[u64::MAX, 2]);
        assert_eq!(huge.num_elements(), None);
        assert_eq!(Region::whole(&[3, 0]).num_elements(), Some(0));
    }

    #[test]
    fn region_intersect() {
        let a = Region::new(vec![0, 0], vec![4, 4]);
        let b = Region::new(vec![2, 3], vec![5, 5]);
        assert_eq!(a.intersect(&b), Some(Region::new(vec![2, 3], vec![2, 1])));
        assert_eq!(b.intersect(&a), a.intersect(&b));
        // touching is empty
        let c = Region::new(vec![4, 0], vec![1, 1]);
        assert_eq!(a.intersect(&c), None);
        // zero-length dim
        let z = Region::new(vec![1, 1], vec![0, 2]);
        assert_eq!(a.intersect(&z), None);
        // rank mismatch
        assert_eq!(a.intersect(&Region::whole(&[4])), None);
        // overflowing ends intersect exactly
        let o1 = Region::new(vec![u64::MAX - 1], vec![u64::MAX]);
        let o2 = Region::new(vec![u64::MAX - 3], vec![u64::MAX]);
        assert_eq!(
            o1.intersect(&o2),
            Some(Region::new(vec![u64::MAX - 1], vec![u64::MAX - 2]))
        );
    }

    #[test]
    fn region_contains_and_within() {
        let a = Region::new(vec![1, 1], vec![4, 4]);
        assert!(a.contains(&Region::new(vec![1, 2], vec![4, 3])));
        assert!(a.contains(&a));
        assert!(!a.contains(&Region::new(vec![0, 2], vec![1, 1])));
        assert!(!a.contains(&Region::new(vec![2, 2], vec![4, 1])));
        assert!(!a.contains(&Region::whole(&[1])));
        assert!(a.is_within(&[5, 5]));
        assert!(!a.is_within(&[5, 4]));
        assert!(!a.is_within(&[5]));
        assert!(Region::new(vec![3], vec![0]).is_within(&[3]));
        assert!(!Region::new(vec![4], vec![0]).is_within(&[3]));
    }

    // ---------- ChunkGrid ----------

    #[test]
    fn chunk_len_at_matches_chunk_len_of_coord() {
        for (shape, chunks) in [
            (vec![10u64, 7, 5], vec![3u64, 7, 2]),
            (vec![1], vec![4]),
            (vec![9, 9], vec![9, 4]),
        ] {
            let g = ChunkGrid::new(&shape, &chunks).unwrap();
            for i in 0..g.num_chunks() {
                let coord = g.coord_of(i).unwrap();
                assert_eq!(g.chunk_len_at(i), g.chunk_len(&coord), "{shape:?} {i}");
            }
            assert_eq!(g.chunk_len_at(g.num_chunks()), None);
        }
    }

    #[test]
    fn grid_new_errors() {
        assert!(ChunkGrid::new(&[4, 4], &[2]).is_err());
        assert!(ChunkGrid::new(&[4, 4], &[2, 0]).is_err());
        assert!(ChunkGrid::new(&[u64::MAX, u64::MAX], &[1, 1]).is_err());
        // a zero dimension means zero chunks, not overflow
        let g = ChunkGrid::new(&[u64::MAX, u64::MAX, 0], &[1, 1, 1]).unwrap();
        assert_eq!(g.num_chunks(), 0);
        assert_eq!(g.coord_of(0), None);
        assert_eq!(g.linear_index(&[0, 0, 0]), None);
        assert!(g.chunks_overlapping(&Region::whole(&[1, 1, 1])).is_empty());
        // large but fitting
        let g = ChunkGrid::new(&[u64::MAX, u64::MAX], &[u64::MAX, 1]).unwrap();
        assert_eq!(g.num_chunks(), u64::MAX);
        assert_eq!(g.coord_of(u64::MAX - 1), Some(vec![0, u64::MAX - 1]));
        assert_eq!(g.linear_index(&[0, u64::MAX - 1]), Some(u64::MAX - 1));
    }

    #[test]
    fn grid_edge_chunks() {
        let g = ChunkGrid::new(&[10, 7], &[4, 3]).unwrap();
        assert_eq!(g.rank(), 2);
        assert_eq!(g.shape(), &[10, 7]);
        assert_eq!(g.chunk_shape(), &[4, 3]);
        assert_eq!(g.grid_shape(), &[3, 3]);
        assert_eq!(g.num_chunks(), 9);
        assert_eq!(
            g.chunk_region(&[0, 0]),
            Some(Region::new(vec![0, 0], vec![4, 3]))
        );
        assert_eq!(
            g.chunk_region(&[2, 2]),
            Some(Region::new(vec![8, 6], vec![2, 1]))
        );
        assert_eq!(g.chunk_len(&[2, 2]), Some(2));
        assert_eq!(g.chunk_len(&[1, 2]), Some(4));
        assert_eq!(g.chunk_region(&[3, 0]), None);
        assert_eq!(g.chunk_region(&[0]), None);
        assert_eq!(g.chunk_len(&[0, 3]), None);
        assert_eq!(g.linear_index(&[1, 2]), Some(5));
        assert_eq!(g.linear_index(&[1, 3]), None);
        assert_eq!(g.linear_index(&[1]), None);
        assert_eq!(g.coord_of(5), Some(vec![1, 2]));
        assert_eq!(g.coord_of(9), None);
    }

    #[test]
    fn grid_rank0() {
        let g = ChunkGrid::new(&[], &[]).unwrap();
        assert_eq!(g.num_chunks(), 1);
        assert_eq!(g.grid_shape(), &[] as &[u64]);
        assert_eq!(g.linear_index(&[]), Some(0));
        assert_eq!(g.coord_of(0), Some(vec![]));
        assert_eq!(g.coord_of(1), None);
        assert_eq!(g.chunk_region(&[]), Some(Region::whole(&[])));
        assert_eq!(g.chunk_len(&[]), Some(1));
        assert_eq!(
            g.chunks_overlapping(&Region::whole(&[])),
            vec![Vec::<u64>::new()]
        );
        assert!(g.chunks_overlapping(&Region::whole(&[1])).is_empty());
    }

    #[test]
    fn grid_zero_dim() {
        let g = ChunkGrid::new(&[0, 5], &[2, 2]).unwrap();
        assert_eq!(g.grid_shape(), &[0, 3]);
        assert_eq!(g.num_chunks(), 0);
        assert_eq!(g.chunk_region(&[0, 0]), None);
        assert!(g.chunks_overlapping(&Region::whole(&[0, 5])).is_empty());
    }

    #[test]
    fn grid_chunks_overlapping() {
        let g = ChunkGrid::new(&[10, 7], &[4, 3]).unwrap();
        assert_eq!(
            g.chunks_overlapping(&Region::new(vec![3, 2], vec![2, 2])),
            vec![vec![0, 0], vec![0, 1], vec![1, 0], vec![1, 1]]
        );
        // region partially outside is clipped
        assert_eq!(
            g.chunks_overlapping(&Region::new(vec![9, 6], vec![100, 100])),
            vec![vec![2, 2]]
        );
        // fully outside, empty, wrong rank
        assert!(
            g.chunks_overlapping(&Region::new(vec![10, 0], vec![1, 1]))
                .is_empty()
        );
        assert!(
            g.chunks_overlapping(&Region::new(vec![0, 0], vec![5, 0]))
                .is_empty()
        );
        assert!(g.chunks_overlapping(&Region::whole(&[10])).is_empty());
        assert_eq!(g.chunks_overlapping(&Region::whole(&[10, 7])).len(), 9);
        // overflowing region end
        assert_eq!(
            g.chunks_overlapping(&Region::new(vec![u64::MAX, 0], vec![u64::MAX, 1])),
            Vec::<Vec<u64>>::new()
        );
        assert_eq!(
            g.chunks_overlapping(&Region::new(vec![9, 6], vec![u64::MAX, u64::MAX])),
            vec![vec![2, 2]]
        );
    }

    // ---------- copy ----------

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

    // ---------- property tests ----------

    /// Per-dimension copy setup: (copy, src_shape, src_start, dst_shape, dst_start).
    type DimSetup = (usize, usize, usize, usize, usize);

    fn dim_setup() -> impl Strategy<Value = DimSetup> {
        (0usize..4, 0usize..3, 0usize..3, 0usize..3, 0usize..3).prop_map(|(c, se, so, de, doff)| {
            let so = so.min(se);
            let doff = doff.min(de);
            (c, c + se, so, c + de, doff)
        })
    }

    fn unzip(setup: &[DimSetup]) -> [Vec<usize>; 5] {
        [
            setup.iter().map(|d| d.0).collect(),
            setup.iter().map(|d| d.1).collect(),
            setup.iter().map(|d| d.2).collect(),
            setup.iter().map(|d| d.3).collect(),
            setup.iter().map(|d| d.4).collect(),
        ]
    }

    fn c_offset(shape: &[usize], idx: &[usize]) -> usize {
        shape.iter().zip(idx).fold(0, |acc, (&s, &i)| acc * s + i)
    }

    fn naive_copy(
        src: &[u32],
        ss: &[usize],
        st: &[usize],
        dst: &mut [u32],
        ds: &[usize],
        dt: &[usize],
        cs: &[usize],
    ) {
        let n: usize = cs.iter().product();
        let mut idx = vec![0usize; cs.len()];
        for lin in 0..n {
            let mut rem = lin;
            for d in (0..cs.len()).rev() {
                idx[d] = rem % cs[d];
                rem /= cs[d];
            }
            let si: Vec<usize> = idx.iter().zip(st).map(|(a, b)| a + b).collect();
            let di: Vec<usize> = idx.iter().zip(dt).map(|(a, b)| a + b).collect();
            dst[c_offset(ds, &di)] = src[c_offset(ss, &si)];
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn prop_copy_matches_naive(setup in prop::collection::vec(dim_setup(), 1..=4)) {
            let [cs, ss, st, ds, dt] = unzip(&setup);
            let src: Vec<u32> = (0..ss.iter().product::<usize>() as u32).collect();
            let mut got = vec![u32::MAX; ds.iter().product()];
            let mut want = got.clone();
            copy_region(&src, &ss, &st, &mut got, &ds, &dt, &cs).unwrap();
            naive_copy(&src, &ss, &st, &mut want, &ds, &dt, &cs);
            prop_assert_eq!(got, want);
        }

        #[test]
        fn prop_copy_bytes_matches_elements(
            setup in prop::collection::vec(dim_setup(), 0..=3),
            elem_size in 1usize..5,
        ) {
            let [cs, ss, st, ds, dt] = unzip(&setup);
            let src: Vec<u32> = (0..ss.iter().product::<usize>() as u32).collect();
            let mut want = vec![u32::MAX; ds.iter().product()];
            copy_region(&src, &ss, &st, &mut want, &ds, &dt, &cs).unwrap();
            // Encode each element as elem_size bytes (truncated little-endian).
            let enc = |v: &[u32]| -> Vec<u8> {
                v.iter().flat_map(|x| x.to_le_bytes().into_iter().chain([0xAA; 4]).take(elem_size)).collect()
            };
            let src_b = enc(&src);
            let mut got_b = enc(&vec![u32::MAX; ds.iter().product()]);
            copy_region_bytes(&src_b, &ss, &st, &mut got_b, &ds, &dt, &cs, elem_size).unwrap();
            prop_assert_eq!(got_b, enc(&want));
        }

        #[test]
        fn prop_chunks_overlapping_brute_force(
            dims in prop::collection::vec((0u64..9, 1u64..5, 0u64..11, 0u64..11), 0..=3)
        ) {
            let shape: Vec<u64> = dims.iter().map(|d| d.0).collect();
            let chunk: Vec<u64> = dims.iter().map(|d| d.1).collect();
            let region = Region::new(
                dims.iter().map(|d| d.2).collect(),
                dims.iter().map(|d| d.3).collect(),
            );
            let g = ChunkGrid::new(&shape, &chunk).unwrap();
            let want: Vec<Vec<u64>> = (0..g.num_chunks())
                .map(|l| g.coord_of(l).unwrap())
                .filter(|c| g.chunk_region(c).unwrap().intersect(&region).is_some())
                .collect();
            prop_assert_eq!(g.chunks_overlapping(&region), want);
        }

        #[test]
        fn prop_linear_roundtrip(
            dims in prop::collection::vec((0u64..9, 1u64..5), 0..=4)
        ) {
            let shape: Vec<u64> = dims.iter().map(|d| d.0).collect();
            let chunk: Vec<u64> = dims.iter().map(|d| d.1).collect();
            let g = ChunkGrid::new(&shape, &chunk).unwrap();
            let mut total = 0u64;
            for l in 0..g.num_chunks() {
                let c = g.coord_of(l).unwrap();
                prop_assert_eq!(g.linear_index(&c), Some(l));
                let r = g.chunk_region(&c).unwrap();
                prop_assert!(r.is_within(&shape));
                prop_assert!(r.num_elements().unwrap() > 0);
                total += g.chunk_len(&c).unwrap();
            }
            prop_assert_eq!(g.coord_of(g.num_chunks()), None);
            prop_assert_eq!(Some(total), Region::whole(&shape).num_elements());
        }
    }
}
