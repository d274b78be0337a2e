//! The filters' transforms: byte shuffle and delta over a frame's bytes
//! (reversed on read), and bit rounding of float values (applied as they
//! are written, never reversed).
//!
//! Frames hold whole elements of one width, so the byte filters work on a
//! frame as one sequence of `width`-byte little-endian elements; bytes past
//! the last whole element (a frame never has any, but a damaged one might)
//! are kept as they are.

/// A filter that runs on a frame's bytes, with the element width it was
/// resolved for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ByteFilter {
    /// Differences of `width`-byte integers.
    Delta(usize),
    /// Byte `j` of every `width`-byte element, for `j` in order.
    Shuffle(usize),
}

impl ByteFilter {
    /// The name blocks record for it: `delta:W`, `shuffle:W`.
    pub(crate) fn block_name(&self) -> String {
        match self {
            ByteFilter::Delta(w) => format!("delta:{w}"),
            ByteFilter::Shuffle(w) => format!("shuffle:{w}"),
        }
    }

    /// The filter a block name part names, if any.
    pub(crate) fn from_block_name(part: &str) -> Option<ByteFilter> {
        let (name, width) = part.split_once(':')?;
        let width: usize = width.parse().ok()?;
        match (name, width) {
            ("delta", 1 | 2 | 4 | 8) => Some(ByteFilter::Delta(width)),
            ("shuffle", 2..=16) => Some(ByteFilter::Shuffle(width)),
            _ => None,
        }
    }

    /// Transforms `data` for storage into `out` (cleared first).
    pub(crate) fn encode(&self, data: &[u8], out: &mut Vec<u8>) {
        out.clear();
        out.extend_from_slice(data);
        match *self {
            ByteFilter::Delta(w) => delta_encode(out, w),
            ByteFilter::Shuffle(w) => shuffle(data, out, w),
        }
    }

    /// Reverses [`encode`](Self::encode) in place, with `scratch` as room.
    pub(crate) fn decode(&self, data: &mut [u8], scratch: &mut Vec<u8>) {
        match *self {
            ByteFilter::Delta(w) => delta_decode(data, w),
            ByteFilter::Shuffle(w) => {
                scratch.clear();
                scratch.extend_from_slice(data);
                unshuffle(scratch, data, w);
            }
        }
    }
}

/// `out[j * n + i] = data[i * w + j]` for the `n` whole elements; `out`
/// already holds a copy of `data`, so the tail stays.
fn shuffle(data: &[u8], out: &mut [u8], w: usize) {
    let n = data.len() / w;
    for (i, element) in data.chunks_exact(w).enumerate() {
        for (j, &b) in element.iter().enumerate() {
            if let Some(o) = out.get_mut(j * n + i) {
                *o = b;
            }
        }
    }
}

/// The reverse of [`shuffle`]: `out` already holds a copy of `data`.
fn unshuffle(data: &[u8], out: &mut [u8], w: usize) {
    let n = data.len() / w;
    for (i, element) in out.chunks_exact_mut(w).enumerate() {
        for (j, o) in element.iter_mut().enumerate() {
            if let Some(&b) = data.get(j * n + i) {
                *o = b;
            }
        }
    }
}

macro_rules! delta_width {
    ($data:expr, $ty:ty, $encode:expr) => {{
        const W: usize = std::mem::size_of::<$ty>();
        let mut previous: $ty = 0;
        for chunk in $data.chunks_exact_mut(W) {
            let mut le = [0u8; W];
            le.copy_from_slice(chunk);
            let v = <$ty>::from_le_bytes(le);
            let stored = if $encode {
                let d = v.wrapping_sub(previous);
                previous = v;
                d
            } else {
                previous = previous.wrapping_add(v);
                previous
            };
            chunk.copy_from_slice(&stored.to_le_bytes());
        }
    }};
}

fn delta_encode(data: &mut [u8], w: usize) {
    match w {
        1 => delta_width!(data, u8, true),
        2 => delta_width!(data, u16, true),
        4 => delta_width!(data, u32, true),
        _ => delta_width!(data, u64, true),
    }
}

fn delta_decode(data: &mut [u8], w: usize) {
    match w {
        1 => delta_width!(data, u8, false),
        2 => delta_width!(data, u16, false),
        4 => delta_width!(data, u32, false),
        _ => delta_width!(data, u64, false),
    }
}

macro_rules! bit_round {
    ($name:ident, $float:ty, $bits:ty, $mantissa:expr) => {
        /// Keeps `keep_bits` mantissa bits of every finite value other than
        /// `fill`, rounding to nearest with ties to even (numcodecs'
        /// `BitRound`); a value that would round up to infinity is
        /// truncated instead, so no finite value becomes infinite.
        pub(crate) fn $name(values: &mut [$float], keep_bits: u8, fill: Option<$float>) {
            let drop = $mantissa.saturating_sub(u32::from(keep_bits));
            if drop == 0 {
                return;
            }
            let mask: $bits = !0 << drop;
            let half_minus_one: $bits = (1 << (drop - 1)) - 1;
            let fill = fill.map(<$float>::to_bits);
            for v in values.iter_mut() {
                let bits = v.to_bits();
                if !v.is_finite() || Some(bits) == fill {
                    continue;
                }
                let rounded = bits.wrapping_add(((bits >> drop) & 1) + half_minus_one) & mask;
                let r = <$float>::from_bits(rounded);
                *v = if r.is_finite() {
                    r
                } else {
                    <$float>::from_bits(bits & mask)
                };
            }
        }
    };
}

