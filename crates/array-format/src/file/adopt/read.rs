//! Reading the staged parts a commit adopts: each part's footer, checked
//! to be the part described and of this file, its chunk records, and the
//! conflicts of those chunks with each other and with the view.

use std::collections::HashMap;

use futures::{StreamExt, TryStreamExt};

use super::super::ArrayFile;
use super::super::index::check_chunk;
use super::super::staged::StagedPart;
use crate::error::{Error, Result};
use crate::format::{ChunkRecord, DefParts, LayerKind, Names, RecordHead, RecordVisitor};
use crate::layer::LayerReader;
use crate::storage::ObjectPin;

/// Part footers read at once.
const PART_READS: usize = 16;

/// A part read back: its footer tables and the chunks it stages.
pub(super) struct Part {
    pub(super) reader: LayerReader,
    /// The layer its chunks were written against.
    pub(super) base: u64,
    /// Per array, in footer order: the chunk records, each with the layer
    /// the chunk was written against as its `seq`.
    pub(super) arrays: Vec<(String, Vec<ChunkRecord>)>,
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
    /// each other or with what the view holds: an array deleted or
    /// redefined since a part's base, a chunk committed since the layer it
    /// was written against. Chunks are checked against their arrays'
    /// definitions as a reader will check them.
    pub(super) fn check_part_conflicts(&self, parts: &[Part]) -> Result<()> {
        let conflict = |reason: String| Error::Conflict {
            path: self.store.base_path().to_string(),
            reason,
        };
        let mut written: HashMap<(&str, u64), &str> = HashMap::new();
        for part in parts {
            let path = part.reader.path.as_ref();
            for (name, chunks) in &part.arrays {
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
                let info = self.index.info(array)?;
                let committed = &self.index.chunks(array)?.chunks;
                for c in chunks {
                    check_chunk(&info.grid, info.meta.dtype, c).map_err(|what| {
                        Error::corrupted(path, format!("footer: array {name:?}: {what}"))
                    })?;
                    let coord = || info.grid.coord_of(c.index).unwrap_or_default();
                    if let Some(now) = committed.get(&c.index)
                        && now.seq > c.seq
                    {
                        return Err(conflict(format!(
                            "chunk {:?} of array {name:?} was written by another writer (layer {}) since part {path} was staged",
                            coord(),
                            now.seq
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

/// Collects the chunks of a part's records, by array.
struct Collect<'a> {
    path: &'a str,
    names: Names<'a>,
    arrays: Vec<(String, Vec<ChunkRecord>)>,
}

impl<'a> RecordVisitor<'a> for Collect<'a> {
    fn record(&mut self, _at: usize, head: &RecordHead<'a>, _def: &DefParts<'a>) -> Result<()> {
        self.names.once(self.path, head.name)?;
        self.arrays.push((head.name.to_owned(), Vec::new()));
        Ok(())
    }

    fn chunk(&mut self, chunk: ChunkRecord) -> Result<()> {
        if let Some((_, chunks)) = self.arrays.last_mut() {
            chunks.push(chunk);
        }
        Ok(())
    }
}
