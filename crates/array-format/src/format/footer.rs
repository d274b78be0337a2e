//! The footer: a layer's identity, block and frame tables, attribute
//! region and array records; the footer's encoding, and the decoding of
//! everything before the array records (which `records.rs` reads).
//!
//! The byte layout is specified in `docs/FORMAT.md`; this module and its
//! siblings are its only implementation. Decoding validates everything that
//! can be checked without the layers below (table bounds, orderings, enum
//! tags, UTF-8).

use std::ops::Range;
use std::sync::Arc;

use crate::chunk_stats::ChunkStats;
use crate::dtype::DType;
use crate::value::{AttributeValue, FillValue};

use super::blocks;
pub(crate) use super::blocks::{BlockEntry, FrameEntry, ObjectEntry};
#[cfg(test)]
use super::records::{AttrEntry, DefParts, Names, Op, RecordHead, RecordTable, RecordVisitor};
use super::records::{Owner, section_range};
use super::wire::{WireReader, WireResult};
#[cfg(test)]
use crate::error::{Error, Result};

/// A 128-bit random identifier.
pub(crate) type Id = [u8; 16];

/// Whether a layer is a full state or a change on top of the one before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LayerKind {
    /// A complete state: layers with smaller numbers are not needed to read it.
    Snapshot,
    /// Changes on top of layer `seq - 1`.
    Delta,
    /// A staged part (format 5): chunks written against layer `seq`, in an
    /// object no reader lists, until a delta adopts its frames.
    Part,
}

/// Who a layer is and what it builds on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LayerHeader {
    /// Identifies the file (all layers of one file share it).
    pub(crate) dataset_id: Id,
    /// Unique per layer object; cache keys use it.
    pub(crate) layer_id: Id,
    /// `layer_id` of layer `seq - 1` (zero for the base).
    pub(crate) parent_id: Id,
    /// The layer's number, equal to the number in its object name.
    pub(crate) seq: u64,
    /// Number of the snapshot this layer builds on (its own for snapshots).
    pub(crate) generation: u64,
    /// Snapshot or delta.
    pub(crate) kind: LayerKind,
    /// Commit time, nanoseconds since the Unix epoch.
    pub(crate) created_ns: i64,
    /// The library that wrote the layer, for diagnostics.
    pub(crate) writer: String,
    /// For a snapshot: the `layer_id`s of the layers it merged (the previous
    /// snapshot and the deltas above it). A writer whose fresh layer lies
    /// below a newer snapshot learns from this whether its layer was merged
    /// or orphaned. Empty for deltas.
    pub(crate) merged: Vec<Id>,
}

/// The definition of an array.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ArrayDef {
    pub(crate) dtype: DType,
    pub(crate) shape: Vec<u64>,
    pub(crate) chunk_shape: Vec<u64>,
    pub(crate) dimension_names: Vec<String>,
    pub(crate) fill_value: Option<FillValue>,
    /// The codec spec the array's chunks are written with (`None`: not
    /// recorded; each writer's configured codec).
    pub(crate) codec: Option<String>,
}

/// What a layer does to an array.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RecordOp {
    /// (Re)defines the array: everything below is discarded.
    Define(ArrayDef),
    /// Changes chunks or attributes of the array visible below.
    Update,
    /// Deletes the array.
    Tombstone,
}

/// Where a chunk's bytes are and what they hold.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ChunkRecord {
    /// Linear (C-order) index in the chunk grid.
    pub(crate) index: u64,
    /// Number of the layer that wrote this version of the chunk (kept by
    /// compaction); concurrent writers compare it to detect conflicts.
    pub(crate) seq: u64,
    /// Frame holding the chunk.
    pub(crate) frame: u32,
    /// Offset of the chunk in the decompressed frame.
    pub(crate) offset: u64,
    /// Length of the chunk's encoded bytes.
    pub(crate) len: u64,
    /// Statistics computed when the chunk was written.
    pub(crate) stats: ChunkStats,
}

