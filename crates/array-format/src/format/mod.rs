//! The on-disk encoding, and nothing else: trailer, footer, block and frame
//! tables, chunk addresses, checksums and version checks.
//!
//! A layer object is `[frames][footer][trailer]`. `docs/FORMAT.md` is the
//! specification; this module is its implementation and uses nothing from the
//! rest of the crate but plain value types.

pub(crate) mod blocks;
mod encode;
pub(crate) mod footer;
pub(crate) mod records;
mod sections;
pub(crate) mod tables;
pub(crate) mod trailer;
mod values;
pub(crate) mod wire;

pub(crate) use blocks::ObjectEntry;
pub(crate) use footer::{
    ArrayDef, ArrayRecord, AttrRecord, BlockEntry, ChunkRecord, Footer, FrameEntry, Id,
    LayerHeader, LayerKind, RecordOp,
};
pub(crate) use records::{DefParts, Names, Op, RecordHead, RecordTable, RecordVisitor};
pub(crate) use tables::FooterTables;
pub(crate) use trailer::{TRAILER_LEN, Trailer, TrailerError};

use crate::error::{Error, Result};

/// Largest decompressed frame: a frame holds one chunk (at most
/// `MAX_CHUNK_BYTES`) or several small ones, so anything larger is damage,
/// and bounding it keeps a crafted file from forcing a huge allocation.
pub(crate) const MAX_FRAME_RAW_LEN: u64 = u32::MAX as u64;

/// Largest frame that may hold bytes no chunk record points at: writers
/// pack small chunks into frames of at most this size (the frame target is
/// capped to it), and a frame holding one large chunk ends where the chunk
/// ends. Together with the chunk size limit this keeps a crafted footer from
/// making a reader allocate more than the data it describes.
pub(crate) const MAX_PACKED_FRAME: u64 = 64 * 1024 * 1024;

pub use crate::version::{FORMAT_VERSION, MIN_FORMAT_VERSION};

/// Footers larger than this are rejected before allocation; a footer of this
/// size already describes tens of millions of chunks.
pub(crate) const MAX_FOOTER_LEN: u64 = 1 << 32;

/// Checks the trailer found at the end of an object of `object_size` bytes
/// and returns it with the byte range of the footer.
pub(crate) fn check_trailer(
    bytes: [u8; TRAILER_LEN],
    object_size: u64,
    path: &str,
) -> Result<(Trailer, std::ops::Range<u64>)> {
    let trailer = Trailer::try_from(bytes).map_err(|e| match e {
        TrailerError::Version(found) => Error::UnsupportedVersion {
            path: path.to_owned(),
            found,
            supported: FORMAT_VERSION,
        },
        other => Error::corrupted(path, other.to_string()),
    })?;
    let room = object_size - TRAILER_LEN as u64;
    if trailer.footer_len > room {
        return Err(Error::corrupted(
            path,
            format!(
                "trailer declares a {}-byte footer but only {room} bytes precede the trailer",
                trailer.footer_len
            ),
        ));
    }
    if trailer.footer_len > MAX_FOOTER_LEN {
        return Err(Error::corrupted(
            path,
            format!(
                "trailer declares a {}-byte footer, above the {MAX_FOOTER_LEN}-byte limit",
                trailer.footer_len
            ),
        ));
    }
    let start = room - trailer.footer_len;
    Ok((trailer, start..room))
}

/// Verifies the footer's checksum and decodes everything before its array
/// records; [`RecordTable::walk`] checks the records.
pub(crate) fn decode_tables(
    bytes: &[u8],
    trailer: &Trailer,
    data_end: u64,
    path: &str,
) -> Result<FooterTables> {
    let crc = crc32c::crc32c(bytes);
    if crc != trailer.footer_crc {
        return Err(Error::corrupted(
            path,
            format!(
                "footer checksum mismatch (stored {:#010x}, computed {crc:#010x})",
                trailer.footer_crc
            ),
        ));
    }
    FooterTables::decode(bytes, data_end, trailer.version)
        .map_err(|what| Error::corrupted(path, format!("footer: {what}")))
}

/// Encodes `footer` followed by its trailer.
pub(crate) fn encode_tail(footer: &Footer) -> Vec<u8> {
    let mut out = footer.encode();
    let trailer = Trailer::new(out.len() as u64, crc32c::crc32c(&out));
    out.extend_from_slice(&trailer.encode());
    out
}

/// Checks a frame's stored bytes against its checksum.
pub(crate) fn check_frame(
    bytes: &[u8],
    frame: &FrameEntry,
    index: usize,
    path: &str,
) -> Result<()> {
    if bytes.len() as u64 != frame.stored_len {
        return Err(Error::corrupted(
            path,
            format!(
                "frame {index}: read {} bytes at offset {}, expected {}",
                bytes.len(),
                frame.offset,
                frame.stored_len
            ),
        ));
    }
    let crc = crc32c::crc32c(bytes);
    if crc != frame.crc {
        return Err(Error::corrupted(
            path,
            format!(
                "frame {index} ({} bytes at offset {}): checksum mismatch (stored {:#010x}, computed {crc:#010x})",
                frame.stored_len, frame.offset, frame.crc
            ),
        ));
    }
    Ok(())
}
