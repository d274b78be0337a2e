//! Pending data spills to a temporary file: writing 1 GiB through many
//! slab writes and committing it must not hold the data in memory, and the
//! buffer of partly written chunks stays within its budget.
//!
//! Measures the process's peak resident set (`VmHWM`, Linux only) and
//! requires it to stay far below the amount written. The tests take turns
//! (the peak is per process) and reset the peak before they start.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use array_format::{ArrayFile, FileConfig, Lz4Codec, NoCompression};
use ndarray::{Array, IxDyn};
use object_store::ObjectStore;
use object_store::local::LocalFileSystem;

/// One measurement at a time: the peak resident set is the process's.
static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Resets the peak resident set to the current one and returns the current
/// one (`None` where /proc cannot tell).
fn start_measuring() -> Option<u64> {
    std::fs::write("/proc/self/clear_refs", "5").ok()?;
    rss().map(|(_, current)| current)
}

/// Peak and current resident set in bytes, from /proc/self/status.
fn rss() -> Option<(u64, u64)> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<u64>().ok())
            .map(|kb| kb * 1024)
    };
    Some((field("VmHWM:")?, field("VmRSS:")?))
}

#[tokio::test(flavor = "current_thread")]
async fn writing_one_gib_needs_far_less_than_one_gib_of_memory() {
    const GIB: u64 = 1 << 30;
    // 256 x 1024 x 1024 f32 = 1 GiB, written as slabs of 64 MiB that do not
    // align with the 16 x 256 x 256 chunks: every slab boundary cuts through
    // a row of chunks, forcing read-modify-write of chunks already spilled.
    let (planes, rows, cols) = (256usize, 1024usize, 1024usize);
    let slab_planes = 16usize;
    let _turn = TURN.lock().await;
    let Some(baseline) = start_measuring() else {
        eprintln!("no /proc/self/status: peak memory cannot be measured on this platform");
        return;
    };

    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn ObjectStore> =
        Arc::new(LocalFileSystem::new_with_prefix(dir.path()).unwrap());
    let mut file = ArrayFile::create(
        store.clone(),
        "big.af".into(),
        FileConfig {
            // Small caches so that what is measured is the write path.
            cache_capacity: 16 << 20,
            io_cache_capacity: 0,
            write_buffer_capacity: 0,
            ..FileConfig::new(NoCompression)
        },
    )
    .await
    .unwrap();
    file.define_array::<f32>(
        "volume",
        vec!["z".into(), "y".into(), "x".into()],
        vec![planes, rows, cols],
        Some(vec![16, 256, 256]),
        None,
    )
    .unwrap();

    let mut slab = Array::<f32, _>::zeros(IxDyn(&[slab_planes, rows, cols]));
    // Start at plane 8 so slabs straddle chunk boundaries; the first eight
    // planes are written last.
    let mut z = 8usize;
    while z < planes {
        let n = slab_planes.min(planes - z);
        let mut view = slab.slice_mut(ndarray::s![..n, .., ..]);
        view.fill(z as f32);
        file.write_array("volume", vec![z, 0, 0], view.view().into_dyn())
            .await
            .unwrap();
        z += n;
    }
    let head = Array::<f32, _>::from_elem(IxDyn(&[8, rows, cols]), -1.0);
    file.write_array("volume", vec![0, 0, 0], head.view())
        .await
        .unwrap();
    drop(slab);
    drop(head);
    file.flush().await.unwrap();

    let (peak, _) = rss().unwrap();
    let grown = peak.saturating_sub(baseline);
    eprintln!(
        "wrote {} MiB; peak resident set grew by {} MiB",
        GIB >> 20,
        grown >> 20
    );
    // The caller's slab (64 MiB), one write batch (<= 64 MiB of chunks plus
    // the chunks read back for read-modify-write), one upload part (8 MiB),
    // and the test harness: well under half of what was written.
    assert!(
        grown < GIB / 2,
        "peak memory grew by {} MiB while writing 1 GiB",
        grown >> 20
    );

    // The data is all there, written through the spill file.
    let file = ArrayFile::open(store, "big.af".into(), FileConfig::new(NoCompression))
        .await
        .unwrap();
    for (z, expected) in [
        (0usize, -1.0f32),
        (7, -1.0),
        (8, 8.0),
        (23, 8.0),
        (24, 24.0),
        (255, 248.0),
    ] {
        let w = file
            .read_array::<f32>("volume", vec![z, 1000, 3], vec![1, 2, 2])
            .await
            .unwrap();
        assert!(w.iter().all(|&v| v == expected), "plane {z}: {w:?}");
    }
    let layer_bytes: u64 = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    assert!(layer_bytes >= GIB, "only {layer_bytes} bytes stored");
}