/// An attribute set (or removed) by a layer.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct AttrRecord {
    pub(crate) key: String,
    /// `None` removes the key (update records only).
    pub(crate) value: Option<AttributeValue>,
    /// Number of the layer that wrote it (kept by compaction).
    pub(crate) seq: u64,
}

/// One array's entry in a layer.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ArrayRecord {
    pub(crate) name: String,
    pub(crate) op: RecordOp,
    /// For a definition: the number of the layer that first defined this
    /// incarnation of the array (kept by compaction). 0 otherwise.
    pub(crate) defined_seq: u64,
    pub(crate) attrs: Vec<AttrRecord>,
    /// Chunks, sorted by index.
    pub(crate) chunks: Vec<ChunkRecord>,
}

/// A decoded footer.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Footer {
    pub(crate) header: LayerHeader,
    pub(crate) codecs: Vec<String>,
    /// The parts whose frames the layer adopts (format 5).
    pub(crate) objects: Vec<ObjectEntry>,
    pub(crate) blocks: Vec<BlockEntry>,
    pub(crate) frames: Vec<FrameEntry>,
    /// The file's own attributes: in a snapshot all of them, in a delta
    /// the changes (`None` removes a key). Sorted by key.
    pub(crate) file_attrs: Vec<AttrRecord>,
    pub(crate) arrays: Vec<ArrayRecord>,
}

pub(super) const OP_DEFINE: u8 = 0;
pub(super) const OP_UPDATE: u8 = 1;
pub(super) const OP_TOMBSTONE: u8 = 2;

pub(super) const KIND_SNAPSHOT: u8 = 0;
pub(super) const KIND_DELTA: u8 = 1;
pub(super) const KIND_PART: u8 = 2;

/// Deepest rank accepted from a file; far beyond any real array, small
/// enough that a damaged count cannot make decoding slow.
pub(crate) const MAX_RANK: u64 = 64;

impl Footer {
    /// Decodes and validates a whole footer, every record materialised. Open
    /// reads footers with [`FooterTables`] and [`RecordTable::walk`], which
    /// check exactly the same and allocate nothing per record.
    #[cfg(test)]
    pub(crate) fn decode(buf: &[u8], data_end: u64) -> WireResult<Footer> {
        let t = FooterTables::decode(buf, data_end, super::FORMAT_VERSION)?;
        let mut collect = Collect {
            keys: &t.keys,
            names: Names::default(),
            arrays: Vec::with_capacity(t.array_count),
        };
        let table = t.records("footer", buf);
        table.walk(&mut collect, true).map_err(|e| e.to_string())?;
        let arrays = collect.arrays;
        let mut file_attrs = Vec::new();
        for e in table
            .file_attr_entries(None)?
            .map_or(Vec::new(), |(_, e)| e)
        {
            file_attrs.push(AttrRecord {
                key: t.keys.get(e.key).map_or("", |k| k).to_owned(),
                value: e.value.map(|v| v.decode()).transpose()?,
                seq: e.seq,
            });
        }
        Ok(Footer {
            header: t.header,
            codecs: t.codecs,
            objects: t.objects,
            blocks: t.blocks,
            frames: t.frames,
            file_attrs,
            arrays,
        })
    }
}

/// Rebuilds the records of a walk, for [`Footer::decode`].
#[cfg(test)]
struct Collect<'k> {
    keys: &'k [Arc<str>],
    names: Names<'k>,
    arrays: Vec<ArrayRecord>,
}

