//! [`LocalDir`]: layer objects in a local directory, read with `pread` on
//! open files and, for durable files, created by an fsynced file linked
//! into place only where the name is free.

use std::collections::HashMap;
use std::ffi::CString;
use std::fmt;
use std::fs::File;
use std::io::Write;
use std::ops::Range;
use std::os::fd::OwnedFd;
use std::os::unix::fs::FileExt;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ObjectMeta, PutPayload};
use rustix::fs::{AtFlags, FileType, Mode, OFlags};

use super::remote::taken;
use super::{ObjectPin, Objects, Remote, RequestCost};
use crate::error::{Error, Result};
use crate::storage::SpillFile;

/// Bytes read from the end of a layer on open: a second read is a system
/// call, and every byte of the first is copied.
const TAIL_PROBE: u64 = 4 * 1024;

/// Reads up to this size run on the calling task: a `pread` served by the
/// page cache takes microseconds, less than handing it to a thread. Larger
/// ones go to tokio's blocking pool.
pub(crate) const INLINE_READ: u64 = 1024 * 1024;

/// A local directory whose objects are read directly.
#[derive(Debug)]
pub(crate) struct LocalDir {
    fs: Arc<LocalFileSystem>,
    /// The same directory through `object_store`: listings with sizes and
    /// dates, deletes, and the creates of files that need not be durable.
    remote: Remote,
    /// Whether creates are fsynced (files opened by path) or plain
    /// `object_store` puts (a `LocalFileSystem` given as a store, whose
    /// users chose its semantics).
    durable: bool,
    /// The directory as the last listing opened it. Objects are opened
    /// relative to it (`openat`): an open of a file with hundreds of layers
    /// is mostly system calls, and a whole-path open walks every component
    /// of the path each time.
    listed: Mutex<Option<Arc<Listed>>>,
}

/// A directory opened for a listing, its path, and the names on disk of the
/// objects it listed.
#[derive(Debug)]
struct Listed {
    path: std::path::PathBuf,
    fd: OwnedFd,
    /// Each listed object's name as `readdir` gave it, by object path: an
    /// object is opened by it without turning its object path back into a
    /// filesystem one (a URL parse and percent-decoding per layer, a
    /// twentieth of an open of 200 layers).
    names: HashMap<Path, CString>,
}

/// Opens `name` in the listed directory `dir`, for reading.
fn open_at(dir: &Listed, name: impl rustix::path::Arg) -> std::io::Result<File> {
    let flags = OFlags::RDONLY | OFlags::CLOEXEC;
    rustix::fs::openat(&dir.fd, name, flags, Mode::empty())
        .map(File::from)
        .map_err(std::io::Error::from)
}

/// The path `s` as it stands. A local store names files by a path's raw
/// string and lists them the same way, so a name read from a directory is
/// taken verbatim: `Path::from` would percent-encode it again (`%` becomes
/// `%25`) and name another file.
pub(crate) fn raw_path(s: &str) -> Path {
    Path::parse(s).unwrap_or_else(|_| Path::from(s))
}

impl LocalDir {
    /// The objects of the local directory `fs`; creates are fsynced when
    /// `durable`.
    pub(crate) fn new(fs: Arc<LocalFileSystem>, durable: bool) -> Self {
        Self {
            remote: Remote::new(fs.clone()),
            fs,
            durable,
            listed: Mutex::new(None),
        }
    }

    fn fs_path(&self, path: &Path) -> Result<std::path::PathBuf> {
        self.fs
            .path_to_filesystem(path)
            .map_err(|e| Error::storage(path.as_ref(), e))
    }

    /// The open file behind `pin` (opening `path` on first use).
    fn file(&self, path: &Path, pin: &ObjectPin) -> Result<Arc<File>> {
        if let Some(file) = pin.file.get() {
            return Ok(Arc::clone(file));
        }
        let listed = self.listed.lock().ok().and_then(|l| l.clone());
        let file = if let Some(dir) = listed.as_deref()
            && let Some(name) = dir.names.get(path)
        {
            open_at(dir, name.as_c_str())
        } else {
            let at = self.fs_path(path)?;
            match (listed.as_deref(), at.parent(), at.file_name()) {
                (Some(dir), Some(parent), Some(name)) if parent == dir.path => open_at(dir, name),
                _ => File::open(&at),
            }
        }
        .map_err(|e| local_error(path, e))?;
        if pin.size.is_some() {
            let size = std::io::Seek::seek(&mut &file, std::io::SeekFrom::End(0))
                .map_err(|e| local_error(path, e))?;
            pin.check_size(path, size)?;
        }
        Ok(Arc::clone(pin.file.get_or_init(|| Arc::new(file))))
    }

