//! The library on real S3 servers (`common::s3`: s3s-fs in this process,
//! and moto when one runs): a file
//! written, committed, reopened and read; two writers racing for a layer
//! number, with a conflict on a shared chunk and both landing when their
//! chunks are disjoint; a layer too large for one PUT, committed through a
//! staging object and a create-only copy; compaction keeping the layers it
//! replaced for the retention (a reader of the old version reads on); staged
//! parts.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::Arc;
use std::time::Duration;

use array_format::{
    ArrayFile, AttributeValue, DEFAULT_PART_GRACE, Error, FileConfig, Location, Lz4Codec,
    NoCompression,
};
use ndarray::{ArrayD, IxDyn};
use object_store::ObjectStore;

use crate::common::s3::Bucket;
use object_store::path::Path;

/// Each scenario on both servers: `s3s::` in this process, `moto::` when
/// one runs (else it prints SKIP; CI runs one and sets `REQUIRE_S3=1`).
macro_rules! on_servers {
    ($($scenario:ident),* $(,)?) => {
        mod s3s {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    super::$scenario(crate::common::s3::shared().fresh_bucket()).await;
                }
            )*
        }
        mod moto {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    if let Some(moto) = crate::common::s3::moto(stringify!($scenario)) {
                        super::$scenario(moto.fresh_bucket()).await;
                    }
                }
            )*
        }
    };
}

/// Scenarios that need no S3 URL, also on the Azure emulator: `azurite::`
/// (SKIP without one; CI runs one and sets `REQUIRE_AZURITE=1`).
macro_rules! on_azurite {
    ($($scenario:ident),* $(,)?) => {
        mod azurite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    if let Some(az) = crate::common::azurite::azurite(stringify!($scenario)) {
                        super::$scenario(az.fresh_bucket()).await;
                    }
                }
            )*
        }
    };
}

on_azurite!(
    a_file_round_trips,
    writers_conflict_on_a_shared_chunk_and_both_land_when_disjoint,
    a_layer_larger_than_one_put_commits_through_a_staging_object,
    compaction_keeps_the_replaced_layers_for_the_retention,
    staged_parts_commit_as_one_layer,
);

on_servers!(
    a_file_round_trips,
    writers_conflict_on_a_shared_chunk_and_both_land_when_disjoint,
    a_layer_larger_than_one_put_commits_through_a_staging_object,
    compaction_keeps_the_replaced_layers_for_the_retention,
    staged_parts_commit_as_one_layer,
    an_s3_url_commits_a_large_layer_without_being_told_how,
);

fn grid(rows: usize, cols: usize, f: impl Fn(usize, usize) -> i32) -> ArrayD<i32> {
    ArrayD::from_shape_fn(IxDyn(&[rows, cols]), |ix| f(ix[0], ix[1]))
}

async fn create(store: &Arc<dyn ObjectStore>) -> ArrayFile {
    ArrayFile::create(
        Arc::clone(store),
        Path::from("data/f.af"),
        FileConfig::new(Lz4Codec),
    )
    .await
    .unwrap()
}

async fn open(store: &Arc<dyn ObjectStore>) -> ArrayFile {
    open_with(store, FileConfig::new(Lz4Codec)).await
}

async fn open_with(store: &Arc<dyn ObjectStore>, config: FileConfig<Lz4Codec>) -> ArrayFile {
    ArrayFile::open(Arc::clone(store), Path::from("data/f.af"), config)
        .await
        .unwrap()
}

async fn read(f: &ArrayFile, name: &str) -> ArrayD<i32> {
    f.read_array::<i32>(name, vec![], vec![])
        .await
        .unwrap()
        .into_owned()
}

async fn layer_names(store: &Arc<dyn ObjectStore>) -> Vec<String> {
    use futures::TryStreamExt;
    let mut names: Vec<String> = store
        .list(Some(&Path::from("data")))
        .map_ok(|m| m.location.to_string())
        .try_collect()
        .await
        .unwrap();
    names.sort();
    names
}

