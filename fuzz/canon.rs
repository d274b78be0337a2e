// The canonical byte encoding of elements that the fuzz targets and the
// corruption tests compare reads with; both `include!` this file.

/// A canonical byte encoding of elements, so that reads can be compared
/// exactly (floats by bit pattern).
trait Canon {
    fn canon(&self, out: &mut Vec<u8>);
}

macro_rules! canon_le {
    ($($t:ty),*) => {
        $(impl Canon for $t {
            fn canon(&self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
        })*
    };
}

canon_le!(
    u8,
    u16,
    u32,
    u64,
    i8,
    i16,
    i32,
    i64,
    f32,
    f64,
    array_format::half::f16,
    array_format::half::bf16
);

impl<T: Canon> Canon for array_format::num_complex::Complex<T> {
    fn canon(&self, out: &mut Vec<u8>) {
        self.re.canon(out);
        self.im.canon(out);
    }
}

impl Canon for bool {
    fn canon(&self, out: &mut Vec<u8>) {
        out.push(u8::from(*self));
    }
}

impl Canon for String {
    fn canon(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&(self.len() as u64).to_le_bytes());
        out.extend_from_slice(self.as_bytes());
    }
}

impl Canon for Vec<u8> {
    fn canon(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&(self.len() as u64).to_le_bytes());
        out.extend_from_slice(self);
    }
}

impl Canon for array_format::TimestampNs {
    fn canon(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.0.to_le_bytes());
    }
}
