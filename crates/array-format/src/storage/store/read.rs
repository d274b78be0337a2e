//! Reading layer objects through the storage seam: every read pinned to
//! the object its first read found ([`ObjectPin`]), small reads timed to
//! learn what a request costs, and a missing base reported as a missing
//! file.

use super::*;
use crate::storage::objects::INLINE_READ;

impl FileStore {
    /// The last `n` bytes of the object `pin` holds (fewer if it is
    /// shorter) and its size, pinning it on the first read.
    pub(crate) async fn read_tail_at(
        &self,
        path: &Path,
        pin: &ObjectPin,
        n: u64,
    ) -> Result<(Bytes, u64)> {
        let started = Instant::now();
        let (bytes, size) = self
            .objects
            .read_tail(path, pin, n)
            .await
            .map_err(|e| self.missing_base(path, e))?;
        self.time_read(started, bytes.len());
        Ok((bytes, size))
    }

    /// Bytes `range` of the object `pin` holds, pinning it on the first
    /// read.
    pub(crate) async fn read_range_at(
        &self,
        path: &Path,
        pin: &ObjectPin,
        range: Range<u64>,
    ) -> Result<Bytes> {
        if range.end <= range.start {
            return Ok(Bytes::new());
        }
        let started = Instant::now();
        let bytes = self
            .objects
            .read_range(path, pin, range)
            .await
            .map_err(|e| self.missing_base(path, e))?;
        self.time_read(started, bytes.len());
        Ok(bytes)
    }

    /// Whether a read of `len` bytes of a layer runs on the calling task: a
    /// small read of a local directory read directly (see
    /// [`INLINE_READ`]).
    pub(crate) fn reads_inline(&self, len: u64) -> bool {
        self.reads_by_system_call() && len <= INLINE_READ
    }

    /// Reads `out.len()` bytes at `offset` of the object `pin` holds into
    /// `out`, on the calling thread, when it is a file of a local directory
    /// read directly; `false` otherwise, with `out` untouched. An async task
    /// calls it only for reads that [`reads_inline`](Self::reads_inline).
    pub(crate) fn read_into_now(
        &self,
        path: &Path,
        pin: &ObjectPin,
        offset: u64,
        out: &mut [u8],
    ) -> Result<bool> {
        let started = Instant::now();
        let read = self
            .objects
            .read_into(path, pin, offset, out)
            .map_err(|e| self.missing_base(path, e))?;
        if read {
            self.time_read(started, out.len());
        }
        Ok(read)
    }

    /// A base that is gone is a file that does not exist; any other object
    /// that is gone was reclaimed under the reader.
    fn missing_base(&self, path: &Path, e: Error) -> Error {
        match e {
            Error::Vanished { .. } if path == &self.base => self.not_found(),
            e => e,
        }
    }

    /// The last `n` bytes of the object (fewer if it is shorter) and its size.
    #[cfg(test)]
    pub(crate) async fn read_tail(&self, path: &Path, n: u64) -> Result<(Bytes, u64)> {
        self.read_tail_at(path, &ObjectPin::default(), n).await
    }

    /// Bytes `range` of the object.
    #[cfg(test)]
    pub(crate) async fn read_range(&self, path: &Path, range: Range<u64>) -> Result<Bytes> {
        self.read_range_at(path, &ObjectPin::default(), range).await
    }
}
