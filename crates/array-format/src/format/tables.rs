//! [`FooterTables`]: the decoding and validation of a footer's parts before
//! its array records: header, codec, object, block and frame tables, key
//! dictionary and attribute region (`docs/FORMAT.md`, sections 5.1-5.6).

use std::ops::Range;
use std::sync::Arc;

use super::blocks;
use super::blocks::{BlockEntry, FrameEntry, ObjectEntry};
use super::footer::{KIND_DELTA, KIND_PART, KIND_SNAPSHOT, LayerHeader, LayerKind};
#[cfg(test)]
use super::records::RecordTable;
use super::records::{Owner, section_range};
use super::wire::{WireReader, WireResult};

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
