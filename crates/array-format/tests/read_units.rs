//! Reads through the I/O cache fetch neighbouring frames together (read
//! units) and decode whole-frame chunks straight into the output. These tests
//! pin down that both paths return the same data as the plain path, and that
//! a damaged frame fails only the reads that need it, not its neighbours.

use std::sync::Arc;

use array_format::{ArrayFile, Error, FileConfig, Lz4Codec, NoCompression};
use ndarray::{Array, IxDyn};
use object_store::local::LocalFileSystem;
use object_store::path::Path;

const ARRAYS: usize = 12;
const LEN: usize = 20_000;

fn byte_of(i: usize) -> u8 {
    (i * 7 + 3) as u8
}

fn configs() -> Vec<(&'static str, FileConfig<NoCompression>)> {
    vec![
        ("default caches", FileConfig::new(NoCompression)),
        (
            "caches off",
            FileConfig {
                cache_capacity: 0,
                io_cache_capacity: 0,
                ..FileConfig::new(NoCompression)
            },
        ),
        (
            "I/O cache only",
            FileConfig {
                cache_capacity: 0,
                ..FileConfig::new(NoCompression)
            },
        ),
    ]
}

async fn build(dir: &std::path::Path) -> Arc<LocalFileSystem> {
    let store = Arc::new(LocalFileSystem::new_with_prefix(dir).unwrap());
    let mut f = ArrayFile::create(
        store.clone(),
        Path::from("u.af"),
        FileConfig::new(NoCompression),
    )
    .await
    .unwrap();
    for i in 0..ARRAYS {
        let name = format!("a{i:02}");
        f.define_array::<u8>(&name, vec![], vec![LEN], None, None)
            .unwrap();
        let data = Array::from_elem(IxDyn(&[LEN]), byte_of(i));
        f.write_array(&name, vec![0], data.view()).await.unwrap();
    }
    f.flush().await.unwrap();
    store
}

#[tokio::test]
async fn a_damaged_frame_fails_only_its_own_reads() {
    let dir = tempfile::tempdir().unwrap();
    let store = build(dir.path()).await;
    // Every array is one uncompressed frame of LEN equal bytes: find array
    // 5's frame in the layer and flip a byte in its middle.
    let layer = dir.path().join("u.1.af");
    let mut bytes = std::fs::read(&layer).unwrap();
    let run = vec![byte_of(5); LEN];
    let at = bytes
        .windows(LEN)
        .position(|w| w == run.as_slice())
        .expect("array 5's frame is in the layer");
    bytes[at + LEN / 2] ^= 0x40;
    std::fs::write(&layer, &bytes).unwrap();

    for (label, config) in configs() {
        let f = ArrayFile::open(store.clone(), Path::from("u.af"), config)
            .await
            .unwrap();
        for i in 0..ARRAYS {
            let got = f
                .read_array::<u8>(&format!("a{i:02}"), vec![], vec![])
                .await;
            if i == 5 {
                match got {
                    Err(Error::Corrupted { what, .. }) => {
                        assert!(what.contains("checksum"), "{label}: {what}")
                    }
                    other => panic!("{label}: damaged array read as {other:?}"),
                }
            } else {
                let got = got.unwrap_or_else(|e| panic!("{label}: array {i}: {e}"));
                assert!(got.iter().all(|&b| b == byte_of(i)), "{label}: array {i}");
            }
        }
        // Partial reads of a neighbour go through the general path.
        let part = f
            .read_array::<u8>("a04", vec![10], vec![100])
            .await
            .unwrap();
        assert!(part.iter().all(|&b| b == byte_of(4)), "{label}");
    }
}

#[tokio::test]
async fn direct_and_general_paths_agree_on_multi_chunk_reads() {
    // A 2-D array in row bands (contiguous in the output: decoded in place)
    // and in tiles (copied through the general path), read whole and in
    // windows under every cache configuration.
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(LocalFileSystem::new_with_prefix(dir.path()).unwrap());
    let mut f = ArrayFile::create(store.clone(), Path::from("m.af"), FileConfig::new(Lz4Codec))
        .await
        .unwrap();
    let (rows, cols) = (300usize, 200usize);
    let data = Array::from_shape_fn(IxDyn(&[rows, cols]), |ix| (ix[0] * 1000 + ix[1]) as i64);
    for (name, chunks) in [("bands", vec![64, cols]), ("tiles", vec![64, 48])] {
        f.define_array::<i64>(
            name,
            vec![],
            vec![rows, cols],
            Some(chunks),
            Some(array_format::FillValue::Int(-1)),
        )
        .unwrap();
        // Leave the last band unwritten: it must read as the fill value.
        let part = data.slice(ndarray::s![0..256, ..]).to_owned().into_dyn();
        f.write_array(name, vec![0, 0], part.view()).await.unwrap();
    }
    f.flush().await.unwrap();
    let expect = |r: usize, c: usize| if r < 256 { (r * 1000 + c) as i64 } else { -1 };
    let lz4 = |cache: u64, io: u64| FileConfig {
        cache_capacity: cache as usize,
        io_cache_capacity: io as usize,
        ..FileConfig::new(Lz4Codec)
    };
    for config in [
        lz4(256 << 20, 64 << 20),
        lz4(0, 0),
        lz4(0, 64 << 20),
        lz4(256 << 20, 0),
    ] {
        let f = ArrayFile::open(store.clone(), Path::from("m.af"), config)
            .await
            .unwrap();
        for name in ["bands", "tiles"] {
            for (start, shape) in [
                (vec![0, 0], vec![rows, cols]),
                (vec![64, 0], vec![128, cols]),
                (vec![10, 5], vec![250, 190]),
                (vec![250, 0], vec![50, cols]),
            ] {
                let got = f
                    .read_array::<i64>(name, start.clone(), shape.clone())
                    .await
                    .unwrap();
                for ((r, c), v) in (0..shape[0])
                    .flat_map(|r| (0..shape[1]).map(move |c| (r, c)))
                    .zip(got.iter())
                {
                    assert_eq!(
                        *v,
                        expect(start[0] + r, start[1] + c),
                        "{name} {start:?} {shape:?}"
                    );
                }
            }
        }
    }
}
