//! Reading selections: the elements at chosen positions of a slice, read
//! with few, bounded requests; and splitting large shapes into blocks that
//! follow C order, so that big outputs stream with bounded memory.

use anyhow::Context;
use array_format::ArrayFile;
use ndarray::{ArrayD, Axis, IxDyn, Slice};

use crate::format::Elem;
use crate::slice::DimSel;

/// Calls `$body` with `$T` bound to the Rust element type of `$dtype`.
macro_rules! with_elem {
    ($dtype:expr, $T:ident => $body:expr) => {
        match $dtype {
            array_format::DType::Bool => {
                type $T = bool;
                $body
            }
            array_format::DType::Int8 => {
                type $T = i8;
                $body
            }
            array_format::DType::Int16 => {
                type $T = i16;
                $body
            }
            array_format::DType::Int32 => {
                type $T = i32;
                $body
            }
            array_format::DType::Int64 => {
                type $T = i64;
                $body
            }
            array_format::DType::UInt8 => {
                type $T = u8;
                $body
            }
            array_format::DType::UInt16 => {
                type $T = u16;
                $body
            }
            array_format::DType::UInt32 => {
                type $T = u32;
                $body
            }
            array_format::DType::UInt64 => {
                type $T = u64;
                $body
            }
            array_format::DType::Float32 => {
                type $T = f32;
                $body
            }
            array_format::DType::Float64 => {
                type $T = f64;
                $body
            }
            array_format::DType::String => {
                type $T = String;
                $body
            }
            array_format::DType::Binary => {
                type $T = Vec<u8>;
                $body
            }
            array_format::DType::TimestampNs => {
                type $T = array_format::TimestampNs;
                $body
            }
            array_format::DType::Float16 => {
                type $T = array_format::half::f16;
                $body
            }
            array_format::DType::BFloat16 => {
                type $T = array_format::half::bf16;
                $body
            }
            array_format::DType::Complex64 => {
                type $T = array_format::num_complex::Complex<f32>;
                $body
            }
            array_format::DType::Complex128 => {
                type $T = array_format::num_complex::Complex<f64>;
                $body
            }
        }
    };
}
pub(crate) use with_elem;

/// Steps above this are read index by index instead of as one strided
/// region.
const MAX_STRIDE_READ: u64 = 8;
/// More separate reads than this fall back to reading the bounding region.
const MAX_READS: usize = 4096;

fn usize_of(v: u64) -> anyhow::Result<usize> {
    usize::try_from(v).context("the selection is too large for this machine")
}

/// A group of selected positions read with one request.
struct Run {
    /// Offset of the group's first position in the output.
    out: usize,
    /// The positions (indices into the selection).
    positions: Vec<u64>,
}

fn runs(sel: &DimSel, positions: &[u64], bounding: bool) -> Vec<Run> {
    let mut out: Vec<Run> = Vec::new();
    if bounding {
        if !positions.is_empty() {
            out.push(Run {
                out: 0,
                positions: positions.to_vec(),
            });
        }
        return out;
    }
    let separate = sel.step > MAX_STRIDE_READ;
    for (i, &p) in positions.iter().enumerate() {
        if let Some(last) = out.last_mut()
            && !separate
            && last.positions.last().is_some_and(|&q| q + 1 == p)
        {
            last.positions.push(p);
            continue;
        }
        out.push(Run {
            out: i,
            positions: vec![p],
        });
    }
    out
}

/// Reads the elements of array `name` at `positions[d]` (ascending
/// positions within `sel[d]`) of every dimension. The result has one axis
/// per dimension (dropped dimensions included, with length 1 when their one
/// position is asked for).
pub async fn read_positions<T: Elem>(
    file: &ArrayFile,
    name: &str,
    sel: &[DimSel],
    positions: &[Vec<u64>],
) -> anyhow::Result<ArrayD<T>> {
    let shape: Vec<usize> = positions.iter().map(Vec::len).collect();
    let mut out = ArrayD::from_elem(IxDyn(&shape), T::fill_element(None));
    if out.is_empty() {
        return Ok(out);
    }
    let mut per_dim: Vec<Vec<Run>> = sel
        .iter()
        .zip(positions)
        .map(|(s, p)| runs(s, p, false))
        .collect();
    let reads = per_dim
        .iter()
        .try_fold(1usize, |acc, r| acc.checked_mul(r.len()));
    if reads.is_none_or(|n| n > MAX_READS) {
        per_dim = sel
            .iter()
            .zip(positions)
            .map(|(s, p)| runs(s, p, true))
            .collect();
    }
    // Odometer over one run per dimension.
    let mut pick = vec![0usize; per_dim.len()];
    loop {
        let mut start = Vec::with_capacity(pick.len());
        let mut extent = Vec::with_capacity(pick.len());
        let mut chosen: Vec<&Run> = Vec::with_capacity(pick.len());
        for ((d, runs), &k) in per_dim.iter().enumerate().zip(&pick) {
            let (Some(run), Some(s)) = (runs.get(k), sel.get(d)) else {
                return Ok(out);
            };
            let first = run.positions.first().copied().unwrap_or(0);
            let last = run.positions.last().copied().unwrap_or(0);
            start.push(usize_of(s.index(first))?);
            extent.push(usize_of((last - first) * s.step + 1)?);
            chosen.push(run);
        }
        let region = file
            .read_array::<T>(name, start, extent)
            .await
            .with_context(|| format!("cannot read array {name:?}"))?;
        let mut view = region.view().into_owned();
        for (d, run) in chosen.iter().enumerate() {
            let step = sel.get(d).map_or(1, |s| s.step);
            let first = run.positions.first().copied().unwrap_or(0);
            let consecutive = step == 1
                && run.positions.len() as u64
                    == run.positions.last().copied().unwrap_or(0) - first + 1;
            if !consecutive {
                let idx: Vec<usize> = run
                    .positions
                    .iter()
                    .map(|&p| usize_of((p - first) * step))
                    .collect::<anyhow::Result<_>>()?;
                view = view.select(Axis(d), &idx);
            }
        }
        out.slice_each_axis_mut(|ax| {
            let run = chosen.get(ax.axis.index());
            let a = run.map_or(0, |r| r.out);
            let n = run.map_or(0, |r| r.positions.len());
            Slice::from(a..a + n)
        })
        .assign(&view);
        // Advance.
        let mut d = pick.len();
        loop {
            if d == 0 {
                return Ok(out);
            }
            d -= 1;
            if let (Some(k), Some(r)) = (pick.get_mut(d), per_dim.get(d)) {
                *k += 1;
                if *k < r.len() {
                    break;
                }
                *k = 0;
            }
        }
    }
}

