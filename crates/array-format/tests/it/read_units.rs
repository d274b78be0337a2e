//! On a remote store, reads through the I/O cache fetch neighbouring frames
//! together (read units); on a local one they fetch exactly the frames they
//! need; whole-frame chunks are decoded straight into the output. These
//! tests pin down which requests each store gets, that every path returns
//! the same data as the plain one, and that a damaged frame fails only the
//! reads that need it, not its neighbours.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::Arc;
use std::time::Duration;

use crate::common::CountingStore;
use array_format::{ArrayFile, Error, FileConfig, Lz4Codec, NoCompression};
use ndarray::{Array, IxDyn};
use object_store::ObjectStore;
use object_store::local::LocalFileSystem;
use object_store::path::Path;

const ARRAYS: usize = 12;
const LEN: usize = 20_000;

/// Request costs that make a store count as remote (at least 1 ms) and as
/// a local directory read through `object_store` (5 us to 1 ms).
const REMOTE: Duration = Duration::from_millis(3);
const LOCAL: Duration = Duration::from_micros(100);

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
    write_arrays(&mut f).await;
    store
}

/// Writes and commits the arrays `a00`.. of `LEN` bytes each.
async fn write_arrays(f: &mut ArrayFile) {
    for i in 0..ARRAYS {
        let name = format!("a{i:02}");
        f.define_array::<u8>(&name, vec![], vec![LEN], None, None)
            .unwrap();
        let data = Array::from_elem(IxDyn(&[LEN]), byte_of(i));
        f.write_array(&name, vec![0], data.view()).await.unwrap();
    }
    f.flush().await.unwrap();
}

/// How the test file is reached.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Access {
    /// `open_path`: the layers are read with `pread`.
    Direct,
    /// `LocalFileSystem` through `object_store`, at [`LOCAL`] a request.
    ObjectStore,
    /// A remote store: [`REMOTE`] a request.
    Remote,
}

const ACCESS: [Access; 3] = [Access::Direct, Access::ObjectStore, Access::Remote];

async fn open_as<C: array_format::CompressionCodec + 'static>(
    dir: &std::path::Path,
    name: &str,
    access: Access,
    config: FileConfig<C>,
) -> ArrayFile {
    let local = Arc::new(LocalFileSystem::new_with_prefix(dir).unwrap());
    let store = |latency| -> Arc<dyn ObjectStore> {
        Arc::new(CountingStore::new(local.clone()).with_latency(latency))
    };
    match access {
        Access::Direct => ArrayFile::open_path(dir.join(name), config).await,
        Access::ObjectStore => ArrayFile::open(store(LOCAL), Path::from(name), config).await,
        Access::Remote => ArrayFile::open(store(REMOTE), Path::from(name), config).await,
    }
    .unwrap()
}

/// Opens `path` in `store` through a [`CountingStore`] of `latency` until
/// the handle has timed a request in the band that latency belongs to.
/// Read units follow the measured cost, and on a loaded machine a 100 µs
/// request can take over a millisecond; these tests check the units of a
/// store timed in its band, so a handle timed out of it is opened again.
async fn open_timed<C: array_format::CompressionCodec + 'static>(
    store: &Arc<dyn ObjectStore>,
    path: &str,
    latency: Duration,
    config: impl Fn() -> FileConfig<C>,
) -> (CountingStore, ArrayFile) {
    let band = |cost: Duration| cost >= Duration::from_millis(1);
    for _ in 0..200 {
        let counting = CountingStore::new(store.clone()).with_latency(latency);
        let f = ArrayFile::open(Arc::new(counting.clone()), Path::from(path), config())
            .await
            .unwrap();
        if f.request_cost().is_some_and(|c| band(c) == band(latency)) {
            return (counting, f);
        }
    }
    panic!("200 opens at {latency:?} a request never timed one in its band");
}

