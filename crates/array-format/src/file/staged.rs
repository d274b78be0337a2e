//! [`StagedPart`]: the small description of a staged part that a worker
//! hands its coordinator, and its byte encoding (`docs/FORMAT.md` 13.7).
//!
//! ```text
//! offset size field
//!      0    8 magic        b"AFSTAGED"
//!      8    2 version      u16 LE, 1
//!     10   16 dataset_id   the file's identity
//!     26   16 part_id      the part's identity (its footer's layer_id)
//!     42    8 size         u64 LE, the part object's size
//!     50    8 base         u64 LE, the layer the chunks were written against
//!     58    8 chunks       u64 LE, chunk records in the part
//!     66    2 name_len     u16 LE
//!     68    n name         UTF-8, the part's name relative to the base's directory
//!   68+n    4 crc32c       CRC-32C of bytes 0..68+n
//! ```

use crate::error::{Error, Result};
use crate::format::Id;

const MAGIC: [u8; 8] = *b"AFSTAGED";
const VERSION: u16 = 1;
const DATASET_AT: usize = MAGIC.len() + size_of::<u16>();
const PART_AT: usize = DATASET_AT + size_of::<Id>();
const SIZE_AT: usize = PART_AT + size_of::<Id>();
const BASE_AT: usize = SIZE_AT + size_of::<u64>();
const CHUNKS_AT: usize = BASE_AT + size_of::<u64>();
const NAME_LEN_AT: usize = CHUNKS_AT + size_of::<u64>();
const NAME_AT: usize = NAME_LEN_AT + size_of::<u16>();

const _: () = assert!(NAME_AT == 68);

/// Names a description in errors.
const DESCRIPTION: &str = "<staged part description>";

/// A staged part: chunk writes that [`stage`](crate::ArrayFile::stage)
/// wrote to an object no reader sees, until
/// [`commit_parts`](crate::ArrayFile::commit_parts) commits it, with
/// others, as one layer that adopts their frames where they are.
///
/// It is small (about 130 bytes as [`to_bytes`](Self::to_bytes) encodes
/// it) and needs no file to be decoded, so that workers can hand it to a
/// coordinator in another process.
///
/// ```
/// use array_format::{ArrayFile, FileConfig, Lz4Codec, StagedPart};
/// use ndarray::Array;
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let mut file = ArrayFile::create_memory(FileConfig::new(Lz4Codec)).await?;
/// file.define_array::<i32>("t", vec![], vec![8], Some(vec![4]), None)?;
/// file.flush().await?;
///
/// // A worker writes chunks and stages them: nothing is visible yet.
/// let data = Array::from_vec(vec![1i32, 2, 3, 4]).into_dyn();
/// file.write_array("t", vec![4], data.view()).await?;
/// let part = file.stage().await?;
/// let sent = part.to_bytes();
///
/// // The coordinator commits the parts of every worker as one layer.
/// let part = StagedPart::from_bytes(&sent)?;
/// assert!(part.path().starts_with("memory.parts/"));
/// file.commit_parts(&[part]).await?;
/// let t = file.read_array::<i32>("t", vec![4], vec![4]).await?;
/// assert_eq!(t.as_slice(), Some(&[1, 2, 3, 4][..]));
/// # Ok::<(), array_format::Error>(()) }).unwrap();
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StagedPart {
    pub(crate) dataset_id: Id,
    pub(crate) part_id: Id,
    pub(crate) size: u64,
    pub(crate) base: u64,
    pub(crate) chunks: u64,
    pub(crate) name: String,
}

impl StagedPart {
    /// The part's object name relative to the directory of the file's base:
    /// `{name}.parts/{32 hex digits}.af` for a file `{name}.af`.
    pub fn path(&self) -> &str {
        &self.name
    }

    /// The size of the part object in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The layer the part's chunks were written against: the newest layer
    /// of the staging handle's view.
    pub fn base_layer(&self) -> u64 {
        self.base
    }

    /// How many chunks the part holds.
    pub fn chunk_count(&self) -> u64 {
        self.chunks
    }

