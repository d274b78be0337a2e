//! Reading array records: a cursor over one record's parts, and a walk over
//! all records of a layer that checks them (`docs/FORMAT.md`, sections 5.6
//! to 5.9). Decoding checks everything that can be checked without the
//! layers below; what depends on them (an update record's chunk indices) is
//! checked when the merged index is built.
//!
//! Nothing here allocates per record: names and definitions are borrowed
//! from the footer, and attribute values stay encoded until asked for, so
//! that opening a file of many arrays costs a pass over its records, not a
//! copy of them.

use std::collections::HashSet;
use std::ops::Range;
use std::sync::Arc;

use crate::chunk_stats::{ChunkStats, MinMax};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::value::FillValue;

use super::blocks::check_frame_sizes;
use super::footer::{
    ArrayDef, BlockEntry, ChunkRecord, FrameEntry, LayerKind, MAX_RANK, OP_DEFINE, OP_TOMBSTONE,
    OP_UPDATE,
};
pub(crate) use super::sections::{AttrEntry, KeyMarks, Owner, section_range};
use super::sections::{Entries, get_seq};
use super::values::{get_fill, get_stat};
use super::wire::{WireReader, WireResult};

/// What a record does, as read from its `op` byte (with the dtype of a
/// definition).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Define(DType),
    Update,
    Tombstone,
}

/// The fixed part of an array record: name, op and, for definitions, the
/// layer that first defined the array.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RecordHead<'a> {
    pub(crate) name: &'a str,
    pub(crate) op: Op,
    /// 0 unless `op` is a definition.
    pub(crate) defined_seq: u64,
}

/// The definition in a define record, its text borrowed from the footer.
/// One value is reused from record to record, so reading definitions
/// allocates nothing once its vectors have grown.
#[derive(Debug, Default)]
pub(crate) struct DefParts<'a> {
    pub(crate) shape: Vec<u64>,
    pub(crate) chunk_shape: Vec<u64>,
    pub(crate) dimension_names: Vec<&'a str>,
    pub(crate) fill_value: Option<FillValue>,
    /// The codec spec the array records (version 4), if any.
    pub(crate) codec: Option<&'a str>,
}

impl DefParts<'_> {
    /// The owned definition of an array of `dtype`.
    pub(crate) fn to_def(&self, dtype: DType) -> ArrayDef {
        ArrayDef {
            dtype,
            shape: self.shape.clone(),
            chunk_shape: self.chunk_shape.clone(),
            dimension_names: self.dimension_names.iter().map(|&n| n.to_owned()).collect(),
            fill_value: self.fill_value.clone(),
            codec: self.codec.map(str::to_owned),
        }
    }
}

/// Reads the parts of one array record in order: [`head`](Self::head), then
/// the attributes ([`attr_count`](Self::attr_count) times
/// [`next_attr`](Self::next_attr), then [`end_attrs`](Self::end_attrs); or
/// [`skip_attrs`](Self::skip_attrs)), then the chunks
/// ([`chunk_count`](Self::chunk_count) times
/// [`next_chunk`](Self::next_chunk)).
pub(crate) struct RecordReader<'a> {
    buf: &'a [u8],
    r: WireReader<'a>,
    keys: &'a [Arc<str>],
    frames: &'a [FrameEntry],
    layer: u64,
    version: u16,
    attrs_region: Range<usize>,
    /// While the entries of a version 3 attribute section are read: their
    /// reader, bounded by the section's end.
    section: Option<WireReader<'a>>,
    /// The previous chunk index of this record.
    prev_chunk: Option<u64>,
}

impl<'a> RecordReader<'a> {
    /// Footer offset of the next byte to read.
    pub(crate) fn position(&self) -> usize {
        self.r.position()
    }

