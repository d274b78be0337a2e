//! Byte-bounded caches of frames, shareable across files.
//!
//! Entries are keyed by the *layer id* (a random 128-bit identity written into
//! every layer's footer) and the frame number, never by path: a layer object
//! that is rewritten or replaced gets a new id, so a cache can never return
//! bytes of a layer that no longer exists at that path.

use std::sync::Arc;

use bytes::Bytes;
use quick_cache::Weighter;
use quick_cache::sync::Cache;

/// Identifies one frame of one layer (in the I/O cache: one read unit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct FrameKey {
    /// The layer's identity.
    pub(crate) layer: u128,
    /// Frame number within the layer.
    pub(crate) frame: u32,
}

#[derive(Clone)]
struct ByteWeighter;

impl Weighter<FrameKey, Bytes> for ByteWeighter {
    fn weight(&self, _key: &FrameKey, val: &Bytes) -> u64 {
        // Small fixed overhead so that a flood of tiny frames is bounded too.
        val.len() as u64 + 64
    }
}

impl Weighter<FrameKey, Unit> for ByteWeighter {
    fn weight(&self, _key: &FrameKey, val: &Unit) -> u64 {
        val.bytes.len() as u64 + 64
    }
}

/// The stored bytes of one read unit (neighbouring frames fetched together)
/// and which of its frames failed their checks when it was fetched: a damaged
/// frame fails only the reads that need it.
#[derive(Debug, Clone)]
pub(crate) struct Unit {
    pub(crate) bytes: Bytes,
    pub(crate) damaged: Arc<[u32]>,
}

/// Share of each cache kept for entries used more than once.
const HOT_ALLOCATION: f64 = 0.5;

type FrameCache = Cache<FrameKey, Bytes, ByteWeighter>;
type UnitCache = Cache<FrameKey, Unit, ByteWeighter>;

fn build<V: Clone>(capacity: u64) -> Option<Cache<FrameKey, V, ByteWeighter>>
where
    ByteWeighter: Weighter<FrameKey, V>,
{
    (capacity > 0).then(|| {
        let estimated = (capacity / (64 * 1024)).clamp(16, 1 << 20) as usize;
        let shards = crate::cores();
        let options = quick_cache::OptionsBuilder::new()
            .estimated_items_capacity(estimated)
            .weight_capacity(capacity)
            // quick_cache keeps 97% for entries seen twice by default, so
            // a frame read again only after thirty others is evicted
            // before it, and decoded twice. Frames are large and re-read
            // at long distances (random windows over an array); scans do
            // not enter this cache (whole-frame reads decode straight into
            // the output).
            .hot_allocation(HOT_ALLOCATION)
            // Fewer, larger shards: entries weigh up to megabytes, and each
            // shard is bounded to its share of the capacity.
            .shards(shards)
            .build();
        match options {
            Ok(o) => Cache::with_options(o, ByteWeighter, Default::default(), Default::default()),
            Err(_) => Cache::with_weighter(estimated, capacity, ByteWeighter),
        }
    })
}

/// Two byte-bounded caches used by every layer of a file, and by several
/// files when shared through [`FileConfig::cache`](crate::FileConfig::cache).
///
/// * the frame cache holds decompressed frames (`block_capacity` bytes);
/// * the I/O cache holds stored (compressed) frames as fetched, in read
///   units of neighbouring frames (`io_capacity` bytes; 0 disables it). It
///   is used only where a request costs enough to be worth saving: object
///   stores, and local directories reached through `object_store`. The two
///   are exclusive: a unit whose every frame a read decodes into the frame
///   cache is not kept here as well.
///
/// ```
/// use std::sync::Arc;
/// use array_format::{DeltaCache, FileConfig, Lz4Codec};
///
/// let shared = Arc::new(DeltaCache::new(512 << 20, 0));
/// let a = FileConfig { cache: Some(shared.clone()), ..FileConfig::new(Lz4Codec) };
/// let b = FileConfig { cache: Some(shared), ..FileConfig::new(Lz4Codec) };
/// # let _ = (a, b);
/// ```
pub struct DeltaCache {
    frames: Option<FrameCache>,
    io: Option<UnitCache>,
}

impl std::fmt::Debug for DeltaCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeltaCache")
            .field("frame_bytes", &self.frame_bytes())
            .field("io_bytes", &self.io_bytes())
            .finish()
    }
}

impl DeltaCache {
    /// A cache bounded to `block_capacity` bytes of decompressed frames and
    /// `io_capacity` bytes of compressed ones.
    pub fn new(block_capacity: u64, io_capacity: u64) -> Self {
        Self {
            frames: build(block_capacity),
            io: build(io_capacity),
        }
    }

    /// Bytes currently held by the decompressed-frame cache.
    pub fn frame_bytes(&self) -> u64 {
        self.frames.as_ref().map_or(0, |c| c.weight())
    }

    /// Bytes currently held by the I/O cache.
    pub fn io_bytes(&self) -> u64 {
        self.io.as_ref().map_or(0, |c| c.weight())
    }

    /// Drops every entry.
    pub fn clear(&self) {
        if let Some(c) = &self.frames {
            c.clear();
        }
        if let Some(c) = &self.io {
            c.clear();
        }
    }

    pub(crate) fn get_frame(&self, key: &FrameKey) -> Option<Bytes> {
        self.frames.as_ref()?.get(key)
    }

    pub(crate) fn put_frame(&self, key: FrameKey, value: Bytes) {
        if let Some(c) = &self.frames {
            c.insert(key, value);
        }
    }

    /// The stored bytes of read unit `key.frame` of a layer, from the I/O
    /// cache or from `fetch`; concurrent callers for one unit share a single
    /// fetch. Without an I/O cache, simply awaits `fetch`.
    pub(crate) async fn get_or_fetch_unit(
        &self,
        key: FrameKey,
        fetch: impl Future<Output = crate::Result<Unit>>,
    ) -> crate::Result<Unit> {
        match &self.io {
            Some(c) => c.get_or_insert_async(&key, fetch).await,
            None => fetch.await,
        }
    }

    /// Read unit `key.frame` of a layer, if the I/O cache holds it.
    pub(crate) fn get_unit(&self, key: &FrameKey) -> Option<Unit> {
        self.io.as_ref()?.get(key)
    }

    pub(crate) fn has_frame_cache(&self) -> bool {
        self.frames.is_some()
    }

    pub(crate) fn has_io_cache(&self) -> bool {
        self.io.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_by_bytes() {
        let c = DeltaCache::new(10_000, 0);
        for i in 0..100 {
            c.put_frame(
                FrameKey { layer: 1, frame: i },
                Bytes::from(vec![0u8; 1000]),
            );
        }
        assert!(c.frame_bytes() <= 10_000, "{}", c.frame_bytes());
        assert_eq!(c.io_bytes(), 0);
        assert!(!c.has_io_cache());
    }

    #[test]
    fn keys_distinguish_layers() {
        let c = DeltaCache::new(1 << 20, 1 << 20);
        c.put_frame(FrameKey { layer: 1, frame: 0 }, Bytes::from_static(b"old"));
        assert!(c.get_frame(&FrameKey { layer: 2, frame: 0 }).is_none());
        assert_eq!(
            c.get_frame(&FrameKey { layer: 1, frame: 0 }).as_deref(),
            Some(&b"old"[..])
        );
        c.clear();
        assert!(c.get_frame(&FrameKey { layer: 1, frame: 0 }).is_none());
    }
}
