//! [`Region`]: a hyper-rectangle of an array, and its arithmetic.

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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

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
}
