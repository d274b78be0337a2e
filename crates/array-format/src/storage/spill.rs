//! An anonymous temporary file that frames are appended to and read back from
//! by position, so that pending data never has to fit in memory.
//!
//! Appends smaller than the write buffer are gathered in memory and written
//! with one positional write per buffer: ingesting many small frames costs a
//! few system calls, not one per frame. Reads see buffered bytes too. Every
//! write goes to an explicit position, so a failed write (a full disk) can be
//! retried by the next one without leaving the file out of step with what
//! was acknowledged: bytes not yet written stay in the buffer.

use std::fs::File;

use crate::error::{Error, Result};

/// Appends are gathered into writes of about this many bytes; larger ones
/// are written directly.
const WRITE_BUFFER: usize = 1024 * 1024;

/// Append-only temporary file with positional reads.
#[derive(Debug)]
pub(crate) struct SpillFile {
    file: File,
    /// Bytes written to `file`.
    written: u64,
    /// Appended bytes that follow `written`, not yet in the file.
    buf: Vec<u8>,
}

#[cfg(unix)]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt;
    file.read_exact_at(buf, offset)
}

#[cfg(unix)]
fn write_at(file: &File, buf: &[u8], offset: u64) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt;
    file.write_all_at(buf, offset)
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

#[cfg(windows)]
fn write_at(file: &File, mut buf: &[u8], mut offset: u64) -> std::io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        match file.seek_write(buf, offset) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                buf = &buf[n..];
                offset += n as u64;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn write_error(e: std::io::Error) -> Error {
    Error::io("writing the spill file", e)
}

impl SpillFile {
    /// A new, empty spill file in the system temporary directory (`TMPDIR`).
    pub(crate) fn new() -> Result<Self> {
        let file = tempfile::tempfile().map_err(|e| Error::io("creating a spill file", e))?;
        Ok(Self::over(file))
    }

    /// A spill file writing into `file` from its start (tests use a file
    /// whose writes fail).
    pub(crate) fn over(file: File) -> Self {
        Self {
            file,
            written: 0,
            buf: Vec::new(),
        }
    }

    /// Bytes appended so far.
    pub(crate) fn len(&self) -> u64 {
        self.written + self.buf.len() as u64
    }

    /// Appends `data` and returns the offset it starts at.
    ///
    /// On error nothing is appended, and what earlier appends left in the
    /// buffer stays there (readable, and written by the next append or
    /// [`flush`](Self::flush)).
    pub(crate) fn append(&mut self, data: &[u8]) -> Result<u64> {
        let at = self.len();
        if self.buf.len() + data.len() > WRITE_BUFFER {
            self.flush()?;
        }
        if data.len() >= WRITE_BUFFER {
            write_at(&self.file, data, self.written).map_err(write_error)?;
            self.written += data.len() as u64;
        } else {
            if self.buf.capacity() == 0 {
                self.buf.reserve_exact(WRITE_BUFFER);
            }
            self.buf.extend_from_slice(data);
        }
        Ok(at)
    }

    /// Writes the buffered bytes to the file.
    pub(crate) fn flush(&mut self) -> Result<()> {
        if !self.buf.is_empty() {
            write_at(&self.file, &self.buf, self.written).map_err(write_error)?;
            self.written += self.buf.len() as u64;
            self.buf.clear();
        }
        Ok(())
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
        self.read_into(offset, &mut buf)?;
        Ok(buf)
    }

    /// Reads into `buf` at `offset`: the part below what was written from
    /// the file, the rest from the write buffer.
    pub(crate) fn read_into(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        let error = |kind: std::io::ErrorKind| Error::io("reading the spill file", kind.into());
        let end = offset
            .checked_add(buf.len() as u64)
            .filter(|&e| e <= self.len())
            .ok_or_else(|| error(std::io::ErrorKind::UnexpectedEof))?;
        let in_file = usize::try_from(self.written.saturating_sub(offset))
            .unwrap_or(usize::MAX)
            .min(buf.len());
        let (from_file, from_buf) = buf.split_at_mut(in_file);
        if !from_file.is_empty() {
            read_at(&self.file, from_file, offset)
                .map_err(|e| Error::io("reading the spill file", e))?;
        }
        if !from_buf.is_empty() {
            let start = usize::try_from(offset.max(self.written) - self.written)
                .map_err(|_| error(std::io::ErrorKind::InvalidInput))?;
            let stop = usize::try_from(end - self.written)
                .map_err(|_| error(std::io::ErrorKind::InvalidInput))?;
            let src = self
                .buf
                .get(start..stop)
                .ok_or_else(|| error(std::io::ErrorKind::UnexpectedEof))?;
            from_buf.copy_from_slice(src);
        }
        Ok(())
    }
}

impl SpillFile {
    /// Writes the bytes at `range` to `out`, at its position: the part
    /// already in the file copied by the kernel where it can (no trip
    /// through this process's memory), the rest from the write buffer.
    pub(crate) fn copy_to(&self, range: std::ops::Range<u64>, out: &mut File) -> Result<()> {
        use std::io::Write;
        let error = |kind: std::io::ErrorKind| Error::io("copying the spill file", kind.into());
        if range.start > range.end || range.end > self.len() {
            return Err(error(std::io::ErrorKind::UnexpectedEof));
        }
        let mut at = range.start;
        let in_file_end = range.end.min(self.written);
        if at < in_file_end {
            at = copy_file_part(&self.file, at, in_file_end, out)
                .map_err(|e| Error::io("copying the spill file", e))?;
        }
        if at < range.end {
            let start = usize::try_from(at - self.written)
                .map_err(|_| error(std::io::ErrorKind::InvalidInput))?;
            let stop = usize::try_from(range.end - self.written)
                .map_err(|_| error(std::io::ErrorKind::InvalidInput))?;
            let src = self
                .buf
                .get(start..stop)
                .ok_or_else(|| error(std::io::ErrorKind::UnexpectedEof))?;
            out.write_all(src)
                .map_err(|e| Error::io("copying the spill file", e))?;
        }
        Ok(())
    }
}

