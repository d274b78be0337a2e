//! The merged index of the committed layers: for every visible array, its
//! metadata, attributes and, for every stored chunk, the layer and frame that
//! hold its newest version. Built once on open and updated by each commit, so
//! a read never scans the layers.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock};

use crate::error::{Error, Result};
use crate::format::{ArrayRecord, LayerKind, RecordOp};
use crate::layer::{ChunkLoc, LayerReader};
use crate::meta::ArrayInfo;
use crate::stats::{ArrayStats, ChunkStats, StatsAccumulator};
use crate::value::AttributeValue;

/// A committed chunk.
#[derive(Debug, Clone)]
pub(crate) struct ChunkRef {
    /// Index of the layer in [`CommittedIndex::layers`].
    pub(crate) layer: u32,
    pub(crate) loc: ChunkLoc,
    pub(crate) stats: ChunkStats,
    /// The layer that wrote this version (kept through compaction).
    pub(crate) seq: u64,
}

/// A visible committed array.
#[derive(Debug)]
pub(crate) struct IndexedArray {
    pub(crate) info: Arc<ArrayInfo>,
    /// Where the definition came from, for listing in definition order.
    pub(crate) order: (u64, u32),
    /// The layer that defined this incarnation of the array.
    pub(crate) defined_seq: u64,
    /// Attribute values with the layer that wrote each.
    pub(crate) attrs: BTreeMap<String, (AttributeValue, u64)>,
    /// Keys removed by a delta since the array's last snapshot, with the
    /// layer that removed them: a concurrent writer setting such a key
    /// conflicts just as one removing a key that was set.
    pub(crate) removed_attrs: BTreeMap<String, u64>,
    pub(crate) chunks: HashMap<u64, ChunkRef>,
    /// Merged lazily: opening a file with many arrays costs nothing for the
    /// statistics nobody asks for.
    stats: OnceLock<ArrayStats>,
}

impl IndexedArray {
    /// The array's statistics, merged from its chunks' on first use.
    pub(crate) fn stats(&self) -> &ArrayStats {
        self.stats.get_or_init(|| {
            let mut acc = StatsAccumulator::default();
            let mut written = 0u64;
            for (&index, c) in &self.chunks {
                acc.add(&c.stats);
                let len = self
                    .info
                    .grid
                    .coord_of(index)
                    .and_then(|coord| self.info.grid.chunk_len(&coord))
                    .unwrap_or(0);
                written = written.saturating_add(len);
            }
            let total = self.info.meta.num_elements();
            acc.add_unwritten(total.saturating_sub(written));
            acc.finish(&self.info.meta.name, total)
        })
    }
}

/// The committed state of a file.
#[derive(Debug, Default)]
pub(crate) struct CommittedIndex {
    /// Visible layers: the newest snapshot first, then the deltas above it.
    pub(crate) layers: Vec<Arc<LayerReader>>,
    pub(crate) arrays: HashMap<String, IndexedArray>,
}

impl CommittedIndex {
    /// Number of the newest layer.
    pub(crate) fn latest_seq(&self) -> u64 {
        self.layers.last().map_or(0, |l| l.header.seq)
    }

    /// The newest layer.
    pub(crate) fn latest(&self) -> Option<&Arc<LayerReader>> {
        self.layers.last()
    }

    /// Applies the next layer on top. A snapshot replaces everything.
    pub(crate) fn apply(
        &mut self,
        layer: Arc<LayerReader>,
        records: Vec<ArrayRecord>,
    ) -> Result<()> {
        if layer.header.kind == LayerKind::Snapshot {
            self.layers.clear();
            self.arrays.clear();
        }
        self.arrays.reserve(records.len());
        let layer_idx = u32::try_from(self.layers.len())
            .map_err(|_| Error::corrupted(layer.path.as_ref(), "too many layers"))?;
        let seq = layer.header.seq;
        let path = layer.path.to_string();
        let damaged = |what: String| Error::corrupted(path.clone(), what);
        for (pos, rec) in records.into_iter().enumerate() {
            let ArrayRecord {
                name,
                op,
                defined_seq,
                attrs,
                chunks,
            } = rec;
            let array = match op {
                RecordOp::Tombstone => {
                    self.arrays.remove(&name);
                    continue;
                }
                RecordOp::Define(def) => {
                    let info = ArrayInfo::from_def(&name, &def)
                        .map_err(|e| damaged(format!("array {name:?}: {e}")))?;
                    let fresh = IndexedArray {
                        info: Arc::new(info),
                        order: (seq, pos as u32),
                        defined_seq,
                        attrs: BTreeMap::new(),
                        removed_attrs: BTreeMap::new(),
                        chunks: HashMap::with_capacity(chunks.len()),
                        stats: OnceLock::new(),
                    };
                    match self.arrays.entry(name) {
                        Entry::Occupied(mut e) => {
                            e.insert(fresh);
                            e.into_mut()
                        }
                        Entry::Vacant(e) => e.insert(fresh),
                    }
                }
                RecordOp::Update => self.arrays.get_mut(&name).ok_or_else(|| {
                    damaged(format!(
                        "update of array {name:?}, which no lower layer defines"
                    ))
                })?,
            };
            let name = &array.info.meta.name;
            array.stats = OnceLock::new();
            for a in attrs {
                match a.value {
                    Some(v) => {
                        array.removed_attrs.remove(&a.key);
                        array.attrs.insert(a.key, (v, a.seq));
                    }
                    None => {
                        array.attrs.remove(&a.key);
                        array.removed_attrs.insert(a.key, a.seq);
                    }
                }
            }
            let grid = &array.info.grid;
            for c in chunks {
                let len = grid.chunk_len_at(c.index).ok_or_else(|| {
                    damaged(format!(
                        "array {name:?}: chunk index {} outside its grid of {} chunks",
                        c.index,
                        grid.num_chunks()
                    ))
                })?;
                if !c.stats.plausible(array.info.meta.dtype, len) {
                    return Err(damaged(format!(
                        "array {name:?}: chunk {} has statistics that cannot belong to {len} {} elements",
                        c.index, array.info.meta.dtype
                    )));
                }
                if let Some(expected) = array.info.fixed_chunk_bytes(len)
                    && expected != c.len
                {
                    return Err(damaged(format!(
                        "array {name:?}: chunk {} holds {} bytes, expected {expected}",
                        c.index, c.len
                    )));
                }
                array.chunks.insert(
                    c.index,
                    ChunkRef {
                        layer: layer_idx,
                        loc: ChunkLoc {
                            frame: c.frame,
                            offset: c.offset,
                            len: c.len,
                        },
                        stats: c.stats,
                        seq: c.seq,
                    },
                );
            }
        }
        self.layers.push(layer);
        Ok(())
    }

    /// Live chunk references per frame of each layer (compaction copies a
    /// frame verbatim only when all its chunks are still live).
    pub(crate) fn live_refs(&self) -> Vec<Vec<u32>> {
        let mut refs: Vec<Vec<u32>> = self
            .layers
            .iter()
            .map(|l| vec![0u32; l.frames.len()])
            .collect();
        for a in self.arrays.values() {
            for c in a.chunks.values() {
                if let Some(slot) = refs
                    .get_mut(c.layer as usize)
                    .and_then(|r| r.get_mut(c.loc.frame as usize))
                {
                    *slot = slot.saturating_add(1);
                }
            }
        }
        refs
    }
}
