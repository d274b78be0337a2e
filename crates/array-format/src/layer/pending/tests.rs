//! Tests of `layer/pending.rs`.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use super::*;
use crate::codec::NoCompression;
use crate::dtype::DType;
use crate::layer::Values;
use crate::meta::MergedArrayMeta;
use crate::stats::MinMax;

pub(crate) fn info(name: &str) -> Arc<ArrayInfo> {
    Arc::new(
        ArrayInfo::new(MergedArrayMeta {
            name: name.into(),
            dtype: DType::UInt8,
            shape: vec![8],
            chunk_shape: vec![4],
            dimension_names: vec!["x".into()],
            fill_value: None,
        })
        .unwrap(),
    )
}

pub(crate) fn w() -> ChunkWrite {
    ChunkWrite {
        base: Base::default(),
        chunk_base: 0,
        lane: Lane::CONFIGURED,
    }
}

fn stats() -> ChunkStats {
    ChunkStats {
        null_count: 0,
        min_max: MinMax::Empty,
    }
}

fn layer() -> PendingLayer {
    PendingLayer::new(CodecSet::new(Arc::new(NoCompression)), 1024, 0).unwrap()
}

#[test]
fn overwritten_chunks_are_released_and_only_live_frames_remain() {
    let mut p = layer();
    p.define(info("a"));
    p.put_chunk("a", 0, &[1; 4], stats(), w()).unwrap();
    p.put_chunk("a", 0, &[2; 4], stats(), w()).unwrap();
    p.put_chunk("a", 1, &[3; 4], stats(), w()).unwrap();
    let c = p.get("a").unwrap().chunks.get(&0).unwrap();
    assert_eq!(&p.read_chunk(c).unwrap()[..], &[2; 4]);
    let (layout, records) = p.finish(1 << 20, 7).unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].defined_seq, 7);
    assert!(records[0].chunks.iter().all(|c| c.seq == 7));
    assert!(matches!(records[0].op, RecordOp::Define(_)));
    let idx: Vec<u64> = records[0].chunks.iter().map(|c| c.index).collect();
    assert_eq!(idx, vec![0, 1]);
    // The three chunks shared one frame; it stays because two are live.
    assert_eq!(layout.frames.len(), 1);
}

#[test]
fn tombstone_forget_and_redefine() {
    let mut p = layer();
    p.define(info("new"));
    p.put_chunk("new", 0, &[1; 4], stats(), w()).unwrap();
    p.forget("new");
    assert!(p.get("new").is_none());
    p.tombstone("old", Base::default());
    p.define(info("old"));
    assert!(matches!(p.get("old").unwrap().op, PendingOp::Define(_)));
    p.record_mut("other", Base::default())
        .attrs
        .insert("k".into(), None);
    let (layout, records) = p.finish(1 << 20, 3).unwrap();
    // Nothing live: the frame of the forgotten chunk is left out.
    assert!(layout.frames.is_empty());
    let ops: Vec<(&str, bool)> = records
        .iter()
        .map(|r| (r.name.as_str(), matches!(r.op, RecordOp::Update)))
        .collect();
    assert_eq!(ops, vec![("old", false), ("other", true)]);
}

pub(crate) fn bytes(v: &[u8]) -> Box<dyn DirtyValues> {
    Box::new(Values {
        values: v.to_vec(),
        fill: None,
    })
}

pub(crate) fn state(p: &PendingLayer, index: u64) -> &'static str {
    match p.get("a").unwrap().chunks.get(&index).map(|c| &c.data) {
        Some(ChunkData::Dirty { .. }) => "buffered",
        Some(ChunkData::Sealing { .. }) => "sealing",
        Some(ChunkData::Stored { .. }) => "stored",
        None => "absent",
    }
}

#[test]
fn replacing_or_forgetting_a_buffered_chunk_releases_its_bytes() {
    let mut p = layer();
    p.define(info("a"));
    p.put_dirty("a", 0, bytes(&[1; 4]), 0, w());
    p.put_dirty("a", 1, bytes(&[1; 4]), 0, w());
    p.put_chunk("a", 0, &[5; 4], stats(), w()).unwrap();
    assert_eq!(p.buffered_bytes(), 4);
    assert!(p.dirty_mut("a", 0).is_none());
    p.put_dirty("a", 1, bytes(&[2; 8]), 0, w());
    assert_eq!(p.buffered_bytes(), 8);
    p.forget("a");
    assert_eq!(p.buffered_bytes(), 0);
    // Nothing is left to evict or commit.
    p.evict(0).unwrap();
    let (layout, records) = p.finish(1 << 20, 1).unwrap();
    assert!(layout.frames.is_empty() && records.is_empty());
}

#[test]
fn file_attribute_changes_are_recorded_with_their_bases() {
    let mut p = layer();
    assert!(p.is_empty());
    p.set_file_attr("title", "t".into(), 3);
    assert!(!p.is_empty());
    p.set_file_attr("gone", 1i64.into(), 3);
    // Removing a key set only here drops it; a committed one is removed.
    p.remove_file_attr("gone", false, 4);
    p.remove_file_attr("old", true, 5);
    let records = p.file_attr_records(6);
    let keys: Vec<(&str, bool, u64)> = records
        .iter()
        .map(|a| (a.key.as_str(), a.value.is_some(), a.seq))
        .collect();
    assert_eq!(keys, [("old", false, 6), ("title", true, 6)]);
    let bases = &p.file_attrs().bases;
    assert_eq!((bases["title"], bases["old"]), (3, 5));
}
