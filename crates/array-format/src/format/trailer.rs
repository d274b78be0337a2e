//! The fixed-size trailer at the end of every layer object.
//!
//! ```text
//! offset size field
//!      0    8 footer_len       u64 LE, bytes of the footer just before the trailer
//!      8    4 footer_crc32c    u32 LE, CRC-32C of the footer bytes
//!     12    2 format_version   u16 LE
//!     14    2 flags            u16 LE, must be 0 (versions 2 to 6)
//!     16    4 trailer_crc32c   u32 LE, CRC-32C of bytes 0..16
//!     20    4 reserved         must be 0
//!     24    8 magic            b"ARRAYFMT"
//! ```

use super::{FORMAT_VERSION, MIN_FORMAT_VERSION};

/// The magic bytes that end every layer object.
pub(crate) const MAGIC: [u8; 8] = *b"ARRAYFMT";

const FOOTER_LEN_AT: usize = 0;
const FOOTER_CRC_AT: usize = FOOTER_LEN_AT + size_of::<u64>();
const VERSION_AT: usize = FOOTER_CRC_AT + size_of::<u32>();
const FLAGS_AT: usize = VERSION_AT + size_of::<u16>();
const TRAILER_CRC_AT: usize = FLAGS_AT + size_of::<u16>();
const RESERVED_AT: usize = TRAILER_CRC_AT + size_of::<u32>();
const MAGIC_AT: usize = RESERVED_AT + size_of::<u32>();

/// Size of the trailer in bytes.
pub(crate) const TRAILER_LEN: usize = MAGIC_AT + MAGIC.len();

const _: () = assert!(TRAILER_LEN == 32);

/// Why a trailer was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TrailerError {
    /// Not this format at all.
    BadMagic,
    /// The trailer's own checksum does not match.
    Checksum,
    /// A version this build cannot read.
    Version(u16),
    /// Flags or reserved bytes set that no version defines.
    Reserved,
}

impl std::fmt::Display for TrailerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TrailerError::BadMagic => {
                f.write_str("trailer magic is not ARRAYFMT: not an array-format layer")
            }
            TrailerError::Checksum => f.write_str("trailer checksum mismatch"),
            TrailerError::Version(v) => write!(f, "format version {v}"),
            TrailerError::Reserved => f.write_str("trailer flags or reserved bytes are set"),
        }
    }
}

/// The decoded trailer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Trailer {
    /// Length of the footer that precedes the trailer.
    pub(crate) footer_len: u64,
    /// CRC-32C of the footer.
    pub(crate) footer_crc: u32,
    /// The format version the layer was written in.
    pub(crate) version: u16,
}

fn field<const N: usize>(b: &[u8; TRAILER_LEN], at: usize) -> [u8; N] {
    let mut out = [0u8; N];
    for (i, o) in out.iter_mut().enumerate() {
        *o = b.get(at + i).copied().unwrap_or(0);
    }
    out
}

fn put(out: &mut [u8; TRAILER_LEN], at: usize, bytes: &[u8]) {
    for (i, b) in bytes.iter().enumerate() {
        if let Some(slot) = out.get_mut(at + i) {
            *slot = *b;
        }
    }
}

impl Trailer {
    /// A trailer of the version this build writes.
    pub(crate) fn new(footer_len: u64, footer_crc: u32) -> Self {
        Self {
            footer_len,
            footer_crc,
            version: FORMAT_VERSION,
        }
    }

    /// Encodes the trailer.
    pub(crate) fn encode(&self) -> [u8; TRAILER_LEN] {
        let mut out = [0u8; TRAILER_LEN];
        put(&mut out, FOOTER_LEN_AT, &self.footer_len.to_le_bytes());
        put(&mut out, FOOTER_CRC_AT, &self.footer_crc.to_le_bytes());
        put(&mut out, VERSION_AT, &self.version.to_le_bytes());
        put(&mut out, FLAGS_AT, &0u16.to_le_bytes());
        put(&mut out, RESERVED_AT, &0u32.to_le_bytes());
        put(&mut out, MAGIC_AT, &MAGIC);
        let crc = crc32c::crc32c(out.get(..TRAILER_CRC_AT).unwrap_or(&[]));
        put(&mut out, TRAILER_CRC_AT, &crc.to_le_bytes());
        out
    }
}

impl TryFrom<[u8; TRAILER_LEN]> for Trailer {
    type Error = TrailerError;

    /// Checks magic first (so foreign files say so), then the trailer
    /// checksum, then the version; `exact_bytes` in the tests shows the
    /// encoding byte by byte.
    fn try_from(b: [u8; TRAILER_LEN]) -> Result<Self, TrailerError> {
        if field::<8>(&b, MAGIC_AT) != MAGIC {
            return Err(TrailerError::BadMagic);
        }
        let stored = u32::from_le_bytes(field(&b, TRAILER_CRC_AT));
        if crc32c::crc32c(b.get(..TRAILER_CRC_AT).unwrap_or(&[])) != stored {
            return Err(TrailerError::Checksum);
        }
        let version = u16::from_le_bytes(field(&b, VERSION_AT));
        if !(MIN_FORMAT_VERSION..=FORMAT_VERSION).contains(&version) {
            return Err(TrailerError::Version(version));
        }
        if u16::from_le_bytes(field(&b, FLAGS_AT)) != 0
            || u32::from_le_bytes(field(&b, RESERVED_AT)) != 0
        {
            return Err(TrailerError::Reserved);
        }
        Ok(Trailer {
            footer_len: u64::from_le_bytes(field(&b, FOOTER_LEN_AT)),
            footer_crc: u32::from_le_bytes(field(&b, FOOTER_CRC_AT)),
            version,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn exact_bytes() {
        let t = Trailer::new(0x0102, 0xAABBCCDD);
        let b = t.encode();
        assert_eq!(&b[0..8], &[0x02, 0x01, 0, 0, 0, 0, 0, 0]);
        assert_eq!(&b[8..12], &[0xDD, 0xCC, 0xBB, 0xAA]);
        assert_eq!(&b[12..14], &FORMAT_VERSION.to_le_bytes());
        assert_eq!(&b[14..16], &[0, 0]);
        assert_eq!(&b[20..24], &[0, 0, 0, 0]);
        assert_eq!(&b[24..32], b"ARRAYFMT");
        assert_eq!(Trailer::try_from(b), Ok(t));
    }

    #[test]
    fn every_single_byte_flip_is_detected() {
        let b = Trailer::new(77, 5).encode();
        for i in 0..TRAILER_LEN {
            for bit in 0..8 {
                let mut c = b;
                c[i] ^= 1 << bit;
                assert!(Trailer::try_from(c).is_err(), "flip of byte {i} bit {bit}");
            }
        }
    }

    #[test]
    fn foreign_and_future_files() {
        assert_eq!(
            Trailer::try_from([0u8; TRAILER_LEN]),
            Err(TrailerError::BadMagic)
        );
        let with_version = |v: u16| {
            Trailer {
                version: v,
                ..Trailer::new(1, 2)
            }
            .encode()
        };
        for v in [0, 1, FORMAT_VERSION + 1, 9] {
            assert_eq!(
                Trailer::try_from(with_version(v)),
                Err(TrailerError::Version(v))
            );
        }
        for v in MIN_FORMAT_VERSION..=FORMAT_VERSION {
            assert_eq!(Trailer::try_from(with_version(v)).map(|t| t.version), Ok(v));
        }
    }
}