#[tokio::test]
async fn read_units_follow_the_cost_of_a_request() {
    // The twelve frames lie back to back in one block: 240,000 bytes.
    let frames = (ARRAYS * LEN) as u64;
    let memory = Arc::new(object_store::memory::InMemory::new());
    let mut f = ArrayFile::create(
        memory.clone(),
        Path::from("u.af"),
        FileConfig::new(NoCompression),
    )
    .await
    .unwrap();
    write_arrays(&mut f).await;
    let memory: Arc<dyn ObjectStore> = memory;
    for latency in [None, Some(LOCAL), Some(REMOTE)] {
        let (counting, f) = match latency {
            Some(l) => open_timed(&memory, "u.af", l, || FileConfig::new(NoCompression)).await,
            None => {
                let counting = CountingStore::new(memory.clone());
                let f = ArrayFile::open(
                    Arc::new(counting.clone()),
                    Path::from("u.af"),
                    FileConfig::new(NoCompression),
                )
                .await
                .unwrap();
                (counting, f)
            }
        };
        for round in 0..2 {
            counting.reset();
            for i in 0..ARRAYS {
                let got = f
                    .read_array::<u8>(&format!("a{i:02}"), vec![], vec![])
                    .await
                    .unwrap();
                assert!(got.iter().all(|&b| b == byte_of(i)), "array {i}");
            }
            let (gets, bytes) = (counting.gets(), counting.bytes_read());
            let largest = counting
                .requests()
                .iter()
                .map(|r| r.bytes)
                .max()
                .unwrap_or(0);
            let label = format!("latency {latency:?}, round {round}");
            match (latency, round) {
                // In memory a request costs nothing: one per array, for
                // exactly its frame, every time (uncompressed frames are
                // not worth a second copy in memory).
                (None, _) => assert_eq!((gets, bytes), (ARRAYS, frames), "{label}"),
                // Read units, then the I/O cache.
                (Some(_), 0) => {
                    assert_eq!((gets, bytes), (1, frames), "{label}");
                    assert_eq!(largest, frames, "{label}");
                }
                (Some(_), _) => assert_eq!((gets, bytes), (0, 0), "{label}"),
            }
        }
    }
}

#[tokio::test]
async fn unit_size_grows_with_the_cost_of_a_request() {
    // Forty 20,000-byte frames back to back: 800,000 bytes, more than a
    // unit of a local store (256 KiB) and less than a remote one (1 MiB).
    let memory = Arc::new(object_store::memory::InMemory::new());
    let mut f = ArrayFile::create(
        memory.clone(),
        Path::from("v.af"),
        FileConfig::new(NoCompression),
    )
    .await
    .unwrap();
    for i in 0..40 {
        let name = format!("b{i:02}");
        f.define_array::<u8>(&name, vec![], vec![LEN], None, None)
            .unwrap();
        let data = Array::from_elem(IxDyn(&[LEN]), byte_of(i));
        f.write_array(&name, vec![0], data.view()).await.unwrap();
    }
    f.flush().await.unwrap();
    let memory: Arc<dyn ObjectStore> = memory;
    for (latency, want_gets) in [(LOCAL, 4), (REMOTE, 1)] {
        let (counting, f) =
            open_timed(&memory, "v.af", latency, || FileConfig::new(NoCompression)).await;
        counting.reset();
        for i in 0..40 {
            let got = f
                .read_array::<u8>(&format!("b{i:02}"), vec![], vec![])
                .await
                .unwrap();
            assert!(got.iter().all(|&b| b == byte_of(i)), "array {i}");
        }
        assert_eq!(counting.gets(), want_gets, "{latency:?}");
        assert_eq!(counting.bytes_read(), 40 * LEN as u64, "{latency:?}");
    }
}

#[tokio::test]
async fn a_damaged_frame_fails_only_its_own_reads() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path()).await;
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

    for (label, config, access) in ACCESS
        .into_iter()
        .flat_map(|a| configs().into_iter().map(move |(l, c)| (l, c, a)))
    {
        let label = format!("{label}, {access:?}");
        let f = open_as(dir.path(), "u.af", access, config).await;
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
        // A partial read of a neighbour decodes its frame alone.
        let part = f
            .read_array::<u8>("a04", vec![10], vec![100])
            .await
            .unwrap();
        assert!(part.iter().all(|&b| b == byte_of(4)), "{label}");
    }
}