async fn a_file_round_trips(bucket: Bucket) {
    let store = bucket.store;
    let data = grid(100, 100, |y, x| (y * 1000 + x) as i32);
    {
        let mut f = create(&store).await;
        f.define_array::<i32>("v", vec![], vec![100, 100], Some(vec![10, 10]), None)
            .unwrap();
        f.write_array("v", vec![0, 0], data.view()).await.unwrap();
        f.set_attribute("v", "units", AttributeValue::String("m".into()))
            .unwrap();
        f.flush().await.unwrap();
    }
    let f = open(&store).await;
    assert_eq!(read(&f, "v").await, data);
    assert_eq!(
        f.get_attribute("v", "units").unwrap().cloned(),
        Some(AttributeValue::String("m".into()))
    );
    assert_eq!(f.versions().await.unwrap().len(), 2);
    assert!(f.verify().await.unwrap().is_ok());
    assert_eq!(
        layer_names(&store).await,
        ["data/f.1.af", "data/f.af"],
        "no staging objects left"
    );
}

async fn writers_conflict_on_a_shared_chunk_and_both_land_when_disjoint(bucket: Bucket) {
    let store = bucket.store;
    {
        let mut f = create(&store).await;
        f.define_array::<i32>("v", vec![], vec![20, 20], Some(vec![10, 10]), None)
            .unwrap();
        f.flush().await.unwrap();
    }
    let (mut a, mut b) = (open(&store).await, open(&store).await);
    let block = |v: i32| grid(10, 10, move |_, _| v);
    // Disjoint chunks: the second writer loses the race for the layer
    // number (a conditional create on the server), and after a refresh
    // commits as the next one.
    a.write_array("v", vec![0, 0], block(1).view())
        .await
        .unwrap();
    b.write_array("v", vec![10, 10], block(2).view())
        .await
        .unwrap();
    a.flush().await.unwrap();
    let raced = b.flush().await.unwrap_err();
    assert!(matches!(raced, Error::Conflict { .. }), "{raced}");
    b.refresh().await.unwrap();
    b.flush().await.unwrap();
    // The same chunk: after the refresh, the commit is refused for good,
    // its change kept.
    a.refresh().await.unwrap();
    a.write_array("v", vec![0, 10], block(3).view())
        .await
        .unwrap();
    b.write_array("v", vec![0, 10], block(4).view())
        .await
        .unwrap();
    a.flush().await.unwrap();
    assert!(matches!(
        b.flush().await.unwrap_err(),
        Error::Conflict { .. }
    ));
    b.refresh().await.unwrap();
    let refused = b.flush().await.unwrap_err();
    assert!(matches!(refused, Error::Conflict { .. }), "{refused}");
    assert!(b.has_pending_changes());
    let f = open(&store).await;
    let v = read(&f, "v").await;
    assert_eq!(
        (v[[0, 0]], v[[19, 19]], v[[0, 19]], v[[19, 0]]),
        (1, 2, 3, 0)
    );
    // The base, the definition, and three commits.
    assert_eq!(f.versions().await.unwrap().len(), 5);
}

async fn a_layer_larger_than_one_put_commits_through_a_staging_object(bucket: Bucket) {
    let store = bucket.store;
    let data = large();
    {
        let mut f = ArrayFile::create(
            Arc::clone(&store),
            Path::from("data/f.af"),
            FileConfig::new(NoCompression),
        )
        .await
        .unwrap();
        f.define_array::<i32>("v", vec![], vec![1280, 4096], Some(vec![128, 4096]), None)
            .unwrap();
        f.write_array("v", vec![0, 0], data.view()).await.unwrap();
        f.flush().await.unwrap();
    }
    let f = open(&store).await;
    assert_eq!(read(&f, "v").await, data);
    assert!(f.verify().await.unwrap().is_ok());
    assert_eq!(layer_names(&store).await, ["data/f.1.af", "data/f.af"]);
}

