//! Branch-free statistics loops for the fixed-width numeric types, which the
//! compiler vectorises: [`chunk_stats`](super::chunk_stats) runs once per
//! chunk written, over every element, and its generic loop (an ordering
//! call and two branches per element) cost more than compressing the chunk
//! with lz4. They give exactly the generic loop's result.
//!
//! Floats are compared through the integer key of `total_cmp`: NaNs map
//! outside the keys of the infinities, so they can be told apart and left
//! out without a branch.

use crate::dtype::DType;
use crate::element::ArrayElement;
use crate::value::StatValue;

use super::{ChunkStats, MinMax};

/// The statistics of `values` by a vectorised loop, for the numeric types
/// (`None` for the others).
pub(super) fn numeric_stats<T: ArrayElement>(values: &[T], fill: Option<&T>) -> Option<ChunkStats> {
    macro_rules! run {
        ($kernel:ident, $ty:ty) => {{
            let v: &[$ty] = cast(values)?;
            let f: Option<$ty> = match fill {
                Some(f) => Some(*cast::<T, $ty>(std::slice::from_ref(f))?.first()?),
                None => None,
            };
            Some($kernel(v, f))
        }};
    }
    match T::DTYPE {
        DType::Int8 => run!(stats_i8, i8),
        DType::Int16 => run!(stats_i16, i16),
        DType::Int32 => run!(stats_i32, i32),
        DType::Int64 => run!(stats_i64, i64),
        DType::UInt8 => run!(stats_u8, u8),
        DType::UInt16 => run!(stats_u16, u16),
        DType::UInt32 => run!(stats_u32, u32),
        DType::UInt64 => run!(stats_u64, u64),
        DType::Float32 => run!(stats_f32, f32),
        DType::Float64 => run!(stats_f64, f64),
        DType::Bool
        | DType::TimestampNs
        | DType::String
        | DType::Binary
        | DType::Float16
        | DType::BFloat16
        | DType::Complex64
        | DType::Complex128 => None,
    }
}

/// `values` as a slice of `U` when `T` is `U`.
fn cast<T: ArrayElement, U: bytemuck::Pod>(values: &[T]) -> Option<&[U]> {
    bytemuck::try_cast_slice(T::pod_bytes(values)?).ok()
}

fn finish(nulls: usize, valid: usize, min: StatValue, max: StatValue) -> ChunkStats {
    ChunkStats {
        null_count: nulls as u64,
        min_max: if valid == 0 {
            MinMax::Empty
        } else {
            MinMax::Range { min, max }
        },
    }
}

/// Independent accumulators per loop iteration: the loops below keep this
/// many minima, maxima and counts side by side, which the compiler turns
/// into vector registers.
const LANES: usize = 16;

/// Elements per block of the lane loops: small enough that the per-lane
/// `u32` counts cannot overflow.
const BLOCK: usize = LANES * (1 << 20);

/// Per-lane accumulators of one kernel: running key minima and maxima, and
/// the counts of nulls and of elements that take part in the extremes.
struct Lanes<K> {
    lo: [K; LANES],
    hi: [K; LANES],
    nulls: [u32; LANES],
    valid: [u32; LANES],
}

macro_rules! kernel {
    ($name:ident, $ty:ty, $key:ty, $to_key:expr, $from_key:expr, $is_nan:expr) => {
        fn $name(values: &[$ty], fill: Option<$ty>) -> ChunkStats {
            let to_key: fn($ty) -> $key = $to_key;
            let is_nan: fn($key) -> bool = $is_nan;
            let from_key: fn($key) -> StatValue = $from_key;
            let fill_key = fill.map(to_key);
            let (has_fill, fk) = (fill_key.is_some(), fill_key.unwrap_or(<$key>::MIN));
            let fill_nan = has_fill && is_nan(fk);
            let (mut lo, mut hi) = (<$key>::MAX, <$key>::MIN);
            let (mut nulls, mut valid) = (0usize, 0usize);
            let step = |x: $key, acc: &mut Lanes<$key>, i: usize| {
                let nan = is_nan(x);
                let null = has_fill & ((x == fk) | (nan & fill_nan));
                let ok = !(nan | null);
                if let (Some(n), Some(v), Some(l), Some(h)) = (
                    acc.nulls.get_mut(i),
                    acc.valid.get_mut(i),
                    acc.lo.get_mut(i),
                    acc.hi.get_mut(i),
                ) {
                    *n += u32::from(null);
                    *v += u32::from(ok);
                    *l = (*l).min(if ok { x } else { <$key>::MAX });
                    *h = (*h).max(if ok { x } else { <$key>::MIN });
                }
            };
            for block in values.chunks(BLOCK) {
                let mut acc = Lanes {
                    lo: [<$key>::MAX; LANES],
                    hi: [<$key>::MIN; LANES],
                    nulls: [0; LANES],
                    valid: [0; LANES],
                };
                let mut groups = block.chunks_exact(LANES);
                for group in &mut groups {
                    for (i, &x) in group.iter().enumerate() {
                        step(to_key(x), &mut acc, i);
                    }
                }
                for (i, &x) in groups.remainder().iter().enumerate() {
                    step(to_key(x), &mut acc, i);
                }
                lo = acc.lo.iter().fold(lo, |a, &b| a.min(b));
                hi = acc.hi.iter().fold(hi, |a, &b| a.max(b));
                nulls += acc.nulls.iter().map(|&n| n as usize).sum::<usize>();
                valid += acc.valid.iter().map(|&n| n as usize).sum::<usize>();
            }
            finish(nulls, valid, from_key(lo), from_key(hi))
        }
    };
}

