//! Reading layer objects: tails and ranges through `object_store`, each
//! pinned to the object its first read found, or with `pread` on the open
//! files of a local directory.

use super::*;

/// Ties every read of a layer to the object its footer came from.
///
/// A compaction deletes the layers it merged, and a writer with a stale view
/// may then create an object of the same name (an orphan, which it deletes
/// again). A reader that kept the old layer must see it vanish, never read
/// the new object's bytes through the old footer. So the first read records
/// what it read: the open file when the directory is read directly (files
/// opened with [`ArrayFile::open_path`](crate::ArrayFile::open_path)), else
/// the object's entity tag, which later reads send as `If-Match`.
///
/// A pin may also know the object's size in advance (a part, whose size
/// the layer adopting it records): the first read then checks that the
/// object it reaches has that size, so that a part replaced by another
/// object of its name is never read through the adopting layer's tables.
#[derive(Debug, Default)]
pub(crate) struct ObjectPin {
    pub(super) file: OnceLock<Arc<File>>,
    e_tag: OnceLock<String>,
    size: Option<u64>,
}

impl ObjectPin {
    /// A pin on an object of `size` bytes, not reached yet.
    pub(crate) fn sized(size: u64) -> Self {
        Self {
            size: Some(size),
            ..Self::default()
        }
    }

    /// Fails unless the object reached, of `found` bytes, has the size the
    /// pin expects.
    fn check_size(&self, path: &Path, found: u64) -> Result<()> {
        match self.size {
            Some(want) if want != found => Err(Error::corrupted(
                path.as_ref(),
                format!("the object is {found} bytes; the layer that adopts it says {want}"),
            )),
            _ => Ok(()),
        }
    }

    /// A pin on the object a put just created, by the tag it returned.
    pub(super) fn tagged(e_tag: Option<String>) -> Self {
        let pin = Self::default();
        if let Some(tag) = e_tag {
            let _ = pin.e_tag.set(tag);
        }
        pin
    }

    /// Records the tag of the object a read saw, unless one is recorded;
    /// `false` if the read saw another object than the one recorded (a
    /// store that ignores `If-Match` serves whatever holds the name now).
    fn observe(&self, e_tag: Option<&String>) -> bool {
        match (e_tag, self.e_tag.get()) {
            (Some(seen), Some(pinned)) => seen == pinned,
            (Some(seen), None) => {
                let _ = self.e_tag.set(seen.clone());
                true
            }
            (None, _) => true,
        }
    }

    fn get_options(&self, range: GetRange) -> GetOptions {
        GetOptions {
            range: Some(range),
            if_match: self.e_tag.get().cloned(),
            ..Default::default()
        }
    }
}

impl FileStore {
    /// The open file behind `handle` (opening `path` on first use), or
    /// `None` when layers are read through `object_store`.
    fn local_file(&self, path: &Path, pin: &ObjectPin) -> Result<Option<Arc<File>>> {
        let Some(local) = &self.local_reads else {
            return Ok(None);
        };
        if let Some(file) = pin.file.get() {
            return Ok(Some(Arc::clone(file)));
        }
        let listed = local.listed.lock().ok().and_then(|l| l.clone());
        let file = if let Some(dir) = listed.as_deref()
            && let Some(name) = dir.names.get(path)
        {
            open_at(dir, name.as_c_str())
        } else {
            let at = local
                .fs
                .path_to_filesystem(path)
                .map_err(|e| Error::storage(path.as_ref(), e))?;
            match (listed.as_deref(), at.parent(), at.file_name()) {
                (Some(dir), Some(parent), Some(name)) if parent == dir.path => open_at(dir, name),
                _ => File::open(&at),
            }
        }
        .map_err(|e| self.local_error(path, e))?;
        if pin.size.is_some() {
            let size = std::io::Seek::seek(&mut &file, std::io::SeekFrom::End(0))
                .map_err(|e| self.local_error(path, e))?;
            pin.check_size(path, size)?;
        }
        Ok(Some(Arc::clone(pin.file.get_or_init(|| Arc::new(file)))))
    }

