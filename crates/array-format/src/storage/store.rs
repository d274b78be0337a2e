//! The objects of one file: naming, listing, ranged reads and atomic,
//! conditional creation of layer objects.
//!
//! A file whose base is `{stem}.af` consists of the base (layer 0) and the
//! layers `{stem}.{N}.af`, N ≥ 1. Every object is written once, with a
//! conditional create, and never modified; so two writers can never both
//! take number N, and a reader never sees a half-written layer.

use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ObjectMeta, ObjectStore, PutPayload};

use super::SpillFile;
use super::objects::{LocalDir, ObjectPin, Objects, Remote, RequestCost, raw_path};
use crate::error::{Error, Result};

mod read;

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

/// Reads up to this size time the store's request cost, not its bandwidth.
const SMALL_READ: u64 = 256 * 1024;

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

/// The objects of one file: their names, and reads and creates through
/// the storage seam ([`Objects`]) where they live.
#[derive(Clone)]
pub(crate) struct FileStore {
    objects: Arc<dyn Objects>,
    base: Path,
    /// `base` without the `.af` suffix.
    stem: String,
    /// The directory holding the objects (`None` at the store root).
    dir: Option<Path>,
    /// The fastest small read seen, in nanoseconds (`u64::MAX` before the
    /// first): the store's request cost, shared by every clone. The minimum
    /// is what the store itself costs; queueing behind other requests only
    /// ever adds to it.
    fastest_read_ns: Arc<AtomicU64>,
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

impl std::fmt::Debug for FileStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FileStore({} in {})", self.base, self.objects)
    }
}

fn invalid(path: &Path, reason: &str) -> Error {
    Error::InvalidPath {
        path: path.to_string(),
        reason: reason.to_owned(),
    }
}

impl FileStore {
    /// Checks that `base` can name a file in `store` and sets up its object
    /// names. A local directory given as an object store reads like one
    /// given as a path ([`LocalDir`], without fsynced creates).
    pub(crate) fn new(store: Arc<dyn ObjectStore>, base: Path) -> Result<Self> {
        let objects: Arc<dyn Objects> = match super::local_detect::local_file_system(&*store) {
            Some(local) => Arc::new(LocalDir::new(local, false)),
            None => Arc::new(Remote::new(store)),
        };
        Self::with_objects(objects, base)
    }

    /// The file `base` of the local directory `fs`, read directly, its
    /// creates fsynced when `durable`.
    pub(crate) fn local(fs: Arc<LocalFileSystem>, base: Path, durable: bool) -> Result<Self> {
        Self::with_objects(Arc::new(LocalDir::new(fs, durable)), base)
    }

    /// The file `base` of `objects`.
    pub(crate) fn with_objects(objects: Arc<dyn Objects>, base: Path) -> Result<Self> {
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
        Ok(Self {
            objects,
            stem: stem.to_owned(),
            dir,
            base,
            fastest_read_ns: Arc::new(AtomicU64::new(u64::MAX)),
            fetch: FetchPolicy {
                coalesce_gap: crate::file::DEFAULT_COALESCE_GAP,
                requests_per_read: crate::file::DEFAULT_REQUESTS_PER_READ,
            },
        })
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

    /// The size of the read units that reads should fetch neighbouring
    /// frames in, by what a request to this store costs; `None` when exact
    /// reads are best: direct local reads, stores whose requests cost
    /// almost nothing, and stores not yet timed (exact reads are correct
    /// everywhere, merely more numerous on a slow store).
    pub(crate) fn read_unit(&self) -> Option<u64> {
        if self.reads_by_system_call() {
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

    /// A fresh, unique name for staging an object before it is linked into
    /// place; crashes can leave these behind for `vacuum` to remove.
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
    /// a file needs, in one `readdir` where the directory is read directly
    /// (`object_store` would also stat every entry).
    pub(crate) async fn list_layer_names(&self) -> Result<Vec<LayerObject>> {
        // Names of other files are skipped before a path is built; the
        // layer number is parsed once, below.
        let keep = |name: &str| name.ends_with(".af");
        let names = match self.objects.list_names(self.dir.as_ref(), &keep).await {
            Err(Error::Vanished { .. }) => return Err(self.not_found()),
            other => other?,
        };
        let mut layers: Vec<LayerObject> = names
            .into_iter()
            .filter_map(|path| {
                let seq = self.parse_layer(&path)?;
                Some(LayerObject { seq, path, size: 0 })
            })
            .collect();
        layers.sort_by_key(|l| l.seq);
        Ok(layers)
    }

    fn not_found(&self) -> Error {
        Error::FileNotFound {
            path: self.base.to_string(),
        }
    }

    /// Whether layers are read from a local directory directly, on the
    /// calling task.
    pub(crate) fn reads_by_system_call(&self) -> bool {
        self.objects.request_cost() == RequestCost::SystemCall
    }

    /// Bytes to read from the end of a layer when opening it (see
    /// [`Objects::tail_probe`]).
    pub(crate) fn tail_probe(&self) -> u64 {
        self.objects.tail_probe()
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

    /// Deletes `path`; a missing object is not an error.
    pub(crate) async fn delete(&self, path: &Path) -> Result<()> {
        self.objects.delete(path).await
    }

    /// Every object of this file: layers and staging leftovers.
    pub(crate) async fn list_all(&self) -> Result<Vec<ObjectMeta>> {
        Ok(self
            .objects
            .list(self.dir.as_ref())
            .await?
            .into_iter()
            .filter(|m| self.parse_layer(&m.location).is_some() || self.is_staging(&m.location))
            .collect())
    }

    /// Every object directly in `dir`, with sizes and dates (none when it
    /// does not exist).
    pub(crate) async fn list_dir(&self, dir: &Path) -> Result<Vec<ObjectMeta>> {
        self.objects.list(Some(dir)).await
    }

    /// Creates `path` holding `payload`, failing with [`Error::Conflict`] if
    /// it exists; the pin holds the object created.
    pub(crate) async fn create_object(
        &self,
        path: &Path,
        payload: PutPayload,
    ) -> Result<ObjectPin> {
        let staging = self.staging_for(path);
        self.objects.create(path, &staging, payload).await
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
        let staging = self.staging_for(path);
        self.objects
            .create_from_parts(path, &staging, file, ranges, tail)
            .await
    }

    fn staging_for(&self, path: &Path) -> Path {
        self.staging_path(self.parse_layer(path).unwrap_or(0))
    }

    /// The directory a pending layer of this file spills into: the file's
    /// own for durable local files (so that its spill file can become the
    /// layer without a copy), else none (the system's temporary directory).
    pub(crate) fn spill_dir(&self) -> Option<std::path::PathBuf> {
        self.objects.spill_dir(&self.base)
    }

    /// The whole object `path`.
    pub(crate) async fn get(&self, path: &Path) -> Result<Bytes> {
        self.objects.get(path).await
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::objects::SINGLE_PUT_LIMIT;
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
        s.objects
            .create(
                &Path::from("g.3.af"),
                &Path::from("g.3.0000000000000000.staging"),
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
