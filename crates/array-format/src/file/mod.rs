//! [`ArrayFile`]: the layer stack, the merged index, and the read, write and
//! commit paths.
//!
//! | file | concern |
//! |------|---------|
//! | `open.rs` | create, open: loading the visible layers into the index |
//! | `index.rs` | the merged index of committed layers |
//! | `attr_set.rs` | decoded attribute sets (an array's, the file's) and their sections |
//! | `schema.rs` | the merged view of arrays: metadata, statistics, storage, codecs |
//! | `define.rs` | define and delete arrays |
//! | `attrs.rs` | the attributes of arrays and of the file itself |
//! | `write.rs` | `write_array`: whole chunks compressed from the caller's data, partly written ones patched in the pending layer's write buffer |
//! | `read.rs` | `read_array`: plan, fetch, decode, copy |
//! | `commit.rs` | `flush`, and committing a layer |
//! | `stage.rs` | `stage`: pending chunk writes as a staged part no reader sees |
//! | `staged.rs` | [`StagedPart`], the description a worker hands its coordinator |
//! | `adopt/` | `commit_parts`: staged parts committed as one layer adopting their frames (`read.rs`: reading and checking the parts, `footer.rs`: the adopting layer's footer) |
//! | `compact.rs` | `compact`: merging the visible layers into a snapshot |
//! | `sync.rs` | other writers: conflict checks, the orphan check, `refresh` |
//! | `maintenance.rs` | `verify`, `versions` |
//! | `vacuum.rs` | `vacuum`: layers, staging objects and staged parts no version needs |

mod adopt;
mod arrays;
mod attr_set;
mod attrs;
mod commit;
mod compact;
mod create;
mod define;
mod index;
#[cfg(test)]
mod local_crash;
mod location;
mod maintenance;
mod open;
mod read;
mod schema;
mod stage;
mod staged;
mod sync;
mod vacuum;
mod write;

use std::sync::Arc;
use std::time::Duration;

use crate::cache::DeltaCache;
use crate::codec::{CodecSet, CompressionCodec};
use crate::error::{Error, Result};
use crate::format::Id;
use crate::layer::PendingLayer;
use crate::storage::FileStore;

pub use crate::meta::{ArrayMeta, ArraySpec, MergedArrayMeta};
pub use maintenance::{Damage, VerifyReport, Version};
pub use schema::ArrayStorage;
pub use staged::StagedPart;
pub use vacuum::{DEFAULT_PART_GRACE, VacuumReport};

use index::CommittedIndex;

/// Default target size of a block, in decompressed bytes (8 MiB). Blocks
/// group frames that share a codec.
pub const DEFAULT_BLOCK_TARGET_SIZE: usize = 8 * 1024 * 1024;
/// Default target size of a frame (16 KiB): chunks at least this large are
/// compressed alone; smaller ones share a frame up to this size.
pub const DEFAULT_FRAME_TARGET_SIZE: usize = 16 * 1024;
/// Default byte budget of the decompressed-frame cache (256 MiB).
pub const DEFAULT_CACHE_CAPACITY: usize = 256 * 1024 * 1024;
/// Default byte budget of the compressed-frame (I/O) cache (64 MiB).
pub const DEFAULT_IO_CACHE_CAPACITY: usize = 64 * 1024 * 1024;
/// Default byte budget of partially written chunks held uncompressed
/// (128 MiB).
pub const DEFAULT_WRITE_BUFFER_CAPACITY: usize = 128 * 1024 * 1024;
/// Default [`FileConfig::coalesce_gap`] (32 KiB).
pub const DEFAULT_COALESCE_GAP: u64 = 32 * 1024;
/// Default [`FileConfig::requests_per_read`] (16).
pub const DEFAULT_REQUESTS_PER_READ: usize = 16;
/// Default [`FileConfig::retention`] of replaced layers (24 hours): longer
/// than the reads and jobs of a working day that hold a version open.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(24 * 3600);

