//! Tests of `layer/frames.rs`.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use super::*;
use crate::codec::Lz4Codec;
use std::sync::Arc;

const L0: Lane = Lane::CONFIGURED;

fn writer(target: usize) -> FrameWriter {
    FrameWriter::new(CodecSet::new(Arc::new(Lz4Codec)), target).unwrap()
}

#[test]
fn small_chunks_share_frames_large_ones_do_not() {
    let mut w = writer(100);
    let a = w.add_chunk(L0, &[1u8; 40]).unwrap();
    let b = w.add_chunk(L0, &[2u8; 40]).unwrap();
    let c = w.add_chunk(L0, &[3u8; 40]).unwrap();
    let d = w.add_chunk(L0, &[4u8; 150]).unwrap();
    assert_eq!((a.frame, a.offset), (0, 0));
    assert_eq!((b.frame, b.offset), (0, 40));
    assert_eq!((c.frame, c.offset), (1, 0));
    assert_eq!((d.frame, d.offset), (2, 0));
    for (loc, v) in [(a, 1u8), (b, 2), (c, 3), (d, 4)] {
        let bytes = w.read_chunk(&loc).unwrap();
        assert_eq!(bytes.len() as u64, loc.len);
        assert!(bytes.iter().all(|&x| x == v));
    }
}

#[test]
fn dead_frames_are_left_out_and_blocks_split() {
    let mut w = writer(10);
    let a = w.add_chunk(L0, &[1u8; 20]).unwrap();
    let _b = w.add_chunk(L0, &[2u8; 20]).unwrap();
    let _c = w.add_chunk(L0, &[3u8; 20]).unwrap();
    w.release(&a);
    let layout = w.layout(30).unwrap();
    assert_eq!(layout.remap, vec![None, Some(0), Some(1)]);
    assert_eq!(layout.frames.len(), 2);
    // Two 20-byte frames, block target 30: the second frame starts no new block
    // because the first block is still below the target when it is added.
    assert_eq!(layout.blocks.len(), 1);
    assert_eq!(layout.frames[1].offset, layout.frames[0].stored_len);
    assert_eq!(layout.ranges.len(), 1);
    let total: u64 = layout.ranges.iter().map(|r| r.end - r.start).sum();
    assert_eq!(total, layout.len);
}

#[test]
fn copied_frames_keep_their_codec() {
    let mut w = writer(10);
    let f = w
        .copy_frame(b"abc", 3, crc32c::crc32c(b"abc"), "none", 1)
        .unwrap();
    let g = w.add_chunk(L0, &[9u8; 12]).unwrap();
    assert_eq!(f, 0);
    assert_eq!(g.frame, 1);
    assert_eq!(
        &w.read_chunk(&ChunkLoc {
            frame: 0,
            offset: 1,
            len: 2
        })
        .unwrap()[..],
        b"bc"
    );
    let layout = w.layout(1 << 20).unwrap();
    assert_eq!(layout.codecs, vec!["lz4".to_string(), "none".to_string()]);
    assert_eq!(layout.blocks.len(), 2);
    assert_eq!(layout.blocks[0].codec, 1);
    assert_eq!(layout.blocks[1].codec, 0);
}

#[test]
fn small_chunks_of_different_codecs_never_share_a_frame() {
    let mut w = writer(100);
    let zstd = w.lane(Some("zstd:9"), crate::dtype::DType::Int32).unwrap();
    let none = w.lane(Some("none"), crate::dtype::DType::Int32).unwrap();
    assert_eq!(
        w.lane(Some("zstd:9"), crate::dtype::DType::Int32).unwrap(),
        zstd
    );
    assert_eq!(w.lane(None, crate::dtype::DType::Int32).unwrap(), L0);
    assert!(w.lane(Some("brotli"), crate::dtype::DType::Int32).is_err());
    let a = w.add_chunk(L0, &[1u8; 30]).unwrap();
    let b = w.add_chunk(zstd, &[2u8; 30]).unwrap();
    let c = w.add_chunk(none, &[3u8; 30]).unwrap();
    let d = w.add_chunk(zstd, &[4u8; 30]).unwrap();
    let e = w.add_chunk(L0, &[5u8; 30]).unwrap();
    assert_eq!((a.frame, e.frame, e.offset), (0, 0, 30));
    assert_eq!((b.frame, d.frame, d.offset), (1, 1, 30));
    assert_eq!(c.frame, 2);
    // A large chunk seals only its own lane's open frame.
    let f = w.add_chunk(zstd, &[6u8; 200]).unwrap();
    assert_eq!(f.frame, 3);
    let g = w.add_chunk(L0, &[7u8; 10]).unwrap();
    assert_eq!((g.frame, g.offset), (0, 60));
    for (loc, v) in [(a, 1u8), (b, 2), (c, 3), (d, 4), (e, 5), (f, 6), (g, 7)] {
        assert!(w.read_chunk(&loc).unwrap().iter().all(|&x| x == v));
    }
    let layout = w.layout(1 << 20).unwrap();
    assert_eq!(layout.codecs, ["lz4", "zstd", "none"]);
    let codec_of = |frame: u32| {
        let block = layout.frames[frame as usize].block as usize;
        layout.codecs[layout.blocks[block].codec as usize].as_str()
    };
    let new = |loc: ChunkLoc| layout.remap[loc.frame as usize].unwrap();
    assert_eq!(codec_of(new(a)), "lz4");
    assert_eq!(codec_of(new(b)), "zstd");
    assert_eq!(codec_of(new(c)), "none");
    assert_eq!(codec_of(new(f)), "zstd");
    // The `none` frame is stored as it is.
    let none_frame = &layout.frames[new(c) as usize];
    assert_eq!(none_frame.stored_len, 30);
}
