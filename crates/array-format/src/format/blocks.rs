//! Where a layer's frames are: the object table (format 5: the staged
//! parts whose frames the layer adopts), the block table (runs of frames
//! sharing a codec, each in one object) and the frame table
//! (`docs/FORMAT.md`, sections 5.2a to 5.4), their encoding and their
//! checks.

use super::footer::{Id, LayerKind};
use super::wire::{WireReader, WireResult, WireWriter};
use super::{MAX_FRAME_RAW_LEN, MAX_PACKED_FRAME, TRAILER_LEN};

/// An object besides the layer's own that holds some of its frames: a
/// staged part the layer adopted (format 5). Its name is derived from its
/// identity (`FileStore::part_path`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ObjectEntry {
    /// The part's `layer_id`, as its own footer records it.
    pub(crate) part_id: Id,
    /// The part's size in bytes.
    pub(crate) size: u64,
}

/// A run of frames sharing a codec, stored back to back in one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BlockEntry {
    /// The object holding the block: 0 for the layer object itself, `k` for
    /// entry `k - 1` of the object table.
    pub(crate) object: u32,
    /// Byte offset of the block's first frame in its object.
    pub(crate) offset: u64,
    /// Index into the codec table.
    pub(crate) codec: u32,
    /// Number of frames in the block.
    pub(crate) frame_count: u32,
}

/// One independently compressed and checksummed unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FrameEntry {
    /// The object holding the frame (its block's; derived on decode).
    pub(crate) object: u32,
    /// Byte offset in that object (derived from the block table on decode).
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

/// The object, block and frame tables of a footer, decoded and checked.
pub(super) struct Tables {
    pub(super) objects: Vec<ObjectEntry>,
    pub(super) blocks: Vec<BlockEntry>,
    pub(super) frames: Vec<FrameEntry>,
}