#[tokio::test]
async fn a_damaged_tile_fails_the_windows_over_it_and_no_other() {
    // A 512 x 512 f32 array in 128 x 128 chunks, one frame each: a window
    // over nine chunks decodes them on the thread pool as their requests
    // complete. The checksum of the one damaged chunk must fail exactly the
    // windows that touch it, on every path and cache configuration.
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(LocalFileSystem::new_with_prefix(dir.path()).unwrap());
    let mut f = ArrayFile::create(store, Path::from("d.af"), FileConfig::new(NoCompression))
        .await
        .unwrap();
    let side = 512usize;
    let value = |r: usize, c: usize| (r * side + c) as f32;
    let data = Array::from_shape_fn(IxDyn(&[side, side]), |ix| value(ix[0], ix[1]));
    f.define_array::<f32>("d", vec![], vec![side, side], Some(vec![128, 128]), None)
        .unwrap();
    f.write_array("d", vec![0, 0], data.view()).await.unwrap();
    f.flush().await.unwrap();
    drop(f);
    // Chunk (1, 2) starts with row 128, columns 256..: find its first row
    // in the layer and flip a bit in it.
    let layer = dir.path().join("d.1.af");
    let mut bytes = std::fs::read(&layer).unwrap();
    let row: Vec<u8> = (256..384)
        .flat_map(|c| value(128, c).to_le_bytes())
        .collect();
    let at = bytes
        .windows(row.len())
        .position(|w| w == row.as_slice())
        .expect("chunk (1, 2) is in the layer");
    bytes[at + 40] ^= 0x01;
    std::fs::write(&layer, &bytes).unwrap();

    // (origin, shape, touches the damaged chunk)
    let windows = [
        // Nine chunks, the damaged one among them: decoded in parallel.
        ((64, 200), [256, 256], true),
        // Eight chunks, not the damaged one: decoded in parallel.
        ((257, 1), [255, 510], false),
        // Inside the damaged chunk alone.
        ((130, 260), [100, 100], true),
        // Inside one undamaged chunk.
        ((0, 0), [100, 100], false),
    ];
    for (label, config, access) in ACCESS
        .into_iter()
        .flat_map(|a| configs().into_iter().map(move |(l, c)| (l, c, a)))
    {
        let label = format!("{label}, {access:?}");
        let f = open_as(dir.path(), "d.af", access, config).await;
        for ((r0, c0), shape, damaged) in windows {
            let got = f.read_array::<f32>("d", vec![r0, c0], shape.to_vec()).await;
            match (got, damaged) {
                (Err(Error::Corrupted { what, .. }), true) => {
                    assert!(what.contains("checksum"), "{label}: {what}")
                }
                (Ok(got), false) => {
                    let want = data
                        .slice(ndarray::s![r0..r0 + shape[0], c0..c0 + shape[1]])
                        .to_owned()
                        .into_dyn()
                        .into_shared();
                    assert_eq!(got, want, "{label}: window ({r0}, {c0})");
                }
                (other, _) => panic!("{label}: window ({r0}, {c0}) read as {other:?}"),
            }
        }
    }
}

#[tokio::test]
async fn a_read_dropped_while_decoding_leaves_the_handle_usable() {
    // Decodes run on the thread pool, owned by no read: a read abandoned
    // part way (a timeout) must neither disturb the handle nor a later read.
    let memory = Arc::new(object_store::memory::InMemory::new());
    let config = || FileConfig {
        cache_capacity: 0,
        io_cache_capacity: 0,
        ..FileConfig::new(Lz4Codec)
    };
    let mut f = ArrayFile::create(memory.clone(), Path::from("c.af"), config())
        .await
        .unwrap();
    let data = Array::from_shape_fn(IxDyn(&[1024, 1024]), |ix| (ix[0] ^ ix[1]) as u32);
    f.define_array::<u32>("c", vec![], vec![1024, 1024], Some(vec![256, 256]), None)
        .unwrap();
    f.write_array("c", vec![0, 0], data.view()).await.unwrap();
    f.flush().await.unwrap();
    let f = ArrayFile::open(memory, Path::from("c.af"), config())
        .await
        .unwrap();
    for _ in 0..20 {
        let read = f.read_array::<u32>("c", vec![100, 100], vec![800, 800]);
        // Polled once or a few times, then dropped.
        let _ = tokio::time::timeout(Duration::from_micros(50), read).await;
    }
    let got = f
        .read_array::<u32>("c", vec![100, 100], vec![800, 800])
        .await
        .unwrap();
    assert_eq!(
        got,
        data.slice(ndarray::s![100..900, 100..900])
            .to_owned()
            .into_dyn()
            .into_shared()
    );
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
    let configs = || {
        [
            lz4(256 << 20, 64 << 20),
            lz4(0, 0),
            lz4(0, 64 << 20),
            lz4(256 << 20, 0),
        ]
    };
    for (config, access) in ACCESS
        .into_iter()
        .flat_map(|a| configs().into_iter().map(move |c| (c, a)))
    {
        let f = open_as(dir.path(), "m.af", access, config).await;
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
                        "{name} {start:?} {shape:?}, {access:?}"
                    );
                }
            }
        }
    }
}