    /// Name, op and, for a define record, the definition (into `def`).
    pub(crate) fn head(&mut self, def: &mut DefParts<'a>) -> WireResult<RecordHead<'a>> {
        let r = &mut self.r;
        let name = r.str("array name")?;
        if name.is_empty() {
            return Err("an array record has an empty name".into());
        }
        let op_at = r.position();
        let op = r.u8("array op")?;
        match op {
            OP_DEFINE => {
                let code = r.u8("dtype")?;
                let dtype = DType::from_code(code)
                    .ok_or_else(|| format!("array {name:?} has unknown dtype code {code}"))?;
                let rank = r.bounded(MAX_RANK, "rank")?;
                def.shape.clear();
                for _ in 0..rank {
                    def.shape.push(r.var("shape")?);
                }
                def.chunk_shape.clear();
                for _ in 0..rank {
                    def.chunk_shape.push(r.var("chunk shape")?);
                }
                def.dimension_names.clear();
                for _ in 0..rank {
                    def.dimension_names.push(r.str("dimension name")?);
                }
                def.fill_value = get_fill(r)?;
                if let Some(f) = &def.fill_value
                    && f.canonical_for(dtype).as_ref() != Some(f)
                {
                    return Err(format!(
                        "array {name:?}: fill value {f} is not a canonical {dtype} value"
                    ));
                }
                // Any name: a reader needs no codec to read, and a writer
                // that cannot write with it says so when it tries.
                def.codec = if self.version >= 4 {
                    Some(r.str("array codec")?).filter(|c| !c.is_empty())
                } else {
                    None
                };
                let defined_seq = get_seq(r, self.layer, "definition layer")?;
                Ok(RecordHead {
                    name,
                    op: Op::Define(dtype),
                    defined_seq,
                })
            }
            OP_UPDATE | OP_TOMBSTONE => Ok(RecordHead {
                name,
                op: if op == OP_UPDATE {
                    Op::Update
                } else {
                    Op::Tombstone
                },
                defined_seq: 0,
            }),
            o => Err(format!(
                "array {name:?} has unknown op {o} at footer offset {op_at}"
            )),
        }
    }

    /// Reads a version 3 record's reference to its attribute section and
    /// returns the section's footer range, checked to lie in the attribute
    /// region.
    fn section(&mut self, head: &RecordHead<'a>) -> WireResult<Range<usize>> {
        let at = self.r.var("attribute section offset")?;
        let len = self.r.var("attribute section length")?;
        section_range(&self.attrs_region, at, len, Owner::Array(head.name))
    }

    /// Number of attribute entries that follow (none in a tombstone).
    pub(crate) fn attr_count(&mut self, head: &RecordHead<'a>) -> WireResult<usize> {
        if head.op == Op::Tombstone {
            return Ok(0);
        }
        if self.version < 3 {
            return self.r.count(2, "attribute count");
        }
        let range = self.section(head)?;
        let within = self
            .buf
            .get(..range.end)
            .ok_or("attribute section out of range")?;
        let mut section = WireReader::at(within, range.start);
        let n = section.count(2, "attribute count")?;
        self.section = Some(section);
        Ok(n)
    }

    /// Footer offset of the first attribute entry, once
    /// [`attr_count`](Self::attr_count) has been read: records that share
    /// an attribute section share this offset.
    pub(crate) fn attrs_position(&self) -> usize {
        self.section.as_ref().unwrap_or(&self.r).position()
    }

    /// Checks that the attribute entries read fill their section exactly.
    pub(crate) fn end_attrs(&mut self, head: &RecordHead<'a>) -> WireResult<()> {
        match self.section.take() {
            Some(s) if s.remaining() > 0 => Err(format!(
                "array {:?}: {} bytes of its attribute section follow its last entry (at footer offset {})",
                head.name,
                s.remaining(),
                s.position()
            )),
            _ => Ok(()),
        }
    }

    /// Moves past the reference to the attribute section, checking only
    /// that it lies in the attribute region (version 3 on); or past the
    /// inline entries, reading and checking them (version 2; `marks` as in
    /// [`next_attr`](Self::next_attr)).
    pub(crate) fn skip_attrs(
        &mut self,
        head: &RecordHead<'a>,
        mut marks: Option<&mut KeyMarks>,
    ) -> WireResult<()> {
        if head.op == Op::Tombstone {
            return Ok(());
        }
        if self.version >= 3 {
            return self.section(head).map(drop);
        }
        for _ in 0..self.attr_count(head)? {
            self.next_attr(head, marks.as_deref_mut())?;
        }
        self.end_attrs(head)
    }

    /// The next attribute entry, its value checked but left encoded.
    /// `marks`, started for this record with
    /// [`KeyMarks::next_record`], rejects a repeated key; without it a
    /// repeated key is not noticed (for records checked before).
    pub(crate) fn next_attr(
        &mut self,
        head: &RecordHead<'a>,
        marks: Option<&mut KeyMarks>,
    ) -> WireResult<AttrEntry<'a>> {
        let r = match &mut self.section {
            Some(section) => section,
            None => &mut self.r,
        };
        let entries = Entries {
            buf: self.buf,
            keys: self.keys,
            layer: self.layer,
            owner: Owner::Array(head.name),
            removals: head.op == Op::Update,
        };
        entries.next(r, marks)
    }

