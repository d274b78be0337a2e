//! Footer round trips and the validation of what precedes the array
//! records.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use super::*;
use crate::chunk_stats::MinMax;
use crate::format::tables::FooterTables;
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
    let t = FooterTables::decode(&bytes, 116, crate::format::FORMAT_VERSION).unwrap();
    // ... and reading it fails.
    let err = t.records("x", &bytes).file_attr_entries(None).unwrap_err();
    assert!(err.contains("removal"), "{err}");
    assert!(Footer::decode(&bytes, 116).is_err());
}

#[test]
fn damaged_file_attribute_references_are_errors() {
    let f = sample();
    let bytes = f.encode();
    let t = FooterTables::decode(&bytes, 116, crate::format::FORMAT_VERSION).unwrap();
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
            FooterTables::decode(&b, 116, crate::format::FORMAT_VERSION).is_err(),
            "offset {o}, length {l}"
        );
    }
    // (0, 0) is no section at all.
    let mut b = bytes.clone();
    b[at] = 0;
    b[at + 1] = 0;
    let t = FooterTables::decode(&b, 116, crate::format::FORMAT_VERSION).unwrap();
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