#[tokio::test]
async fn the_frame_cache_keeps_frames_read_in_part_only() {
    // Tiles of a 2-D array read whole are decoded into a per-thread buffer
    // and not cached (a scan would only evict what windows need); a window
    // that uses part of a frame caches it for the next window.
    let memory = Arc::new(object_store::memory::InMemory::new());
    let mut f = ArrayFile::create(
        memory.clone(),
        Path::from("t.af"),
        FileConfig::new(Lz4Codec),
    )
    .await
    .unwrap();
    let data = Array::from_shape_fn(IxDyn(&[256, 256]), |ix| (ix[0] * 256 + ix[1]) as f32);
    f.define_array::<f32>("t", vec![], vec![256, 256], Some(vec![64, 64]), None)
        .unwrap();
    f.write_array("t", vec![0, 0], data.view()).await.unwrap();
    f.flush().await.unwrap();
    let cache = Arc::new(array_format::DeltaCache::new(64 << 20, 0));
    let f = ArrayFile::open(
        memory,
        Path::from("t.af"),
        FileConfig {
            cache: Some(cache.clone()),
            ..FileConfig::new(Lz4Codec)
        },
    )
    .await
    .unwrap();
    let whole = f.read_array::<f32>("t", vec![], vec![]).await.unwrap();
    assert_eq!(whole, data.clone().into_shared());
    assert_eq!(cache.frame_bytes(), 0, "a whole read cached frames");
    // A window over four tiles: each is used in part and cached.
    let window = f
        .read_array::<f32>("t", vec![32, 32], vec![64, 64])
        .await
        .unwrap();
    assert_eq!(
        window,
        data.slice(ndarray::s![32..96, 32..96])
            .to_owned()
            .into_dyn()
            .into_shared()
    );
    let tile = 64 * 64 * 4;
    assert!(
        cache.frame_bytes() >= 4 * tile,
        "{} bytes cached",
        cache.frame_bytes()
    );
    // Now whole reads of those tiles come from the cache and agree.
    let again = f.read_array::<f32>("t", vec![], vec![]).await.unwrap();
    assert_eq!(again, data.into_shared());
}

/// A flush lays frames out in chunk order, whatever order the chunks were
/// written in: chunks written even ones first, then odd ones, still sit
/// side by side in the layer, so a read of neighbours is one request.
#[tokio::test]
async fn a_flush_lays_chunks_out_in_index_order() {
    let counting = Arc::new(CountingStore::new(Arc::new(
        object_store::memory::InMemory::new(),
    )));
    let config = || FileConfig {
        cache_capacity: 0,
        io_cache_capacity: 0,
        frame_target_size: 1,
        ..FileConfig::new(NoCompression)
    };
    let store: Arc<dyn ObjectStore> = counting.clone();
    let mut f = ArrayFile::create(Arc::clone(&store), Path::from("o.af"), config())
        .await
        .unwrap();
    // Chunks larger than the gap reads bridge (32 KiB).
    let (chunks, side) = (8usize, 40_000usize);
    f.define_array::<u8>("a", vec![], vec![chunks * side], Some(vec![side]), None)
        .unwrap();
    for i in (0..chunks).step_by(2).chain((1..chunks).step_by(2)) {
        let data = Array::from_elem(IxDyn(&[side]), i as u8);
        f.write_array("a", vec![i * side], data.view())
            .await
            .unwrap();
    }
    f.flush().await.unwrap();
    let f = ArrayFile::open(store, Path::from("o.af"), config())
        .await
        .unwrap();
    counting.reset();
    let got = f
        .read_array::<u8>("a", vec![0], vec![4 * side])
        .await
        .unwrap();
    let want: Vec<u8> = (0..4).flat_map(|i| vec![i as u8; side]).collect();
    assert_eq!(got.iter().copied().collect::<Vec<_>>(), want);
    assert_eq!(counting.gets(), 1, "{:?}", counting.requests());
}