    /// Number of chunk records that follow (none in a tombstone).
    pub(crate) fn chunk_count(&mut self, head: &RecordHead<'a>) -> WireResult<usize> {
        if head.op == Op::Tombstone {
            return Ok(0);
        }
        self.prev_chunk = None;
        self.r.count(6, "chunk count")
    }

    /// The next chunk record.
    pub(crate) fn next_chunk(&mut self, head: &RecordHead<'a>) -> WireResult<ChunkRecord> {
        let name = head.name;
        let r = &mut self.r;
        let delta = r.var("chunk index")?;
        let index = match self.prev_chunk {
            None => delta,
            Some(p) => {
                if delta == 0 {
                    return Err(format!("array {name:?}: chunk index {p} listed twice"));
                }
                p.checked_add(delta)
                    .ok_or_else(|| format!("array {name:?}: chunk index overflows"))?
            }
        };
        self.prev_chunk = Some(index);
        let frame = r.bounded(self.frames.len().saturating_sub(1) as u64, "chunk frame")?;
        let f = self.frames.get(frame).ok_or_else(|| {
            format!("array {name:?}: chunk {index} refers to missing frame {frame}")
        })?;
        let offset = r.var("chunk offset")?;
        let len = r.var("chunk length")?;
        let seq = get_seq(r, self.layer, "chunk layer")?;
        if offset.checked_add(len).is_none_or(|end| end > f.raw_len) {
            return Err(format!(
                "array {name:?}: chunk {index} ({len} bytes at {offset}) exceeds frame {frame} ({} bytes)",
                f.raw_len
            ));
        }
        let null_count = r.var("chunk null count")?;
        let at = r.position();
        let min_max = match r.u8("chunk statistics tag")? {
            0 => MinMax::Empty,
            1 => MinMax::Range {
                min: get_stat(r)?,
                max: get_stat(r)?,
            },
            2 => MinMax::Unavailable,
            t => return Err(format!("unknown statistics tag {t} at footer offset {at}")),
        };
        Ok(ChunkRecord {
            index,
            seq,
            frame: frame as u32,
            offset,
            len,
            stats: ChunkStats {
                null_count,
                min_max,
            },
        })
    }
}

/// What [`RecordTable::walk`] hands out, in file order: each record (right
/// after its head), then its attribute entries, then its chunk records.
pub(crate) trait RecordVisitor<'a> {
    /// A record starting at footer offset `at`; `def` holds the definition
    /// when `head.op` is a definition.
    fn record(&mut self, at: usize, head: &RecordHead<'a>, def: &DefParts<'a>) -> Result<()>;

    /// An attribute entry of the last record.
    fn attr(&mut self, _attr: AttrEntry<'a>) -> Result<()> {
        Ok(())
    }

    /// A chunk record of the last record.
    fn chunk(&mut self, chunk: ChunkRecord) -> Result<()>;
}

