//! Pending data spills to a temporary file: writing 1 GiB through many
//! slab writes and committing it must not hold the data in memory.
//!
//! Measures the process's peak resident set (`VmHWM`, Linux only) and
//! requires it to stay far below the amount written.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use array_format::{ArrayFile, FileConfig, NoCompression};
use ndarray::{Array, IxDyn};
use object_store::ObjectStore;
use object_store::local::LocalFileSystem;

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
    let Some((_, baseline)) = rss() else {
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
