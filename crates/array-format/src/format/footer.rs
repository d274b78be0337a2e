//! The footer: a layer's identity, block and frame tables, and array records.
//!
//! The byte layout is specified in `docs/FORMAT.md`; this module is its only
//! implementation. Decoding validates everything that can be checked without
//! the layers below (table bounds, orderings, enum tags, UTF-8); what depends
//! on lower layers (an update record's chunk indices) is checked when the
//! merged index is built.

use crate::dtype::DType;
use crate::stats::{ChunkStats, MinMax, StatValue};
use crate::value::{AttributeValue, FillValue};

use super::wire::{WireReader, WireResult, WireWriter};

/// A 128-bit random identifier.
pub(crate) type Id = [u8; 16];

/// Whether a layer is a full state or a change on top of the one before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LayerKind {
    /// A complete state: layers with smaller numbers are not needed to read it.
    Snapshot,
    /// Changes on top of layer `seq - 1`.
    Delta,
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

/// A run of frames sharing a codec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BlockEntry {
    /// Byte offset of the block's first frame in the object.
    pub(crate) offset: u64,
    /// Index into [`Footer::codecs`].
    pub(crate) codec: u32,
    /// Number of frames in the block.
    pub(crate) frame_count: u32,
}

/// One independently compressed and checksummed unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FrameEntry {
    /// Byte offset in the object (derived from the block table on decode).
    pub(crate) offset: u64,
    /// Compressed length.
    pub(crate) stored_len: u64,
    /// Decompressed length.
    pub(crate) raw_len: u64,
    /// CRC-32C of the stored bytes.
    pub(crate) crc: u32,
    /// Index of the block holding the frame.
    pub(crate) block: u32,
}

/// The definition of an array.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ArrayDef {
    pub(crate) dtype: DType,
    pub(crate) shape: Vec<u64>,
    pub(crate) chunk_shape: Vec<u64>,
    pub(crate) dimension_names: Vec<String>,
    pub(crate) fill_value: Option<FillValue>,
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
    pub(crate) blocks: Vec<BlockEntry>,
    pub(crate) frames: Vec<FrameEntry>,
    pub(crate) arrays: Vec<ArrayRecord>,
}

const OP_DEFINE: u8 = 0;
const OP_UPDATE: u8 = 1;
const OP_TOMBSTONE: u8 = 2;

const KIND_SNAPSHOT: u8 = 0;
const KIND_DELTA: u8 = 1;

/// Deepest rank accepted from a file; far beyond any real array, small
/// enough that a damaged count cannot make decoding slow.
pub(crate) const MAX_RANK: u64 = 64;

// ── values ──────────────────────────────────────────────────────────

fn put_fill(w: &mut WireWriter, v: Option<&FillValue>) {
    match v {
        None => w.u8(0),
        Some(FillValue::Bool(b)) => {
            w.u8(1);
            w.u8(u8::from(*b));
        }
        Some(FillValue::Int(i)) => {
            w.u8(2);
            w.ivar(*i);
        }
        Some(FillValue::UInt(u)) => {
            w.u8(3);
            w.var(*u);
        }
        Some(FillValue::Float(f)) => {
            w.u8(4);
            w.f64(*f);
        }
        Some(FillValue::String(s)) => {
            w.u8(5);
            w.str(s);
        }
        Some(FillValue::TimestampNs(t)) => {
            w.u8(6);
            w.ivar(*t);
        }
        Some(FillValue::Binary(b)) => {
            w.u8(7);
            w.bytes(b);
        }
    }
}