/// The array records of a layer's footer, with what reading them needs.
#[derive(Debug, Clone)]
pub(crate) struct RecordTable<'a> {
    /// The layer, for errors.
    pub(crate) path: &'a str,
    /// The whole footer.
    pub(crate) buf: &'a [u8],
    /// Footer offset of the first record.
    pub(crate) at: usize,
    /// Number of records.
    pub(crate) count: usize,
    pub(crate) keys: &'a [Arc<str>],
    pub(crate) codecs: &'a [String],
    pub(crate) blocks: &'a [BlockEntry],
    pub(crate) frames: &'a [FrameEntry],
    /// The layer's number.
    pub(crate) layer: u64,
    /// The format version of the layer.
    pub(crate) version: u16,
    /// Where the attribute region lies in the footer (version 3 on).
    pub(crate) attrs_region: Range<usize>,
    /// Where the file's attribute section lies in the footer (version 4;
    /// empty when the layer has none).
    pub(crate) file_attrs: Range<usize>,
    /// The layer's kind: a snapshot's file attributes are a complete set,
    /// a delta's are changes; a part holds only updates of chunks.
    pub(crate) kind: LayerKind,
}

impl<'a> RecordTable<'a> {
    /// A reader of the record at footer offset `at`.
    pub(crate) fn reader(&self, at: usize) -> RecordReader<'a> {
        RecordReader {
            buf: self.buf,
            r: WireReader::at(self.buf, at),
            keys: self.keys,
            frames: self.frames,
            layer: self.layer,
            version: self.version,
            attrs_region: self.attrs_region.clone(),
            section: None,
            prev_chunk: None,
        }
    }

    /// A footer error at this layer.
    pub(crate) fn damaged(&self, what: String) -> Error {
        Error::corrupted(self.path, format!("footer: {what}"))
    }

    /// Checks every record, attribute sections included, and the file's
    /// attribute section.
    pub(crate) fn check(&self) -> Result<()> {
        let mut unseen = Unseen {
            path: self.path,
            names: Names::default(),
        };
        self.walk(&mut unseen, true)?;
        let mut marks = KeyMarks::new(self.keys.len());
        self.file_attr_entries(Some(&mut marks))
            .map(drop)
            .map_err(|w| self.damaged(w))
    }

    /// The entries of the file's attribute section, checked (values left
    /// encoded), with the footer offset of the first one (sections stored
    /// once for several owners share it); `None` when the layer has no
    /// section. `marks` rejects a repeated key, as in
    /// [`RecordReader::next_attr`].
    pub(crate) fn file_attr_entries(
        &self,
        mut marks: Option<&mut KeyMarks>,
    ) -> WireResult<Option<(usize, Vec<AttrEntry<'a>>)>> {
        if self.file_attrs.is_empty() {
            return Ok(None);
        }
        let within = self
            .buf
            .get(..self.file_attrs.end)
            .ok_or("the file's attribute section lies outside the footer")?;
        let mut r = WireReader::at(within, self.file_attrs.start);
        let n = r.count(2, "file attribute count")?;
        let first = r.position();
        let entries = Entries {
            buf: self.buf,
            keys: self.keys,
            layer: self.layer,
            owner: Owner::File,
            removals: self.kind != LayerKind::Snapshot,
        };
        if let Some(m) = marks.as_deref_mut() {
            m.next_record();
        }
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(entries.next(&mut r, marks.as_deref_mut())?);
        }
        if r.remaining() > 0 {
            return Err(format!(
                "{}: {} bytes of the section follow its last entry (at footer offset {})",
                Owner::File,
                r.remaining(),
                r.position()
            ));
        }
        Ok(Some((first, out)))
    }

    /// Reads every record once, checks everything this module can check
    /// (besides each record's fields: nothing after the last record, frame
    /// sizes that fit the chunks in them), and hands the parts to `visit`.
    /// Returns how many chunk records point into each frame. Allocates
    /// nothing per record but what `visit` does (and the statistics of
    /// string and binary chunks).
    ///
    /// That no name has two records in the layer is for `visit` to check
    /// (with [`Names`], or as the index does, with the table it fills
    /// anyway).
    ///
    /// Attribute sections in the attribute region (version 3 on) are not read
    /// unless `attrs`: a file's attributes can be most of its footer, and
    /// are checked when they are decoded. Inline attribute entries
    /// (version 2) are always read, checked and handed to `visit`.
    pub(crate) fn walk<V: RecordVisitor<'a>>(
        &self,
        visit: &mut V,
        attrs: bool,
    ) -> Result<Vec<u32>> {
        let wire = |what: String| self.damaged(what);
        let mut extent = vec![0u64; self.frames.len()];
        let mut refs = vec![0u32; self.frames.len()];
        let mut def = DefParts::default();
        let mut marks = KeyMarks::new(self.keys.len());
        let mut at = self.at;
        for _ in 0..self.count {
            let mut rec = self.reader(at);
            let head = rec.head(&mut def).map_err(wire)?;
            visit.record(at, &head, &def)?;
            marks.next_record();
            if self.kind == LayerKind::Part {
                self.part_record(&mut rec, &head).map_err(wire)?;
            } else if attrs || self.version < 3 {
                for _ in 0..rec.attr_count(&head).map_err(wire)? {
                    let a = rec.next_attr(&head, Some(&mut marks)).map_err(wire)?;
                    visit.attr(a)?;
                }
                rec.end_attrs(&head).map_err(wire)?;
            } else {
                rec.skip_attrs(&head, None).map_err(wire)?;
            }
            for _ in 0..rec.chunk_count(&head).map_err(wire)? {
                let c = rec.next_chunk(&head).map_err(wire)?;
                if let Some(e) = extent.get_mut(c.frame as usize) {
                    *e = (*e).max(c.offset.saturating_add(c.len));
                }
                if let Some(r) = refs.get_mut(c.frame as usize) {
                    *r = r.saturating_add(1);
                }
                visit.chunk(c)?;
            }
            at = rec.position();
        }
        if at != self.buf.len() {
            return Err(wire(format!(
                "{} unexpected bytes after the array table",
                self.buf.len().saturating_sub(at)
            )));
        }
        check_frame_sizes(self.codecs, self.blocks, self.frames, &extent).map_err(wire)?;
        Ok(refs)
    }
}