/// Configuration for opening or creating an [`ArrayFile`].
///
/// ```
/// use array_format::{FileConfig, ZstdCodec};
///
/// let config = FileConfig {
///     block_target_size: 4 * 1024 * 1024,
///     ..FileConfig::new(ZstdCodec { level: 9 })
/// };
/// # let _ = config;
/// ```
pub struct FileConfig<C: CompressionCodec> {
    /// Codec for the frames this handle writes. Reading needs no codec
    /// configuration: each block records its own.
    pub codec: C,
    /// Target decompressed size of a block.
    pub block_target_size: usize,
    /// Target decompressed size of a frame, the unit of compression and of
    /// the smallest read.
    pub frame_target_size: usize,
    /// Byte budget of this file's decompressed-frame cache (0 disables it).
    ///
    /// Ignored when [`cache`](Self::cache) is `Some`.
    pub cache_capacity: usize,
    /// Byte budget of this file's compressed-frame cache (0 disables it).
    /// It holds *read units* (neighbouring frames fetched together) and is
    /// used only on stores whose requests cost enough to be worth saving:
    /// object stores, and local directories reached through
    /// `object_store`; not in memory nor for files opened with
    /// [`ArrayFile::open_path`]. A unit whose frames a read decodes into
    /// the frame cache, all of them, is not kept here as well.
    ///
    /// Ignored when [`cache`](Self::cache) is `Some`.
    pub io_cache_capacity: usize,
    /// Byte budget of the chunks that writes covered only partly, held
    /// uncompressed until they are complete: a chunk filled by several
    /// unaligned writes is then compressed once, not once per write.
    /// Complete chunks, and past half the budget the least recently written
    /// ones, are compressed into the pending layer's spill file in the
    /// background; past the whole budget, by the writing call itself. A
    /// write may exceed the budget by up to one batch of its chunks (about
    /// 64 MiB) before that happens. 0 compresses every chunk as soon as a
    /// write is done with it.
    pub write_buffer_capacity: usize,
    /// A cache shared with other files; entries are keyed by layer identity,
    /// so files never see each other's (or stale) data.
    pub cache: Option<Arc<DeltaCache>>,
    /// Open the file as it was at this layer number (time travel); see
    /// [`ArrayFile::versions`]. Such a handle is read-only.
    pub as_of: Option<u64>,
    /// For files opened with [`ArrayFile::create_path`] /
    /// [`ArrayFile::open_path`]: make every commit durable (fsync of the layer
    /// and its directory) before it is acknowledged. Object stores are
    /// durable on their own; `object_store`'s local backend is not.
    pub durable: bool,
    /// How long layers that a compaction replaced are kept after it
    /// ([`DEFAULT_RETENTION`]: a day), so that readers elsewhere that
    /// opened an earlier version finish their reads and time travel reaches
    /// back that far. [`compact`](ArrayFile::compact) and
    /// [`vacuum`](ArrayFile::vacuum) delete replaced layers once they have
    /// been replaced for this long; `Duration::ZERO` deletes them at once.
    pub retention: Duration,
    /// Frames of one object separated by at most this many bytes are
    /// fetched by one request (the bytes between them are read and
    /// dropped): fewer, larger requests, as object stores prefer
    /// ([`DEFAULT_COALESCE_GAP`], 32 KiB). A request never exceeds 16 MiB.
    pub coalesce_gap: u64,
    /// Requests one read keeps in flight at most ([`DEFAULT_REQUESTS_PER_READ`],
    /// 16; at least 1). Concurrent reads each keep their own.
    pub requests_per_read: usize,
}

impl<C: CompressionCodec> FileConfig<C> {
    /// A config using `codec` and the `DEFAULT_*` sizes, with no shared cache.
    pub fn new(codec: C) -> Self {
        Self {
            codec,
            block_target_size: DEFAULT_BLOCK_TARGET_SIZE,
            frame_target_size: DEFAULT_FRAME_TARGET_SIZE,
            cache_capacity: DEFAULT_CACHE_CAPACITY,
            io_cache_capacity: DEFAULT_IO_CACHE_CAPACITY,
            write_buffer_capacity: DEFAULT_WRITE_BUFFER_CAPACITY,
            cache: None,
            as_of: None,
            durable: true,
            retention: DEFAULT_RETENTION,
            coalesce_gap: DEFAULT_COALESCE_GAP,
            requests_per_read: DEFAULT_REQUESTS_PER_READ,
        }
    }
}

/// The settings an open file keeps from its [`FileConfig`].
struct Settings {
    codecs: CodecSet,
    block_target: u64,
    frame_target: usize,
    write_buffer: usize,
    cache: Option<Arc<DeltaCache>>,
    retention: Duration,
}

impl Settings {
    fn from_config<C: CompressionCodec + 'static>(config: FileConfig<C>) -> Self {
        let cache = match config.cache {
            Some(c) => Some(c),
            None if config.cache_capacity == 0 && config.io_cache_capacity == 0 => None,
            None => Some(Arc::new(DeltaCache::new(
                config.cache_capacity as u64,
                config.io_cache_capacity as u64,
            ))),
        };
        Self {
            codecs: CodecSet::new(Arc::new(config.codec)),
            block_target: config.block_target_size.max(1) as u64,
            frame_target: (config.frame_target_size as u64)
                .clamp(1, crate::format::MAX_PACKED_FRAME) as usize,
            write_buffer: config.write_buffer_capacity,
            cache,
            retention: config.retention,
        }
    }
}

