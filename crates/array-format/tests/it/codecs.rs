//! A codec recorded per array: arrays with different codecs in one layer
//! (their frames really use each codec, small chunks never share a frame
//! across codecs, in direct writes, the write buffer and its background
//! rounds alike), the codec kept across reopening, compaction and another
//! handle's refresh, and the typed errors of codecs a handle cannot write
//! with; on an in-memory store and on local disk.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use array_format::{
    ArrayFile, ArraySpec, CodecId, CompressionCodec, DType, Error, FileConfig, FillValue, Lz4Codec,
    NoCompression, Result, ZstdCodec,
};
use ndarray::{ArrayD, IxDyn};

use crate::common::{Place, patch_footer};

/// A config of `codec` with small frames, so that chunks of a few hundred
/// bytes share frames, and the given write buffer.
fn small<C: CompressionCodec>(codec: C, buffer: usize) -> FileConfig<C> {
    FileConfig {
        frame_target_size: 1024,
        write_buffer_capacity: buffer,
        ..FileConfig::new(codec)
    }
}

/// 64 chunks of 64 u32 each (256 bytes: four share a frame).
fn spec(codec: Option<&str>) -> ArraySpec {
    let s = ArraySpec::new(DType::UInt32, vec![64, 64]).with_chunk_shape(vec![1, 64]);
    match codec {
        Some(c) => s.with_codec(c),
        None => s,
    }
}

fn data(seed: u32) -> ArrayD<u32> {
    ArrayD::from_shape_fn(IxDyn(&[64, 64]), |ix| {
        seed + (ix[0] * 64 + ix[1]) as u32 % 7
    })
}

/// Defines the four arrays of [`CODECS`] and writes them: each in rows of
/// eight (whole chunks, small enough to share frames) or, `unaligned`,
/// in slabs of half rows (partly written chunks, through the buffer).
const CODECS: [(&str, Option<&str>, &str); 4] = [
    ("plain", None, "lz4"),
    ("raw", Some("none"), "none"),
    ("dense", Some("zstd"), "zstd"),
    ("fast", Some("lz4"), "lz4"),
];

async fn write_all(f: &mut ArrayFile, unaligned: bool) {
    for (i, (name, codec, _)) in CODECS.iter().enumerate() {
        f.define(*name, spec(*codec)).unwrap();
        let d = data(i as u32 * 100);
        if unaligned {
            for half in [0, 32] {
                let part = d.slice(ndarray::s![.., half..half + 32]).into_dyn();
                f.write_array(name, vec![0, half], part).await.unwrap();
            }
        } else {
            for row in (0..64).step_by(8) {
                let part = d.slice(ndarray::s![row..row + 8, ..]).into_dyn();
                f.write_array(name, vec![row, 0], part).await.unwrap();
            }
        }
    }
}

/// Every array reads back, records its codec, and is stored in frames of
/// that codec only.
async fn check_all(f: &ArrayFile) {
    for (i, (name, codec, stored)) in CODECS.iter().enumerate() {
        let got = f.read_array::<u32>(name, vec![], vec![]).await.unwrap();
        assert_eq!(got, data(i as u32 * 100), "{name}");
        let canonical = codec.map(|c| if c == "zstd" { "zstd:3" } else { c });
        assert_eq!(f.array_codec(name).unwrap().as_deref(), canonical, "{name}");
        let storage = f.array_storage(name).unwrap();
        assert_eq!(storage.codecs, [*stored], "{name}");
        assert_eq!(storage.written_chunks.len(), 64, "{name}");
    }
    assert_eq!(f.codecs(), ["lz4", "none", "zstd"]);
    assert!(f.verify().await.unwrap().is_ok());
}

#[tokio::test]
async fn arrays_with_different_codecs_share_a_layer_but_never_a_frame() {
    for place in Place::all() {
        // No buffer, a tiny one (constant eviction), the default (background
        // rounds); whole chunks and partly written ones.
        for buffer in [0, 2048, array_format::DEFAULT_WRITE_BUFFER_CAPACITY] {
            for unaligned in [false, true] {
                let mut f = place.create_with(small(Lz4Codec, buffer)).await;
                write_all(&mut f, unaligned).await;
                // Pending data reads back before the commit, too.
                let got = f.read_array::<u32>("raw", vec![], vec![]).await.unwrap();
                assert_eq!(got, data(100));
                f.flush().await.unwrap();
                assert_eq!(f.num_layers(), 1, "{} {buffer}", place.name());
                check_all(&f).await;
                check_all(&place.open_with(FileConfig::new(NoCompression)).await).await;
            }
        }
    }
}