#[cfg(test)]
impl<'a: 'k, 'k> RecordVisitor<'a> for Collect<'k> {
    fn record(&mut self, _at: usize, head: &RecordHead<'a>, def: &DefParts<'a>) -> Result<()> {
        self.names.once("footer", head.name)?;
        let op = match head.op {
            Op::Define(dtype) => RecordOp::Define(def.to_def(dtype)),
            Op::Update => RecordOp::Update,
            Op::Tombstone => RecordOp::Tombstone,
        };
        self.arrays.push(ArrayRecord {
            name: head.name.to_owned(),
            op,
            defined_seq: head.defined_seq,
            attrs: Vec::new(),
            chunks: Vec::new(),
        });
        Ok(())
    }

    fn attr(&mut self, attr: AttrEntry<'a>) -> Result<()> {
        let value = attr
            .value
            .map(|v| v.decode())
            .transpose()
            .map_err(|e| Error::corrupted("footer", e))?;
        let key = self.keys.get(attr.key).map_or("", |k| k).to_owned();
        if let Some(a) = self.arrays.last_mut() {
            a.attrs.push(AttrRecord {
                key,
                value,
                seq: attr.seq,
            });
        }
        Ok(())
    }

    fn chunk(&mut self, chunk: ChunkRecord) -> Result<()> {
        if let Some(a) = self.arrays.last_mut() {
            a.chunks.push(chunk);
        }
        Ok(())
    }
}

/// The parts of a footer before the array records, decoded and checked, and
/// where the records begin.
#[derive(Debug, Clone)]
pub(crate) struct FooterTables {
    pub(crate) header: LayerHeader,
    pub(crate) codecs: Vec<String>,
    /// The parts whose frames the layer adopts (format 5).
    pub(crate) objects: Vec<ObjectEntry>,
    pub(crate) blocks: Vec<BlockEntry>,
    pub(crate) frames: Vec<FrameEntry>,
    /// The attribute key dictionary.
    pub(crate) keys: Vec<Arc<str>>,
    /// The format version (from the trailer).
    pub(crate) version: u16,
    /// Where the attribute region lies in the footer (empty before version
    /// 3, whose records hold their attributes inline).
    pub(crate) attrs_region: Range<usize>,
    /// Where the file's attribute section lies in the footer (empty when
    /// the layer has none, and before version 4).
    pub(crate) file_attrs: Range<usize>,
    /// Number of array records.
    pub(crate) array_count: usize,
    /// Footer offset of the first array record.
    pub(crate) arrays_at: usize,
}

impl FooterTables {
    /// Decodes and validates everything before the array records of a
    /// footer of format `version` that ends where the data region ends, at
    /// `data_end` (the byte offset where the footer starts).
    pub(crate) fn decode(buf: &[u8], data_end: u64, version: u16) -> WireResult<Self> {
        let mut r = WireReader::new(buf);
        let header = LayerHeader {
            dataset_id: r.id("dataset id")?,
            layer_id: r.id("layer id")?,
            parent_id: r.id("parent id")?,
            seq: r.var("layer number")?,
            generation: r.var("generation")?,
            kind: match r.u8("layer kind")? {
                KIND_SNAPSHOT => LayerKind::Snapshot,
                KIND_DELTA => LayerKind::Delta,
                KIND_PART if version >= 5 => LayerKind::Part,
                k => return Err(format!("unknown layer kind {k}")),
            },
            created_ns: r.ivar("creation time")?,
            writer: r.string("writer")?,
            merged: Vec::new(),
        };
        let mut header = header;
        let n = r.count(16, "merged layer count")?;
        header.merged = (0..n)
            .map(|_| r.id("merged layer id"))
            .collect::<WireResult<Vec<_>>>()?;
        if header.kind != LayerKind::Snapshot && !header.merged.is_empty() {
            return Err(format!(
                "{:?} layer {} lists merged layers",
                header.kind, header.seq
            ));
        }
        if header.generation > header.seq
            || (header.kind == LayerKind::Snapshot && header.generation != header.seq)
        {
            return Err(format!(
                "layer {} claims generation {}",
                header.seq, header.generation
            ));
        }

        let n = r.count(1, "codec count")?;
        let codecs = (0..n)
            .map(|_| r.string("codec name"))
            .collect::<WireResult<Vec<_>>>()?;
        if let Some(dup) = duplicate(&codecs) {
            return Err(format!("codec {dup:?} is listed twice"));
        }

        let tables = blocks::decode(
            &mut r,
            version,
            header.kind,
            &header.layer_id,
            codecs.len(),
            data_end,
        )?;

        let n = r.count(1, "attribute key count")?;
        let keys = (0..n)
            .map(|_| r.str("attribute key").map(Arc::from))
            .collect::<WireResult<Vec<Arc<str>>>>()?;
        if let Some(dup) = duplicate(&keys) {
            return Err(format!("attribute key {dup:?} is listed twice"));
        }

        let attrs_region = if version >= 3 {
            let len = r.count(1, "attribute region length")?;
            let start = r.position();
            r.take(len, "attribute region")?;
            start..r.position()
        } else {
            0..0
        };
        let file_attrs = if version >= 4 {
            let at = r.var("file attribute section offset")?;
            let len = r.var("file attribute section length")?;
            match (at, len) {
                (0, 0) => 0..0,
                (at, 0) => {
                    return Err(format!(
                        "the file's empty attribute section has offset {at}, not 0"
                    ));
                }
                (at, len) => section_range(&attrs_region, at, len, Owner::File)?,
            }
        } else {
            0..0
        };
        if header.kind == LayerKind::Part && !file_attrs.is_empty() {
            return Err("a part changes the file's attributes".into());
        }

        let array_count = r.count(2, "array count")?;
        Ok(FooterTables {
            header,
            codecs,
            objects: tables.objects,
            blocks: tables.blocks,
            frames: tables.frames,
            keys,
            version,
            attrs_region,
            file_attrs,
            array_count,
            arrays_at: r.position(),
        })
    }

