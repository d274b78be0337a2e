//! Creating objects only where the name is free: one conditional put,
//! a streamed upload linked into place, or, for durable local files, a
//! file fsynced and linked (the spill file itself where it can be).

use super::*;

/// Layers up to this size are committed with one conditional put from
/// memory; larger ones stream to a staging object that is then linked into
/// place with `copy_if_not_exists`.
pub(crate) const SINGLE_PUT_LIMIT: u64 = 16 * 1024 * 1024;

/// Part size of streamed uploads.
const PART_SIZE: usize = 8 * 1024 * 1024;

impl FileStore {
    /// Creates `path` holding `payload`, failing with [`Error::Conflict`] if
    /// it exists; the pin holds the object created.
    pub(crate) async fn create_object(
        &self,
        path: &Path,
        payload: PutPayload,
    ) -> Result<ObjectPin> {
        if let Some(local) = &self.durable_local {
            let bytes: Bytes = payload.into();
            return self.durable_create(local, path, |f| f.write_all(&bytes));
        }
        let opts = PutOptions {
            mode: PutMode::Create,
            ..Default::default()
        };
        match self.store.put_opts(path, payload, opts).await {
            Ok(put) => Ok(ObjectPin::tagged(put.e_tag)),
            Err(e) => Err(conflict_or_storage(path, e)),
        }
    }

    /// Creates `path` from the `ranges` of `file` followed by `tail`,
    /// atomically and only if it does not exist yet; the pin holds the
    /// object created (or, after a streamed upload, whatever the first read
    /// finds).
    pub(crate) async fn create_from_parts(
        &self,
        path: &Path,
        file: &SpillFile,
        ranges: &[Range<u64>],
        tail: &[u8],
    ) -> Result<ObjectPin> {
        if let Some(local) = &self.durable_local {
            #[cfg(target_os = "linux")]
            if file.in_place(ranges)
                && let Some(done) = self.link_in_place(local, path, file, tail)
            {
                return done;
            }
            return self.durable_create(local, path, |f| {
                for r in ranges {
                    file.copy_to(r.clone(), f).map_err(std::io::Error::other)?;
                }
                f.write_all(tail)
            });
        }
        let data_len: u64 = ranges.iter().map(|r| r.end - r.start).sum();
        let len = data_len + tail.len() as u64;
        if len <= SINGLE_PUT_LIMIT {
            let mut buf = vec![0u8; len as usize];
            let mut at = 0usize;
            for r in ranges {
                let n = (r.end - r.start) as usize;
                let dst = buf.get_mut(at..at + n).ok_or_else(|| {
                    Error::io("assembling a layer", std::io::ErrorKind::InvalidData.into())
                })?;
                file.read_into(r.start, dst)?;
                at += n;
            }
            if let Some(dst) = buf.get_mut(at..) {
                dst.copy_from_slice(tail);
            }
            return self.create_object(path, PutPayload::from(buf)).await;
        }
        let seq = self.parse_layer(path).unwrap_or(0);
        let staging = self.staging_path(seq);
        self.upload(&staging, file, ranges, tail).await?;
        let linked = self.store.copy_if_not_exists(&staging, path).await;
        // The staging object is garbage either way; a failed delete leaves it
        // for vacuum.
        let _ = self.store.delete(&staging).await;
        linked.map_err(|e| conflict_or_storage(path, e))?;
        Ok(ObjectPin::default())
    }

    async fn upload(
        &self,
        path: &Path,
        file: &SpillFile,
        ranges: &[Range<u64>],
        tail: &[u8],
    ) -> Result<()> {
        let mut upload = self
            .store
            .put_multipart(path)
            .await
            .map_err(|e| Error::storage(path.as_ref(), e))?;
        let result: Result<()> = async {
            let mut part: Vec<u8> = Vec::with_capacity(PART_SIZE);
            for r in ranges {
                let mut at = r.start;
                while at < r.end {
                    let n = ((r.end - at) as usize).min(PART_SIZE - part.len());
                    let old = part.len();
                    part.resize(old + n, 0);
                    if let Some(dst) = part.get_mut(old..) {
                        file.read_into(at, dst)?;
                    }
                    at += n as u64;
                    if part.len() == PART_SIZE {
                        let full = std::mem::replace(&mut part, Vec::with_capacity(PART_SIZE));
                        upload
                            .put_part(PutPayload::from(full))
                            .await
                            .map_err(|e| Error::storage(path.as_ref(), e))?;
                    }
                }
            }
            part.extend_from_slice(tail);
            upload
                .put_part(PutPayload::from(part))
                .await
                .map_err(|e| Error::storage(path.as_ref(), e))?;
            upload
                .complete()
                .await
                .map(|_| ())
                .map_err(|e| Error::storage(path.as_ref(), e))
        }
        .await;
        if result.is_err() {
            let _ = upload.abort().await;
        }
        result
    }