impl<'a> RecordTable<'a> {
    /// Checks that a record of a part only defines an array or writes
    /// chunks: a definition or an update whose attribute section is empty.
    fn part_record(&self, rec: &mut RecordReader<'a>, head: &RecordHead<'a>) -> WireResult<()> {
        if head.op == Op::Tombstone {
            return Err(format!(
                "a part deletes array {:?}: parts only define arrays and write chunks",
                head.name
            ));
        }
        if rec.attr_count(head)? > 0 {
            return Err(format!(
                "a part sets attributes of array {:?}: parts only define arrays and write chunks",
                head.name
            ));
        }
        rec.end_attrs(head)
    }
}

/// The names of a layer's records seen so far.
#[derive(Debug, Default)]
pub(crate) struct Names<'a>(HashSet<&'a str, foldhash::fast::RandomState>);

impl<'a> Names<'a> {
    /// Notes the name of a record; an error if the layer had it already.
    pub(crate) fn once(&mut self, path: &str, name: &'a str) -> Result<()> {
        if self.0.insert(name) {
            Ok(())
        } else {
            Err(Error::corrupted(
                path,
                format!("footer: array {name:?} appears twice in one layer"),
            ))
        }
    }
}

/// A visitor that only lets the walk check the records.
struct Unseen<'a> {
    path: &'a str,
    names: Names<'a>,
}

impl<'a> RecordVisitor<'a> for Unseen<'a> {
    fn record(&mut self, _at: usize, head: &RecordHead<'a>, _def: &DefParts<'a>) -> Result<()> {
        self.names.once(self.path, head.name)
    }

    fn chunk(&mut self, _chunk: ChunkRecord) -> Result<()> {
        Ok(())
    }
}