/// A file of many chunked n-dimensional arrays.
///
/// Committed state is a stack of immutable layers (the newest snapshot and
/// the deltas above it), merged into one index when the file is opened.
/// Changes accumulate in a pending layer, spilled to a temporary file, until
/// [`flush`](Self::flush) commits them as one new layer object. Reads take
/// `&self`, so an `Arc<ArrayFile>` serves any number of concurrent readers.
pub struct ArrayFile {
    store: FileStore,
    settings: Settings,
    dataset_id: Id,
    index: CommittedIndex,
    pending: Option<PendingLayer>,
    /// A layer this handle wrote whose place in the history is not settled
    /// yet: until it is, the pending changes may already be committed, so
    /// they are frozen.
    unconfirmed: Option<Unconfirmed>,
    /// Set for a read-only handle opened as of an earlier layer.
    as_of: Option<u64>,
}

/// A delta layer written by [`ArrayFile::flush`] whose orphan check did not
/// finish (FORMAT.md 13.2).
#[derive(Debug, Clone)]
pub(crate) struct Unconfirmed {
    pub(crate) seq: u64,
    pub(crate) layer_id: Id,
    pub(crate) path: object_store::path::Path,
}

impl std::fmt::Debug for ArrayFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArrayFile")
            .field("path", &self.store.base_path().as_ref())
            .field("layers", &self.index.layers.len())
            .field("arrays", &self.index.arrays.len())
            .field("pending", &self.pending.is_some())
            .field("unconfirmed", &self.unconfirmed.as_ref().map(|u| u.seq))
            .finish()
    }
}

impl ArrayFile {
    /// The committed layer at position `idx` of the index; an error names
    /// the file when a reference points past the layers.
    pub(crate) fn layer(&self, idx: u32) -> Result<&Arc<crate::layer::LayerReader>> {
        self.index.layers.get(idx as usize).ok_or_else(|| {
            Error::corrupted(
                self.store.base_path().as_ref(),
                format!("no layer {idx} in the index"),
            )
        })
    }

    /// Number of visible committed layers: the newest snapshot and the deltas
    /// above it. 1 for a new file, after its first commit, and after a
    /// compaction.
    pub fn num_layers(&self) -> usize {
        self.index.layers.len()
    }

    /// The number of the newest visible layer: the version of the file this
    /// handle reads (0 for a new file). `FileConfig { as_of: Some(n), .. }`
    /// opens exactly this version again, in any process, for as long as its
    /// layers are kept.
    pub fn latest_layer(&self) -> u64 {
        self.index.latest_seq()
    }

    /// What a request to the file's store costs, as this handle measured it:
    /// the fastest small read seen (`None` before the first). It decides how
    /// reads fetch frames (exact ranges, or read units of 256 KiB below
    /// 1 ms a request and of 1 MiB above; `docs/ARCHITECTURE.md`, Read).
    pub fn request_cost(&self) -> Option<std::time::Duration> {
        self.store.request_cost()
    }

    /// Whether there are changes that [`flush`](Self::flush) would commit.
    pub fn has_pending_changes(&self) -> bool {
        self.pending.as_ref().is_some_and(|p| !p.is_empty())
    }

    /// Bytes stored in the visible committed layers (compressed data,
    /// footers and trailers).
    pub fn stored_bytes(&self) -> u64 {
        self.index.layers.iter().map(|l| l.size).sum()
    }

    /// Drops every pending change (after a [`Error::Conflict`] the caller may
    /// prefer to start over from a [`refresh`](Self::refresh)ed view).
    ///
    /// After [`Error::CommitUnconfirmed`] this also gives up settling the
    /// unconfirmed layer: it may or may not be part of the file.
    pub fn discard_pending(&mut self) {
        self.pending = None;
        self.unconfirmed = None;
    }

    /// The path of the file's base object.
    pub fn path(&self) -> &object_store::path::Path {
        self.store.base_path()
    }

    fn pending_mut(&mut self) -> Result<&mut PendingLayer> {
        self.check_writable("change")?;
        if let Some(u) = &self.unconfirmed {
            // The pending changes may be committed already as that layer; a
            // change now could not be told apart from them.
            return Err(Error::InvalidOperation {
                operation: "change",
                reason: format!(
                    "whether layer {} was committed is not settled yet; flush() to settle it (or discard_pending())",
                    u.path
                ),
            });
        }
        if self.pending.is_none() {
            self.pending = Some(PendingLayer::new_in(
                self.store.spill_dir().as_deref(),
                self.settings.codecs.clone(),
                self.settings.frame_target,
                self.settings.write_buffer,
            )?);
        }
        self.pending
            .as_mut()
            .ok_or_else(|| Error::InvalidOperation {
                operation: "write",
                reason: "the pending layer could not be created".into(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn array_file_is_send_and_sync() {
        assert_send_sync::<ArrayFile>();
    }
}