fn get_fill(r: &mut WireReader<'_>) -> WireResult<Option<FillValue>> {
    let at = r.position();
    Ok(Some(match r.u8("fill value tag")? {
        0 => return Ok(None),
        1 => FillValue::Bool(get_bool(r, "bool fill value")?),
        2 => FillValue::Int(r.ivar("int fill value")?),
        3 => FillValue::UInt(r.var("uint fill value")?),
        4 => FillValue::Float(r.f64("float fill value")?),
        5 => FillValue::String(r.string("string fill value")?),
        6 => FillValue::TimestampNs(r.ivar("timestamp fill value")?),
        7 => FillValue::Binary(r.bytes("binary fill value")?.to_vec()),
        t => return Err(format!("unknown fill value tag {t} at footer offset {at}")),
    }))
}

fn get_bool(r: &mut WireReader<'_>, what: &str) -> WireResult<bool> {
    let at = r.position();
    match r.u8(what)? {
        0 => Ok(false),
        1 => Ok(true),
        b => Err(format!("{what} at footer offset {at} is {b}, not 0 or 1")),
    }
}

fn put_stat(w: &mut WireWriter, v: &StatValue) {
    match v {
        StatValue::Int(i) => {
            w.u8(1);
            w.ivar(*i);
        }
        StatValue::UInt(u) => {
            w.u8(2);
            w.var(*u);
        }
        StatValue::Float(f) => {
            w.u8(3);
            w.f64(*f);
        }
        StatValue::Bytes(b) => {
            w.u8(4);
            w.bytes(b);
        }
        StatValue::TimestampNs(t) => {
            w.u8(5);
            w.ivar(*t);
        }
    }
}

fn get_stat(r: &mut WireReader<'_>) -> WireResult<StatValue> {
    let at = r.position();
    Ok(match r.u8("statistic tag")? {
        1 => StatValue::Int(r.ivar("int statistic")?),
        2 => StatValue::UInt(r.var("uint statistic")?),
        3 => StatValue::Float(r.f64("float statistic")?),
        4 => StatValue::Bytes(r.bytes("bytes statistic")?.to_vec()),
        5 => StatValue::TimestampNs(r.ivar("timestamp statistic")?),
        t => return Err(format!("unknown statistic tag {t} at footer offset {at}")),
    })
}

macro_rules! list {
    ($w:expr, $tag:expr, $v:expr, $put:expr) => {{
        $w.u8($tag);
        $w.len($v.len());
        for x in $v {
            $put($w, x);
        }
    }};
}

fn put_attr(w: &mut WireWriter, v: &AttributeValue) {
    use AttributeValue as A;
    match v {
        A::Bool(b) => {
            w.u8(1);
            w.u8(u8::from(*b));
        }
        A::Int8(x) => {
            w.u8(2);
            w.raw(&x.to_le_bytes());
        }
        A::Int16(x) => {
            w.u8(3);
            w.raw(&x.to_le_bytes());
        }
        A::Int32(x) => {
            w.u8(4);
            w.raw(&x.to_le_bytes());
        }
        A::Int64(x) => {
            w.u8(5);
            w.raw(&x.to_le_bytes());
        }
        A::UInt8(x) => {
            w.u8(6);
            w.raw(&x.to_le_bytes());
        }
        A::UInt16(x) => {
            w.u8(7);
            w.raw(&x.to_le_bytes());
        }
        A::UInt32(x) => {
            w.u8(8);
            w.raw(&x.to_le_bytes());
        }
        A::UInt64(x) => {
            w.u8(9);
            w.raw(&x.to_le_bytes());
        }
        A::Float32(x) => {
            w.u8(10);
            w.raw(&x.to_le_bytes());
        }
        A::Float64(x) => {
            w.u8(11);
            w.raw(&x.to_le_bytes());
        }
        A::String(s) => {
            w.u8(12);
            w.str(s);
        }
        A::Binary(b) => {
            w.u8(13);
            w.bytes(b);
        }
        A::BoolList(v) => list!(w, 14, v, |w: &mut WireWriter, x: &bool| w.u8(u8::from(*x))),
        A::Int8List(v) => list!(w, 15, v, |w: &mut WireWriter, x: &i8| w
            .raw(&x.to_le_bytes())),
        A::Int16List(v) => list!(w, 16, v, |w: &mut WireWriter, x: &i16| w
            .raw(&x.to_le_bytes())),
        A::Int32List(v) => list!(w, 17, v, |w: &mut WireWriter, x: &i32| w
            .raw(&x.to_le_bytes())),
        A::Int64List(v) => list!(w, 18, v, |w: &mut WireWriter, x: &i64| w
            .raw(&x.to_le_bytes())),
        A::UInt8List(v) => list!(w, 19, v, |w: &mut WireWriter, x: &u8| w.u8(*x)),
        A::UInt16List(v) => list!(w, 20, v, |w: &mut WireWriter, x: &u16| w
            .raw(&x.to_le_bytes())),
        A::UInt32List(v) => list!(w, 21, v, |w: &mut WireWriter, x: &u32| w
            .raw(&x.to_le_bytes())),
        A::UInt64List(v) => list!(w, 22, v, |w: &mut WireWriter, x: &u64| w
            .raw(&x.to_le_bytes())),
        A::Float32List(v) => list!(w, 23, v, |w: &mut WireWriter, x: &f32| w
            .raw(&x.to_le_bytes())),
        A::Float64List(v) => list!(w, 24, v, |w: &mut WireWriter, x: &f64| w
            .raw(&x.to_le_bytes())),
        A::StringList(v) => list!(w, 25, v, |w: &mut WireWriter, x: &String| w.str(x)),
    }
}

