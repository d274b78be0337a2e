//! Creating and opening files: loading the visible layers into the index.
//!
//! Open lists the layer objects, reads the newest layer's footer to learn
//! which snapshot it builds on (its generation), then reads that snapshot and
//! every delta above it, checking that they form one chain: same dataset id,
//! consecutive numbers, each delta naming its predecessor as parent.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures::{StreamExt, TryStreamExt};
use object_store::ObjectStore;
use object_store::path::Path;

use super::index::CommittedIndex;
use super::{ArrayFile, FileConfig, Settings};
use crate::codec::CompressionCodec;
use crate::error::{Error, Result};
use crate::format::{Id, LayerKind};
use crate::layer::LayerReader;
use crate::storage::{FileStore, LayerObject};

/// Footers read concurrently on open.
const OPEN_CONCURRENCY: usize = 16;

/// Attempts at a consistent listing when layers vanish mid-open (a
/// concurrent compaction reclaimed them).
const OPEN_ATTEMPTS: u32 = 5;

pub(crate) fn random_id() -> Id {
    loop {
        let id: Id = rand::random();
        if id != [0u8; 16] {
            return id;
        }
    }
}

pub(crate) fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

pub(crate) const WRITER: &str = concat!("array-format ", env!("CARGO_PKG_VERSION"));

impl ArrayFile {
    /// Opens the file at `path` in `store`.
    ///
    /// Reads the trailer and footer of the newest snapshot and of every layer
    /// above it (concurrently) and builds the merged index; no array data is
    /// read until asked for.
    pub async fn open<C: CompressionCodec + 'static>(
        store: Arc<dyn ObjectStore>,
        path: Path,
        config: FileConfig<C>,
    ) -> Result<Self> {
        let fs = FileStore::new(store, path)?;
        Self::open_in(fs, config).await
    }

    pub(super) async fn open_in<C: CompressionCodec + 'static>(
        fs: FileStore,
        config: FileConfig<C>,
    ) -> Result<Self> {
        let fs = fs.with_fetch_policy(config.coalesce_gap, config.requests_per_read);
        let as_of = config.as_of;
        let (index, dataset_id) = load_index(&fs, as_of).await?;
        Ok(Self {
            store: fs,
            settings: Settings::from_config(config),
            dataset_id,
            index,
            pending: None,
            unconfirmed: None,
            as_of,
        })
    }

    /// Opens the file at a local filesystem `path`; see
    /// [`create_path`](Self::create_path) for durability.
    pub async fn open_path<C: CompressionCodec + 'static>(
        path: impl AsRef<std::path::Path>,
        config: FileConfig<C>,
    ) -> Result<Self> {
        let fs = local_store(path.as_ref(), config.durable, false)?;
        Self::open_in(fs, config).await
    }
}

/// Loads the visible layers (as of layer `as_of`, or the newest).
pub(crate) async fn load_index(fs: &FileStore, as_of: Option<u64>) -> Result<(CommittedIndex, Id)> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let last = attempt >= OPEN_ATTEMPTS;
        match try_load(fs, as_of, last).await {
            // A listing is not a snapshot of the directory: racing a
            // compaction it can miss a layer just deleted or a snapshot just
            // created. List again before calling the file damaged.
            // No timer: the runtime may not have one enabled.
            Err(Error::Vanished { .. }) if !last => tokio::task::yield_now().await,
            other => return other,
        }
    }
}

async fn open_layer(fs: &FileStore, obj: &LayerObject) -> Result<LayerReader> {
    let reader = LayerReader::open(fs, obj.path.clone()).await?;
    if reader.header.seq != obj.seq {
        return Err(Error::corrupted(
            obj.path.as_ref(),
            format!(
                "the object is named as layer {} but its footer says layer {}",
                obj.seq, reader.header.seq
            ),
        ));
    }
    Ok(reader)
}