/// Copies `file`'s bytes from `at` to `end` to `out`'s position; returns
/// `end`. Linux copies in the kernel (`copy_file_range`); where it cannot
/// (another file system, an old kernel), and elsewhere, through a buffer.
fn copy_file_part(file: &File, mut at: u64, end: u64, out: &mut File) -> std::io::Result<u64> {
    #[cfg(target_os = "linux")]
    while at < end {
        let want = usize::try_from(end - at).unwrap_or(usize::MAX).min(1 << 30);
        match rustix::fs::copy_file_range(file, Some(&mut at), &*out, None, want) {
            Ok(0) => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => {}
            // Not possible between these two files: copy what is left by hand.
            Err(
                rustix::io::Errno::XDEV
                | rustix::io::Errno::NOSYS
                | rustix::io::Errno::OPNOTSUPP
                | rustix::io::Errno::INVAL,
            ) => break,
            Err(e) => return Err(e.into()),
        }
    }
    copy_by_buffer(file, at, end, out)
}

/// Copies `file`'s bytes from `at` to `end` to `out`'s position through a
/// buffer; returns `end`.
fn copy_by_buffer(file: &File, mut at: u64, end: u64, out: &mut File) -> std::io::Result<u64> {
    use std::io::Write;
    let mut buf = vec![0u8; COPY_BUFFER.min(usize::try_from(end - at).unwrap_or(usize::MAX))];
    while at < end {
        let n = usize::try_from(end - at)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        let part = buf.get_mut(..n).ok_or(std::io::ErrorKind::InvalidInput)?;
        read_at(file, part, at)?;
        out.write_all(part)?;
        at += n as u64;
    }
    Ok(at)
}

/// The buffer of a copy the kernel cannot make.
const COPY_BUFFER: usize = 8 * 1024 * 1024;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
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

    #[test]
    fn reads_span_the_file_and_the_buffer() {
        let mut s = SpillFile::new().unwrap();
        let big: Vec<u8> = (0..WRITE_BUFFER + 10).map(|i| i as u8).collect();
        assert_eq!(s.append(b"abc").unwrap(), 0);
        // Flushes "abc", then goes to the file directly.
        assert_eq!(s.append(&big).unwrap(), 3);
        assert_eq!(s.written, 3 + big.len() as u64);
        assert_eq!(s.append(b"xyz").unwrap(), 3 + big.len() as u64);
        assert_eq!(s.buf, b"xyz");
        let n = s.len();
        let tail = s.read(n - 8, 8).unwrap();
        let mut want = big[big.len() - 5..].to_vec();
        want.extend_from_slice(b"xyz");
        assert_eq!(tail, want);
        assert_eq!(s.read(0, 4).unwrap(), [b'a', b'b', b'c', 0]);
        s.flush().unwrap();
        assert!(s.buf.is_empty());
        assert_eq!(s.read(n - 8, 8).unwrap(), want);
    }

    #[test]
    fn copies_span_the_file_and_the_buffer() {
        use std::io::{Read, Seek};
        let mut s = SpillFile::new().unwrap();
        let big: Vec<u8> = (0..WRITE_BUFFER + 10).map(|i| (i % 251) as u8).collect();
        s.append(b"abc").unwrap();
        s.append(&big).unwrap();
        s.append(b"xyz").unwrap();
        let all = s.read(0, s.len()).unwrap();
        let n = s.len();
        for range in [
            0..n,
            1..n - 1,
            0..3,
            n - 3..n,
            n - 8..n,
            5..5,
            2..WRITE_BUFFER as u64,
        ] {
            let mut out = tempfile::tempfile().unwrap();
            // At the output's position, after what it holds already.
            std::io::Write::write_all(&mut out, b"head").unwrap();
            s.copy_to(range.clone(), &mut out).unwrap();
            out.rewind().unwrap();
            let mut got = Vec::new();
            out.read_to_end(&mut got).unwrap();
            let mut want = b"head".to_vec();
            want.extend_from_slice(&all[range.start as usize..range.end as usize]);
            assert_eq!(got, want, "{range:?}");
        }
        let mut out = tempfile::tempfile().unwrap();
        assert!(s.copy_to(n - 2..n + 1, &mut out).is_err());
        // The copy a kernel cannot make (another file system), by hand.
        s.flush().unwrap();
        let mut out = tempfile::tempfile().unwrap();
        let end = n - 1;
        assert_eq!(copy_by_buffer(&s.file, 2, end, &mut out).unwrap(), end);
        out.rewind().unwrap();
        let mut got = Vec::new();
        out.read_to_end(&mut got).unwrap();
        assert_eq!(got, &all[2..end as usize]);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_failed_write_keeps_the_buffer_and_loses_nothing() {
        // Writes to /dev/full fail with "no space left on device".
        let full = std::fs::OpenOptions::new()
            .write(true)
            .read(true)
            .open("/dev/full")
            .unwrap();
        let mut s = SpillFile::over(full);
        assert_eq!(s.append(b"kept").unwrap(), 0);
        let e = s.append(&vec![7u8; WRITE_BUFFER]).unwrap_err();
        assert!(matches!(e, Error::Io { .. }), "{e}");
        assert_eq!(s.len(), 4);
        assert_eq!(s.read(0, 4).unwrap(), b"kept");
        assert!(matches!(s.flush().unwrap_err(), Error::Io { .. }));
        assert_eq!(s.read(0, 4).unwrap(), b"kept");
    }
}