    /// Bytes `range` of `file`, the open object `path`.
    async fn pread(path: &Path, file: Arc<File>, range: Range<u64>) -> Result<Bytes> {
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
        let result = if len as u64 <= INLINE_READ {
            read()
        } else {
            tokio::task::spawn_blocking(read)
                .await
                .map_err(|e| Error::io(format!("reading {path}"), std::io::Error::other(e)))?
        };
        let buf = result.map_err(|e| short_or_local_error(path, e, range.end))?;
        Ok(Bytes::from(buf))
    }

    /// Writes an object to `staging` beside its final name, fsyncs it,
    /// links it into place only if the name is free, and fsyncs the
    /// directory: after a crash the object is either absent or complete.
    /// The pin holds the staging file, which is the object's file once
    /// linked.
    fn durable_create(
        &self,
        path: &Path,
        staging: &Path,
        write: impl FnOnce(&mut File) -> std::io::Result<()>,
    ) -> Result<ObjectPin> {
        let target = self.fs_path(path)?;
        let staging = self.fs_path(staging)?;
        let io =
            |what: &str, e: std::io::Error| Error::io(format!("{what} {}", target.display()), e);
        if let Some(dir) = target.parent() {
            std::fs::create_dir_all(dir).map_err(|e| io("creating the directory of", e))?;
        }
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
            Ok(()) => linked_as(&target, staging.parent(), f),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(taken(path)),
            Err(e) => Err(io("linking", e)),
        }
    }

    /// Creates `path` as the spill `file` itself, its data region, followed
    /// by `tail` ([`SpillFile::commit_in_place`]); `None` if the file
    /// system cannot link it (the caller copies it instead).
    #[cfg(target_os = "linux")]
    fn link_in_place(
        &self,
        path: &Path,
        staging: &Path,
        file: &SpillFile,
        tail: &[u8],
    ) -> Option<Result<ObjectPin>> {
        let target = self.fs_path(path).ok()?;
        let base_dir = self.fs_path(staging).ok()?.parent()?.to_path_buf();
        std::fs::create_dir_all(target.parent()?).ok()?;
        match file.commit_in_place(tail, &target) {
            Ok(f) => Some(linked_as(&target, Some(&base_dir), f)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Some(Err(taken(path))),
            // Nothing is linked: the copy reports a real I/O error itself.
            Err(_) => None,
        }
    }
}

/// After `f` was linked as `target` (the object `path`): makes its
/// directory entry durable, and the directory's own entry in `base_dir`
/// when it is another one (a part's directory may be new), and pins the
/// object to `f`.
fn linked_as(
    target: &std::path::Path,
    base_dir: Option<&std::path::Path>,
    f: File,
) -> Result<ObjectPin> {
    let io = |what: &str, e: std::io::Error| Error::io(format!("{what} {}", target.display()), e);
    let dir = target.parent().unwrap_or(std::path::Path::new(""));
    sync_dir(dir).map_err(|e| io("syncing the directory of", e))?;
    if base_dir.is_some_and(|b| b != dir)
        && let Some(parent) = dir.parent()
    {
        sync_dir(parent).map_err(|e| io("syncing the parent directory of", e))?;
    }
    let pin = ObjectPin::default();
    let _ = pin.file.set(Arc::new(f));
    Ok(pin)
}

#[cfg(unix)]
fn sync_dir(dir: &std::path::Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

// Directories cannot be opened for syncing on Windows; NTFS journals the
// link itself.
#[cfg(not(unix))]
fn sync_dir(_dir: &std::path::Path) -> std::io::Result<()> {
    Ok(())
}

fn local_error(path: &Path, e: std::io::Error) -> Error {
    match e.kind() {
        std::io::ErrorKind::NotFound => Error::Vanished {
            path: path.to_string(),
        },
        _ => Error::io(format!("reading {path}"), e),
    }
}

/// A failed read of a local file up to byte `end`: a file that ends first
/// is damaged (its footer promised more).
fn short_or_local_error(path: &Path, e: std::io::Error, end: u64) -> Error {
    if e.kind() == std::io::ErrorKind::UnexpectedEof {
        Error::corrupted(path.as_ref(), format!("the object ends before byte {end}"))
    } else {
        local_error(path, e)
    }
}

impl fmt::Display for LocalDir {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.fs)
    }
}

#[async_trait]
impl Objects for LocalDir {
    fn request_cost(&self) -> RequestCost {
        RequestCost::SystemCall
    }

    fn tail_probe(&self) -> u64 {
        TAIL_PROBE
    }

