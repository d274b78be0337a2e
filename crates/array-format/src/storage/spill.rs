//! An anonymous temporary file that frames are appended to and read back from
//! by position, so that pending data never has to fit in memory.

use std::fs::File;
use std::io::Write;

use crate::error::{Error, Result};

/// Append-only temporary file with positional reads.
#[derive(Debug)]
pub(crate) struct SpillFile {
    file: File,
    len: u64,
}

#[cfg(unix)]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt;
    file.read_exact_at(buf, offset)
}

#[cfg(windows)]
fn read_at(file: &File, mut buf: &mut [u8], mut offset: u64) -> std::io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        match file.seek_read(buf, offset) {
            Ok(0) => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => {
                buf = &mut buf[n..];
                offset += n as u64;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

impl SpillFile {
    /// A new, empty spill file in the system temporary directory (`TMPDIR`).
    pub(crate) fn new() -> Result<Self> {
        let file = tempfile::tempfile().map_err(|e| Error::io("creating a spill file", e))?;
        Ok(Self { file, len: 0 })
    }

    /// Bytes written so far.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// Appends `data` and returns the offset it starts at.
    pub(crate) fn append(&mut self, data: &[u8]) -> Result<u64> {
        let at = self.len;
        self.file
            .write_all(data)
            .map_err(|e| Error::io("writing the spill file", e))?;
        self.len += data.len() as u64;
        Ok(at)
    }

    /// Reads `len` bytes at `offset`.
    pub(crate) fn read(&self, offset: u64, len: u64) -> Result<Vec<u8>> {
        let len = usize::try_from(len).map_err(|_| {
            Error::io(
                "reading the spill file",
                std::io::ErrorKind::OutOfMemory.into(),
            )
        })?;
        let mut buf = vec![0u8; len];
        read_at(&self.file, &mut buf, offset)
            .map_err(|e| Error::io("reading the spill file", e))?;
        Ok(buf)
    }

    /// Reads into `buf` at `offset`.
    pub(crate) fn read_into(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        read_at(&self.file, buf, offset).map_err(|e| Error::io("reading the spill file", e))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn append_and_read_back() {
        let mut s = SpillFile::new().unwrap();
        assert_eq!(s.append(b"hello").unwrap(), 0);
        assert_eq!(s.append(b" world").unwrap(), 5);
        assert_eq!(s.len(), 11);
        assert_eq!(s.read(6, 5).unwrap(), b"world");
        assert!(s.read(8, 10).is_err());
    }
}
