//! Property tests across regions, grids and copies: copies agree with a
//! naive element-by-element copy, grids with brute force.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use super::*;
use proptest::prelude::*;

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