#[tokio::test]
async fn the_recorded_codec_outlives_the_handle_that_defined_it() {
    for place in Place::all() {
        let mut f = place.create_with(small(Lz4Codec, 0)).await;
        write_all(&mut f, false).await;
        f.flush().await.unwrap();
        // Another handle, configured with zstd, rewrites half of each array:
        // the arrays that record a codec keep it, `plain` takes zstd.
        let mut g = place.open_with(small(ZstdCodec::new(1), 0)).await;
        for (i, (name, _, _)) in CODECS.iter().enumerate() {
            let half = data(i as u32 * 100).slice(ndarray::s![32.., ..]).to_owned();
            g.write_array(name, vec![32, 0], half.into_dyn().view())
                .await
                .unwrap();
        }
        g.flush().await.unwrap();
        assert_eq!(g.array_storage("plain").unwrap().codecs, ["lz4", "zstd"]);
        assert_eq!(g.array_storage("raw").unwrap().codecs, ["none"]);
        assert_eq!(g.array_storage("dense").unwrap().codecs, ["zstd"]);
        assert_eq!(g.array_storage("fast").unwrap().codecs, ["lz4"]);
        // The first handle refreshes and sees the same.
        f.refresh().await.unwrap();
        assert_eq!(f.array_codec("dense").unwrap().as_deref(), Some("zstd:3"));
        assert_eq!(f.array_storage("plain").unwrap().codecs, ["lz4", "zstd"]);
        // A compaction by a `none` handle: every frame is live (the
        // rewritten rows filled whole frames), so every frame is kept as it
        // is, and nothing takes the compacting handle's codec.
        let mut h = place.open_with(small(NoCompression, 0)).await;
        h.compact().await.unwrap();
        assert_eq!(h.num_layers(), 1);
        for f in [h, place.open_with(FileConfig::new(Lz4Codec)).await] {
            for (i, (name, codec, _)) in CODECS.iter().enumerate() {
                let got = f.read_array::<u32>(name, vec![], vec![]).await.unwrap();
                assert_eq!(got, data(i as u32 * 100), "{name}");
                assert_eq!(f.array_codec(name).unwrap().is_some(), codec.is_some());
            }
            assert_eq!(f.array_codec("raw").unwrap().as_deref(), Some("none"));
            assert_eq!(f.array_storage("plain").unwrap().codecs, ["lz4", "zstd"]);
            assert_eq!(f.array_storage("raw").unwrap().codecs, ["none"]);
            assert_eq!(f.array_storage("dense").unwrap().codecs, ["zstd"]);
            assert_eq!(f.array_storage("fast").unwrap().codecs, ["lz4"]);
        }
    }
}

#[tokio::test]
async fn compaction_repacks_frames_shared_with_overwritten_chunks_with_the_array_codec() {
    for place in Place::all() {
        let mut f = place.create_with(small(NoCompression, 0)).await;
        f.define("z", spec(Some("zstd:9"))).unwrap();
        f.define("n", spec(None)).unwrap();
        for name in ["z", "n"] {
            f.write_array(name, vec![0, 0], data(1).view())
                .await
                .unwrap();
        }
        f.flush().await.unwrap();
        // Overwrite one chunk of each: the frames it shared are part live.
        for name in ["z", "n"] {
            let row = ArrayD::from_elem(IxDyn(&[1, 64]), 5u32);
            f.write_array(name, vec![3, 0], row.view()).await.unwrap();
        }
        f.flush().await.unwrap();
        // A compaction by an lz4 handle repacks `z` with its zstd and `n`
        // with lz4 (the compacting handle's codec: it records none).
        let mut g = place.open_with(small(Lz4Codec, 0)).await;
        g.compact().await.unwrap();
        assert_eq!(g.array_storage("z").unwrap().codecs, ["zstd"]);
        assert_eq!(g.array_storage("n").unwrap().codecs, ["lz4", "none"]);
        let mut expected = data(1);
        expected.slice_mut(ndarray::s![3, ..]).fill(5);
        for name in ["z", "n"] {
            let got = g.read_array::<u32>(name, vec![], vec![]).await.unwrap();
            assert_eq!(got, expected, "{name}");
        }
        assert!(g.verify().await.unwrap().is_ok());
    }
}