    /// Writes a layer to a staging file beside its final name, fsyncs it,
    /// links it into place only if the name is free, and fsyncs the
    /// directory: after a crash the layer is either absent or complete. The
    /// pin holds the staging file, which is the layer's file once linked.
    fn durable_create(
        &self,
        local: &LocalFileSystem,
        path: &Path,
        write: impl FnOnce(&mut std::fs::File) -> std::io::Result<()>,
    ) -> Result<ObjectPin> {
        let target = local
            .path_to_filesystem(path)
            .map_err(|e| Error::storage(path.as_ref(), e))?;
        let seq = self.parse_layer(path).unwrap_or(0);
        let staging_obj = self.staging_path(seq);
        let staging = local
            .path_to_filesystem(&staging_obj)
            .map_err(|e| Error::storage(staging_obj.as_ref(), e))?;
        let dir = target
            .parent()
            .map(std::path::Path::to_path_buf)
            .unwrap_or_default();
        let io =
            |what: &str, e: std::io::Error| Error::io(format!("{what} {}", target.display()), e);
        std::fs::create_dir_all(&dir).map_err(|e| io("creating the directory of", e))?;
        let mut f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&staging)
            .map_err(|e| io("staging", e))?;
        let written = write(&mut f).and_then(|()| f.sync_all());
        if let Err(e) = written {
            let _ = std::fs::remove_file(&staging);
            return Err(io("writing", e));
        }
        let linked = std::fs::hard_link(&staging, &target);
        let _ = std::fs::remove_file(&staging);
        match linked {
            Ok(()) => self.linked(path, &target, f),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(taken(path)),
            Err(e) => Err(io("linking", e)),
        }
    }

    /// Commits `path` as the spill `file` itself, its data region, followed
    /// by `tail` ([`SpillFile::commit_in_place`]); `None` if the file
    /// system cannot link it (the caller copies it instead).
    #[cfg(target_os = "linux")]
    fn link_in_place(
        &self,
        local: &LocalFileSystem,
        path: &Path,
        file: &SpillFile,
        tail: &[u8],
    ) -> Option<Result<ObjectPin>> {
        let target = local.path_to_filesystem(path).ok()?;
        std::fs::create_dir_all(target.parent()?).ok()?;
        match file.commit_in_place(tail, &target) {
            Ok(f) => Some(self.linked(path, &target, f)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Some(Err(taken(path))),
            // Nothing is linked: the copy reports a real I/O error itself.
            Err(_) => None,
        }
    }

    /// After `f` was linked as `target` (the object `path`): makes its
    /// directory entry durable and pins the object to `f`.
    fn linked(&self, path: &Path, target: &std::path::Path, f: std::fs::File) -> Result<ObjectPin> {
        let io =
            |what: &str, e: std::io::Error| Error::io(format!("{what} {}", target.display()), e);
        let dir = target.parent().unwrap_or(std::path::Path::new(""));
        sync_dir(dir).map_err(|e| io("syncing the directory of", e))?;
        // A part's directory may be new: its entry in the base's directory
        // must be as durable as the part.
        if self.parse_part(path).is_some()
            && let Some(parent) = dir.parent()
        {
            sync_dir(parent).map_err(|e| io("syncing the parent directory of", e))?;
        }
        let pin = ObjectPin::default();
        if self.local_reads.is_some() {
            let _ = pin.file.set(Arc::new(f));
        }
        Ok(pin)
    }

    /// The directory a pending layer of this file spills into: the file's
    /// own for durable local files (so that its spill file can become the
    /// layer without a copy), else none (the system's temporary directory).
    pub(crate) fn spill_dir(&self) -> Option<std::path::PathBuf> {
        let local = self.durable_local.as_ref()?;
        let base = local.path_to_filesystem(&self.base).ok()?;
        base.parent().map(std::path::Path::to_path_buf)
    }
}

#[cfg(unix)]
fn sync_dir(dir: &std::path::Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

// Directories cannot be opened for syncing on Windows; NTFS journals the
// link itself.
#[cfg(not(unix))]
fn sync_dir(_dir: &std::path::Path) -> std::io::Result<()> {
    Ok(())
}

fn taken(path: &Path) -> Error {
    Error::Conflict {
        path: path.to_string(),
        reason: "another writer created this layer first".into(),
    }
}

fn conflict_or_storage(path: &Path, e: object_store::Error) -> Error {
    match e {
        object_store::Error::AlreadyExists { .. } | object_store::Error::Precondition { .. } => {
            Error::Conflict {
                path: path.to_string(),
                reason: "another writer created this layer first".into(),
            }
        }
        e => Error::storage(path.as_ref(), e),
    }
}