/// Opens `layers` and hands each to `apply`, in order. Through
/// `object_store` up to [`OPEN_CONCURRENCY`] requests are in flight. A
/// directory read directly answers each read on the calling task, so there,
/// with many layers, threads of their own open layers too (an open is then
/// mostly system calls, which run in parallel) and send them back, while
/// this task applies every layer in order as soon as it is there: applying,
/// which must go in order, overlaps the opening of the layers after it.
///
/// Layers are shared out one at a time, not in fixed runs: whenever the
/// next layer to apply is not there yet, this task opens the next unclaimed
/// one itself rather than wait. It only waits for a layer another thread
/// is opening, once none is left to claim, so a helper that starts late
/// (waking an idle core can take longer than opening tens of layers) slows
/// nothing down.
async fn open_layers(
    fs: &FileStore,
    layers: Vec<LayerObject>,
    apply: &mut (dyn FnMut(LayerReader) -> Result<()> + Send),
) -> Result<()> {
    let cores = crate::cores();
    let runtime = tokio::runtime::Handle::try_current().ok();
    let Some(runtime) = runtime
        .filter(|_| fs.reads_by_system_call() && layers.len() >= PARALLEL_OPEN_MIN && cores >= 2)
    else {
        // The futures are collected first: a stream mapping a borrowing
        // closure makes callers' futures fail `Send` (rust-lang/rust#102211).
        let mut opens = Vec::with_capacity(layers.len());
        for o in &layers {
            opens.push(open_layer(fs, o));
        }
        let mut opened = futures::stream::iter(opens).buffered(OPEN_CONCURRENCY);
        while let Some(layer) = opened.try_next().await? {
            apply(layer)?;
        }
        return Ok(());
    };
    let n = layers.len();
    let shared = Arc::new(SharedOpens {
        layers,
        next: AtomicUsize::new(0),
    });
    let (tx, mut rx) = futures::channel::mpsc::unbounded();
    for _ in 1..cores {
        let (fs, shared, tx) = (fs.clone(), Arc::clone(&shared), tx.clone());
        // A blocking-pool thread, not a runtime worker: waking a worker
        // sets others searching for work, and on few cores they take turns
        // with the opens.
        let handle = runtime.clone();
        runtime.spawn_blocking(move || {
            handle.block_on(async move {
                while let Some((i, o)) = shared.claim() {
                    let opened = open_layer(&fs, o).await;
                    let failed = opened.is_err();
                    // A closed channel means the open failed elsewhere.
                    if tx.unbounded_send((i, opened)).is_err() || failed {
                        break;
                    }
                }
            })
        });
    }
    // Only the helpers hold senders now: the channel ends when they do.
    drop(tx);
    // Whatever ends this loop (an error included), helpers claim no more.
    let _stop = StopClaims(&shared);
    let mut arrived: Vec<Option<Result<LayerReader>>> = (0..n).map(|_| None).collect();
    let mut helpers_done = false;
    let mut applied = 0;
    while applied < n {
        while !helpers_done {
            match rx.try_recv() {
                Ok((i, opened)) => keep(&mut arrived, i, opened),
                Err(e) if e.is_closed() => helpers_done = true,
                Err(_) => break,
            }
        }
        if let Some(opened) = arrived.get_mut(applied).and_then(Option::take) {
            apply(opened?)?;
            applied += 1;
        } else if let Some((i, o)) = shared.claim() {
            keep(&mut arrived, i, open_layer(fs, o).await);
        } else if helpers_done {
            // A helper claimed this layer and ended without sending it
            // (no error: it would have been sent): it panicked.
            return Err(Error::io(
                format!("opening the layers of {}", fs.base_path()),
                std::io::Error::other("a layer-opening task stopped"),
            ));
        } else {
            match rx.next().await {
                Some((i, opened)) => keep(&mut arrived, i, opened),
                None => helpers_done = true,
            }
        }
    }
    Ok(())
}

/// Holds layer `i`, opened (or not), until its turn to be applied.
fn keep(arrived: &mut [Option<Result<LayerReader>>], i: usize, opened: Result<LayerReader>) {
    if let Some(slot) = arrived.get_mut(i) {
        *slot = Some(opened);
    }
}

/// The layers an open shares out between threads, and the first one not
/// yet claimed.
struct SharedOpens {
    layers: Vec<LayerObject>,
    next: AtomicUsize,
}

impl SharedOpens {
    /// The next unclaimed layer and its position, if any is left.
    fn claim(&self) -> Option<(usize, &LayerObject)> {
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        self.layers.get(i).map(|o| (i, o))
    }
}

/// Leaves no layer to claim when dropped.
struct StopClaims<'a>(&'a SharedOpens);

impl Drop for StopClaims<'_> {
    fn drop(&mut self) {
        self.0.next.store(self.0.layers.len(), Ordering::Relaxed);
    }
}

/// From this many layers on, a directory read directly opens them in
/// parallel (below it, spawning costs more than it saves).
const PARALLEL_OPEN_MIN: usize = 32;