async fn compaction_keeps_the_replaced_layers_for_the_retention(bucket: Bucket) {
    let store = bucket.store;
    let mut f = create(&store).await;
    f.define_array::<i32>("v", vec![], vec![40, 10], Some(vec![10, 10]), None)
        .unwrap();
    f.flush().await.unwrap();
    for k in 0..4 {
        let row = grid(10, 10, move |_, _| k + 1);
        f.write_array("v", vec![10 * k as usize, 0], row.view())
            .await
            .unwrap();
        f.flush().await.unwrap();
    }
    // A reader elsewhere, of version 5, reading nothing yet.
    let uncached = FileConfig {
        cache_capacity: 0,
        io_cache_capacity: 0,
        ..FileConfig::new(Lz4Codec)
    };
    let reader = open_with(&store, uncached).await;
    // Layers 1 (the definition) to 5 become snapshot 6, and stay.
    f.compact().await.unwrap();
    let all: Vec<String> = (1..=6)
        .map(|n| format!("data/f.{n}.af"))
        .chain(["data/f.af".to_string()])
        .collect();
    assert_eq!(layer_names(&store).await, all);
    let check = |v: ArrayD<i32>| assert_eq!((v[[0, 0]], v[[15, 3]], v[[39, 9]]), (1, 2, 4));
    check(read(&reader, "v").await);
    let g = open(&store).await;
    check(read(&g, "v").await);
    assert!(g.verify().await.unwrap().is_ok());
    assert!(f.vacuum().await.unwrap().deleted.is_empty());
    // Past the retention (none here), vacuum deletes them, and the reader
    // of version 5 finds its layers gone.
    let report = f
        .vacuum_with(Duration::ZERO, DEFAULT_PART_GRACE)
        .await
        .unwrap();
    assert_eq!(report.deleted.len(), 5, "{report:?}");
    assert_eq!(layer_names(&store).await, ["data/f.6.af", "data/f.af"]);
    let gone = reader.read_array::<i32>("v", vec![], vec![]).await;
    assert!(matches!(gone, Err(Error::Vanished { .. })), "{gone:?}");
    check(read(&open(&store).await, "v").await);
}

async fn staged_parts_commit_as_one_layer(bucket: Bucket) {
    let store = bucket.store;
    {
        let mut f = create(&store).await;
        f.define_array::<i32>("v", vec![], vec![40, 10], Some(vec![10, 10]), None)
            .unwrap();
        f.flush().await.unwrap();
    }
    let mut parts = Vec::new();
    for k in 0..4 {
        let mut w = open(&store).await;
        let row = grid(10, 10, move |_, _| k + 1);
        w.write_array("v", vec![10 * k as usize, 0], row.view())
            .await
            .unwrap();
        parts.push(w.stage().await.unwrap());
    }
    let mut c = open(&store).await;
    c.commit_parts(&parts).await.unwrap();
    // Repeating the commit (its reply lost, say) commits nothing twice.
    c.commit_parts(&parts).await.unwrap();
    let f = open(&store).await;
    let v = read(&f, "v").await;
    assert_eq!((v[[0, 0]], v[[15, 3]], v[[39, 9]]), (1, 2, 4));
    let newest = f.versions().await.unwrap().pop().unwrap();
    assert_eq!((newest.layer, newest.parts), (2, 4));
}

/// 20 MiB of random `i32` (no codec shrinks it): above the single-PUT
/// limit (16 MiB).
fn large() -> ArrayD<i32> {
    let mut x: u32 = 0x9E37_79B9;
    ArrayD::from_shape_fn(IxDyn(&[1280, 4096]), |_| {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x as i32
    })
}

/// An `s3://` URL, parsed as the `af` tool and the Python package parse
/// it, names the bucket and the file; its layers above the single-PUT
/// limit commit with a create-only copy the URL does not have to ask for.
async fn an_s3_url_commits_a_large_layer_without_being_told_how(bucket: Bucket) {
    let url = format!("s3://{}/data/u.af", bucket.name);
    let at = Location::parse_with_options(&url, bucket.url_options()).unwrap();
    let data = large();
    {
        let mut f = ArrayFile::create_at(&at, FileConfig::new(NoCompression))
            .await
            .unwrap();
        f.define_array::<i32>("v", vec![], vec![1280, 4096], Some(vec![128, 4096]), None)
            .unwrap();
        f.write_array("v", vec![0, 0], data.view()).await.unwrap();
        f.flush().await.unwrap();
    }
    let f = ArrayFile::open_at(&at, FileConfig::new(Lz4Codec))
        .await
        .unwrap();
    assert_eq!(read(&f, "v").await, data);
    let names = layer_names(&bucket.store).await;
    assert_eq!(
        names,
        ["data/u.1.af", "data/u.af"],
        "no staging object left"
    );
}
