//! The footer of a delta that adopts staged parts: their frames stay
//! where they are, listed through the layer's object table.

use std::collections::BTreeMap;

use super::read::Part;
use crate::error::{Error, Result};
use crate::format::{
    ArrayRecord, BlockEntry, ChunkRecord, Footer, FrameEntry, LayerHeader, ObjectEntry, RecordOp,
};

/// The footer of a delta layer that adopts `parts`: their frames in its
/// object table, their blocks and frames as its own (object `k` for part
/// `k - 1`), and per array one update record of every part's chunks, as
/// written by layer `header.seq`. Its own data region is empty.
pub(super) fn adopting_footer(header: LayerHeader, parts: &[&Part]) -> Result<Footer> {
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
