//! The merged index of the committed layers: every visible array with the
//! records that make it up (its definition and the updates above it) and,
//! decoded from those on first use, its metadata, its attributes and, for
//! every stored chunk, the layer and frame that hold its newest version.
//! Built once on open and updated by each commit, so a read never scans the
//! layers.
//!
//! Applying a layer walks all its records and checks them: their encoding,
//! every definition, every chunk against its array's grid. What it keeps per
//! array is only the name and where the records are: decoding an array's
//! metadata, attributes and chunk table costs allocations per attribute and
//! chunk, which a file of 100,000 arrays should not pay on open for the
//! arrays nobody asks for. Attribute sections are not even read on open
//! (their length lets the walk pass over them): they are checked when an
//! array's attributes, or the file's, are first decoded (`attr_set.rs`),
//! and by `verify`.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, OnceLock};

use super::arrays::ArrayTable;
pub(crate) use super::attr_set::AttrSet;
use super::attr_set::{SectionCache, file_attr_section, record_attrs};
use crate::error::{Error, Result};
use crate::format::{ChunkRecord, DefParts, LayerKind, Op, RecordHead, RecordVisitor};
use crate::layer::{ChunkLoc, LayerReader};
use crate::meta::{ArrayInfo, check_definition, fixed_chunk_bytes};
use crate::nd::ChunkGrid;
use crate::stats::{ArrayStats, ChunkStats, StatsAccumulator};

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

/// Where an array record is: the layer (index in
/// [`CommittedIndex::layers`]) and the record's offset in its footer
/// (footers are smaller than 4 GiB).
#[derive(Debug, Clone, Copy)]
pub(super) struct RecordRef {
    pub(super) layer: u32,
    pub(super) at: u32,
}

/// A visible committed array.
#[derive(Debug)]
pub(crate) struct IndexedArray {
    /// The record that defined this incarnation of the array.
    def: RecordRef,
    /// The update records above it, oldest first.
    updates: Vec<RecordRef>,
    /// The layer that defined this incarnation of the array.
    pub(crate) defined_seq: u64,
    /// The definition, decoded on first use.
    info: OnceLock<Arc<ArrayInfo>>,
    /// The chunk table, merged from the records on first use.
    chunks: OnceLock<Box<ChunkTable>>,
    /// The attributes, merged from the records on first use (shared with
    /// the arrays that have the same).
    attrs: OnceLock<Arc<AttrSet>>,
}

/// An array's committed chunks.
#[derive(Debug, Default)]
pub(crate) struct ChunkTable {
    pub(crate) chunks: HashMap<u64, ChunkRef>,
    /// Merged from the chunks on first use.
    stats: OnceLock<ArrayStats>,
}

impl ChunkTable {
    /// The array's statistics, merged from its chunks' on first use.
    pub(crate) fn stats(&self, info: &ArrayInfo) -> &ArrayStats {
        self.stats.get_or_init(|| {
            let mut acc = StatsAccumulator::default();
            let mut written = 0u64;
            for (&index, c) in &self.chunks {
                acc.add(&c.stats);
                written = written.saturating_add(info.grid.chunk_len_at(index).unwrap_or(0));
            }
            let total = info.meta.num_elements();
            acc.add_unwritten(total.saturating_sub(written));
            acc.finish(&info.meta.name, total)
        })
    }
}

/// The file's own attributes in the committed layers.
#[derive(Debug, Default)]
struct FileAttrs {
    /// The layers (positions in [`CommittedIndex::layers`]) that have a
    /// file attribute section, oldest first.
    layers: Vec<u32>,
    /// Merged from their sections on first use.
    set: OnceLock<Arc<AttrSet>>,
}

/// The committed state of a file.
#[derive(Debug, Default)]
pub(crate) struct CommittedIndex {
    /// Visible layers: the newest snapshot first, then the deltas above it.
    pub(crate) layers: Vec<Arc<LayerReader>>,
    pub(crate) arrays: ArrayTable,
    file_attrs: FileAttrs,
    /// Decoded attribute sections, shared by the arrays that refer to them.
    sections: SectionCache,
}

pub(super) fn layer_at(layers: &[Arc<LayerReader>], idx: u32) -> Result<&LayerReader> {
    layers
        .get(idx as usize)
        .map(|l| &**l)
        .ok_or_else(|| Error::internal(format!("no layer {idx} in the index")))
}