/// Bytes that lz4 cannot shrink: a frame stores about its decoded size.
fn noise(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[tokio::test]
async fn units_the_frame_cache_holds_decoded_stay_out_of_the_io_cache() {
    // Two arrays of incompressible lz4 chunks: "big" in 512 x 512 chunks
    // (256 KiB, each frame a read unit of its own at a local store's unit
    // size) and "small" in 32 x 32 chunks (1 KiB, many frames a unit).
    let memory = Arc::new(object_store::memory::InMemory::new());
    let mut f = ArrayFile::create(
        memory.clone(),
        Path::from("x.af"),
        FileConfig::new(Lz4Codec),
    )
    .await
    .unwrap();
    let side = 1024usize;
    let data = Array::from_shape_vec(IxDyn(&[side, side]), noise(side * side, 7)).unwrap();
    for (name, chunk) in [("big", 512usize), ("small", 32)] {
        f.define_array::<u8>(
            name,
            vec![],
            vec![side, side],
            Some(vec![chunk, chunk]),
            None,
        )
        .unwrap();
        f.write_array(name, vec![0, 0], data.view()).await.unwrap();
    }
    f.flush().await.unwrap();
    let window = |r: usize, c: usize, n: usize| {
        data.slice(ndarray::s![r..r + n, c..c + n])
            .to_owned()
            .into_dyn()
            .into_shared()
    };

    let memory: Arc<dyn ObjectStore> = memory;
    for frame_cache in [true, false] {
        let label = format!("frame cache {frame_cache}");
        let cache = Arc::new(array_format::DeltaCache::new(
            if frame_cache { 64 << 20 } else { 0 },
            64 << 20,
        ));
        let (counting, f) = open_timed(&memory, "x.af", LOCAL, || FileConfig {
            cache: Some(cache.clone()),
            ..FileConfig::new(Lz4Codec)
        })
        .await;

        // A window partly over one big chunk: its frame is the whole unit,
        // and the frame cache (if any) keeps it decoded.
        let io_before = cache.io_bytes();
        counting.reset();
        let got = f.read_array::<u8>("big", vec![10, 20], vec![100, 100]);
        assert_eq!(got.await.unwrap(), window(10, 20, 100), "{label}");
        assert_eq!(counting.gets(), 1, "{label}");
        let held = cache.io_bytes() - io_before;
        if frame_cache {
            assert!(cache.frame_bytes() >= 512 * 512, "{label}");
            assert_eq!(held, 0, "{label}: the unit is held twice");
        } else {
            assert!(held >= 512 * 512, "{label}: the unit is not held");
        }
        // Read again: from one cache or the other, no request.
        counting.reset();
        let got = f.read_array::<u8>("big", vec![200, 300], vec![50, 50]);
        assert_eq!(got.await.unwrap(), window(200, 300, 50), "{label}");
        assert_eq!(counting.gets(), 0, "{label}");

        // A window partly over one small chunk: its unit holds neighbours
        // the read did not ask for, so the I/O cache keeps the unit and a
        // read of a neighbour makes no request.
        let io_before = cache.io_bytes();
        counting.reset();
        let got = f.read_array::<u8>("small", vec![1, 1], vec![10, 10]);
        assert_eq!(got.await.unwrap(), window(1, 1, 10), "{label}");
        assert_eq!(counting.gets(), 1, "{label}");
        assert!(
            cache.io_bytes() > io_before,
            "{label}: the unit is not held"
        );
        counting.reset();
        let got = f.read_array::<u8>("small", vec![1, 33], vec![10, 10]);
        assert_eq!(got.await.unwrap(), window(1, 33, 10), "{label}");
        assert_eq!(counting.gets(), 0, "{label}");
    }
}