    /// The array records of `buf`, the footer these tables were decoded
    /// from; `path` names the layer in errors.
    #[cfg(test)]
    pub(crate) fn records<'a>(&'a self, path: &'a str, buf: &'a [u8]) -> RecordTable<'a> {
        RecordTable {
            path,
            buf,
            at: self.arrays_at,
            count: self.array_count,
            keys: &self.keys,
            codecs: &self.codecs,
            blocks: &self.blocks,
            frames: &self.frames,
            layer: self.header.seq,
            version: self.version,
            attrs_region: self.attrs_region.clone(),
            file_attrs: self.file_attrs.clone(),
            kind: self.header.kind,
        }
    }
}

fn duplicate<T: AsRef<str>>(items: &[T]) -> Option<&str> {
    let mut seen = std::collections::HashSet::with_capacity(items.len());
    items.iter().map(AsRef::as_ref).find(|i| !seen.insert(*i))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
pub(crate) mod tests {
    use super::*;
    use crate::chunk_stats::MinMax;
    use crate::value::StatValue;

    pub(crate) fn sample() -> Footer {
        Footer {
            header: LayerHeader {
                dataset_id: [1; 16],
                layer_id: [2; 16],
                parent_id: [3; 16],
                seq: 4,
                generation: 2,
                kind: LayerKind::Delta,
                created_ns: 1_700_000_000_000_000_000,
                writer: "array-format test".into(),
                merged: vec![],
            },
            codecs: vec!["lz4".into(), "none".into()],
            objects: vec![],
            blocks: vec![
                BlockEntry {
                    object: 0,
                    offset: 0,
                    codec: 0,
                    frame_count: 2,
                },
                BlockEntry {
                    object: 0,
                    offset: 100,
                    codec: 1,
                    frame_count: 1,
                },
            ],
            frames: vec![
                FrameEntry {
                    object: 0,
                    offset: 0,
                    stored_len: 30,
                    raw_len: 64,
                    crc: 11,
                    block: 0,
                },
                FrameEntry {
                    object: 0,
                    offset: 30,
                    stored_len: 40,
                    raw_len: 80,
                    crc: 12,
                    block: 0,
                },
                FrameEntry {
                    object: 0,
                    offset: 100,
                    stored_len: 16,
                    raw_len: 16,
                    crc: 13,
                    block: 1,
                },
            ],
            file_attrs: vec![
                AttrRecord {
                    key: "history".into(),
                    value: None,
                    seq: 4,
                },
                AttrRecord {
                    key: "title".into(),
                    value: Some(AttributeValue::String("stations".into())),
                    seq: 2,
                },
            ],
            arrays: vec![
                ArrayRecord {
                    name: "temp".into(),
                    op: RecordOp::Define(ArrayDef {
                        dtype: DType::Float32,
                        shape: vec![10, 8],
                        chunk_shape: vec![4, 4],
                        dimension_names: vec!["t".into(), "x".into()],
                        fill_value: Some(FillValue::Float(f64::NAN)),
                        codec: Some("zstd:9".into()),
                    }),
                    defined_seq: 3,
                    attrs: vec![
                        AttrRecord {
                            key: "units".into(),
                            value: Some(AttributeValue::String("K".into())),
                            seq: 3,
                        },
                        AttrRecord {
                            key: "range".into(),
                            value: Some(AttributeValue::Float64List(vec![1.0, 2.5])),
                            seq: 4,
                        },
                    ],
                    chunks: vec![
                        ChunkRecord {
                            index: 0,
                            seq: 2,
                            frame: 0,
                            offset: 0,
                            len: 64,
                            stats: ChunkStats {
                                null_count: 1,
                                min_max: MinMax::Range {
                                    min: StatValue::Float(-1.5),
                                    max: StatValue::Float(3.0),
                                },
                            },
                        },
                        ChunkRecord {
                            index: 5,
                            seq: 4,
                            frame: 1,
                            offset: 16,
                            len: 64,
                            stats: ChunkStats {
                                null_count: 0,
                                min_max: MinMax::Unavailable,
                            },
                        },
                    ],
                },
                ArrayRecord {
                    name: "labels".into(),
                    op: RecordOp::Update,
                    defined_seq: 0,
                    attrs: vec![AttrRecord {
                        key: "units".into(),
                        value: None,
                        seq: 4,
                    }],
                    chunks: vec![ChunkRecord {
                        index: 3,
                        seq: 4,
                        frame: 2,
                        offset: 0,
                        len: 16,
                        stats: ChunkStats {
                            null_count: 0,
                            min_max: MinMax::Empty,
                        },
                    }],
                },
                ArrayRecord {
                    name: "gone".into(),
                    op: RecordOp::Tombstone,
                    defined_seq: 0,
                    attrs: vec![],
                    chunks: vec![],
                },
            ],
        }
    }

    #[test]
    fn round_trip() {
        let f = sample();
        let bytes = f.encode();
        let back = Footer::decode(&bytes, 116).unwrap();
        // NaN fill values compare by bits, so the whole footer compares equal.
        assert_eq!(back, f);
    }

    /// The sample with its second block in an adopted part.
    pub(crate) fn adopting() -> Footer {
        let mut f = sample();
        f.objects = vec![ObjectEntry {
            part_id: [7; 16],
            size: 200,
        }];
        f.blocks[1].object = 1;
        f.blocks[1].offset = 40;
        f.frames[2].object = 1;
        f.frames[2].offset = 40;
        f
    }

    #[test]
    fn a_delta_adopting_a_part_round_trips() {
        let f = adopting();
        let bytes = f.encode();
        assert_eq!(Footer::decode(&bytes, 70).unwrap(), f);
        // Its own data region now ends with the first block.
        assert!(Footer::decode(&bytes, 69).is_err());
        for len in 0..bytes.len() {
            assert!(Footer::decode(&bytes[..len], 70).is_err(), "len {len}");
        }
        // A part, or a snapshot, adopts nothing.
        for kind in [LayerKind::Part, LayerKind::Snapshot] {
            let mut g = adopting();
            g.header.kind = kind;
            g.header.generation = g.header.seq;
            g.arrays.retain(|a| matches!(a.op, RecordOp::Update));
            g.file_attrs.clear();
            assert!(Footer::decode(&g.encode(), 70).is_err(), "{kind:?}");
        }
    }

    #[test]
    fn a_part_holds_chunk_updates_and_definitions_without_attributes() {
        let mut f = sample();
        f.header.kind = LayerKind::Part;
        f.file_attrs.clear();
        f.arrays.retain(|a| !matches!(a.op, RecordOp::Tombstone));
        for a in &mut f.arrays {
            a.attrs.clear();
        }
        assert!(matches!(f.arrays[0].op, RecordOp::Define(_)));
        let bytes = f.encode();
        assert_eq!(Footer::decode(&bytes, 116).unwrap(), f);
        // No file attributes, no attribute changes (of an update or a
        // definition), no tombstone.
        let mut g = f.clone();
        g.file_attrs = sample().file_attrs;
        assert!(Footer::decode(&g.encode(), 116).is_err());
        for (at, from) in [(0, 0), (1, 1)] {
            let mut g = f.clone();
            g.arrays[at].attrs = sample().arrays[from].attrs.clone();
            assert!(!g.arrays[at].attrs.is_empty());
            assert!(Footer::decode(&g.encode(), 116).is_err(), "record {at}");
        }
        let mut g = f.clone();
        g.arrays.push(sample().arrays[2].clone());
        assert!(matches!(g.arrays[2].op, RecordOp::Tombstone));
        assert!(Footer::decode(&g.encode(), 116).is_err());
        // Format 4 has no part kind.
        let t = FooterTables::decode(&bytes, 116, 4);
        assert!(t.is_err());
    }

    #[test]
    fn identical_attribute_sets_are_stored_once() {
        let mut f = sample();
        let attrs = vec![AttrRecord {
            key: "note".into(),
            value: Some(AttributeValue::String("stored-once".into())),
            seq: 4,
        }];
        for name in ["a1", "a2", "a3"] {
            f.arrays.push(ArrayRecord {
                name: name.into(),
                op: RecordOp::Update,
                defined_seq: 0,
                attrs: attrs.clone(),
                chunks: vec![],
            });
        }
        let bytes = f.encode();
        let count = bytes
            .windows(b"stored-once".len())
            .filter(|w| w == b"stored-once")
            .count();
        assert_eq!(count, 1);
        assert_eq!(Footer::decode(&bytes, 116).unwrap(), f);
    }

    #[test]
    fn frames_must_lie_in_the_data_region() {
        let bytes = sample().encode();
        let err = Footer::decode(&bytes, 115).unwrap_err();
        assert!(err.contains("runs past the data region"), "{err}");
    }

    #[test]
    fn every_truncation_is_an_error() {
        let bytes = sample().encode();
        for len in 0..bytes.len() {
            assert!(Footer::decode(&bytes[..len], 116).is_err(), "len {len}");
        }
    }

    #[test]
    fn single_byte_damage_never_panics() {
        let bytes = sample().encode();
        for i in 0..bytes.len() {
            for v in [0u8, 1, 0x7f, 0x80, 0xff] {
                let mut b = bytes.clone();
                b[i] = v;
                let _ = Footer::decode(&b, 116);
            }
        }
    }

    /// The footer offset of the first occurrence of `needle` in `hay`.
    fn find(hay: &[u8], needle: &[u8]) -> usize {
        hay.windows(needle.len()).position(|w| w == needle).unwrap()
    }

    #[test]
    fn the_array_codec_and_the_file_attributes_round_trip() {
        let mut f = sample();
        f.header.kind = LayerKind::Snapshot;
        f.header.generation = f.header.seq;
        f.file_attrs.retain(|a| a.value.is_some());
        // A snapshot holds only definitions (no update, no removal).
        f.arrays.retain(|a| !matches!(a.op, RecordOp::Update));
        let bytes = f.encode();
        assert_eq!(Footer::decode(&bytes, 116).unwrap(), f);
        // No file attributes, no recorded codec.
        f.file_attrs.clear();
        if let RecordOp::Define(d) = &mut f.arrays[0].op {
            d.codec = None;
        }
        let bytes = f.encode();
        assert_eq!(Footer::decode(&bytes, 116).unwrap(), f);
    }

    #[test]
    fn a_file_attribute_set_equal_to_an_array_s_is_stored_once() {
        let mut f = sample();
        let set = vec![AttrRecord {
            key: "note".into(),
            value: Some(AttributeValue::String("shared-set".into())),
            seq: 4,
        }];
        f.file_attrs = set.clone();
        f.arrays[1].attrs = set;
        let bytes = f.encode();
        let count = bytes
            .windows(b"shared-set".len())
            .filter(|w| w == b"shared-set")
            .count();
        assert_eq!(count, 1);
        assert_eq!(Footer::decode(&bytes, 116).unwrap(), f);
    }

    #[test]
    fn a_snapshot_cannot_remove_a_file_attribute() {
        let mut f = sample();
        f.header.kind = LayerKind::Snapshot;
        f.header.generation = f.header.seq;
        f.arrays.retain(|a| !matches!(a.op, RecordOp::Update));
        let bytes = f.encode();
        // The tables decode (the section is checked when it is read) ...
        let t = FooterTables::decode(&bytes, 116, super::super::FORMAT_VERSION).unwrap();
        // ... and reading it fails.
        let err = t.records("x", &bytes).file_attr_entries(None).unwrap_err();
        assert!(err.contains("removal"), "{err}");
        assert!(Footer::decode(&bytes, 116).is_err());
    }

    #[test]
    fn damaged_file_attribute_references_are_errors() {
        let f = sample();
        let bytes = f.encode();
        let t = FooterTables::decode(&bytes, 116, super::super::FORMAT_VERSION).unwrap();
        // The two varints before `array_count` reference the section.
        let at = t.arrays_at - 3;
        let (off, len) = (bytes[at], bytes[at + 1]);
        assert_eq!(len as usize, t.file_attrs.len());
        assert_eq!(
            off, 0,
            "the reference writer places the file's section first"
        );
        for (o, l) in [(off, 0x7f), (0x70, len), (1, 0), (3, 0)] {
            let mut b = bytes.clone();
            b[at] = o;
            b[at + 1] = l;
            assert!(
                FooterTables::decode(&b, 116, super::super::FORMAT_VERSION).is_err(),
                "offset {o}, length {l}"
            );
        }
        // (0, 0) is no section at all.
        let mut b = bytes.clone();
        b[at] = 0;
        b[at + 1] = 0;
        let t = FooterTables::decode(&b, 116, super::super::FORMAT_VERSION).unwrap();
        assert!(t.file_attrs.is_empty());
        assert_eq!(
            t.records("x", &b)
                .file_attr_entries(None)
                .unwrap()
                .map(|e| e.1.len()),
            None
        );
    }

    #[test]
    fn a_damaged_codec_name_is_an_error() {
        let bytes = sample().encode();
        let at = find(&bytes, b"zstd:9");
        let mut b = bytes.clone();
        b[at] = 0xff;
        let err = Footer::decode(&b, 116).unwrap_err();
        assert!(err.contains("codec"), "{err}");
        // A length running past the footer.
        let mut b = bytes.clone();
        b[at - 1] = 0x7f;
        assert!(Footer::decode(&b, 116).is_err());
    }

    #[test]
    fn version_3_footers_have_neither_field() {
        // The same bytes read as version 3: no codec string is expected
        // after the fill value, so the records no longer line up.
        let bytes = sample().encode();
        let t = FooterTables::decode(&bytes, 116, 3);
        assert!(
            t.is_err() || {
                let t = t.unwrap();
                t.file_attrs.is_empty() && t.records("x", &bytes).check().is_err()
            }
        );
    }
}