/// Decodes the definition in the record at `r`.
fn load_info(layers: &[Arc<LayerReader>], r: RecordRef) -> Result<ArrayInfo> {
    let layer = layer_at(layers, r.layer)?;
    let table = layer.records();
    let mut def = DefParts::default();
    let head = table
        .reader(r.at as usize)
        .head(&mut def)
        .map_err(|w| table.damaged(w))?;
    let Op::Define(dtype) = head.op else {
        return Err(table.damaged(format!("the record at offset {} is not a definition", r.at)));
    };
    ArrayInfo::from_parts(head.name, dtype, &def)
        .map_err(|e| Error::corrupted(table.path, format!("array {:?}: {e}", head.name)))
}

/// Merges the chunks of the record at `r` into `table`.
fn add_chunks(layers: &[Arc<LayerReader>], table: &mut ChunkTable, r: RecordRef) -> Result<()> {
    let layer = layer_at(layers, r.layer)?;
    let records = layer.records();
    let wire = |w: String| records.damaged(w);
    let mut rec = records.reader(r.at as usize);
    let head = rec.head(&mut DefParts::default()).map_err(wire)?;
    rec.skip_attrs(&head, None).map_err(wire)?;
    let n = rec.chunk_count(&head).map_err(wire)?;
    table.chunks.reserve(n);
    for _ in 0..n {
        let c = rec.next_chunk(&head).map_err(wire)?;
        table.chunks.insert(
            c.index,
            ChunkRef {
                layer: r.layer,
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
    table.stats = OnceLock::new();
    Ok(())
}

impl IndexedArray {
    fn new(def: RecordRef, defined_seq: u64) -> Self {
        Self {
            def,
            updates: Vec::new(),
            defined_seq,
            info: OnceLock::new(),
            chunks: OnceLock::new(),
            attrs: OnceLock::new(),
        }
    }

    /// An array defined by layer `defined_seq` (records nowhere).
    #[cfg(test)]
    pub(crate) fn for_test(defined_seq: u64) -> Self {
        Self::new(RecordRef { layer: 0, at: 0 }, defined_seq)
    }

    /// The records of the array, oldest first.
    fn records(&self) -> impl Iterator<Item = RecordRef> + '_ {
        std::iter::once(self.def).chain(self.updates.iter().copied())
    }

    fn info_in(&self, layers: &[Arc<LayerReader>]) -> Result<&Arc<ArrayInfo>> {
        if let Some(info) = self.info.get() {
            return Ok(info);
        }
        let info = Arc::new(load_info(layers, self.def)?);
        // A concurrent first use may have won; both decoded the same bytes.
        Ok(self.info.get_or_init(|| info))
    }

    fn chunks_in(&self, layers: &[Arc<LayerReader>]) -> Result<&ChunkTable> {
        if let Some(table) = self.chunks.get() {
            return Ok(table);
        }
        let mut table = Box::<ChunkTable>::default();
        for r in self.records() {
            add_chunks(layers, &mut table, r)?;
        }
        Ok(self.chunks.get_or_init(|| table))
    }

    fn attrs_in(&self, layers: &[Arc<LayerReader>], cache: &SectionCache) -> Result<&AttrSet> {
        if let Some(set) = self.attrs.get() {
            return Ok(set);
        }
        let mut set = record_attrs(layers, cache, self.def)?;
        for &r in &self.updates {
            let update = record_attrs(layers, cache, r)?;
            Arc::make_mut(&mut set).apply(&update);
        }
        Ok(self.attrs.get_or_init(|| set))
    }
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

    /// The metadata of `array` (an array of this index), decoded on first
    /// use.
    pub(crate) fn info<'s>(&'s self, array: &'s IndexedArray) -> Result<&'s Arc<ArrayInfo>> {
        array.info_in(&self.layers)
    }

    /// The chunks of `array` (an array of this index), merged on first use.
    pub(crate) fn chunks<'s>(&'s self, array: &'s IndexedArray) -> Result<&'s ChunkTable> {
        array.chunks_in(&self.layers)
    }

    /// The attributes of `array` (an array of this index), decoded and
    /// checked on first use.
    pub(crate) fn attrs<'s>(&'s self, array: &'s IndexedArray) -> Result<&'s AttrSet> {
        array.attrs_in(&self.layers, &self.sections)
    }

    /// The file's own attributes, merged and checked on first use.
    pub(crate) fn file_attrs(&self) -> Result<&AttrSet> {
        if let Some(set) = self.file_attrs.set.get() {
            return Ok(set);
        }
        let mut set: Option<Arc<AttrSet>> = None;
        for &idx in &self.file_attrs.layers {
            let section = file_attr_section(&self.layers, &self.sections, idx)?;
            match &mut set {
                Some(set) => Arc::make_mut(set).apply(&section),
                None => set = Some(section),
            }
        }
        Ok(self.file_attrs.set.get_or_init(|| set.unwrap_or_default()))
    }

    /// Statistics of `array` (an array of this index).
    pub(crate) fn stats<'s>(&'s self, array: &'s IndexedArray) -> Result<&'s ArrayStats> {
        let info = self.info(array)?;
        Ok(self.chunks(array)?.stats(info))
    }

    /// Applies the next layer on top, checking every record in it (but the
    /// attribute sections it can pass over). A snapshot replaces everything.
    pub(crate) fn apply(&mut self, mut layer: LayerReader) -> Result<()> {
        if layer.header.kind == LayerKind::Snapshot {
            self.layers.clear();
            self.arrays.clear();
            self.file_attrs = FileAttrs::default();
            self.sections.clear();
        }
        let layer_idx = u32::try_from(self.layers.len())
            .map_err(|_| Error::corrupted(layer.path.as_ref(), "too many layers"))?;
        let records = layer.records();
        self.arrays.reserve(records.count);
        let mut apply = Apply {
            arrays: &mut self.arrays,
            lower: &self.layers,
            path: records.path,
            layer: layer_idx,
            grid: ChunkGrid::default(),
            name: "",
            current: Current::None,
            deleted: HashSet::default(),
            merge: Vec::new(),
        };
        let frame_refs = records.walk(&mut apply, false)?;
        let merge = std::mem::take(&mut apply.merge);
        layer.frame_refs = frame_refs;
        let file_attrs = !layer.file_attrs.is_empty();
        self.layers.push(Arc::new(layer));
        if file_attrs {
            self.file_attrs.layers.push(layer_idx);
            if let Some(set) = self.file_attrs.set.get_mut() {
                let update = file_attr_section(&self.layers, &self.sections, layer_idx)?;
                Arc::make_mut(set).apply(&update);
            }
        }
        // Arrays already decoded take the new records in at once, so that a
        // commit costs what it changed, not what the arrays hold.
        for (name, r) in merge {
            let Some(array) = self.arrays.get_mut(&name) else {
                continue;
            };
            if let Some(table) = array.chunks.get_mut() {
                add_chunks(&self.layers, table, r)?;
            }
            if let Some(set) = array.attrs.get_mut() {
                let update = record_attrs(&self.layers, &self.sections, r)?;
                Arc::make_mut(set).apply(&update);
            }
        }
        Ok(())
    }

    /// Live chunk references per frame of each layer (compaction copies a
    /// frame verbatim only when all its chunks are still live).
    pub(crate) fn live_refs(&self) -> Result<Vec<Vec<u32>>> {
        let mut refs: Vec<Vec<u32>> = self
            .layers
            .iter()
            .map(|l| vec![0u32; l.frames.len()])
            .collect();
        for a in self.arrays.values() {
            for c in self.chunks(a)?.chunks.values() {
                if let Some(slot) = refs
                    .get_mut(c.layer as usize)
                    .and_then(|r| r.get_mut(c.loc.frame as usize))
                {
                    *slot = slot.saturating_add(1);
                }
            }
        }
        Ok(refs)
    }
}

/// What the chunks that follow a record are checked against.
enum Current {
    /// A tombstone: no chunks follow.
    None,
    /// A definition in this layer: its dtype; the grid is in
    /// [`Apply::grid`].
    Define(crate::DType),
    /// An update of an array defined below.
    Update(Arc<ArrayInfo>),
}

/// Applies one layer's records to the index while the layer is walked.
struct Apply<'i, 'a> {
    arrays: &'i mut ArrayTable,
    /// The layers below the one applied.
    lower: &'i [Arc<LayerReader>],
    path: &'i str,
    layer: u32,
    /// The grid of the last definition.
    grid: ChunkGrid,
    /// The array of the last record, and what its chunks are checked
    /// against.
    name: &'a str,
    current: Current,
    /// Names this layer deleted: with the arrays whose records come from
    /// this layer, they tell a name the layer lists twice.
    deleted: HashSet<&'a str, foldhash::fast::RandomState>,
    /// Update records of arrays whose chunks or attributes were already
    /// decoded, to merge once the layer is in the index.
    merge: Vec<(String, RecordRef)>,
}

impl<'a> Apply<'_, 'a> {
    fn damaged(&self, what: String) -> Error {
        Error::corrupted(self.path, what)
    }

    /// Fails if this layer already had a record of array `name`, which
    /// `array` (the array of that name before this record) shows.
    fn once(&self, name: &'a str, array: Option<&IndexedArray>) -> Result<()> {
        let here = |r: &RecordRef| r.layer == self.layer;
        let seen = array.is_some_and(|a| here(&a.def) || a.updates.last().is_some_and(here));
        if seen || self.deleted.contains(name) {
            return Err(self.damaged(format!("footer: array {name:?} appears twice in one layer")));
        }
        Ok(())
    }
}

impl<'a> RecordVisitor<'a> for Apply<'_, 'a> {
    fn record(&mut self, at: usize, head: &RecordHead<'a>, def: &DefParts<'a>) -> Result<()> {
        let name = head.name;
        let here = RecordRef {
            layer: self.layer,
            at: u32::try_from(at)
                .map_err(|_| self.damaged(format!("record at footer offset {at}")))?,
        };
        self.name = name;
        match head.op {
            Op::Tombstone => {
                let old = self.arrays.remove(name);
                self.once(name, old.as_ref())?;
                self.deleted.insert(name);
                self.current = Current::None;
            }
            Op::Define(dtype) => {
                check_definition(
                    dtype,
                    &def.shape,
                    &def.chunk_shape,
                    def.dimension_names.len(),
                    def.fill_value.as_ref(),
                    &mut self.grid,
                )
                .map_err(|e| self.damaged(format!("array {name:?}: {e}")))?;
                let old = self
                    .arrays
                    .define(name, IndexedArray::new(here, head.defined_seq))
                    .map_err(|_| self.damaged("too many arrays".into()))?;
                self.once(name, old.as_ref())?;
                self.current = Current::Define(dtype);
            }
            Op::Update => {
                let lower = self.lower;
                self.once(name, self.arrays.get(name))?;
                let Some(array) = self.arrays.get_mut(name) else {
                    return Err(self.damaged(format!(
                        "update of array {name:?}, which no lower layer defines"
                    )));
                };
                let info = Arc::clone(array.info_in(lower)?);
                array.updates.push(here);
                if array.chunks.get().is_some() || array.attrs.get().is_some() {
                    self.merge.push((name.to_owned(), here));
                }
                self.current = Current::Update(info);
            }
        }
        Ok(())
    }

    fn chunk(&mut self, c: ChunkRecord) -> Result<()> {
        let name = self.name;
        let (grid, dtype) = match &self.current {
            Current::None => {
                return Err(self.damaged(format!("array {name:?}: a chunk in a tombstone")));
            }
            Current::Define(dtype) => (&self.grid, *dtype),
            Current::Update(info) => (&info.grid, info.meta.dtype),
        };
        check_chunk(grid, dtype, &c).map_err(|what| self.damaged(format!("array {name:?}: {what}")))
    }
}

/// Checks a chunk record against the definition of its array (its grid
/// and dtype): an index inside the grid, statistics that fit the chunk,
/// and, for fixed-width types, the chunk's exact length.
pub(crate) fn check_chunk(
    grid: &ChunkGrid,
    dtype: crate::DType,
    c: &ChunkRecord,
) -> std::result::Result<(), String> {
    let len = grid.chunk_len_at(c.index).ok_or_else(|| {
        format!(
            "chunk index {} outside its grid of {} chunks",
            c.index,
            grid.num_chunks()
        )
    })?;
    if !c.stats.plausible(dtype, len) {
        return Err(format!(
            "chunk {} has statistics that cannot belong to {len} {dtype} elements",
            c.index
        ));
    }
    if let Some(expected) = fixed_chunk_bytes(dtype, len)
        && expected != c.len
    {
        return Err(format!(
            "chunk {} holds {} bytes, expected {expected}",
            c.index, c.len
        ));
    }
    Ok(())
}