#[tokio::test(flavor = "current_thread")]
async fn unaligned_slabs_stay_within_the_write_buffer() {
    const GIB: u64 = 1 << 30;
    const BUFFER: usize = 64 << 20;
    // W3's shape at half its depth: 256 x 1024 x 1024 f32 in 8 x 256 x 256
    // chunks (2 MiB each, 32 MiB per row of chunks), written by slabs of 5
    // planes, so that every chunk is filled by two or three writes and
    // stays buffered between them.
    let (planes, rows, cols) = (256usize, 1024usize, 1024usize);
    let slab_planes = 5usize;
    let _turn = TURN.lock().await;
    let Some(baseline) = start_measuring() else {
        eprintln!("no /proc/self/status: peak memory cannot be measured on this platform");
        return;
    };

    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn ObjectStore> =
        Arc::new(LocalFileSystem::new_with_prefix(dir.path()).unwrap());
    let config = || FileConfig {
        cache_capacity: 16 << 20,
        io_cache_capacity: 0,
        write_buffer_capacity: BUFFER,
        ..FileConfig::new(Lz4Codec)
    };
    let mut file = ArrayFile::create(store.clone(), "w3.af".into(), config())
        .await
        .unwrap();
    file.define_array::<f32>(
        "volume",
        vec!["z".into(), "y".into(), "x".into()],
        vec![planes, rows, cols],
        Some(vec![8, 256, 256]),
        None,
    )
    .unwrap();
    // Values that vary along every axis, so that lz4 has work to do and a
    // misplaced element shows.
    let value = |z: usize, y: usize, x: usize| (z * 1_000_003 + y * 1031 + x) as f32;
    let mut slab = Array::<f32, _>::zeros(IxDyn(&[slab_planes, rows, cols]));
    for z0 in (0..planes).step_by(slab_planes) {
        let n = slab_planes.min(planes - z0);
        let mut view = slab.slice_mut(ndarray::s![..n, .., ..]);
        view.indexed_iter_mut()
            .for_each(|((z, y, x), v)| *v = value(z0 + z, y, x));
        file.write_array("volume", vec![z0, 0, 0], view.view().into_dyn())
            .await
            .unwrap();
    }
    drop(slab);
    file.flush().await.unwrap();

    let (peak, _) = rss().unwrap();
    let grown = peak.saturating_sub(baseline);
    eprintln!(
        "wrote {} MiB through a {} MiB write buffer; peak resident set grew by {} MiB",
        GIB >> 20,
        BUFFER >> 20,
        grown >> 20
    );
    // The buffer (64 MiB), what one write adds to it before evicting (up
    // to two rows of chunks, 64 MiB), the slab (20 MiB), one eviction
    // round's compressed frames (32 MiB), one upload part (8 MiB) and the
    // test harness.
    assert!(
        grown < 320 << 20,
        "peak memory grew by {} MiB while writing 1 GiB",
        grown >> 20
    );

    let file = ArrayFile::open(store, "w3.af".into(), config())
        .await
        .unwrap();
    for (z, y, x) in [
        (0usize, 0usize, 0usize),
        (4, 1000, 3),
        (7, 255, 256),
        (8, 511, 1023),
        (254, 3, 999),
        (255, 1023, 1023),
    ] {
        let w = file
            .read_array::<f32>("volume", vec![z, y, x], vec![1, 1, 1])
            .await
            .unwrap();
        assert_eq!(w[[0, 0, 0]], value(z, y, x), "element ({z}, {y}, {x})");
    }
}
