//! Reading the staged parts a commit adopts: each part's footer, checked
//! to be the part described and of this file, its records, and the
//! conflicts of its chunks with each other, with the committing handle's
//! own pending changes and with the view.

use std::collections::HashMap;

use futures::{StreamExt, TryStreamExt};

use super::super::ArrayFile;
use super::super::index::check_chunk;
use super::super::staged::StagedPart;
use crate::error::{Error, Result};
use crate::format::{
    ArrayDef, ChunkRecord, DefParts, LayerKind, Names, Op, RecordHead, RecordVisitor,
};
use crate::layer::{LayerReader, PendingOp};
use crate::storage::ObjectPin;

/// Part footers read at once.
const PART_READS: usize = 16;

/// A part read back: its footer tables and the chunks it stages.
pub(super) struct Part {
    pub(super) reader: LayerReader,
    /// The layer its chunks were written against.
    pub(super) base: u64,
    /// Per array, in footer order.
    pub(super) arrays: Vec<PartArray>,
}

/// What a part does to one array.
pub(super) struct PartArray {
    pub(super) name: String,
    /// The definition the part's writer made, for an array it defined
    /// itself (the committing handle must define it the same way).
    pub(super) def: Option<ArrayDef>,
    /// The chunk records, each with the layer the chunk was written
    /// against as its `seq`.
    pub(super) chunks: Vec<ChunkRecord>,
}

impl ArrayFile {
    /// Reads the footers of `parts` (concurrently), checking that each is
    /// the part described, of this file, and what its records hold.
    pub(super) async fn read_parts(&self, parts: &[&StagedPart]) -> Result<Vec<Part>> {
        let mut reads = Vec::with_capacity(parts.len());
        for p in parts {
            reads.push(self.read_part(p));
        }
        futures::stream::iter(reads)
            .buffered(PART_READS)
            .try_collect()
            .await
    }

    async fn read_part(&self, p: &StagedPart) -> Result<Part> {
        let path = self.store.part_path(&p.part_id);
        let pin = ObjectPin::sized(p.size);
        let reader = match LayerReader::open_pinned(&self.store, path.clone(), pin).await {
            Ok(reader) => reader,
            Err(Error::Vanished { .. } | Error::FileNotFound { .. }) => {
                return Err(Error::PartNotFound {
                    path: path.to_string(),
                });
            }
            Err(e) => return Err(e),
        };
        let foreign = |reason: String| Error::ForeignPart {
            path: path.to_string(),
            reason,
        };
        let h = &reader.header;
        if h.kind != LayerKind::Part {
            return Err(foreign(format!(
                "it is a {:?} layer, not a staged part",
                h.kind
            )));
        }
        if h.layer_id != p.part_id {
            return Err(foreign("its footer names another part".into()));
        }
        if h.dataset_id != self.dataset_id {
            return Err(foreign(
                "it was staged for another file (dataset id)".into(),
            ));
        }
        let mut collect = Collect {
            path: reader.path.as_ref(),
            names: Names::default(),
            arrays: Vec::new(),
        };
        reader.records().walk(&mut collect, false)?;
        let arrays = collect.arrays;
        Ok(Part {
            base: reader.header.seq,
            arrays,
            reader,
        })
    }