/// Boxes that tile a shape in C order: each is contiguous in the C-order
/// sequence of elements and holds at most `budget` elements (or one
/// element), and they come in C order.
pub struct Blocks {
    shape: Vec<u64>,
    split: usize,
    step: u64,
    next: Option<Vec<u64>>,
}

impl Blocks {
    /// Blocks of `shape` holding at most `budget` elements each.
    pub fn new(shape: &[u64], budget: u64) -> Blocks {
        let rank = shape.len();
        let empty = shape.contains(&0);
        // The outermost dimension whose inner part fits in the budget.
        let mut split = rank.saturating_sub(1);
        let mut inner = 1u64;
        for d in (0..rank).rev() {
            split = d;
            let dim = shape.get(d).copied().unwrap_or(1);
            match inner.checked_mul(dim) {
                Some(next) if next <= budget.max(1) => inner = next,
                _ => break,
            }
        }
        // `inner` now covers dims > split (or split itself when everything fits).
        let inner_after: u64 = shape
            .iter()
            .skip(split + 1)
            .fold(1u64, |a, &b| a.saturating_mul(b));
        let step = (budget.max(1) / inner_after.max(1)).max(1);
        Blocks {
            shape: shape.to_vec(),
            split,
            step,
            next: (!empty).then(|| vec![0; rank]),
        }
    }
}

impl Iterator for Blocks {
    /// (start, extent) of the block.
    type Item = (Vec<u64>, Vec<u64>);

    fn next(&mut self) -> Option<Self::Item> {
        let start = self.next.take()?;
        let rank = self.shape.len();
        if rank == 0 {
            return Some((Vec::new(), Vec::new()));
        }
        let mut extent = vec![1u64; rank];
        for (d, e) in extent.iter_mut().enumerate() {
            let dim = self.shape.get(d).copied().unwrap_or(1);
            let s = start.get(d).copied().unwrap_or(0);
            if d == self.split {
                *e = self.step.min(dim - s);
            } else if d > self.split {
                *e = dim;
            }
        }
        // The start of the next block: advance along the split dimension,
        // carrying into the outer ones.
        let mut next = start.clone();
        let mut d = self.split;
        let mut add = extent.get(d).copied().unwrap_or(1);
        loop {
            let dim = self.shape.get(d).copied().unwrap_or(1);
            let Some(v) = next.get_mut(d) else { break };
            *v += add;
            if *v < dim {
                self.next = Some(next);
                break;
            }
            *v = 0;
            if d == 0 {
                break;
            }
            d -= 1;
            add = 1;
        }
        Some((start, extent))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(shape: &[u64], budget: u64) -> Vec<(Vec<u64>, Vec<u64>)> {
        Blocks::new(shape, budget).collect()
    }

    #[test]
    fn blocks_tile_in_c_order() {
        assert_eq!(collect(&[], 10), vec![(vec![], vec![])]);
        assert_eq!(collect(&[5], 10), vec![(vec![0], vec![5])]);
        assert_eq!(
            collect(&[5], 2),
            vec![(vec![0], vec![2]), (vec![2], vec![2]), (vec![4], vec![1])]
        );
        assert_eq!(
            collect(&[3, 4], 8),
            vec![(vec![0, 0], vec![2, 4]), (vec![2, 0], vec![1, 4])]
        );
        assert_eq!(
            collect(&[2, 4], 3),
            vec![
                (vec![0, 0], vec![1, 3]),
                (vec![0, 3], vec![1, 1]),
                (vec![1, 0], vec![1, 3]),
                (vec![1, 3], vec![1, 1])
            ]
        );
        assert!(collect(&[3, 0], 8).is_empty());
        // Every element exactly once, in order.
        let shape = [3u64, 5, 7];
        for budget in [1, 2, 6, 7, 20, 35, 36, 1000] {
            let mut count = 0;
            for (start, ext) in Blocks::new(&shape, budget) {
                let n: u64 = ext.iter().product();
                assert!(n <= budget.max(1), "{budget}: {start:?} {ext:?}");
                let flat = (start[0] * 5 + start[1]) * 7 + start[2];
                assert_eq!(flat, count, "{budget}");
                count += n;
            }
            assert_eq!(count, 105);
        }
    }
}