bit_round!(bit_round_bf16, half::bf16, u16, 7u32);
bit_round!(bit_round_f16, half::f16, u16, 10u32);
bit_round!(bit_round_f32, f32, u32, 23u32);
bit_round!(bit_round_f64, f64, u64, 52u32);

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn round_trip(f: ByteFilter, data: &[u8]) -> Vec<u8> {
        let mut stored = Vec::new();
        f.encode(data, &mut stored);
        assert_eq!(stored.len(), data.len());
        let mut back = stored.clone();
        f.decode(&mut back, &mut Vec::new());
        assert_eq!(back, data, "{f:?}");
        stored
    }

    #[test]
    fn shuffle_groups_bytes_by_position_and_reverses() {
        let data = [1u8, 2, 3, 4, 5, 6, 7, 8, 9];
        // Two 4-byte elements, then a tail byte kept in place.
        assert_eq!(
            round_trip(ByteFilter::Shuffle(4), &data),
            [1, 5, 2, 6, 3, 7, 4, 8, 9]
        );
        let long: Vec<u8> = (0..1000u32).map(|i| (i * 7 % 251) as u8).collect();
        for w in [2, 3, 4, 8, 16] {
            round_trip(ByteFilter::Shuffle(w), &long);
        }
        round_trip(ByteFilter::Shuffle(8), &[]);
    }

    #[test]
    fn delta_stores_wrapping_differences_and_reverses() {
        let v: Vec<u8> = [10i32, 12, 11, i32::MAX, i32::MIN]
            .iter()
            .flat_map(|x| x.to_le_bytes())
            .collect();
        let stored = round_trip(ByteFilter::Delta(4), &v);
        let d: Vec<i32> = stored
            .chunks_exact(4)
            .map(|c| i32::from_le_bytes(c.try_into().unwrap()))
            .collect();
        assert_eq!(d, [10, 2, -1, i32::MAX - 11, 1]);
        let long: Vec<u8> = (0..999u32).map(|i| (i * 13 % 256) as u8).collect();
        for w in [1, 2, 4, 8] {
            round_trip(ByteFilter::Delta(w), &long);
        }
    }

    #[test]
    fn block_names_round_trip() {
        for f in [
            ByteFilter::Delta(1),
            ByteFilter::Delta(8),
            ByteFilter::Shuffle(2),
            ByteFilter::Shuffle(16),
        ] {
            assert_eq!(ByteFilter::from_block_name(&f.block_name()), Some(f));
        }
        for bad in [
            "delta:3",
            "shuffle:1",
            "shuffle:0",
            "shuffle",
            "delta:x",
            "lz4",
        ] {
            assert_eq!(ByteFilter::from_block_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn bit_rounding_keeps_the_asked_bits_to_nearest() {
        // 1 + 2^-23 (the smallest step above 1) rounds to 1 with 10 bits.
        let mut v = [
            1.0f32 + f32::EPSILON,
            1.5,
            -3.0e-5,
            f32::NAN,
            f32::INFINITY,
            f32::MAX,
            -1e34,
        ];
        bit_round_f32(&mut v, 10, Some(-1e34));
        assert_eq!(v[0], 1.0);
        assert_eq!(v[1], 1.5);
        assert!(v[3].is_nan() && v[4].is_infinite());
        assert!(v[5].is_finite(), "{}", v[5]);
        assert_eq!(v[6], -1e34, "the fill value is kept");
        assert_eq!(v[2].to_bits() & ((1 << 13) - 1), 0);
        assert!((v[2] - -3.0e-5).abs() <= 3.0e-5 * 2f32.powi(-11));
        // Ties go to even: 1 + 3 * 2^-11 with 10 bits kept is 1 + 2^-9.
        let mut t = [1.0f32 + 3.0 * 2f32.powi(-11)];
        bit_round_f32(&mut t, 10, None);
        assert_eq!(t[0], 1.0 + 2f32.powi(-9));
        // Keeping every bit changes nothing; rounding twice is rounding once.
        let mut w: Vec<f64> = (0..100).map(|i| (i as f64).sqrt() * 1.1e3).collect();
        let original = w.clone();
        bit_round_f64(&mut w, 52, None);
        assert_eq!(w, original);
        bit_round_f64(&mut w, 7, None);
        let once = w.clone();
        bit_round_f64(&mut w, 7, None);
        assert_eq!(w, once);
        for (r, o) in w.iter().zip(&original) {
            assert!((r - o).abs() <= o.abs() * 2f64.powi(-8), "{r} {o}");
        }
    }
}
