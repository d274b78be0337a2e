//! The objects of one file: naming, listing, ranged reads and atomic,
//! conditional creation of layer objects.
//!
//! A file whose base is `{stem}.af` consists of the base (layer 0) and the
//! layers `{stem}.{N}.af`, N ≥ 1. Every object is written once, with a
//! conditional create, and never modified; so two writers can never both
//! take number N, and a reader never sees a half-written layer.

use std::collections::HashMap;
use std::ffi::CString;
use std::fs::File;
use std::ops::Range;
use std::os::fd::OwnedFd;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use object_store::path::Path;
use std::io::Write;

use object_store::local::LocalFileSystem;
use object_store::{
    GetOptions, GetRange, ObjectMeta, ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload,
};
use rustix::fs::{AtFlags, FileType, Mode, OFlags};

use super::SpillFile;
use crate::error::{Error, Result};

/// Layers up to this size are committed with one conditional put from
/// memory; larger ones stream to a staging object that is then linked into
/// place with `copy_if_not_exists`.
pub(crate) const SINGLE_PUT_LIMIT: u64 = 16 * 1024 * 1024;

/// Part size of streamed uploads.
const PART_SIZE: usize = 8 * 1024 * 1024;

/// Below this request cost (memory, or a local file read with `pread`),
/// reads fetch exactly the frames they need.
const FAST_LATENCY: Duration = Duration::from_micros(5);

/// From this request cost on (object stores: 5-100 ms), a store is remote.
const REMOTE_LATENCY: Duration = Duration::from_millis(1);

/// Read units on stores whose requests cost tens of microseconds (a local
/// directory through `object_store`, ~20-30 us a request here): about what
/// such a store transfers in the time one request costs, so a random read
/// costs at most about twice an exact one.
const LOCAL_READ_UNIT: u64 = 256 * 1024;

/// Read units on remote stores, by the same rule (10 ms at 100 MB/s).
const REMOTE_READ_UNIT: u64 = 1024 * 1024;

/// Bytes read from the end of a layer on open through `object_store`, where
/// a second request costs as much as 64 KiB more in the first.
const TAIL_PROBE: u64 = 64 * 1024;

/// The same for a directory read directly, where a second read is a system
/// call and every byte of the first is copied.
const LOCAL_TAIL_PROBE: u64 = 4 * 1024;

/// Reads up to this size time the store's request cost, not its bandwidth.
const SMALL_READ: u64 = 256 * 1024;

/// Local reads up to this size run on the calling task: a `pread` served by
/// the page cache takes microseconds, less than handing it to a thread.
/// Larger ones go to tokio's blocking pool.
const INLINE_READ: u64 = 1024 * 1024;

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
    file: OnceLock<Arc<File>>,
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
    fn tagged(e_tag: Option<String>) -> Self {
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

/// A layer object found by listing.
#[derive(Debug, Clone)]
pub(crate) struct LayerObject {
    /// The layer number (0 for the base).
    pub(crate) seq: u64,
    /// Its path.
    pub(crate) path: Path,
    /// Its size in bytes.
    pub(crate) size: u64,
}

/// The objects of one file in an object store.
#[derive(Clone)]
pub(crate) struct FileStore {
    store: Arc<dyn ObjectStore>,
    base: Path,
    /// `base` without the `.af` suffix.
    stem: String,
    /// The directory holding the objects (`None` at the store root).
    dir: Option<Path>,
    /// Set when the store is a local directory whose commits must be
    /// durable: commits then go through the filesystem directly, with fsync.
    durable_local: Option<Arc<LocalFileSystem>>,
    /// The fastest small read seen, in nanoseconds (`u64::MAX` before the
    /// first): the store's request cost, shared by every clone. The minimum
    /// is what the store itself costs; queueing behind other requests only
    /// ever adds to it.
    fastest_read_ns: Arc<AtomicU64>,
    /// Set when the store is a local directory: layers are then read with
    /// `pread` on open files instead of through `object_store`, whose
    /// local reads cost a thread hand-off and an `open` each.
    local_reads: Option<Arc<LocalReads>>,
    fetch: FetchPolicy,
}

/// How reads fetch frames from the store ([`FileConfig`](crate::FileConfig)'s
/// `coalesce_gap` and `requests_per_read`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct FetchPolicy {
    /// Frames of one object this close are fetched in one request.
    pub(crate) coalesce_gap: u64,
    /// Requests one read keeps in flight (at least 1).
    pub(crate) requests_per_read: usize,
}