    /// Fails with [`Error::Conflict`] if the chunks of `parts` collide with
    /// each other, with this handle's pending changes or with what the view
    /// holds: an array deleted or redefined since a part's base, a chunk
    /// committed since the layer it was written against. An array a part
    /// defines must be defined the same way by this handle's pending
    /// changes ([`Error::InvalidOperation`] otherwise). Chunks are checked
    /// against their arrays' definitions as a reader will check them.
    pub(super) fn check_part_conflicts(&self, parts: &[Part]) -> Result<()> {
        let conflict = |reason: String| Error::Conflict {
            path: self.store.base_path().to_string(),
            reason,
        };
        let misuse = |reason: String| Error::InvalidOperation {
            operation: "commit_parts",
            reason,
        };
        let mut written: HashMap<(&str, u64), &str> = HashMap::new();
        for part in parts {
            let path = part.reader.path.as_ref();
            for PartArray { name, def, chunks } in &part.arrays {
                let mine = self.pending.as_ref().and_then(|p| p.get(name));
                let defined_here = match (mine.map(|m| &m.op), def) {
                    (Some(PendingOp::Define(info)), Some(def)) => {
                        if info.to_def() != *def {
                            return Err(misuse(format!(
                                "part {path} defines array {name:?} otherwise than this handle does"
                            )));
                        }
                        Some(info.clone())
                    }
                    (_, Some(_)) => {
                        return Err(misuse(format!(
                            "part {path} defines array {name:?}, which this handle does not define: define it the same way before committing the parts"
                        )));
                    }
                    (Some(PendingOp::Define(_)), None) => {
                        return Err(conflict(format!(
                            "array {name:?}, which part {path} writes, is redefined by this handle's pending changes"
                        )));
                    }
                    (Some(PendingOp::Tombstone), None) => {
                        return Err(conflict(format!(
                            "array {name:?}, which part {path} writes, is deleted by this handle's pending changes"
                        )));
                    }
                    (Some(PendingOp::Update) | None, None) => None,
                };
                let (info, committed) = match defined_here {
                    // A new definition hides everything committed below.
                    Some(info) => (info, None),
                    None => {
                        let Some(array) = self.index.arrays.get(name) else {
                            return Err(conflict(format!(
                                "array {name:?}, which part {path} writes, was deleted by another writer"
                            )));
                        };
                        if array.defined_seq > part.base {
                            return Err(conflict(format!(
                                "array {name:?} was redefined by another writer (layer {}) after part {path} was staged",
                                array.defined_seq
                            )));
                        }
                        (
                            self.index.info(array)?.clone(),
                            Some(&self.index.chunks(array)?.chunks),
                        )
                    }
                };
                for c in chunks {
                    check_chunk(&info.grid, info.meta.dtype, c).map_err(|what| {
                        Error::corrupted(path, format!("footer: array {name:?}: {what}"))
                    })?;
                    let coord = || info.grid.coord_of(c.index).unwrap_or_default();
                    if let Some(now) = committed.and_then(|m| m.get(&c.index))
                        && now.seq > c.seq
                    {
                        return Err(conflict(format!(
                            "chunk {:?} of array {name:?} was written by another writer (layer {}) since part {path} was staged",
                            coord(),
                            now.seq
                        )));
                    }
                    if mine.is_some_and(|m| m.chunks.contains_key(&c.index)) {
                        return Err(conflict(format!(
                            "chunk {:?} of array {name:?} is written both by part {path} and by this handle",
                            coord()
                        )));
                    }
                    if let Some(other) = written.insert((name.as_str(), c.index), path) {
                        return Err(conflict(format!(
                            "chunk {:?} of array {name:?} is written by two parts, {other} and {path}",
                            coord()
                        )));
                    }
                }
            }
        }
        Ok(())
    }
}

/// Collects a part's records: the definitions and chunks, by array.
struct Collect<'a> {
    path: &'a str,
    names: Names<'a>,
    arrays: Vec<PartArray>,
}

impl<'a> RecordVisitor<'a> for Collect<'a> {
    fn record(&mut self, _at: usize, head: &RecordHead<'a>, def: &DefParts<'a>) -> Result<()> {
        self.names.once(self.path, head.name)?;
        self.arrays.push(PartArray {
            name: head.name.to_owned(),
            def: match head.op {
                Op::Define(dtype) => Some(def.to_def(dtype)),
                _ => None,
            },
            chunks: Vec::new(),
        });
        Ok(())
    }

    fn chunk(&mut self, chunk: ChunkRecord) -> Result<()> {
        if let Some(array) = self.arrays.last_mut() {
            array.chunks.push(chunk);
        }
        Ok(())
    }
}