    async fn read_tail(&self, path: &Path, pin: &ObjectPin, n: u64) -> Result<(Bytes, u64)> {
        let file = self.file(path, pin)?;
        // Seeking to the end is the cheapest way to the size (a `stat`
        // fills a whole structure); reads are positional, so the cursor it
        // moves is never used.
        let size = std::io::Seek::seek(&mut &*file, std::io::SeekFrom::End(0))
            .map_err(|e| local_error(path, e))?;
        let bytes = Self::pread(path, file, size.saturating_sub(n)..size).await?;
        Ok((bytes, size))
    }

    async fn read_range(&self, path: &Path, pin: &ObjectPin, range: Range<u64>) -> Result<Bytes> {
        let file = self.file(path, pin)?;
        Self::pread(path, file, range).await
    }

    fn read_into(&self, path: &Path, pin: &ObjectPin, offset: u64, out: &mut [u8]) -> Result<bool> {
        let file = self.file(path, pin)?;
        let end = offset + out.len() as u64;
        file.read_exact_at(out, offset)
            .map_err(|e| short_or_local_error(path, e, end))?;
        Ok(true)
    }

    async fn list_names(
        &self,
        dir: Option<&Path>,
        keep: &(dyn for<'n> Fn(&'n str) -> bool + Send + Sync),
    ) -> Result<Vec<Path>> {
        // The directory is the parent of a name in it (the store's root
        // has no object path of its own).
        let probe = dir.map_or_else(|| Path::from("x"), |d| d.clone().join("x"));
        let fs_dir = self
            .fs_path(&probe)?
            .parent()
            .map(std::path::Path::to_path_buf)
            .unwrap_or_default();
        let failed = |e: rustix::io::Errno| match e {
            rustix::io::Errno::NOENT => Error::Vanished {
                path: fs_dir.display().to_string(),
            },
            e => Error::io(format!("listing {}", fs_dir.display()), e.into()),
        };
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
        let fd = rustix::fs::open(&fs_dir, flags, Mode::empty()).map_err(failed)?;
        let mut paths = Vec::new();
        let mut names = HashMap::new();
        for entry in rustix::fs::Dir::read_from(&fd).map_err(failed)? {
            let entry = entry.map_err(failed)?;
            // Names object_store could not represent are not objects.
            let Ok(name) = entry.file_name().to_str() else {
                continue;
            };
            if name == "." || name == ".." || !keep(name) {
                continue;
            }
            let path = match dir {
                Some(d) => raw_path(&format!("{d}/{name}")),
                None => raw_path(name),
            };
            // As object_store's listing: directories are not objects. The
            // type comes with the entry, except on filesystems that leave
            // it unknown.
            let is_dir = match entry.file_type() {
                FileType::Directory => true,
                FileType::Unknown => rustix::fs::statat(&fd, entry.file_name(), AtFlags::empty())
                    .is_ok_and(|st| FileType::from_raw_mode(st.st_mode) == FileType::Directory),
                _ => false,
            };
            if !is_dir {
                names.insert(path.clone(), entry.file_name().to_owned());
                paths.push(path);
            }
        }
        if let Ok(mut listed) = self.listed.lock() {
            *listed = Some(Arc::new(Listed {
                path: fs_dir,
                fd,
                names,
            }));
        }
        Ok(paths)
    }

    async fn list(&self, dir: Option<&Path>) -> Result<Vec<ObjectMeta>> {
        self.remote.list(dir).await
    }

    async fn create(&self, path: &Path, staging: &Path, payload: PutPayload) -> Result<ObjectPin> {
        if !self.durable {
            return self.remote.create(path, staging, payload).await;
        }
        let bytes: Bytes = payload.into();
        self.durable_create(path, staging, |f| f.write_all(&bytes))
    }

    async fn create_from_parts(
        &self,
        path: &Path,
        staging: &Path,
        file: &SpillFile,
        ranges: &[Range<u64>],
        tail: &[u8],
    ) -> Result<ObjectPin> {
        if !self.durable {
            let pin = self
                .remote
                .create_from_parts(path, staging, file, ranges, tail)
                .await?;
            return Ok(pin);
        }
        #[cfg(target_os = "linux")]
        if file.in_place(ranges)
            && let Some(done) = self.link_in_place(path, staging, file, tail)
        {
            return done;
        }
        self.durable_create(path, staging, |f| {
            for r in ranges {
                file.copy_to(r.clone(), f).map_err(std::io::Error::other)?;
            }
            f.write_all(tail)
        })
    }

    async fn delete(&self, path: &Path) -> Result<()> {
        self.remote.delete(path).await
    }

    async fn get(&self, path: &Path) -> Result<Bytes> {
        self.remote.get(path).await
    }

    fn spill_dir(&self, base: &Path) -> Option<std::path::PathBuf> {
        if !self.durable {
            return None;
        }
        let base = self.fs.path_to_filesystem(base).ok()?;
        base.parent().map(std::path::Path::to_path_buf)
    }
}