/// A local directory whose layers are read directly.
#[derive(Debug)]
struct LocalReads {
    fs: Arc<LocalFileSystem>,
    /// The directory as the last listing opened it. Layers are opened
    /// relative to it (`openat`): an open of a file with hundreds of layers
    /// is mostly system calls, and a whole-path open walks every component
    /// of the path each time.
    listed: Mutex<Option<Arc<Listed>>>,
}

/// A directory opened for a listing, its path, and the names on disk of the
/// layers it listed.
#[derive(Debug)]
struct Listed {
    path: std::path::PathBuf,
    fd: OwnedFd,
    /// Each listed layer's name as `readdir` gave it, by object path: a
    /// layer is opened by it without turning its object path back into a
    /// filesystem one (a URL parse and percent-decoding per layer, a
    /// twentieth of an open of 200 layers).
    names: HashMap<Path, CString>,
}

impl std::fmt::Debug for FileStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FileStore({} in {})", self.base, self.store)
    }
}

/// The path `s` as it stands. A local store names files by a path's raw
/// string and lists them the same way, so a name built from parts of a
/// path (or read from a directory) is taken verbatim: `Path::from` would
/// percent-encode it again (`%` becomes `%25`) and name another file.
/// Opens `name` in the listed directory `dir`, for reading.
fn open_at(dir: &Listed, name: impl rustix::path::Arg) -> std::io::Result<File> {
    let flags = OFlags::RDONLY | OFlags::CLOEXEC;
    rustix::fs::openat(&dir.fd, name, flags, Mode::empty())
        .map(File::from)
        .map_err(std::io::Error::from)
}

pub(super) fn raw_path(s: &str) -> Path {
    Path::parse(s).unwrap_or_else(|_| Path::from(s))
}

fn invalid(path: &Path, reason: &str) -> Error {
    Error::InvalidPath {
        path: path.to_string(),
        reason: reason.to_owned(),
    }
}

