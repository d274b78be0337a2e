//! The buffer of partly written chunks (`FileConfig::write_buffer_capacity`):
//! reads see the newest values of chunks still buffered, evicted and loaded
//! back again; statistics are those of a chunk's final values; discarding the
//! pending layer and conflicts with other writers work on buffered chunks as
//! on stored ones.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::Arc;

use array_format::{ArrayFile, Error, FileConfig, FillValue, Lz4Codec, StatValue};
use ndarray::{ArrayD, IxDyn, SliceInfoElem};
use object_store::memory::InMemory;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const FILL: f32 = -1.0;
const SHAPE: [usize; 3] = [20, 12, 9];
const CHUNK: [usize; 3] = [8, 5, 4];
/// Bytes of one full chunk.
const CHUNK_BYTES: usize = 8 * 5 * 4 * 4;

fn config(capacity: usize) -> FileConfig<Lz4Codec> {
    FileConfig {
        write_buffer_capacity: capacity,
        frame_target_size: 64,
        block_target_size: 4096,
        ..FileConfig::new(Lz4Codec)
    }
}

async fn define(file: &mut ArrayFile) {
    file.define_array::<f32>(
        "v",
        vec!["z".into(), "y".into(), "x".into()],
        SHAPE.to_vec(),
        Some(CHUNK.to_vec()),
        Some(FillValue::Float(f64::from(FILL))),
    )
    .unwrap();
}

fn slice(start: &[usize], shape: &[usize]) -> Vec<SliceInfoElem> {
    start
        .iter()
        .zip(shape)
        .map(|(&s, &n)| SliceInfoElem::Slice {
            start: s as isize,
            end: Some((s + n) as isize),
            step: 1,
        })
        .collect()
}

/// A random box inside the array: mostly small and unaligned, sometimes
/// large enough to cover whole chunks.
fn random_box(rng: &mut StdRng) -> (Vec<usize>, Vec<usize>) {
    let big = rng.random_bool(0.3);
    let mut start = Vec::new();
    let mut shape = Vec::new();
    for &n in &SHAPE {
        let len = if big {
            rng.random_range(1..=n)
        } else {
            rng.random_range(1..=n.min(6))
        };
        start.push(rng.random_range(0..=n - len));
        shape.push(len);
    }
    (start, shape)
}

async fn check_read(file: &ArrayFile, model: &ArrayD<f32>, start: &[usize], shape: &[usize]) {
    let got = file
        .read_array::<f32>("v", start.to_vec(), shape.to_vec())
        .await
        .unwrap();
    let want = model.slice(slice(start, shape).as_slice());
    assert_eq!(got.view(), want, "region {start:?} + {shape:?}");
}

#[tokio::test]
async fn unaligned_writes_read_back_their_newest_values_at_every_budget() {
    // No buffer, a buffer of three chunks (constant eviction and reloading),
    // and one that holds everything until the commit.
    for capacity in [0, 3 * CHUNK_BYTES, 1 << 30] {
        let mut rng = StdRng::seed_from_u64(capacity as u64);
        let mut file = ArrayFile::create_memory(config(capacity)).await.unwrap();
        define(&mut file).await;
        let mut model = ArrayD::from_elem(IxDyn(&SHAPE), FILL);
        for step in 0..60usize {
            let (start, shape) = random_box(&mut rng);
            let data = ArrayD::from_shape_fn(IxDyn(&shape), |ix| {
                (step * 1000 + ix[0] * 100 + ix[1] * 10 + ix[2]) as f32
            });
            file.write_array("v", start.clone(), data.view())
                .await
                .unwrap();
            model
                .slice_mut(slice(&start, &shape).as_slice())
                .assign(&data);
            let (rs, rsh) = random_box(&mut rng);
            check_read(&file, &model, &rs, &rsh).await;
            check_read(&file, &model, &[0, 0, 0], &SHAPE).await;
            if step % 20 == 19 {
                file.flush().await.unwrap();
                check_read(&file, &model, &[0, 0, 0], &SHAPE).await;
            }
        }
        file.flush().await.unwrap();
        check_read(&file, &model, &[0, 0, 0], &SHAPE).await;

        // Statistics of the final values: every element equal to the fill
        // (written or not) is null, the others give min and max.
        let stats = file.array_stats("v").unwrap();
        let nulls = model.iter().filter(|&&v| v == FILL).count() as u64;
        let values = || model.iter().copied().filter(|&v| v != FILL);
        let min = values().fold(f32::INFINITY, f32::min);
        let max = values().fold(f32::NEG_INFINITY, f32::max);
        assert_eq!(stats.null_count, nulls, "capacity {capacity}");
        assert_eq!(stats.min, Some(StatValue::Float(f64::from(min))));
        assert_eq!(stats.max, Some(StatValue::Float(f64::from(max))));
    }
}

#[tokio::test]
async fn discarding_the_pending_layer_drops_buffered_chunks() {
    let mut file = ArrayFile::create_memory(config(1 << 20)).await.unwrap();
    define(&mut file).await;
    let ones = ArrayD::from_elem(IxDyn(&SHAPE), 1.0f32);
    file.write_array("v", vec![0, 0, 0], ones.view())
        .await
        .unwrap();
    file.flush().await.unwrap();
    let layers = file.num_layers();

    let patch = ArrayD::from_elem(IxDyn(&[3, 3, 3]), 7.0f32);
    file.write_array("v", vec![6, 3, 2], patch.view())
        .await
        .unwrap();
    assert!(file.has_pending_changes());
    let mut model = ones.clone();
    model
        .slice_mut(slice(&[6, 3, 2], &[3, 3, 3]).as_slice())
        .fill(7.0);
    check_read(&file, &model, &[0, 0, 0], &SHAPE).await;

    file.discard_pending();
    assert!(!file.has_pending_changes());
    check_read(&file, &ones, &[0, 0, 0], &SHAPE).await;
    file.flush().await.unwrap();
    assert_eq!(file.num_layers(), layers);
}

#[tokio::test]
async fn another_writers_change_to_a_buffered_chunk_is_a_conflict() {
    let store = Arc::new(InMemory::new());
    let mut a = ArrayFile::create(store.clone(), "c.af".into(), config(1 << 20))
        .await
        .unwrap();
    define(&mut a).await;
    a.flush().await.unwrap();
    let mut b = ArrayFile::open(store, "c.af".into(), config(1 << 20))
        .await
        .unwrap();

    // Both patch part of chunk (0, 0, 0); B commits first.
    let mine = ArrayD::from_elem(IxDyn(&[1, 1, 2]), 5.0f32);
    a.write_array("v", vec![0, 0, 0], mine.view())
        .await
        .unwrap();
    let theirs = ArrayD::from_elem(IxDyn(&[1, 1, 1]), 9.0f32);
    b.write_array("v", vec![1, 1, 1], theirs.view())
        .await
        .unwrap();
    b.flush().await.unwrap();

    let e = a.flush().await.unwrap_err();
    assert!(matches!(e, Error::Conflict { .. }), "{e}");
    a.refresh().await.unwrap();
    let e = a.flush().await.unwrap_err();
    assert!(matches!(e, Error::Conflict { .. }), "{e}");
    // The pending change is intact: nothing was lost to the failed commits.
    let got = a
        .read_array::<f32>("v", vec![0, 0, 0], vec![1, 1, 2])
        .await
        .unwrap();
    assert!(got.iter().all(|&v| v == 5.0), "{got:?}");
    assert!(a.has_pending_changes());
}
