//! `commit_parts`: commits staged parts (`stage.rs`) as one delta layer
//! whose blocks stay in the parts, with one conditional create and no data
//! copied (`docs/ARCHITECTURE.md`, "Writes from many processes").
//!
//! The coordinator reads each part's footer (one request each), checks that
//! it is the part described, of this file, and that its chunks collide
//! neither with each other nor with what other writers committed since the
//! part's base, then writes a footer that lists the parts in its object
//! table, their blocks and frames as its own, and one update record per
//! array with the chunks of every part. A lost race for the layer number is
//! retried after a refresh, as long as the changes do not collide.

use std::collections::{BTreeMap, HashMap, HashSet};

use futures::{StreamExt, TryStreamExt};

use super::ArrayFile;
use super::index::check_chunk;
use super::open::{WRITER, now_ns, random_id};
use super::staged::StagedPart;
use crate::error::{Error, Result};
use crate::format::{
    self, ArrayRecord, BlockEntry, ChunkRecord, DefParts, Footer, FrameEntry, Id, LayerHeader,
    LayerKind, Names, ObjectEntry, RecordHead, RecordOp, RecordVisitor,
};
use crate::layer::LayerReader;
use crate::storage::ObjectPin;

/// Attempts at a layer number before a commit of parts gives up on writers
/// that keep committing first.
const COMMIT_ATTEMPTS: usize = 16;

/// Part footers read at once.
const PART_READS: usize = 16;

/// A part read back: its footer tables and the chunks it stages.
struct Part {
    reader: LayerReader,
    /// The layer its chunks were written against.
    base: u64,
    /// Per array, in footer order: the chunk records, each with the layer
    /// the chunk was written against as its `seq`.
    arrays: Vec<(String, Vec<ChunkRecord>)>,
}

impl ArrayFile {
    /// Commits the staged `parts` (and nothing else: this handle's own
    /// pending changes stay pending) as **one** new delta layer whose
    /// blocks live in the parts: one conditional create of a layer that
    /// holds only a footer, no data copied. Readers see all the parts at
    /// once or none of them.
    ///
    /// Checked like [`flush`](Self::flush): a chunk that another writer
    /// committed since the base of the part that writes it, a chunk written
    /// by two parts, or an array deleted or redefined since, is
    /// [`Error::Conflict`], and nothing becomes visible. A layer number
    /// taken by another writer first is retried internally (after a
    /// [`refresh`](Self::refresh)) as long as the changes do not collide.
    ///
    /// Parts that a visible layer adopted already are left out, so a call
    /// repeated after a crash, or after [`Error::CommitUnconfirmed`],
    /// succeeds without committing them twice. With no part left that
    /// holds a chunk, nothing is written.
    ///
    /// Errors: [`Error::ForeignPart`] (a part of another file, or an object
    /// that is not the part described), [`Error::PartNotFound`] (never
    /// written, or reclaimed), [`Error::Corrupted`] (a damaged part, named),
    /// [`Error::InvalidOperation`] (a part listed twice, a read-only handle,
    /// a handle whose last flush is unconfirmed); nothing is written.
    pub async fn commit_parts(&mut self, parts: &[StagedPart]) -> Result<()> {
        self.check_writable("commit_parts")?;
        if let Some(u) = &self.unconfirmed {
            return Err(Error::InvalidOperation {
                operation: "commit_parts",
                reason: format!(
                    "whether layer {} was committed is not settled yet; flush() to settle it",
                    u.path
                ),
            });
        }
        self.check_descriptions(parts)?;
        let mut read: Option<Vec<Part>> = None;
        // Whether the view was refreshed for a part staged against a newer
        // layer than it had.
        let mut caught_up = false;
        for _ in 0..COMMIT_ATTEMPTS {
            let adopted = self.adopted_parts();
            let todo: Vec<&StagedPart> = parts
                .iter()
                .filter(|p| !adopted.contains(&p.part_id))
                .collect();
            if todo.is_empty() {
                return Ok(());
            }
            let staged = match read.take() {
                Some(staged) => staged,
                None => self.read_parts(&todo).await?,
            };
            // Parts another attempt found adopted (by this call's own layer,
            // when its commit was unconfirmed) are left out.
            let staged: Vec<Part> = staged
                .into_iter()
                .filter(|p| !adopted.contains(&p.reader.header.layer_id))
                .collect();
            if let Some(ahead) = staged.iter().find(|p| p.base > self.index.latest_seq()) {
                if caught_up {
                    return Err(Error::Conflict {
                        path: ahead.reader.path.to_string(),
                        reason: format!(
                            "the part was staged against layer {}, newer than the file's newest layer {}",
                            ahead.base,
                            self.index.latest_seq()
                        ),
                    });
                }
                // A part written against layers this view lacks: its arrays
                // may not even be in the view yet.
                self.refresh().await?;
                caught_up = true;
                read = Some(staged);
                continue;
            }
            self.check_part_conflicts(&staged)?;
            let holding: Vec<&Part> = staged
                .iter()
                .filter(|p| p.arrays.iter().any(|(_, c)| !c.is_empty()))
                .collect();
            if holding.is_empty() {
                return Ok(());
            }
            match self.commit_adopting(&holding).await {
                Ok(()) => return Ok(()),
                // Another writer took the number, or a concurrent compaction
                // orphaned the layer (which is deleted again): retry on the
                // newest view, which checks the changes again.
                Err(Error::Conflict { .. }) => {
                    self.refresh().await?;
                    read = Some(staged);
                }
                Err(e) => return Err(e),
            }
        }
        Err(Error::Conflict {
            path: self.store.base_path().to_string(),
            reason: format!(
                "other writers committed first {COMMIT_ATTEMPTS} times while these parts were committed"
            ),
        })
    }