impl FileStore {
    /// Checks that `base` can name a file and sets up its object names.
    pub(crate) fn new(store: Arc<dyn ObjectStore>, base: Path) -> Result<Self> {
        let full = base.as_ref();
        let stem = full
            .strip_suffix(".af")
            .ok_or_else(|| invalid(&base, "the path must end in \".af\""))?;
        let name = stem.rsplit('/').next().unwrap_or(stem);
        if name.is_empty() {
            return Err(invalid(&base, "the file name before \".af\" is empty"));
        }
        // "data.5.af" would be indistinguishable from layer 5 of "data.af".
        if let Some((_, last)) = name.rsplit_once('.')
            && !last.is_empty()
            && last.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(invalid(
                &base,
                "the name must not end in \".<number>.af\": that is how layer objects are named",
            ));
        }
        let dir = full.rsplit_once('/').map(|(d, _)| raw_path(d));
        let local = super::local_detect::local_file_system(store.as_ref());
        let fs = Self {
            store,
            stem: stem.to_owned(),
            dir,
            base,
            durable_local: None,
            fastest_read_ns: Arc::new(AtomicU64::new(u64::MAX)),
            local_reads: None,
            fetch: FetchPolicy {
                coalesce_gap: crate::file::DEFAULT_COALESCE_GAP,
                requests_per_read: crate::file::DEFAULT_REQUESTS_PER_READ,
            },
        };
        // A local directory given as an object store reads like one given
        // as a path.
        Ok(match local {
            Some(local) => fs.with_local_reads(local),
            None => fs,
        })
    }

    /// Makes commits durable on the local filesystem `local` (which must be
    /// the store this `FileStore` was made with).
    pub(crate) fn with_durable_local(mut self, local: Arc<LocalFileSystem>) -> Self {
        self.durable_local = Some(local);
        self
    }

    /// Sets how reads fetch frames.
    pub(crate) fn with_fetch_policy(mut self, coalesce_gap: u64, requests_per_read: usize) -> Self {
        self.fetch = FetchPolicy {
            coalesce_gap,
            requests_per_read: requests_per_read.max(1),
        };
        self
    }

    /// How reads fetch frames.
    pub(crate) fn fetch_policy(&self) -> FetchPolicy {
        self.fetch
    }

    /// Reads layers of the local directory `local` (the store this
    /// `FileStore` was made with) directly, with `pread`.
    pub(crate) fn with_local_reads(mut self, local: Arc<LocalFileSystem>) -> Self {
        self.local_reads = Some(Arc::new(LocalReads {
            fs: local,
            listed: Mutex::new(None),
        }));
        self
    }

    /// The size of the read units that reads should fetch neighbouring
    /// frames in, by what a request to this store costs; `None` when exact
    /// reads are best: direct local reads, stores whose requests cost
    /// almost nothing, and stores not yet timed (exact reads are correct
    /// everywhere, merely more numerous on a slow store).
    pub(crate) fn read_unit(&self) -> Option<u64> {
        if self.local_reads.is_some() {
            return None;
        }
        let fastest = self.fastest_read_ns.load(Ordering::Relaxed);
        if fastest == u64::MAX || fastest < FAST_LATENCY.as_nanos() as u64 {
            None
        } else if fastest < REMOTE_LATENCY.as_nanos() as u64 {
            Some(LOCAL_READ_UNIT)
        } else {
            Some(REMOTE_READ_UNIT)
        }
    }

    /// The fastest small read seen: what a request to this store costs
    /// (`None` before the first timed read).
    pub(crate) fn request_cost(&self) -> Option<Duration> {
        match self.fastest_read_ns.load(Ordering::Relaxed) {
            u64::MAX => None,
            ns => Some(Duration::from_nanos(ns)),
        }
    }

    fn time_read(&self, started: Instant, len: usize) {
        if len as u64 <= SMALL_READ {
            let ns = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX - 1);
            self.fastest_read_ns.fetch_min(ns, Ordering::Relaxed);
        }
    }

    /// The base object's path without `.af`.
    pub(super) fn stem(&self) -> &str {
        &self.stem
    }

    /// The underlying object store.
    pub(crate) fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// The base object's path.
    pub(crate) fn base_path(&self) -> &Path {
        &self.base
    }

    /// The object path of layer `seq`.
    pub(crate) fn layer_path(&self, seq: u64) -> Path {
        if seq == 0 {
            self.base.clone()
        } else {
            raw_path(&format!("{}.{seq}.af", self.stem))
        }
    }

    /// The layer number `path` names, if it is a layer of this file.
    pub(crate) fn parse_layer(&self, path: &Path) -> Option<u64> {
        let s = path.as_ref();
        if s == self.base.as_ref() {
            return Some(0);
        }
        let rest = s.strip_prefix(&self.stem)?.strip_prefix('.')?;
        let digits = rest.strip_suffix(".af")?;
        if digits.is_empty()
            || !digits.bytes().all(|b| b.is_ascii_digit())
            || digits.starts_with('0')
        {
            return None;
        }
        digits.parse().ok().filter(|&n| n > 0)
    }

    /// A fresh, unique name for staging a large layer before it is linked
    /// into place; crashes can leave these behind for `vacuum` to remove.
    pub(crate) fn staging_path(&self, seq: u64) -> Path {
        let tag: u64 = rand::random();
        raw_path(&format!("{}.{seq}.{tag:016x}.staging", self.stem))
    }

    /// Whether `path` is a staging object of this file
    /// (`{stem}.{N}.{16 hex digits}.staging`).
    pub(crate) fn is_staging(&self, path: &Path) -> bool {
        let Some(rest) = path
            .as_ref()
            .strip_prefix(&self.stem)
            .and_then(|r| r.strip_prefix('.'))
            .and_then(|r| r.strip_suffix(".staging"))
        else {
            return false;
        };
        let Some((seq, tag)) = rest.split_once('.') else {
            return false;
        };
        !seq.is_empty()
            && seq.bytes().all(|b| b.is_ascii_digit())
            && tag.len() == 16
            && tag.bytes().all(|b| b.is_ascii_hexdigit())
    }

    /// The numbers and paths of this file's layer objects, ordered by
    /// number, without their sizes (the `size` fields are 0): what opening
    /// a file needs. A directory read directly is listed with one
    /// `readdir`, where `object_store` would also stat every entry.
    pub(crate) async fn list_layer_names(&self) -> Result<Vec<LayerObject>> {
        let Some(local) = &self.local_reads else {
            return self.list_layers().await;
        };
        let base = local
            .fs
            .path_to_filesystem(&self.base)
            .map_err(|e| Error::storage(self.base.as_ref(), e))?;
        let dir = base
            .parent()
            .map(std::path::Path::to_path_buf)
            .unwrap_or_default();
        let failed = |e: rustix::io::Errno| match e {
            rustix::io::Errno::NOENT => Error::FileNotFound {
                path: self.base.to_string(),
            },
            e => Error::io(format!("listing {}", dir.display()), e.into()),
        };
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
        let fd = rustix::fs::open(&dir, flags, Mode::empty()).map_err(failed)?;
        let mut layers = Vec::new();
        let mut names = HashMap::new();
        for entry in rustix::fs::Dir::read_from(&fd).map_err(failed)? {
            let entry = entry.map_err(failed)?;
            // Names object_store could not represent are not layers.
            let Ok(name) = entry.file_name().to_str() else {
                continue;
            };
            // Entries of other files are skipped before building a path
            // (the stem is compared later, percent-encoded as in the path).
            if !name.ends_with(".af") {
                continue;
            }
            let path = match &self.dir {
                Some(d) => raw_path(&format!("{d}/{name}")),
                None => raw_path(name),
            };
            let Some(seq) = self.parse_layer(&path) else {
                continue;
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
                layers.push(LayerObject { seq, path, size: 0 });
            }
        }
        layers.sort_by_key(|l| l.seq);
        if let Ok(mut listed) = local.listed.lock() {
            *listed = Some(Arc::new(Listed {
                path: dir,
                fd,
                names,
            }));
        }
        Ok(layers)
    }

    /// Whether layers are read from a local directory directly, on the
    /// calling task.
    pub(crate) fn reads_locally(&self) -> bool {
        self.local_reads.is_some()
    }

    /// Bytes to read from the end of a layer when opening it: the trailer
    /// and, for most layers, the whole footer in one request. A second read
    /// fetches a larger footer; on a directory read directly it costs a
    /// system call, so the first one stays small.
    pub(crate) fn tail_probe(&self) -> u64 {
        if self.local_reads.is_some() {
            LOCAL_TAIL_PROBE
        } else {
            TAIL_PROBE
        }
    }

    /// Every layer object of this file, ordered by number.
    pub(crate) async fn list_layers(&self) -> Result<Vec<LayerObject>> {
        let mut layers: Vec<LayerObject> = self
            .list_all()
            .await?
            .into_iter()
            .filter_map(|m| {
                self.parse_layer(&m.location).map(|seq| LayerObject {
                    seq,
                    path: m.location,
                    size: m.size,
                })
            })
            .collect();
        layers.sort_by_key(|l| l.seq);
        Ok(layers)
    }

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

    /// Deletes `path`; a missing object is not an error.
    pub(crate) async fn delete(&self, path: &Path) -> Result<()> {
        match self.store.delete(path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(Error::storage(path.as_ref(), e)),
        }
    }

    /// Every object of this file: layers and staging leftovers.
    pub(crate) async fn list_all(&self) -> Result<Vec<ObjectMeta>> {
        let dir_name = self
            .dir
            .as_ref()
            .map_or("<root>".to_owned(), |d| d.to_string());
        // One directory level only: a file at the root of a bucket must not
        // list the whole bucket.
        let listing = self
            .store
            .list_with_delimiter(self.dir.as_ref())
            .await
            .map_err(|e| Error::storage(dir_name, e))?;
        Ok(listing
            .objects
            .into_iter()
            .filter(|m| self.parse_layer(&m.location).is_some() || self.is_staging(&m.location))
            .collect())
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use object_store::memory::InMemory;

    async fn paths(s: &FileStore) -> Vec<Path> {
        s.list_all()
            .await
            .unwrap()
            .into_iter()
            .map(|m| m.location)
            .collect()
    }

    fn fs(base: &str) -> Result<FileStore> {
        FileStore::new(Arc::new(InMemory::new()), Path::from(base))
    }

    #[test]
    fn names() {
        let s = fs("dir/data.af").unwrap();
        assert_eq!(s.layer_path(0).as_ref(), "dir/data.af");
        assert_eq!(s.layer_path(12).as_ref(), "dir/data.12.af");
        assert_eq!(s.parse_layer(&Path::from("dir/data.12.af")), Some(12));
        assert_eq!(s.parse_layer(&Path::from("dir/data.af")), Some(0));
        for other in [
            "dir/data.012.af",
            "dir/data.0.af",
            "dir/data.x.af",
            "dir/data.af.1",
            "dir/datax.1.af",
            "dir/data.1.af.ab.staging",
        ] {
            assert_eq!(s.parse_layer(&Path::from(other)), None, "{other}");
        }
        assert!(matches!(fs("data.bin"), Err(Error::InvalidPath { .. })));
        assert!(matches!(fs("dir/.af"), Err(Error::InvalidPath { .. })));
        assert!(matches!(fs("data.5.af"), Err(Error::InvalidPath { .. })));
        assert!(fs("data.v5.af").is_ok());
        let staging = s.staging_path(7);
        assert!(s.is_staging(&staging), "{staging}");
        assert!(!s.is_staging(&Path::from("dir/data.x.af.0123456789abcdef.staging")));
        assert!(!s.is_staging(&Path::from("dir/data.7.xyz.staging")));
    }

    #[test]
    fn names_with_escapes_are_not_escaped_again() {
        // A file named by an encoded path: its layers share the encoding.
        let s = fs("my dir%/run #1 (100%).af").unwrap();
        assert_eq!(s.base_path().as_ref(), "my dir%25/run %231 (100%25).af");
        let layer = s.layer_path(3);
        assert_eq!(layer.as_ref(), "my dir%25/run %231 (100%25).3.af");
        assert_eq!(s.parse_layer(&layer), Some(3));
        assert!(s.is_staging(&s.staging_path(3)));
        // And by a verbatim one, as a local file's name is taken.
        let raw = FileStore::new(
            Arc::new(InMemory::new()),
            Path::parse("run #1 (100%).af").unwrap(),
        )
        .unwrap();
        assert_eq!(raw.layer_path(3).as_ref(), "run #1 (100%).3.af");
        assert_eq!(raw.parse_layer(&raw.layer_path(3)), Some(3));
    }

    #[tokio::test]
    async fn conditional_create_conflicts() {
        let s = fs("d/f.af").unwrap();
        let p = s.layer_path(1);
        s.create_object(&p, PutPayload::from_static(b"one"))
            .await
            .unwrap();
        let e = s
            .create_object(&p, PutPayload::from_static(b"two"))
            .await
            .unwrap_err();
        assert!(matches!(e, Error::Conflict { .. }), "{e}");
        assert_eq!(&s.read_range(&p, 0..3).await.unwrap()[..], b"one");
    }

    #[tokio::test]
    async fn large_layers_stream_through_staging() {
        let s = fs("d/f.af").unwrap();
        let len = SINGLE_PUT_LIMIT + 12345;
        let mut file = SpillFile::new().unwrap();
        let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        file.append(&data).unwrap();
        let p = s.layer_path(3);
        // Two ranges out of order plus a tail, as a layer with a dropped frame has.
        let ranges = [100..len, 0..100];
        s.create_from_parts(&p, &file, &ranges, b"TAIL")
            .await
            .unwrap();
        let (tail, size) = s.read_tail(&p, 104).await.unwrap();
        assert_eq!(size, len + 4);
        assert_eq!(&tail[..100], &data[..100]);
        assert_eq!(&tail[100..], b"TAIL");
        assert_eq!(s.read_range(&p, 0..5).await.unwrap(), &data[100..105]);
        // The staging object is gone and the listing sees only the layer.
        assert_eq!(paths(&s).await, vec![p.clone()]);
        let e = s
            .create_from_parts(&p, &file, &ranges, b"TAIL")
            .await
            .unwrap_err();
        assert!(matches!(e, Error::Conflict { .. }), "{e}");
        assert_eq!(paths(&s).await, vec![p]);
    }

    #[tokio::test]
    async fn listing_orders_numerically_and_missing_base_is_file_not_found() {
        let s = fs("f.af").unwrap();
        for n in [10u64, 2, 0, 1] {
            s.create_object(&s.layer_path(n), PutPayload::from_static(b"x"))
                .await
                .unwrap();
        }
        s.store()
            .put(
                &Path::from("g.3.af"),
                PutPayload::from_static(b"other file"),
            )
            .await
            .unwrap();
        let seqs: Vec<u64> = s
            .list_layers()
            .await
            .unwrap()
            .iter()
            .map(|l| l.seq)
            .collect();
        assert_eq!(seqs, vec![0, 1, 2, 10]);
        let t = fs("missing.af").unwrap();
        let e = t.read_tail(t.base_path(), 32).await.unwrap_err();
        assert!(matches!(e, Error::FileNotFound { .. }), "{e}");
    }
}