    fn local_error(&self, path: &Path, e: std::io::Error) -> Error {
        match e.kind() {
            std::io::ErrorKind::NotFound if path == &self.base => Error::FileNotFound {
                path: path.to_string(),
            },
            std::io::ErrorKind::NotFound => Error::Vanished {
                path: path.to_string(),
            },
            _ => Error::io(format!("reading {path}"), e),
        }
    }

    /// Bytes `range` of `file`, the open object `path`.
    async fn pread(&self, path: &Path, file: Arc<File>, range: Range<u64>) -> Result<Bytes> {
        let len = usize::try_from(range.end.saturating_sub(range.start)).map_err(|_| {
            Error::corrupted(
                path.as_ref(),
                format!("range {range:?} does not fit in memory"),
            )
        })?;
        let read = move || -> std::io::Result<Vec<u8>> {
            let mut buf = vec![0u8; len];
            file.read_exact_at(&mut buf, range.start)?;
            Ok(buf)
        };
        let started = Instant::now();
        let result = if len as u64 <= INLINE_READ {
            read()
        } else {
            tokio::task::spawn_blocking(read)
                .await
                .map_err(|e| Error::io(format!("reading {path}"), std::io::Error::other(e)))?
        };
        let buf = result.map_err(|e| self.short_or_local_error(path, e, range.end))?;
        self.time_read(started, buf.len());
        Ok(Bytes::from(buf))
    }

    /// Like [`read_tail`](Self::read_tail), of the object `pin` holds (and
    /// pinning it on the first read).
    pub(crate) async fn read_tail_at(
        &self,
        path: &Path,
        pin: &ObjectPin,
        n: u64,
    ) -> Result<(Bytes, u64)> {
        let Some(file) = self.local_file(path, pin)? else {
            return match self.get_pinned(path, pin, GetRange::Suffix(n)).await {
                // Azure Blob Storage takes no suffix ranges: ask for the
                // size, then for the bytes before it (two requests).
                Err(Error::Storage { source, .. })
                    if matches!(*source, object_store::Error::NotSupported { .. }) =>
                {
                    let size = self
                        .store
                        .head(path)
                        .await
                        .map_err(|e| self.read_error(path, e))?
                        .size;
                    let range = size.saturating_sub(n)..size;
                    if range.is_empty() {
                        return Ok((Bytes::new(), size));
                    }
                    self.get_pinned(path, pin, GetRange::Bounded(range)).await
                }
                other => other,
            };
        };
        // Seeking to the end is the cheapest way to the size (a `stat`
        // fills a whole structure); reads are positional, so the cursor
        // it moves is never used.
        let size = std::io::Seek::seek(&mut &*file, std::io::SeekFrom::End(0))
            .map_err(|e| self.local_error(path, e))?;
        let bytes = self.pread(path, file, size.saturating_sub(n)..size).await?;
        Ok((bytes, size))
    }

    /// Whether a read of `len` bytes of a layer runs on the calling task: a
    /// small read of a local directory read directly (see
    /// [`INLINE_READ`]).
    pub(crate) fn reads_inline(&self, len: u64) -> bool {
        self.local_reads.is_some() && len <= INLINE_READ
    }

    /// Reads `out.len()` bytes at `offset` of the object `pin` holds into
    /// `out`, on the calling thread, when it is a file of a local directory
    /// read directly; `false` otherwise, with `out` untouched. An async task
    /// calls it only for reads that [`reads_inline`](Self::reads_inline).
    pub(crate) fn read_local_into(
        &self,
        path: &Path,
        pin: &ObjectPin,
        offset: u64,
        out: &mut [u8],
    ) -> Result<bool> {
        let Some(file) = self.local_file(path, pin)? else {
            return Ok(false);
        };
        let started = Instant::now();
        let end = offset + out.len() as u64;
        file.read_exact_at(out, offset)
            .map_err(|e| self.short_or_local_error(path, e, end))?;
        self.time_read(started, out.len());
        Ok(true)
    }