    /// The description as bytes, for [`from_bytes`](Self::from_bytes) in
    /// another process.
    pub fn to_bytes(&self) -> Vec<u8> {
        let name = self.name.as_bytes();
        let name_len = u16::try_from(name.len()).unwrap_or(u16::MAX);
        let name = name.get(..usize::from(name_len)).unwrap_or_default();
        let mut out = Vec::with_capacity(NAME_AT + name.len() + 4);
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&self.dataset_id);
        out.extend_from_slice(&self.part_id);
        out.extend_from_slice(&self.size.to_le_bytes());
        out.extend_from_slice(&self.base.to_le_bytes());
        out.extend_from_slice(&self.chunks.to_le_bytes());
        out.extend_from_slice(&name_len.to_le_bytes());
        out.extend_from_slice(name);
        let crc = crc32c::crc32c(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    /// Decodes a description made by [`to_bytes`](Self::to_bytes).
    ///
    /// Errors: [`Error::Corrupted`] for bytes that are not one (damaged,
    /// truncated, another encoding version).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let bad = |what: &str| Error::corrupted(DESCRIPTION, what);
        let field = |at: usize, len: usize| {
            bytes
                .get(at..at + len)
                .ok_or_else(|| bad("too short for a staged part description"))
        };
        if field(0, MAGIC.len())? != MAGIC {
            return Err(bad("not a staged part description (magic)"));
        }
        let (body, crc) = bytes
            .split_last_chunk::<4>()
            .ok_or_else(|| bad("too short for a staged part description"))?;
        let computed = crc32c::crc32c(body);
        if u32::from_le_bytes(*crc) != computed {
            return Err(bad("checksum mismatch"));
        }
        let u16_at = |at| Ok::<_, Error>(u16::from_le_bytes(array(field(at, 2)?)));
        let u64_at = |at| Ok::<_, Error>(u64::from_le_bytes(array(field(at, 8)?)));
        let version = u16_at(MAGIC.len())?;
        if version != VERSION {
            return Err(bad(&format!(
                "description version {version}; this build reads version {VERSION}"
            )));
        }
        let name_len = usize::from(u16_at(NAME_LEN_AT)?);
        if body.len() != NAME_AT + name_len {
            return Err(bad("the name's length does not match the description's"));
        }
        let name = std::str::from_utf8(field(NAME_AT, name_len)?)
            .map_err(|_| bad("the name is not UTF-8"))?;
        Ok(Self {
            dataset_id: array(field(DATASET_AT, 16)?),
            part_id: array(field(PART_AT, 16)?),
            size: u64_at(SIZE_AT)?,
            base: u64_at(BASE_AT)?,
            chunks: u64_at(CHUNKS_AT)?,
            name: name.to_owned(),
        })
    }
}

/// The first `N` bytes of `b` (zero-padded if shorter, which callers rule
/// out).
fn array<const N: usize>(b: &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    for (o, i) in out.iter_mut().zip(b) {
        *o = *i;
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn sample() -> StagedPart {
        StagedPart {
            dataset_id: [1; 16],
            part_id: [2; 16],
            size: 12345,
            base: 7,
            chunks: 3,
            name: "data.parts/02020202020202020202020202020202.af".into(),
        }
    }

    #[test]
    fn round_trip_and_exact_layout() {
        let p = sample();
        let b = p.to_bytes();
        assert_eq!(b.len(), NAME_AT + p.name.len() + 4);
        assert_eq!(&b[..8], b"AFSTAGED");
        assert_eq!(&b[8..10], &[1, 0]);
        assert_eq!(&b[SIZE_AT..SIZE_AT + 8], &12345u64.to_le_bytes());
        assert_eq!(StagedPart::from_bytes(&b).unwrap(), p);
    }

    #[test]
    fn every_flip_and_truncation_is_an_error() {
        let b = sample().to_bytes();
        for i in 0..b.len() {
            let mut c = b.clone();
            c[i] ^= 0x10;
            let e = StagedPart::from_bytes(&c).unwrap_err();
            assert!(matches!(e, Error::Corrupted { .. }), "{e}");
        }
        for len in 0..b.len() {
            assert!(StagedPart::from_bytes(&b[..len]).is_err(), "len {len}");
        }
        let mut longer = b.clone();
        longer.push(0);
        assert!(StagedPart::from_bytes(&longer).is_err());
    }
}
