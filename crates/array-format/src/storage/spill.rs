//! An anonymous temporary file that frames are appended to and read back from
//! by position, so that pending data never has to fit in memory.
//!
//! Appends smaller than the write buffer are gathered in memory and written
//! with one positional write per buffer: ingesting many small frames costs a
//! few system calls, not one per frame. Reads see buffered bytes too. Every
//! write goes to an explicit position, so a failed write (a full disk) can be
//! retried by the next one without leaving the file out of step with what
//! was acknowledged: bytes not yet written stay in the buffer.
//!
//! On Linux a spill file can be made, unnamed, in the directory of the file
//! it will be committed to: a layer whose data region is the whole spill
//! file is then committed by appending its footer and giving the spill file
//! the layer's name ([`SpillFile::commit_in_place`]), without copying it.

use std::fs::File;
use std::sync::atomic::{AtomicBool, Ordering};

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
    /// Whether `file` is unnamed in a directory where it can be linked.
    linkable: bool,
    /// Set once `file` became a layer: it must not change any more, so the
    /// next write first moves the spilled bytes to a file of their own.
    sealed: AtomicBool,
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

    /// A new, empty spill file, unnamed, in `dir` where the file system
    /// allows (Linux `O_TMPFILE`), so that it can become a layer of that
    /// directory without a copy; elsewhere, like [`new`](Self::new).
    pub(crate) fn new_in(dir: Option<&std::path::Path>) -> Result<Self> {
        #[cfg(target_os = "linux")]
        if let Some(dir) = dir {
            use rustix::fs::{Mode, OFlags};
            let flags = OFlags::TMPFILE | OFlags::RDWR | OFlags::CLOEXEC;
            // A file system without O_TMPFILE (or a directory we may not
            // write) spills to TMPDIR as usual.
            if let Ok(fd) = rustix::fs::open(dir, flags, Mode::from_bits_truncate(0o666)) {
                let mut spill = Self::over(File::from(fd));
                spill.linkable = true;
                return Ok(spill);
            }
        }
        let _ = dir;
        Self::new()
    }

    /// A spill file writing into `file` from its start (tests use a file
    /// whose writes fail).
    pub(crate) fn over(file: File) -> Self {
        Self {
            file,
            written: 0,
            buf: Vec::new(),
            linkable: false,
            sealed: AtomicBool::new(false),
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
        self.unseal()?;
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
        self.unseal()?;
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
    /// Whether a layer whose data region is `ranges` of this file can be
    /// committed with [`commit_in_place`](Self::commit_in_place): the file
    /// is unnamed in the layer's file system and the ranges are all of it.
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    pub(crate) fn in_place(&self, ranges: &[std::ops::Range<u64>]) -> bool {
        self.linkable
            && !self.sealed.load(Ordering::Acquire)
            && match ranges {
                [] => self.len() == 0,
                [r] => r.start == 0 && r.end == self.len(),
                _ => false,
            }
    }

    /// Appends `tail` after the spilled bytes, makes the file durable and
    /// links it as `target` only if that name is free (an error of kind
    /// `AlreadyExists` if not); returns a handle on the file, now the
    /// layer's. From then on the file does not change: the next write moves
    /// the spilled bytes to a new file first.
    ///
    /// A failure leaves the spilled bytes as they were: the tail lies past
    /// [`len`](Self::len), where the next append or attempt overwrites it.
    #[cfg(target_os = "linux")]
    pub(crate) fn commit_in_place(
        &self,
        tail: &[u8],
        target: &std::path::Path,
    ) -> std::io::Result<File> {
        use std::os::fd::AsRawFd;
        let len = self.len();
        if !self.buf.is_empty() {
            // Written but left in the buffer too: an append after a failed
            // attempt writes the same bytes to the same place again.
            write_at(&self.file, &self.buf, self.written)?;
        }
        write_at(&self.file, tail, len)?;
        self.file.set_len(len + tail.len() as u64)?;
        self.file.sync_all()?;
        // An unnamed file is linked through its /proc entry (linkat with
        // AT_EMPTY_PATH would need CAP_DAC_READ_SEARCH).
        let proc = format!("/proc/self/fd/{}", self.file.as_raw_fd());
        rustix::fs::linkat(
            rustix::fs::CWD,
            proc.as_str(),
            rustix::fs::CWD,
            target,
            rustix::fs::AtFlags::SYMLINK_FOLLOW,
        )?;
        self.sealed.store(true, Ordering::Release);
        self.file.try_clone()
    }

    /// Before a write to a sealed file: moves what it holds to a new file.
    fn unseal(&mut self) -> Result<()> {
        if !*self.sealed.get_mut() {
            return Ok(());
        }
        let mut fresh = tempfile::tempfile().map_err(|e| Error::io("creating a spill file", e))?;
        copy_file_part(&self.file, 0, self.written, &mut fresh)
            .map_err(|e| Error::io("copying the spill file", e))?;
        self.file = fresh;
        self.linkable = false;
        *self.sealed.get_mut() = false;
        Ok(())
    }

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
#[allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::single_range_in_vec_init
)]
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
    fn an_unnamed_spill_file_becomes_a_layer_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("f.1.af");
        let mut s = SpillFile::new_in(Some(dir.path())).unwrap();
        assert!(s.linkable, "O_TMPFILE in a temporary directory");
        let big: Vec<u8> = (0..WRITE_BUFFER + 10).map(|i| (i % 251) as u8).collect();
        s.append(&big).unwrap();
        s.append(b"buffered").unwrap();
        let n = s.len();
        assert!(s.in_place(&[0..n]));
        assert!(!s.in_place(&[0..n - 1]));
        assert!(!s.in_place(&[0..4, 4..n]));
        assert!(!s.in_place(&[]));
        // A taken name: refused, and nothing changes but bytes past len().
        std::fs::write(&target, b"someone else's").unwrap();
        let e = s.commit_in_place(b"TAIL-1", &target).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&target).unwrap(), b"someone else's");
        assert_eq!(s.len(), n);
        std::fs::remove_file(&target).unwrap();
        // Nothing but the spilled bytes and the tail of this attempt.
        let linked = s.commit_in_place(b"TAIL", &target).unwrap();
        let mut want = big.clone();
        want.extend_from_slice(b"buffered");
        want.extend_from_slice(b"TAIL");
        assert_eq!(std::fs::read(&target).unwrap(), want);
        assert_eq!(linked.metadata().unwrap().len(), want.len() as u64);
        // Sealed: no second layer from it, and writes go to a new file,
        // leaving the layer as committed.
        assert!(!s.in_place(&[0..n]));
        assert_eq!(s.append(b"more").unwrap(), n);
        s.flush().unwrap();
        assert!(!s.linkable);
        assert_eq!(std::fs::read(&target).unwrap(), want);
        let mut all = big;
        all.extend_from_slice(b"buffered");
        all.extend_from_slice(b"more");
        assert_eq!(s.read(0, s.len()).unwrap(), all);
        // Only the layer is left in the directory.
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["f.1.af"]);
    }

    #[test]
    fn without_a_directory_the_spill_file_is_not_linkable() {
        let mut s = SpillFile::new_in(None).unwrap();
        s.append(b"abc").unwrap();
        assert!(!s.in_place(&[0..3]));
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
