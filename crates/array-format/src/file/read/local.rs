//! Frames of a local directory read by system call (`pread`) into the
//! thread's read buffer: microseconds per frame, so the pool thread that
//! decodes a frame reads it too.

use super::*;

/// Runs `use_stored` on the checked stored bytes of `frame` of a local file
/// read directly, read with `pread` into this thread's read buffer.
pub(super) fn with_stored_by_system_call<R>(
    reader: &LayerReader,
    store: &FileStore,
    frame: u32,
    use_stored: impl FnOnce(&[u8]) -> Result<R>,
) -> Result<R> {
    READ_SCRATCH.with_borrow_mut(|buf| {
        let done = match reader.read_stored_into(store, frame, buf) {
            Ok(true) => use_stored(buf),
            Ok(false) => Err(not_by_system_call(reader)),
            Err(e) => Err(e),
        };
        keep_ordinary(buf);
        done
    })
}

pub(super) fn not_by_system_call(reader: &LayerReader) -> Error {
    Error::InvalidOperation {
        operation: "read_array",
        reason: format!("{} is not read with system calls", reader.path),
    }
}

/// Reads whole frame `frame` of a local file read directly into its place
/// `dst` in the output, on the calling thread: an uncompressed frame
/// straight into place, a compressed one through this thread's read buffer.
pub(super) fn read_frame_by_system_call(
    reader: &LayerReader,
    store: &FileStore,
    frame: u32,
    dst: &mut [u8],
    codecs: &CodecSet,
) -> Result<()> {
    if reader.frame_codec(frame)? == "none" && reader.read_raw_by_system_call(store, frame, dst)? {
        return Ok(());
    }
    with_stored_by_system_call(reader, store, frame, |stored| {
        reader.decode_into(frame, stored, dst, codecs)
    })
}