    /// A failed read of a local file up to byte `end`: a file that ends
    /// first is damaged (its footer promised more).
    fn short_or_local_error(&self, path: &Path, e: std::io::Error, end: u64) -> Error {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            Error::corrupted(path.as_ref(), format!("the object ends before byte {end}"))
        } else {
            self.local_error(path, e)
        }
    }

    /// Like [`read_range`](Self::read_range), of the object `pin` holds (and
    /// pinning it on the first read).
    pub(crate) async fn read_range_at(
        &self,
        path: &Path,
        pin: &ObjectPin,
        range: Range<u64>,
    ) -> Result<Bytes> {
        if range.end <= range.start {
            return Ok(Bytes::new());
        }
        if let Some(file) = self.local_file(path, pin)? {
            return self.pread(path, file, range).await;
        }
        let want = range.end - range.start;
        let (bytes, _) = self
            .get_pinned(path, pin, GetRange::Bounded(range.clone()))
            .await?;
        check_len(path, &range, want, &bytes)?;
        Ok(bytes)
    }

    /// Bytes `range` of the object `pin` holds, through `object_store`, and
    /// the object's size. A different object under the name fails the
    /// `If-Match` and reads as [`Error::Vanished`]; so does a response that
    /// carries another tag (from a store that ignores `If-Match`).
    async fn get_pinned(
        &self,
        path: &Path,
        pin: &ObjectPin,
        range: GetRange,
    ) -> Result<(Bytes, u64)> {
        let started = Instant::now();
        let res = self
            .store
            .get_opts(path, pin.get_options(range))
            .await
            .map_err(|e| match e {
                object_store::Error::NotFound { .. } if path == &self.base => Error::FileNotFound {
                    path: path.to_string(),
                },
                e => self.read_error(path, e),
            })?;
        let size = res.meta.size;
        pin.check_size(path, size)?;
        if !pin.observe(res.meta.e_tag.as_ref()) {
            return Err(Error::Vanished {
                path: path.to_string(),
            });
        }
        let bytes = res.bytes().await.map_err(|e| self.read_error(path, e))?;
        self.time_read(started, bytes.len());
        Ok((bytes, size))
    }

    /// The last `n` bytes of the object (fewer if it is shorter) and its size.
    #[cfg(test)]
    pub(crate) async fn read_tail(&self, path: &Path, n: u64) -> Result<(Bytes, u64)> {
        self.get_pinned(path, &ObjectPin::default(), GetRange::Suffix(n))
            .await
    }

    /// A layer that disappears under a reader (or is replaced by an object
    /// of the same name) has been reclaimed: say so rather than pass on a
    /// bare "not found" or "precondition".
    fn read_error(&self, path: &Path, e: object_store::Error) -> Error {
        match e {
            object_store::Error::NotFound { .. } | object_store::Error::Precondition { .. } => {
                Error::Vanished {
                    path: path.to_string(),
                }
            }
            e => Error::storage(path.as_ref(), e),
        }
    }

    /// Bytes `range` of the object.
    #[cfg(test)]
    pub(crate) async fn read_range(&self, path: &Path, range: Range<u64>) -> Result<Bytes> {
        self.read_range_at(path, &ObjectPin::default(), range).await
    }
}

/// Fails unless a read of `range` returned the `want` bytes asked for.
fn check_len(path: &Path, range: &Range<u64>, want: u64, bytes: &Bytes) -> Result<()> {
    if bytes.len() as u64 == want {
        return Ok(());
    }
    Err(Error::corrupted(
        path.as_ref(),
        format!(
            "read of bytes {}..{} returned {} bytes",
            range.start,
            range.end,
            bytes.len()
        ),
    ))
}
