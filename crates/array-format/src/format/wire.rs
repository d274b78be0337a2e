//! Primitive encodings of the footer: little-endian integers, LEB128 varints,
//! length-prefixed bytes. The reader bounds-checks every read and every
//! count before anything is allocated.

/// Appends encoded values to a buffer.
#[derive(Default)]
pub(crate) struct WireWriter {
    buf: Vec<u8>,
}

impl WireWriter {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    pub(crate) fn into_inner(self) -> Vec<u8> {
        self.buf
    }

    /// The bytes written so far.
    pub(crate) fn as_slice(&self) -> &[u8] {
        &self.buf
    }

    /// Empties the buffer, keeping its capacity.
    pub(crate) fn clear(&mut self) {
        self.buf.clear();
    }

    pub(crate) fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }

    pub(crate) fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    pub(crate) fn u64_fixed(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    pub(crate) fn raw(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }

    /// Unsigned LEB128.
    pub(crate) fn var(&mut self, mut v: u64) {
        loop {
            let byte = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                self.buf.push(byte);
                return;
            }
            self.buf.push(byte | 0x80);
        }
    }

    /// A `usize` as a varint (lossless on every supported platform).
    pub(crate) fn len(&mut self, v: usize) {
        self.var(v as u64);
    }

    /// Zigzag-encoded signed varint.
    pub(crate) fn ivar(&mut self, v: i64) {
        self.var(((v << 1) ^ (v >> 63)) as u64);
    }

    pub(crate) fn f64(&mut self, v: f64) {
        self.u64_fixed(v.to_bits());
    }

    pub(crate) fn bytes(&mut self, b: &[u8]) {
        self.len(b.len());
        self.raw(b);
    }

    pub(crate) fn str(&mut self, s: &str) {
        self.bytes(s.as_bytes());
    }
}

/// Reads encoded values; every error names the byte offset.
pub(crate) struct WireReader<'a> {
    buf: &'a [u8],
    pos: usize,
}

/// A decoding failure: what was being read and where.
pub(crate) type WireResult<T> = std::result::Result<T, String>;