macro_rules! int_kernel {
    ($name:ident, $ty:ty) => {
        kernel!($name, $ty, $ty, |x| x, |k| k.to_stat(), |_| false);
    };
}

int_kernel!(stats_i8, i8);
int_kernel!(stats_i16, i16);
int_kernel!(stats_i32, i32);
int_kernel!(stats_i64, i64);
int_kernel!(stats_u8, u8);
int_kernel!(stats_u16, u16);
int_kernel!(stats_u32, u32);
int_kernel!(stats_u64, u64);

/// `total_cmp`'s key of a float's bits: the sign-magnitude bits as a two's
/// complement integer of the same order. Applied twice it gives the bits
/// back.
macro_rules! total_key {
    ($k:expr, $bits:ty, $key:ty) => {{
        let k: $key = $k;
        k ^ ((((k >> (<$key>::BITS - 1)) as $bits) >> 1) as $key)
    }};
}

/// NaN keys lie outside those of the infinities.
macro_rules! float_kernel {
    ($name:ident, $ty:ty, $bits:ty, $key:ty) => {
        kernel!(
            $name,
            $ty,
            $key,
            |x| total_key!(x.to_bits() as $key, $bits, $key),
            |k| <$ty>::from_bits(total_key!(k, $bits, $key) as $bits).to_stat(),
            |k| {
                k < total_key!(<$ty>::NEG_INFINITY.to_bits() as $key, $bits, $key)
                    || k > total_key!(<$ty>::INFINITY.to_bits() as $key, $bits, $key)
            }
        );
    };
}

float_kernel!(stats_f32, f32, u32, i32);
float_kernel!(stats_f64, f64, u64, i64);

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::generic_stats;
    use super::*;
    use proptest::prelude::*;

    fn same<T: ArrayElement>(values: &[T], fill: Option<&T>) {
        let fast = numeric_stats(values, fill).unwrap();
        assert_eq!(
            fast,
            generic_stats(values, fill),
            "{values:?} fill {fill:?}"
        );
    }

    /// Floats from raw bits, so NaN payloads, both zeros, infinities and
    /// subnormals all occur; a few values repeat so that fills match.
    fn f32s() -> impl Strategy<Value = Vec<f32>> {
        let special = prop::sample::select(vec![
            0.0f32,
            -0.0,
            f32::NAN,
            -f32::NAN,
            f32::from_bits(0x7fc0_0001),
            f32::INFINITY,
            f32::NEG_INFINITY,
            1.5,
            -1.5,
            f32::MIN_POSITIVE / 2.0,
        ]);
        prop::collection::vec(
            prop_oneof![special, any::<u32>().prop_map(f32::from_bits)],
            0..40,
        )
    }

    proptest! {
        #[test]
        fn floats_match_the_generic_loop(v in f32s(), pick in any::<prop::sample::Index>(), fill in any::<bool>()) {
            let f = if fill && !v.is_empty() { Some(v[pick.index(v.len())]) } else { None };
            same(&v, f.as_ref());
            same(&v, Some(&f32::NAN));
            let wide: Vec<f64> = v.iter().map(|&x| f64::from(x)).collect();
            same(&wide, f.map(f64::from).as_ref());
            same(&wide, Some(&f64::NAN));
        }

        #[test]
        fn integers_match_the_generic_loop(v in prop::collection::vec(any::<i64>(), 0..40), pick in any::<prop::sample::Index>(), fill in any::<bool>()) {
            let f = if fill && !v.is_empty() { Some(v[pick.index(v.len())]) } else { None };
            same(&v, f.as_ref());
            let small: Vec<i8> = v.iter().map(|&x| (x % 4) as i8).collect();
            same(&small, f.map(|x| (x % 4) as i8).as_ref());
            let unsigned: Vec<u64> = v.iter().map(|&x| x as u64).collect();
            same(&unsigned, f.map(|x| x as u64).as_ref());
            let u16s: Vec<u16> = v.iter().map(|&x| x as u16).collect();
            same(&u16s, None);
        }
    }

    #[test]
    fn extremes_and_all_null_chunks() {
        same(&[i32::MAX, i32::MIN], None);
        same(&[i32::MAX, i32::MAX], Some(&i32::MAX));
        same(&[u8::MAX], Some(&0));
        same::<f32>(&[], None);
        same(&[f32::NAN, -f32::NAN], None);
        same(&[-0.0f32, 0.0], None);
        same(&[0.0f32, -0.0], Some(&0.0));
        assert!(numeric_stats(&[true], None).is_none());
        assert!(numeric_stats(&[crate::TimestampNs(3)], None).is_none());
    }
}
