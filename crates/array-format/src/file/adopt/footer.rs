//! The footer of a delta that adopts staged parts: their frames stay
//! where they are, listed through the layer's object table, beside the
//! committing handle's own changes.

use std::collections::HashMap;

use super::read::Part;
use crate::error::{Error, Result};
use crate::format::{
    ArrayRecord, AttrRecord, BlockEntry, ChunkRecord, Footer, FrameEntry, LayerHeader, ObjectEntry,
    RecordOp,
};

/// The committing handle's own changes: the tables of its data region
/// (object 0), its array records and its file attribute records.
#[derive(Default)]
pub(super) struct Own {
    pub(super) codecs: Vec<String>,
    pub(super) blocks: Vec<BlockEntry>,
    pub(super) frames: Vec<FrameEntry>,
    pub(super) file_attrs: Vec<AttrRecord>,
    pub(super) records: Vec<ArrayRecord>,
}

/// The footer of a delta layer that holds `own` changes (in its data
/// region) and adopts `parts`: their frames in its object table, their
/// blocks and frames as its own after those of `own` (object `k` for part
/// `k - 1`), their chunks added to the records of `own` (an update record
/// for an array `own` has none for), as written by layer `header.seq`.
pub(super) fn adopting_footer(header: LayerHeader, own: Own, parts: &[&Part]) -> Result<Footer> {
    let seq = header.seq;
    let Own {
        mut codecs,
        mut blocks,
        mut frames,
        file_attrs,
        mut records,
    } = own;
    let mut objects = Vec::with_capacity(parts.len());
    let mut by_name: HashMap<String, usize> = records
        .iter()
        .enumerate()
        .map(|(i, r)| (r.name.clone(), i))
        .collect();
    let own_records = records.len();
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
        for array in &part.arrays {
            let at = *by_name.entry(array.name.clone()).or_insert_with(|| {
                records.push(ArrayRecord {
                    name: array.name.clone(),
                    op: RecordOp::Update,
                    defined_seq: 0,
                    attrs: Vec::new(),
                    chunks: Vec::new(),
                });
                records.len() - 1
            });
            let record = records.get_mut(at).ok_or_else(|| Error::InvalidOperation {
                operation: "commit_parts",
                reason: format!("array {:?} lost its record", array.name),
            })?;
            for c in &array.chunks {
                record.chunks.push(ChunkRecord {
                    seq,
                    frame: c.frame.checked_add(frame_base).ok_or_else(too_many)?,
                    ..c.clone()
                });
            }
        }
    }
    u32::try_from(frames.len()).map_err(|_| too_many())?;
    // Arrays only the parts write follow the handle's own, by name, as a
    // flush orders updates.
    if let Some(added) = records.get_mut(own_records..) {
        added.sort_by(|a, b| a.name.cmp(&b.name));
    }
    for r in &mut records {
        r.chunks.sort_by_key(|c| c.index);
    }
    Ok(Footer {
        header,
        codecs,
        objects,
        blocks,
        frames,
        file_attrs,
        arrays: records,
    })
}