/// One attempt; a gap in the listing is reported as `Vanished` (worth a
/// fresh listing) unless this is the `last` attempt.
async fn try_load(fs: &FileStore, as_of: Option<u64>, last: bool) -> Result<(CommittedIndex, Id)> {
    let mut listed = fs.list_layer_names().await?;
    let listed_max = listed.last().map_or(0, |o| o.seq);
    if let Some(n) = as_of {
        if !listed.iter().any(|o| o.seq == n) {
            return Err(Error::VersionNotFound {
                path: fs.base_path().to_string(),
                layer: n,
            });
        }
        listed.retain(|o| o.seq <= n);
    }
    let (Some(anchor_obj), Some(latest_obj)) = (listed.first(), listed.last()) else {
        return Err(Error::FileNotFound {
            path: fs.base_path().to_string(),
        });
    };
    if anchor_obj.seq != 0 {
        return Err(Error::FileNotFound {
            path: fs.base_path().to_string(),
        });
    }
    let anchor = open_layer(fs, anchor_obj).await?;
    let dataset_id = anchor.header.dataset_id;
    let latest = if latest_obj.seq == 0 {
        None
    } else {
        Some(open_layer(fs, latest_obj).await?)
    };
    let generation = latest.as_ref().map_or(0, |l| l.header.generation);

    // Every layer from the snapshot up to the newest must be present.
    let mut chain: Vec<&LayerObject> = Vec::new();
    let mut expect = generation;
    for obj in listed
        .iter()
        .filter(|o| o.seq >= generation && o.seq < latest_obj.seq)
    {
        if obj.seq != expect {
            break;
        }
        chain.push(obj);
        expect += 1;
    }
    if latest_obj.seq > 0 && expect != latest_obj.seq {
        // An old version whose lower layers were reclaimed is simply gone.
        if let Some(layer) = as_of
            && layer < listed_max
        {
            return Err(Error::VersionNotFound {
                path: fs.base_path().to_string(),
                layer,
            });
        }
        if !last {
            return Err(Error::Vanished {
                path: fs.layer_path(expect).to_string(),
            });
        }
        return Err(Error::corrupted(
            fs.layer_path(expect).as_ref(),
            format!(
                "layer {expect} is missing: layer {} builds on snapshot {generation}",
                latest_obj.seq
            ),
        ));
    }
    let chain: Vec<LayerObject> = chain.into_iter().filter(|o| o.seq != 0).cloned().collect();
    let mut index = CommittedIndex::default();
    let mut prev: Option<Id> = None;
    let mut first = true;
    let mut apply = |reader: LayerReader| -> Result<()> {
        let h = &reader.header;
        let path = || reader.path.to_string();
        if h.dataset_id != dataset_id {
            return Err(Error::corrupted(
                path(),
                "the layer belongs to another file (dataset id differs from the base)",
            ));
        }
        if first {
            if h.kind != LayerKind::Snapshot || h.seq != generation {
                return Err(Error::corrupted(
                    path(),
                    format!("layer {} was expected to be snapshot {generation}", h.seq),
                ));
            }
        } else if h.kind != LayerKind::Delta
            || h.generation != generation
            || Some(h.parent_id) != prev
        {
            return Err(Error::corrupted(
                path(),
                format!(
                    "layer {} does not continue the chain from snapshot {generation} (kind {:?}, generation {})",
                    h.seq, h.kind, h.generation
                ),
            ));
        }
        first = false;
        prev = Some(h.layer_id);
        index.apply(reader)
    };
    if generation == 0 {
        apply(anchor)?;
    }
    open_layers(fs, chain, &mut apply).await?;
    if let Some(latest) = latest {
        apply(latest)?;
    }
    Ok((index, dataset_id))
}

/// The store and object path of a local file: the store is rooted at the
/// file's directory (created if `create`), the object is the file name.
pub(super) fn local_store(
    path: &std::path::Path,
    durable: bool,
    create: bool,
) -> Result<FileStore> {
    let invalid = |reason: &str| Error::InvalidPath {
        path: path.display().to_string(),
        reason: reason.to_owned(),
    };
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| invalid("the path has no file name in UTF-8"))?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    if create {
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::io(format!("creating directory {}", dir.display()), e))?;
    }
    let dir = dir.canonicalize().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::FileNotFound {
            path: path.display().to_string(),
        },
        _ => Error::io(format!("resolving directory {}", dir.display()), e),
    })?;
    let local = Arc::new(
        object_store::local::LocalFileSystem::new_with_prefix(&dir)
            .map_err(|e| Error::storage(dir.display().to_string(), e))?,
    );
    // Verbatim, as the store names the file on disk and lists it.
    let object =
        Path::parse(name).map_err(|_| invalid("the file name is not a valid object name"))?;
    FileStore::local(local, object, durable)
}
