//! [`ChunkGrid`]: how an array's shape is tiled by chunks, and the
//! chunks a region touches.

use super::Region;

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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

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
}