#[tokio::test]
async fn compaction_repacks_frames_not_stored_with_the_array_codec() {
    // The reference writer always writes an array's chunks with the codec it
    // records; another writer may not have. Such a file is made here by
    // changing the recorded codec of an array stored with `none`.
    let dir = tempfile::tempdir().unwrap();
    let store = std::sync::Arc::new(
        object_store::local::LocalFileSystem::new_with_prefix(dir.path()).unwrap(),
    );
    let path = object_store::path::Path::from("c.af");
    let mut f = ArrayFile::create(store.clone(), path.clone(), small(Lz4Codec, 0))
        .await
        .unwrap();
    f.define("a", spec(Some("none"))).unwrap();
    f.write_array("a", vec![0, 0], data(3).view())
        .await
        .unwrap();
    f.define("b", spec(None)).unwrap();
    f.write_array("b", vec![0, 0], data(4).view())
        .await
        .unwrap();
    f.flush().await.unwrap();
    f.set_file_attribute("touch", "2".into()).unwrap();
    f.flush().await.unwrap();
    drop(f);
    patch_footer(&dir.path().join("c.1.af"), |footer| {
        // The last `none` is the codec of `a`'s define record (the codec
        // table comes first); "zstd" has the same length.
        let at = footer.windows(5).rposition(|w| w == b"\x04none").unwrap();
        footer[at + 1..at + 5].copy_from_slice(b"zstd");
    });
    let mut f = ArrayFile::open(store, path, small(Lz4Codec, 0))
        .await
        .unwrap();
    assert_eq!(f.array_codec("a").unwrap().as_deref(), Some("zstd"));
    assert_eq!(f.array_storage("a").unwrap().codecs, ["none"]);
    f.compact().await.unwrap();
    // Every frame of `a` was live, but not of its codec: repacked; those of
    // `b`, which records none, were kept.
    assert_eq!(f.array_storage("a").unwrap().codecs, ["zstd"]);
    assert_eq!(f.array_storage("b").unwrap().codecs, ["lz4"]);
    assert_eq!(
        f.read_array::<u32>("a", vec![], vec![]).await.unwrap(),
        data(3)
    );
    assert_eq!(
        f.read_array::<u32>("b", vec![], vec![]).await.unwrap(),
        data(4)
    );
}

/// A codec that is not built in: bytes XORed with a key.
#[derive(Clone, Copy)]
struct Xor;

impl CompressionCodec for Xor {
    fn id(&self) -> CodecId {
        CodecId::Named("xor".into())
    }
    fn compress(&self, data: &[u8]) -> Result<Vec<u8>> {
        Ok(data.iter().map(|b| b ^ 0x5a).collect())
    }
    fn decompress(&self, data: &[u8], _: usize) -> Result<Vec<u8>> {
        self.compress(data)
    }
}

fn invalid_codec(e: Error, array: &str, spec: &str) {
    match e {
        Error::InvalidCodec {
            name,
            codec,
            reason,
        } => {
            assert_eq!((name.as_str(), codec.as_str()), (array, spec));
            assert!(!reason.is_empty());
        }
        other => panic!("expected InvalidCodec for {array}, got {other:?}"),
    }
}

