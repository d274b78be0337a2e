//! Encoding a footer in the current format version (`docs/FORMAT.md`,
//! section 5): header, codec, object, block and frame tables, the attribute key
//! dictionary and region (the file's attributes and each record's, every
//! distinct set stored once), then the array records.

use std::collections::HashMap;

use crate::chunk_stats::MinMax;

use super::blocks;
use super::footer::{
    AttrRecord, Footer, KIND_DELTA, KIND_PART, KIND_SNAPSHOT, LayerKind, OP_DEFINE, OP_TOMBSTONE,
    OP_UPDATE, RecordOp,
};
use super::values::{put_attr, put_fill, put_stat};
use super::wire::WireWriter;

/// The attribute key dictionary and region being built: every distinct
/// attribute section is stored once, however many records share it.
struct Region<'f> {
    keys: Vec<&'f str>,
    key_index: HashMap<&'f str, usize>,
    region: WireWriter,
    stored: HashMap<Vec<u8>, (usize, usize)>,
    section: WireWriter,
}

impl<'f> Region<'f> {
    /// A region whose dictionary lists the keys of `sets` in order of first
    /// use. Keys repeat across arrays ("units", "long_name"), so they are
    /// stored once and referenced by index.
    fn new(sets: impl Iterator<Item = &'f [AttrRecord]>) -> Self {
        let mut keys: Vec<&'f str> = Vec::new();
        let mut key_index: HashMap<&'f str, usize> = HashMap::new();
        for set in sets {
            for at in set {
                key_index.entry(at.key.as_str()).or_insert_with(|| {
                    keys.push(at.key.as_str());
                    keys.len() - 1
                });
            }
        }
        Self {
            keys,
            key_index,
            region: WireWriter::new(),
            stored: HashMap::new(),
            section: WireWriter::new(),
        }
    }

    /// Stores the section of `attrs` (unless an equal one is stored) and
    /// returns its offset in the region and its length.
    fn place(&mut self, attrs: &[AttrRecord]) -> (usize, usize) {
        let section = &mut self.section;
        section.clear();
        section.len(attrs.len());
        for at in attrs {
            section.len(self.key_index.get(at.key.as_str()).copied().unwrap_or(0));
            match &at.value {
                None => section.u8(0),
                Some(v) => put_attr(section, v),
            }
            section.var(at.seq);
        }
        let bytes = section.as_slice();
        match self.stored.get(bytes) {
            Some(&at) => at,
            None => {
                let at = (self.region.as_slice().len(), bytes.len());
                self.region.raw(bytes);
                self.stored.insert(bytes.to_vec(), at);
                at
            }
        }
    }
}

impl Footer {
    /// Encodes the footer in the current format version. Frame offsets are
    /// implied by the block table, so callers must lay frames out
    /// contiguously within each block.
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
            LayerKind::Part => KIND_PART,
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
        blocks::encode(&mut w, &self.objects, &self.blocks, &self.frames);

        let sets = std::iter::once(self.file_attrs.as_slice())
            .chain(self.arrays.iter().map(|a| a.attrs.as_slice()));
        let mut region = Region::new(sets);
        w.len(region.keys.len());
        for k in &region.keys {
            w.str(k);
        }
        // Attribute sets live in a region of their own, ahead of the array
        // records: open then reads only the compact records, and many
        // arrays with the same attributes cost one copy.
        let file_attrs = if self.file_attrs.is_empty() {
            (0, 0)
        } else {
            region.place(&self.file_attrs)
        };
        let placed: Vec<(usize, usize)> =
            self.arrays.iter().map(|a| region.place(&a.attrs)).collect();
        w.bytes(region.region.as_slice());
        w.len(file_attrs.0);
        w.len(file_attrs.1);

        w.len(self.arrays.len());
        for (a, &(attrs_at, attrs_len)) in self.arrays.iter().zip(&placed) {
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
                    w.str(d.codec.as_deref().unwrap_or(""));
                    w.var(a.defined_seq);
                }
                RecordOp::Update => w.u8(OP_UPDATE),
                RecordOp::Tombstone => {
                    w.u8(OP_TOMBSTONE);
                    continue;
                }
            }
            w.len(attrs_at);
            w.len(attrs_len);
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
}