fn fixed<const N: usize>(r: &mut WireReader<'_>, what: &str) -> WireResult<[u8; N]> {
    let b = r.take(N, what)?;
    <[u8; N]>::try_from(b).map_err(|_| format!("{what}: short read"))
}

fn get_list<T>(
    r: &mut WireReader<'_>,
    size: usize,
    what: &str,
    mut get: impl FnMut(&mut WireReader<'_>) -> WireResult<T>,
) -> WireResult<Vec<T>> {
    let n = r.count(size, what)?;
    (0..n).map(|_| get(r)).collect()
}

fn get_attr(r: &mut WireReader<'_>, tag: u8, at: usize) -> WireResult<AttributeValue> {
    use AttributeValue as A;
    Ok(match tag {
        1 => A::Bool(get_bool(r, "bool attribute")?),
        2 => A::Int8(i8::from_le_bytes(fixed(r, "i8 attribute")?)),
        3 => A::Int16(i16::from_le_bytes(fixed(r, "i16 attribute")?)),
        4 => A::Int32(i32::from_le_bytes(fixed(r, "i32 attribute")?)),
        5 => A::Int64(i64::from_le_bytes(fixed(r, "i64 attribute")?)),
        6 => A::UInt8(u8::from_le_bytes(fixed(r, "u8 attribute")?)),
        7 => A::UInt16(u16::from_le_bytes(fixed(r, "u16 attribute")?)),
        8 => A::UInt32(u32::from_le_bytes(fixed(r, "u32 attribute")?)),
        9 => A::UInt64(u64::from_le_bytes(fixed(r, "u64 attribute")?)),
        10 => A::Float32(f32::from_le_bytes(fixed(r, "f32 attribute")?)),
        11 => A::Float64(f64::from_le_bytes(fixed(r, "f64 attribute")?)),
        12 => A::String(r.string("string attribute")?),
        13 => A::Binary(r.bytes("binary attribute")?.to_vec()),
        14 => A::BoolList(get_list(r, 1, "bool list", |r| {
            get_bool(r, "bool list item")
        })?),
        15 => A::Int8List(get_list(r, 1, "i8 list", |r| {
            fixed(r, "i8").map(i8::from_le_bytes)
        })?),
        16 => A::Int16List(get_list(r, 2, "i16 list", |r| {
            fixed(r, "i16").map(i16::from_le_bytes)
        })?),
        17 => A::Int32List(get_list(r, 4, "i32 list", |r| {
            fixed(r, "i32").map(i32::from_le_bytes)
        })?),
        18 => A::Int64List(get_list(r, 8, "i64 list", |r| {
            fixed(r, "i64").map(i64::from_le_bytes)
        })?),
        19 => A::UInt8List(get_list(r, 1, "u8 list", |r| r.u8("u8"))?),
        20 => A::UInt16List(get_list(r, 2, "u16 list", |r| {
            fixed(r, "u16").map(u16::from_le_bytes)
        })?),
        21 => A::UInt32List(get_list(r, 4, "u32 list", |r| {
            fixed(r, "u32").map(u32::from_le_bytes)
        })?),
        22 => A::UInt64List(get_list(r, 8, "u64 list", |r| {
            fixed(r, "u64").map(u64::from_le_bytes)
        })?),
        23 => A::Float32List(get_list(r, 4, "f32 list", |r| {
            fixed(r, "f32").map(f32::from_le_bytes)
        })?),
        24 => A::Float64List(get_list(r, 8, "f64 list", |r| {
            fixed(r, "f64").map(f64::from_le_bytes)
        })?),
        25 => A::StringList(get_list(r, 1, "string list", |r| {
            r.string("string list item")
        })?),
        t => return Err(format!("unknown attribute tag {t} at footer offset {at}")),
    })
}

// ── footer ──────────────────────────────────────────────────────────

impl Footer {
    /// Encodes the footer. Frame offsets are implied by the block table, so
    /// callers must lay frames out contiguously within each block.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut w = WireWriter::new();
        let h = &self.header;
        w.raw(&h.dataset_id);
        w.raw(&h.layer_id);
        w.raw(&h.parent_id);
        w.var(h.seq);
        w.var(h.generation);
        w.u8(match h.kind {
            LayerKind::Snapshot => KIND_SNAPSHOT,
            LayerKind::Delta => KIND_DELTA,
        });
        w.ivar(h.created_ns);
        w.str(&h.writer);
        w.len(h.merged.len());
        for id in &h.merged {
            w.raw(id);
        }

        w.len(self.codecs.len());
        for c in &self.codecs {
            w.str(c);
        }
        w.len(self.blocks.len());
        for b in &self.blocks {
            w.var(b.offset);
            w.var(u64::from(b.codec));
            w.var(u64::from(b.frame_count));
        }
        w.len(self.frames.len());
        for f in &self.frames {
            w.var(f.stored_len);
            w.var(f.raw_len);
            w.u32(f.crc);
        }

        // Attribute keys repeat across arrays ("units", "long_name"), so they
        // are stored once and referenced by index.
        let mut keys: Vec<&str> = Vec::new();
        let mut key_index: std::collections::HashMap<&str, usize> = Default::default();
        for a in &self.arrays {
            for at in &a.attrs {
                key_index.entry(at.key.as_str()).or_insert_with(|| {
                    keys.push(at.key.as_str());
                    keys.len() - 1
                });
            }
        }
        w.len(keys.len());
        for k in &keys {
            w.str(k);
        }

        w.len(self.arrays.len());
        for a in &self.arrays {
            w.str(&a.name);
            match &a.op {
                RecordOp::Define(d) => {
                    w.u8(OP_DEFINE);
                    w.u8(d.dtype.code());
                    w.len(d.shape.len());
                    for s in &d.shape {
                        w.var(*s);
                    }
                    for c in &d.chunk_shape {
                        w.var(*c);
                    }
                    for n in &d.dimension_names {
                        w.str(n);
                    }
                    put_fill(&mut w, d.fill_value.as_ref());
                    w.var(a.defined_seq);
                }
                RecordOp::Update => w.u8(OP_UPDATE),
                RecordOp::Tombstone => {
                    w.u8(OP_TOMBSTONE);
                    continue;
                }
            }
            w.len(a.attrs.len());
            for at in &a.attrs {
                w.len(key_index.get(at.key.as_str()).copied().unwrap_or(0));
                match &at.value {
                    None => w.u8(0),
                    Some(v) => put_attr(&mut w, v),
                }
                w.var(at.seq);
            }
            w.len(a.chunks.len());
            let mut prev = 0u64;
            for (i, c) in a.chunks.iter().enumerate() {
                w.var(if i == 0 { c.index } else { c.index - prev });
                prev = c.index;
                w.var(u64::from(c.frame));
                w.var(c.offset);
                w.var(c.len);
                w.var(c.seq);
                w.var(c.stats.null_count);
                match &c.stats.min_max {
                    MinMax::Empty => w.u8(0),
                    MinMax::Range { min, max } => {
                        w.u8(1);
                        put_stat(&mut w, min);
                        put_stat(&mut w, max);
                    }
                    MinMax::Unavailable => w.u8(2),
                }
            }
        }
        w.into_inner()
    }

    /// Decodes and validates a footer that ends where the data region ends at
    /// `data_end` (the byte offset where the footer starts).
    pub(crate) fn decode(buf: &[u8], data_end: u64) -> WireResult<Footer> {
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
        if header.kind == LayerKind::Delta && !header.merged.is_empty() {
            return Err(format!("delta layer {} lists merged layers", header.seq));
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

        let n = r.count(3, "block count")?;
        let mut blocks = Vec::with_capacity(n);
        for _ in 0..n {
            let offset = r.var("block offset")?;
            let codec = r.bounded(codecs.len().saturating_sub(1) as u64, "block codec index")?;
            if codecs.is_empty() {
                return Err("block refers to a codec but the codec table is empty".into());
            }
            let frame_count = r.bounded(u64::from(u32::MAX), "block frame count")?;
            blocks.push(BlockEntry {
                offset,
                codec: codec as u32,
                frame_count: frame_count as u32,
            });
        }

        let n = r.count(6, "frame count")?;
        let expected: u64 = blocks.iter().map(|b| u64::from(b.frame_count)).sum();
        if n as u64 != expected {
            return Err(format!(
                "frame table holds {n} frames, blocks declare {expected}"
            ));
        }
        let mut frames = Vec::with_capacity(n);
        let mut prev_end = 0u64;
        for (bi, b) in blocks.iter().enumerate() {
            if b.offset < prev_end {
                return Err(format!(
                    "block {bi} starts at {} inside the previous block (ends at {prev_end})",
                    b.offset
                ));
            }
            let mut pos = b.offset;
            for _ in 0..b.frame_count {
                let stored_len = r.var("frame stored length")?;
                let raw_len = r.var("frame raw length")?;
                if raw_len > super::MAX_FRAME_RAW_LEN {
                    return Err(format!(
                        "frame {} declares {raw_len} decompressed bytes, above the {} limit",
                        frames.len(),
                        super::MAX_FRAME_RAW_LEN
                    ));
                }
                let crc = r.u32("frame checksum")?;
                let end = pos
                    .checked_add(stored_len)
                    .filter(|&e| e <= data_end)
                    .ok_or_else(|| {
                        format!(
                            "frame {} of block {bi} ({stored_len} bytes at {pos}) runs past the data region ({data_end} bytes)",
                            frames.len()
                        )
                    })?;
                frames.push(FrameEntry {
                    offset: pos,
                    stored_len,
                    raw_len,
                    crc,
                    block: bi as u32,
                });
                pos = end;
            }
            prev_end = pos;
        }

        let n = r.count(1, "attribute key count")?;
        let keys = (0..n)
            .map(|_| r.string("attribute key"))
            .collect::<WireResult<Vec<_>>>()?;
        if let Some(dup) = duplicate(&keys) {
            return Err(format!("attribute key {dup:?} is listed twice"));
        }

        let n = r.count(2, "array count")?;
        let mut arrays = Vec::with_capacity(n);
        let mut names = std::collections::HashSet::with_capacity(n);
        for _ in 0..n {
            let rec = decode_array(&mut r, &keys, &frames, header.seq)?;
            if !names.insert(rec.name.clone()) {
                return Err(format!("array {:?} appears twice in one layer", rec.name));
            }
            arrays.push(rec);
        }
        if !r.is_empty() {
            return Err(format!(
                "{} unexpected bytes after the array table",
                r.remaining()
            ));
        }
        check_frame_sizes(&codecs, &blocks, &frames, &arrays)?;
        Ok(Footer {
            header,
            codecs,
            blocks,
            frames,
            arrays,
        })
    }
}

/// Bounds every frame's decompressed size by what refers to it, before any
/// reader allocates it: no more than the chunks it holds (or a packed-frame
/// target), equal to the stored size when uncompressed, and within LZ4's
/// maximal expansion.
fn check_frame_sizes(
    codecs: &[String],
    blocks: &[BlockEntry],
    frames: &[FrameEntry],
    arrays: &[ArrayRecord],
) -> WireResult<()> {
    let mut extent = vec![0u64; frames.len()];
    for c in arrays.iter().flat_map(|a| &a.chunks) {
        if let Some(e) = extent.get_mut(c.frame as usize) {
            *e = (*e).max(c.offset.saturating_add(c.len));
        }
    }
    for (i, (f, &end)) in frames.iter().zip(&extent).enumerate() {
        if f.raw_len > end.max(super::MAX_PACKED_FRAME) {
            return Err(format!(
                "frame {i} declares {} decompressed bytes but its chunks end at {end}",
                f.raw_len
            ));
        }
        let codec = blocks
            .get(f.block as usize)
            .and_then(|b| codecs.get(b.codec as usize))
            .map_or("", String::as_str);
        let plausible = match codec {
            "none" => f.raw_len == f.stored_len,
            // An LZ4 block expands at most about 255 times.
            "lz4" => f.raw_len <= f.stored_len.saturating_mul(256).saturating_add(1024),
            _ => true,
        };
        if !plausible {
            return Err(format!(
                "frame {i}: {} stored bytes cannot decode to {} with codec {codec}",
                f.stored_len, f.raw_len
            ));
        }
    }
    Ok(())
}

fn duplicate(items: &[String]) -> Option<&String> {
    let mut seen = std::collections::HashSet::with_capacity(items.len());
    items.iter().find(|i| !seen.insert(i.as_str()))
}

/// A sequence number recorded in layer `layer`: never from a later layer.
fn get_seq(r: &mut WireReader<'_>, layer: u64, what: &str) -> WireResult<u64> {
    let at = r.position();
    let v = r.var(what)?;
    if v > layer {
        return Err(format!(
            "{what} {v} at footer offset {at} is newer than layer {layer} itself"
        ));
    }
    Ok(v)
}

fn decode_array(
    r: &mut WireReader<'_>,
    keys: &[String],
    frames: &[FrameEntry],
    layer: u64,
) -> WireResult<ArrayRecord> {
    let name = r.string("array name")?;
    if name.is_empty() {
        return Err("an array record has an empty name".into());
    }
    let op_at = r.position();
    let mut defined_seq = 0;
    let op = match r.u8("array op")? {
        OP_DEFINE => {
            let code = r.u8("dtype")?;
            let dtype = DType::from_code(code)
                .ok_or_else(|| format!("array {name:?} has unknown dtype code {code}"))?;
            let rank = r.bounded(MAX_RANK, "rank")?;
            let shape = (0..rank)
                .map(|_| r.var("shape"))
                .collect::<WireResult<Vec<_>>>()?;
            let chunk_shape = (0..rank)
                .map(|_| r.var("chunk shape"))
                .collect::<WireResult<Vec<_>>>()?;
            let dimension_names = (0..rank)
                .map(|_| r.string("dimension name"))
                .collect::<WireResult<Vec<_>>>()?;
            let fill_value = get_fill(r)?;
            if let Some(f) = &fill_value
                && f.canonical_for(dtype).as_ref() != Some(f)
            {
                return Err(format!(
                    "array {name:?}: fill value {f} is not a canonical {dtype} value"
                ));
            }
            defined_seq = get_seq(r, layer, "definition layer")?;
            RecordOp::Define(ArrayDef {
                dtype,
                shape,
                chunk_shape,
                dimension_names,
                fill_value,
            })
        }
        OP_UPDATE => RecordOp::Update,
        OP_TOMBSTONE => {
            return Ok(ArrayRecord {
                name,
                op: RecordOp::Tombstone,
                defined_seq: 0,
                attrs: Vec::new(),
                chunks: Vec::new(),
            });
        }
        o => {
            return Err(format!(
                "array {name:?} has unknown op {o} at footer offset {op_at}"
            ));
        }
    };

    let n = r.count(2, "attribute count")?;
    let mut attrs = Vec::with_capacity(n);
    for _ in 0..n {
        let k = r.bounded(keys.len().saturating_sub(1) as u64, "attribute key index")?;
        let key = keys
            .get(k)
            .ok_or_else(|| format!("array {name:?} refers to missing attribute key {k}"))?;
        let at = r.position();
        let tag = r.u8("attribute tag")?;
        let value = if tag == 0 {
            if !matches!(op, RecordOp::Update) {
                return Err(format!(
                    "array {name:?}: attribute removal in a defining record"
                ));
            }
            None
        } else {
            Some(get_attr(r, tag, at)?)
        };
        let seq = get_seq(r, layer, "attribute layer")?;
        if attrs.iter().any(|a: &AttrRecord| &a.key == key) {
            return Err(format!("array {name:?}: attribute {key:?} appears twice"));
        }
        attrs.push(AttrRecord {
            key: key.clone(),
            value,
            seq,
        });
    }

    let n = r.count(6, "chunk count")?;
    let mut chunks = Vec::with_capacity(n);
    let mut prev: Option<u64> = None;
    for _ in 0..n {
        let delta = r.var("chunk index")?;
        let index = match prev {
            None => delta,
            Some(p) => {
                if delta == 0 {
                    return Err(format!("array {name:?}: chunk index {p} listed twice"));
                }
                p.checked_add(delta)
                    .ok_or_else(|| format!("array {name:?}: chunk index overflows"))?
            }
        };
        prev = Some(index);
        let frame = r.bounded(frames.len().saturating_sub(1) as u64, "chunk frame")?;
        let f = frames.get(frame).ok_or_else(|| {
            format!("array {name:?}: chunk {index} refers to missing frame {frame}")
        })?;
        let offset = r.var("chunk offset")?;
        let len = r.var("chunk length")?;
        let seq = get_seq(r, layer, "chunk layer")?;
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
        chunks.push(ChunkRecord {
            index,
            seq,
            frame: frame as u32,
            offset,
            len,
            stats: ChunkStats {
                null_count,
                min_max,
            },
        });
    }
    Ok(ArrayRecord {
        name,
        op,
        defined_seq,
        attrs,
        chunks,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
pub(crate) mod tests {
    use super::*;

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
            blocks: vec![
                BlockEntry {
                    offset: 0,
                    codec: 0,
                    frame_count: 2,
                },
                BlockEntry {
                    offset: 100,
                    codec: 1,
                    frame_count: 1,
                },
            ],
            frames: vec![
                FrameEntry {
                    offset: 0,
                    stored_len: 30,
                    raw_len: 64,
                    crc: 11,
                    block: 0,
                },
                FrameEntry {
                    offset: 30,
                    stored_len: 40,
                    raw_len: 80,
                    crc: 12,
                    block: 0,
                },
                FrameEntry {
                    offset: 100,
                    stored_len: 16,
                    raw_len: 16,
                    crc: 13,
                    block: 1,
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
}