#[tokio::test]
async fn a_codec_a_handle_cannot_write_with_is_a_typed_error_never_another_codec() {
    for place in Place::all() {
        let mut f = place.create_with(small(Xor, 0)).await;
        // Unknown names and bad levels are refused at definition.
        for bad in ["gzip", "zstd:0", "zstd:23", "zstd:x", "XOR", ""] {
            let e = f.define("bad", spec(Some(bad))).unwrap_err();
            invalid_codec(e, "bad", bad);
            assert!(f.get_array("bad").is_err());
        }
        assert!(!f.has_pending_changes());
        // The handle's custom codec, by its name.
        f.define("x", spec(Some("xor"))).unwrap();
        f.write_array("x", vec![0, 0], data(7).view())
            .await
            .unwrap();
        f.define("l", spec(Some("lz4"))).unwrap();
        f.write_array("l", vec![0, 0], data(8).view())
            .await
            .unwrap();
        f.flush().await.unwrap();
        assert_eq!(f.array_codec("x").unwrap().as_deref(), Some("xor"));
        assert_eq!(f.array_storage("x").unwrap().codecs, ["xor"]);

        // A handle configured with lz4 reads `l`, but cannot read `x`, nor
        // write it, nor compact the file: typed errors, nothing written.
        let mut g = place.open_with(small(Lz4Codec, 0)).await;
        assert_eq!(
            g.read_array::<u32>("l", vec![], vec![]).await.unwrap(),
            data(8)
        );
        assert!(matches!(
            g.read_array::<u32>("x", vec![], vec![]).await,
            Err(Error::UnknownCodec { .. })
        ));
        let e = g
            .write_array("x", vec![0, 0], data(1).view())
            .await
            .unwrap_err();
        invalid_codec(e, "x", "xor");
        g.write_array("l", vec![0, 0], data(9).view())
            .await
            .unwrap();
        g.flush().await.unwrap();
        let layers = g.num_layers();
        invalid_codec(g.compact().await.unwrap_err(), "x", "xor");
        assert_eq!(g.num_layers(), layers);
        // Nor can it define an array with a custom codec it does not have.
        invalid_codec(g.define("y", spec(Some("xor"))).unwrap_err(), "y", "xor");

        // The handle with the codec compacts; `x` stays xor.
        let mut h = place.open_with(small(Xor, 0)).await;
        h.compact().await.unwrap();
        assert_eq!(h.array_storage("x").unwrap().codecs, ["xor"]);
        assert_eq!(h.array_storage("l").unwrap().codecs, ["lz4"]);
        assert_eq!(
            h.read_array::<u32>("x", vec![], vec![]).await.unwrap(),
            data(7)
        );
        assert_eq!(
            h.read_array::<u32>("l", vec![], vec![]).await.unwrap(),
            data(9)
        );
    }
}

#[tokio::test]
async fn define_checks_its_spec_like_define_array() {
    let mut f = ArrayFile::create_memory(FileConfig::new(Lz4Codec))
        .await
        .unwrap();
    let s = ArraySpec::new(DType::Float64, vec![4, 5])
        .with_dimension_names(vec!["y".into()])
        .with_codec("lz4");
    assert!(matches!(f.define("a", s), Err(Error::InvalidShape { .. })));
    let s = ArraySpec::new(DType::UInt8, vec![4]).with_fill_value(FillValue::Int(300));
    assert!(matches!(
        f.define("a", s),
        Err(Error::InvalidFillValue { .. })
    ));
    assert!(matches!(
        f.define("", ArraySpec::new(DType::Int8, vec![1])),
        Err(Error::InvalidName { .. })
    ));
    f.define("a", ArraySpec::new(DType::String, vec![3]))
        .unwrap();
    let meta = f.get_array("a").unwrap();
    assert_eq!(
        (meta.dimension_names.as_slice(), meta.chunk_shape.as_slice()),
        (&["dim0".to_string()][..], &[3u64][..])
    );
    assert!(matches!(
        f.define("a", ArraySpec::new(DType::Int8, vec![1])),
        Err(Error::ArrayAlreadyExists { .. })
    ));
    // `define_array` records no codec, and still replaces names of the
    // wrong count, as in 0.10.
    f.define_array::<i8>("b", vec!["only".into()], vec![2, 2], None, None)
        .unwrap();
    assert_eq!(f.get_array("b").unwrap().dimension_names, ["dim0", "dim1"]);
    assert_eq!(f.array_codec("b").unwrap(), None);
    assert!(matches!(
        f.array_codec("nope"),
        Err(Error::ArrayNotFound { .. })
    ));
}