/// Decodes the object table (format 5 on; none before) and the block and
/// frame tables that follow the codec table of a footer of format
/// `version`, for a layer of `kind` and identity `layer_id` that has
/// `codecs` codecs and whose own data region ends at `data_end`.
pub(super) fn decode(
    r: &mut WireReader<'_>,
    version: u16,
    kind: LayerKind,
    layer_id: &Id,
    codecs: usize,
    data_end: u64,
) -> WireResult<Tables> {
    let objects = if version >= 5 {
        decode_objects(r, kind, layer_id)?
    } else {
        Vec::new()
    };
    // Where each object's frames must end: the layer's own data region, a
    // part's bytes before its trailer.
    let ends: Vec<u64> = std::iter::once(data_end)
        .chain(
            objects
                .iter()
                .map(|o| o.size.saturating_sub(TRAILER_LEN as u64)),
        )
        .collect();

    let n = r.count(if version >= 5 { 4 } else { 3 }, "block count")?;
    let mut blocks = Vec::with_capacity(n);
    for _ in 0..n {
        let object = if version >= 5 {
            r.bounded(objects.len() as u64, "block object")? as u32
        } else {
            0
        };
        let offset = r.var("block offset")?;
        let codec = r.bounded(codecs.saturating_sub(1) as u64, "block codec index")?;
        if codecs == 0 {
            return Err("block refers to a codec but the codec table is empty".into());
        }
        let frame_count = r.bounded(u64::from(u32::MAX), "block frame count")?;
        blocks.push(BlockEntry {
            object,
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
    // Per object, where its previous block ended.
    let mut prev_end = vec![0u64; ends.len()];
    for (bi, b) in blocks.iter().enumerate() {
        let object = b.object as usize;
        let (Some(prev), Some(&end_of_object)) = (prev_end.get_mut(object), ends.get(object))
        else {
            return Err(format!("block {bi} lies in missing object {object}"));
        };
        if b.offset < *prev {
            return Err(format!(
                "block {bi} starts at {} of object {object}, inside the previous block there (ends at {prev})",
                b.offset
            ));
        }
        let mut pos = b.offset;
        for _ in 0..b.frame_count {
            let stored_len = r.var("frame stored length")?;
            let raw_len = r.var("frame raw length")?;
            if raw_len > MAX_FRAME_RAW_LEN {
                return Err(format!(
                    "frame {} declares {raw_len} decompressed bytes, above the {MAX_FRAME_RAW_LEN} limit",
                    frames.len(),
                ));
            }
            let crc = r.u32("frame checksum")?;
            let end = pos
                .checked_add(stored_len)
                .filter(|&e| e <= end_of_object)
                .ok_or_else(|| {
                    let region = if object == 0 {
                        "the data region".to_owned()
                    } else {
                        format!("the frames of object {object}")
                    };
                    format!(
                        "frame {} of block {bi} ({stored_len} bytes at {pos}) runs past {region} ({end_of_object} bytes)",
                        frames.len()
                    )
                })?;
            frames.push(FrameEntry {
                object: b.object,
                offset: pos,
                stored_len,
                raw_len,
                crc,
                block: bi as u32,
            });
            pos = end;
        }
        *prev = pos;
    }
    Ok(Tables {
        objects,
        blocks,
        frames,
    })
}

/// The object table: only a delta may adopt parts; every entry names a
/// distinct part, never the layer itself, at least a trailer long.
fn decode_objects(
    r: &mut WireReader<'_>,
    kind: LayerKind,
    layer_id: &Id,
) -> WireResult<Vec<ObjectEntry>> {
    let n = r.count(17, "object count")?;
    if n > 0 && kind != LayerKind::Delta {
        return Err(format!("a {kind:?} layer lists {n} other objects"));
    }
    let mut objects: Vec<ObjectEntry> = Vec::with_capacity(n);
    for k in 1..=n {
        let part_id = r.id("part id")?;
        let size = r.var("part size")?;
        if part_id == [0; 16] || &part_id == layer_id {
            return Err(format!("object {k} has an invalid part id"));
        }
        if objects.iter().any(|o| o.part_id == part_id) {
            return Err(format!("object {k} lists a part listed before"));
        }
        if size < TRAILER_LEN as u64 {
            return Err(format!(
                "object {k} is {size} bytes, shorter than a trailer"
            ));
        }
        objects.push(ObjectEntry { part_id, size });
    }
    Ok(objects)
}

/// Encodes the object, block and frame tables in the current version.
pub(super) fn encode(
    w: &mut WireWriter,
    objects: &[ObjectEntry],
    blocks: &[BlockEntry],
    frames: &[FrameEntry],
) {
    w.len(objects.len());
    for o in objects {
        w.raw(&o.part_id);
        w.var(o.size);
    }
    w.len(blocks.len());
    for b in blocks {
        w.var(u64::from(b.object));
        w.var(b.offset);
        w.var(u64::from(b.codec));
        w.var(u64::from(b.frame_count));
    }
    w.len(frames.len());
    for f in frames {
        w.var(f.stored_len);
        w.var(f.raw_len);
        w.u32(f.crc);
    }
}

/// Bounds every frame's decompressed size by what refers to it, before any
/// reader allocates it: no more than the chunks it holds (`extent`: where
/// its last chunk ends) or a packed-frame target, equal to the stored size
/// when uncompressed, and within LZ4's maximal expansion.
pub(super) fn check_frame_sizes(
    codecs: &[String],
    blocks: &[BlockEntry],
    frames: &[FrameEntry],
    extent: &[u64],
) -> WireResult<()> {
    for (i, (f, &end)) in frames.iter().zip(extent).enumerate() {
        if f.raw_len > end.max(MAX_PACKED_FRAME) {
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn tables(objects: &[ObjectEntry], blocks: &[BlockEntry], frames: &[FrameEntry]) -> Vec<u8> {
        let mut w = WireWriter::new();
        encode(&mut w, objects, blocks, frames);
        w.into_inner()
    }

    fn block(object: u32, offset: u64, frame_count: u32) -> BlockEntry {
        BlockEntry {
            object,
            offset,
            codec: 0,
            frame_count,
        }
    }

    fn frame(stored_len: u64) -> FrameEntry {
        FrameEntry {
            object: 0,
            offset: 0,
            stored_len,
            raw_len: stored_len,
            crc: 7,
            block: 0,
        }
    }

    fn run(bytes: &[u8], kind: LayerKind, data_end: u64) -> WireResult<Tables> {
        decode(&mut WireReader::new(bytes), 5, kind, &[9; 16], 1, data_end)
    }

    #[test]
    fn frames_in_parts_are_bounded_by_the_part() {
        let part = ObjectEntry {
            part_id: [1; 16],
            size: 132,
        };
        // 100 bytes of frames fit before the part's trailer, 101 do not.
        let ok = tables(&[part], &[block(1, 0, 2)], &[frame(60), frame(40)]);
        let t = run(&ok, LayerKind::Delta, 0).unwrap();
        assert_eq!(t.frames[1].object, 1);
        assert_eq!(t.frames[1].offset, 60);
        let bad = tables(&[part], &[block(1, 0, 2)], &[frame(60), frame(41)]);
        let err = run(&bad, LayerKind::Delta, 0).err().unwrap();
        assert!(err.contains("object 1"), "{err}");
        // Blocks of different objects may start at the same offset; blocks
        // of one object may not overlap.
        let two = tables(
            &[part],
            &[block(0, 0, 1), block(1, 0, 1), block(1, 10, 1)],
            &[frame(10), frame(10), frame(10)],
        );
        assert!(run(&two, LayerKind::Delta, 10).is_ok());
        let overlap = tables(
            &[part],
            &[block(1, 0, 1), block(1, 5, 1)],
            &[frame(10), frame(10)],
        );
        assert!(run(&overlap, LayerKind::Delta, 0).is_err());
        // A block in an object the table does not list.
        let missing = tables(&[part], &[block(2, 0, 1)], &[frame(10)]);
        assert!(run(&missing, LayerKind::Delta, 0).is_err());
    }

    #[test]
    fn only_deltas_adopt_distinct_parts() {
        let part = ObjectEntry {
            part_id: [1; 16],
            size: 64,
        };
        let bytes = tables(&[part], &[], &[]);
        assert!(run(&bytes, LayerKind::Delta, 0).is_ok());
        assert!(run(&bytes, LayerKind::Snapshot, 0).is_err());
        assert!(run(&bytes, LayerKind::Part, 0).is_err());
        for bad in [
            vec![part, part],
            vec![ObjectEntry {
                part_id: [0; 16],
                size: 64,
            }],
            vec![ObjectEntry {
                part_id: [9; 16],
                size: 64,
            }],
            vec![ObjectEntry {
                part_id: [1; 16],
                size: 31,
            }],
        ] {
            assert!(run(&tables(&bad, &[], &[]), LayerKind::Delta, 0).is_err());
        }
    }
}