impl<'a> WireReader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// A reader of `buf` positioned at `pos` (offsets in errors stay
    /// offsets in `buf`).
    pub(crate) fn at(buf: &'a [u8], pos: usize) -> Self {
        Self { buf, pos }
    }

    pub(crate) fn position(&self) -> usize {
        self.pos
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    // Footers of many arrays are millions of these reads: the hot ones are
    // inlined, and every error message is built out of line.

    #[inline]
    pub(crate) fn take(&mut self, n: usize, what: &str) -> WireResult<&'a [u8]> {
        match self
            .pos
            .checked_add(n)
            .and_then(|end| Some((end, self.buf.get(self.pos..end)?)))
        {
            Some((end, s)) => {
                self.pos = end;
                Ok(s)
            }
            None => Err(self.short(n, what)),
        }
    }

    #[cold]
    fn short(&self, n: usize, what: &str) -> String {
        format!(
            "{what}: needs {n} bytes at footer offset {}, only {} left",
            self.pos,
            self.remaining()
        )
    }

    #[inline]
    fn array<const N: usize>(&mut self, what: &str) -> WireResult<[u8; N]> {
        let s = self.take(N, what)?;
        <[u8; N]>::try_from(s).map_err(|_| format!("{what}: short read"))
    }

    #[inline]
    pub(crate) fn u8(&mut self, what: &str) -> WireResult<u8> {
        match self.buf.get(self.pos) {
            Some(&b) => {
                self.pos += 1;
                Ok(b)
            }
            None => Err(self.short(1, what)),
        }
    }

    pub(crate) fn u32(&mut self, what: &str) -> WireResult<u32> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    pub(crate) fn u64_fixed(&mut self, what: &str) -> WireResult<u64> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    pub(crate) fn id(&mut self, what: &str) -> WireResult<[u8; 16]> {
        self.array(what)
    }

    /// An unsigned LEB128 varint.
    #[inline]
    pub(crate) fn var(&mut self, what: &str) -> WireResult<u64> {
        // Most varints in a footer (lengths, indices, layer numbers) are one
        // byte.
        if let Some(&b) = self.buf.get(self.pos)
            && b < 0x80
        {
            self.pos += 1;
            return Ok(u64::from(b));
        }
        self.var_long(what)
    }

    fn var_long(&mut self, what: &str) -> WireResult<u64> {
        let start = self.pos;
        let mut v: u64 = 0;
        for i in 0..10u32 {
            let byte = self.u8(what)?;
            let bits = u64::from(byte & 0x7f);
            if i == 9 && bits > 1 {
                return Err(format!(
                    "{what}: varint at footer offset {start} overflows u64"
                ));
            }
            v |= bits << (7 * i);
            if byte & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(format!(
            "{what}: varint at footer offset {start} is longer than 10 bytes"
        ))
    }

    pub(crate) fn ivar(&mut self, what: &str) -> WireResult<i64> {
        let u = self.var(what)?;
        Ok(((u >> 1) as i64) ^ -((u & 1) as i64))
    }

    pub(crate) fn f64(&mut self, what: &str) -> WireResult<f64> {
        Ok(f64::from_bits(self.u64_fixed(what)?))
    }

    /// A varint that must fit `usize` and not exceed `max`.
    #[inline]
    pub(crate) fn bounded(&mut self, max: u64, what: &str) -> WireResult<usize> {
        let v = self.var(what)?;
        match usize::try_from(v) {
            Ok(n) if v <= max => Ok(n),
            _ => Err(too_large(v, max, what)),
        }
    }

    /// An element count; each element takes at least `min_size` bytes, so a
    /// count larger than the remaining bytes allow is rejected before any
    /// allocation.
    #[inline]
    pub(crate) fn count(&mut self, min_size: usize, what: &str) -> WireResult<usize> {
        let max = self.remaining() / min_size.max(1);
        self.bounded(max as u64, what)
    }

    #[inline]
    pub(crate) fn bytes(&mut self, what: &str) -> WireResult<&'a [u8]> {
        let n = self.count(1, what)?;
        self.take(n, what)
    }

    /// A string, borrowed.
    #[inline]
    pub(crate) fn str(&mut self, what: &str) -> WireResult<&'a str> {
        let at = self.pos;
        let b = self.bytes(what)?;
        std::str::from_utf8(b).map_err(|_| not_utf8(at, what))
    }

    pub(crate) fn string(&mut self, what: &str) -> WireResult<String> {
        self.str(what).map(str::to_owned)
    }
}

#[cold]
fn too_large(v: u64, max: u64, what: &str) -> String {
    if v > max {
        format!("{what} is {v}, above the limit {max}")
    } else {
        format!("{what} {v} does not fit in memory")
    }
}

#[cold]
fn not_utf8(at: usize, what: &str) -> String {
    format!("{what} at footer offset {at} is not UTF-8")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip_at_the_edges() {
        let values = [
            0u64,
            1,
            127,
            128,
            300,
            u32::MAX as u64,
            u64::MAX - 1,
            u64::MAX,
        ];
        let ints = [0i64, -1, 1, i64::MIN, i64::MAX, -300];
        let mut w = WireWriter::new();
        for v in values {
            w.var(v);
        }
        for v in ints {
            w.ivar(v);
        }
        w.str("héllo");
        let buf = w.into_inner();
        let mut r = WireReader::new(&buf);
        for v in values {
            assert_eq!(r.var("v").unwrap(), v);
        }
        for v in ints {
            assert_eq!(r.ivar("i").unwrap(), v);
        }
        assert_eq!(r.string("s").unwrap(), "héllo");
        assert!(r.is_empty());
    }

    #[test]
    fn malformed_input_is_rejected() {
        // Eleven continuation bytes.
        assert!(WireReader::new(&[0xff; 11]).var("v").is_err());
        // Tenth byte with more than one bit overflows.
        let mut over = vec![0xffu8; 9];
        over.push(0x02);
        assert!(WireReader::new(&over).var("v").is_err());
        // Truncated.
        assert!(WireReader::new(&[0x80]).var("v").is_err());
        // A length larger than what is left.
        assert!(WireReader::new(&[5, 1, 2]).bytes("b").is_err());
        // A count that cannot fit the remaining bytes.
        assert!(WireReader::new(&[200, 0]).count(1, "c").is_err());
        // Invalid UTF-8.
        assert!(WireReader::new(&[1, 0xff]).string("s").is_err());
        assert!(WireReader::new(&[]).u32("u").is_err());
    }
}