    /// Fails unless every description names a part of this file, once.
    fn check_descriptions(&self, parts: &[StagedPart]) -> Result<()> {
        let mut seen = HashSet::with_capacity(parts.len());
        for p in parts {
            let foreign = |reason: &str| Error::ForeignPart {
                path: p.name.clone(),
                reason: reason.to_owned(),
            };
            if p.dataset_id != self.dataset_id {
                return Err(foreign("it was staged for another file (dataset id)"));
            }
            if self.store.parse_part_name(&p.name) != Some(p.part_id) {
                return Err(foreign("its name is not that of a part of this file"));
            }
            if !seen.insert(p.part_id) {
                return Err(Error::InvalidOperation {
                    operation: "commit_parts",
                    reason: format!("part {} is listed twice", p.name),
                });
            }
        }
        Ok(())
    }

    /// The identities of the parts the visible layers adopted.
    fn adopted_parts(&self) -> HashSet<Id> {
        self.index
            .layers
            .iter()
            .flat_map(|l| l.adopted().iter().map(|a| a.entry.part_id))
            .collect()
    }

    /// Reads the footers of `parts` (concurrently), checking that each is
    /// the part described, of this file, and what its records hold.
    async fn read_parts(&self, parts: &[&StagedPart]) -> Result<Vec<Part>> {
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
    fn check_part_conflicts(&self, parts: &[Part]) -> Result<()> {
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

    /// Commits one delta layer adopting `parts` at the next number, checks
    /// that no concurrent compaction orphaned it, and applies it to the
    /// index. [`Error::Conflict`] when the number was taken or the layer
    /// orphaned (and removed again).
    async fn commit_adopting(&mut self, parts: &[&Part]) -> Result<()> {
        let (parent_id, generation, seq) = self.next_layer()?;
        let header = LayerHeader {
            dataset_id: self.dataset_id,
            layer_id: random_id(),
            parent_id,
            seq,
            generation,
            kind: LayerKind::Delta,
            created_ns: now_ns(),
            writer: WRITER.into(),
            merged: Vec::new(),
        };
        let footer = adopting_footer(header, parts)?;
        let tail = bytes::Bytes::from(format::encode_tail(&footer));
        drop(footer);
        let path = self.store.layer_path(seq);
        let size = tail.len() as u64;
        let footer = tail.slice(..tail.len().saturating_sub(format::TRAILER_LEN));
        // What readers will check, checked before anything is visible.
        let candidate = LayerReader::written(
            &self.store,
            path.clone(),
            size,
            footer.clone(),
            0,
            ObjectPin::default(),
        )?;
        candidate.records().check()?;
        drop(candidate);
        let pin = self.store.create_object(&path, tail.into()).await?;
        let reader = LayerReader::written(&self.store, path, size, footer, 0, pin)?;
        self.check_not_orphaned(&reader).await?;
        self.index.apply(reader)
    }
}

/// The footer of a delta layer that adopts `parts`: their frames in its
/// object table, their blocks and frames as its own (object `k` for part
/// `k - 1`), and per array one update record of every part's chunks, as
/// written by layer `header.seq`. Its own data region is empty.
fn adopting_footer(header: LayerHeader, parts: &[&Part]) -> Result<Footer> {
    let seq = header.seq;
    let mut codecs: Vec<String> = Vec::new();
    let mut objects = Vec::with_capacity(parts.len());
    let mut blocks: Vec<BlockEntry> = Vec::new();
    let mut frames: Vec<FrameEntry> = Vec::new();
    let mut by_array: BTreeMap<&str, Vec<ChunkRecord>> = BTreeMap::new();
    let too_many = || Error::InvalidOperation {
        operation: "commit_parts",
        reason: "the parts hold more frames or blocks than one layer can".into(),
    };
    for (k, part) in parts.iter().enumerate() {
        let r = &part.reader;
        let object = u32::try_from(k + 1).map_err(|_| too_many())?;
        let block_base = u32::try_from(blocks.len()).map_err(|_| too_many())?;
        let frame_base = u32::try_from(frames.len()).map_err(|_| too_many())?;
        objects.push(ObjectEntry {
            part_id: r.header.layer_id,
            size: r.size,
        });
        let codec_index: Vec<u32> = r
            .codecs
            .iter()
            .map(|name| {
                let at = codecs.iter().position(|c| c == name).unwrap_or_else(|| {
                    codecs.push(name.clone());
                    codecs.len() - 1
                });
                u32::try_from(at).map_err(|_| too_many())
            })
            .collect::<Result<_>>()?;
        for b in &r.blocks {
            blocks.push(BlockEntry {
                object,
                offset: b.offset,
                codec: codec_index.get(b.codec as usize).copied().ok_or_else(|| {
                    Error::corrupted(r.path.as_ref(), "a block refers to a missing codec")
                })?,
                frame_count: b.frame_count,
            });
        }
        for f in &r.frames {
            frames.push(FrameEntry {
                object,
                block: f.block.checked_add(block_base).ok_or_else(too_many)?,
                ..*f
            });
        }
        for (name, chunks) in &part.arrays {
            let out = by_array.entry(name.as_str()).or_default();
            for c in chunks {
                out.push(ChunkRecord {
                    seq,
                    frame: c.frame.checked_add(frame_base).ok_or_else(too_many)?,
                    ..c.clone()
                });
            }
        }
    }
    u32::try_from(frames.len()).map_err(|_| too_many())?;
    let arrays = by_array
        .into_iter()
        .map(|(name, mut chunks)| {
            chunks.sort_by_key(|c| c.index);
            ArrayRecord {
                name: name.to_owned(),
                op: RecordOp::Update,
                defined_seq: 0,
                attrs: Vec::new(),
                chunks,
            }
        })
        .collect();
    Ok(Footer {
        header,
        codecs,
        objects,
        blocks,
        frames,
        file_attrs: Vec::new(),
        arrays,
    })
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
