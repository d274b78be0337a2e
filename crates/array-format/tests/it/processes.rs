//! Many processes on one file on an S3 server: three writer processes
//! commit rounds (each round two chunks of the writer's own row, and the
//! shared chunk all of them overwrite), one process compacts and vacuums,
//! two read the whole array over and over, refreshing now and then, until
//! the compactor has compacted at least twice and the writers are done. No
//! acknowledged commit is lost, every read is a committed version (a
//! round's two chunks are seen together, no chunk goes back in time), and
//! no read fails: the layers compactions replace stay for the retention.
//!
//! The processes are this test binary run again on the ignored test
//! [`child`], told its role by environment variables.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use array_format::{ArrayFile, Error, FileConfig, Lz4Codec};
use ndarray::{ArrayD, IxDyn};
use object_store::ObjectStore;
use object_store::path::Path;

use crate::common::s3::Bucket;

const NAME: &str = "p.af";
const WRITERS: usize = 3;
const ROUNDS: usize = 16;
/// Chunks in each writer's row.
const COLS: usize = 4;
const CHUNK: usize = 256;
/// The row every writer also writes, in column 0.
const SHARED: usize = WRITERS;
/// Children print their reports on lines starting with this.
const REPORT: &str = "AF-CHILD ";

fn value(writer: usize, round: usize) -> i32 {
    (writer * 1000 + round) as i32
}

fn config() -> FileConfig<Lz4Codec> {
    FileConfig {
        cache_capacity: 0,
        io_cache_capacity: 0,
        ..FileConfig::new(Lz4Codec)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writers_a_compactor_and_readers_in_processes_s3s() {
    run(crate::common::s3::shared().fresh_bucket()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writers_a_compactor_and_readers_in_processes_moto() {
    if let Some(moto) = crate::common::s3::moto("writers_a_compactor_and_readers_in_processes_moto")
    {
        run(moto.fresh_bucket()).await;
    }
}

fn spawn(bucket: &Bucket, role: &str, id: usize, stop: &std::path::Path) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "processes::child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("AF_CHILD_ROLE", role)
        .env("AF_CHILD_ID", id.to_string())
        .env("AF_CHILD_ENDPOINT", &bucket.endpoint)
        .env("AF_CHILD_BUCKET", &bucket.name)
        .env("AF_CHILD_STOP", stop)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits for `child`; its report lines, or a panic with its output if it
/// failed.
fn reports(child: Child, what: &str) -> Vec<String> {
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{what} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<String> = stdout
        .lines()
        // libtest may print its own words before ours on the line.
        .filter_map(|l| l.find(REPORT).map(|at| l[at + REPORT.len()..].to_owned()))
        .collect();
    assert!(!lines.is_empty(), "{what} reported nothing:\n{stdout}");
    lines
}

async fn run(bucket: Bucket) {
    let mut f = ArrayFile::create(Arc::clone(&bucket.store), Path::from(NAME), config())
        .await
        .unwrap();
    f.define_array::<i32>(
        "v",
        vec![],
        vec![WRITERS + 1, COLS * CHUNK],
        Some(vec![1, CHUNK]),
        None,
    )
    .unwrap();
    f.flush().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let stop = dir.path().join("stop");
    let others: Vec<(String, Child)> = [("compactor", 0), ("reader", 0), ("reader", 1)]
        .into_iter()
        .map(|(role, id)| (format!("{role} {id}"), spawn(&bucket, role, id, &stop)))
        .collect();
    let writers: Vec<Child> = (0..WRITERS)
        .map(|k| spawn(&bucket, "writer", k, &stop))
        .collect();
    let mut acked: HashSet<(usize, usize)> = HashSet::new();
    for (k, w) in writers.into_iter().enumerate() {
        for line in reports(w, &format!("writer {k}")) {
            let mut words = line.split_whitespace();
            assert_eq!(words.next(), Some("acked"), "{line}");
            let round: usize = words.next().unwrap().parse().unwrap();
            acked.insert((k, round));
        }
    }
    // The compactor stops once the writers are done and it has compacted
    // twice; the readers read until then.
    std::fs::write(&stop, b"").unwrap();
    let mut others = others.into_iter();
    let (what, compactor) = others.next().unwrap();
    let lines = reports(compactor, &what);
    eprintln!("{what}: {}", lines.join("; "));
    std::fs::write(stop.with_extension("readers"), b"").unwrap();
    for (what, child) in others {
        let lines = reports(child, &what);
        eprintln!("{what}: {}", lines.join("; "));
        let count: usize = lines
            .last()
            .unwrap()
            .split_whitespace()
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        assert!(count > 0, "{what}: {lines:?}");
    }
    // Every writer's every round was acknowledged, and the file holds
    // each one's last writes.
    assert_eq!(acked.len(), WRITERS * ROUNDS);
    let g = ArrayFile::open(Arc::clone(&bucket.store), Path::from(NAME), config())
        .await
        .unwrap();
    let v = read(&g).await;
    for k in 0..WRITERS {
        for c in 0..COLS {
            let last = (1..=ROUNDS)
                .rev()
                .find(|r| r % COLS == c || (r + 1) % COLS == c)
                .map_or(0, |r| value(k, r));
            assert_eq!(chunk(&v, k, c), last, "writer {k}, chunk {c}");
        }
    }
    let shared = chunk(&v, SHARED, 0);
    assert!(
        (0..WRITERS).any(|k| shared == value(k, ROUNDS)),
        "the shared chunk holds {shared}, no writer's last round"
    );
    assert!(g.verify().await.unwrap().is_ok());
}

async fn read(f: &ArrayFile) -> ArrayD<i32> {
    f.read_array::<i32>("v", vec![], vec![])
        .await
        .unwrap()
        .into_owned()
}

/// The value of chunk `c` of row `row`, checking that the chunk holds one
/// value.
fn chunk(v: &ArrayD<i32>, row: usize, c: usize) -> i32 {
    let first = v[[row, c * CHUNK]];
    for i in 0..CHUNK {
        assert_eq!(v[[row, c * CHUNK + i]], first, "row {row}, chunk {c}: torn");
    }
    first
}

/// The checks a reader makes of one read: every writer's newest round is
/// whole (both its chunks), and no chunk is older than in `seen`.
fn check_read(v: &ArrayD<i32>, seen: &mut BTreeMap<(usize, usize), i32>) {
    for k in 0..WRITERS {
        let values: Vec<i32> = (0..COLS).map(|c| chunk(v, k, c)).collect();
        let newest = *values.iter().max().unwrap();
        if newest > 0 {
            let r = (newest - value(k, 0)) as usize;
            assert_eq!(
                values[r % COLS],
                newest,
                "writer {k}, round {r}: {values:?}"
            );
            assert_eq!(
                values[(r + 1) % COLS],
                newest,
                "writer {k}, round {r}: {values:?}"
            );
        }
        for (c, &x) in values.iter().enumerate() {
            let before = seen.insert((k, c), x).unwrap_or(0);
            assert!(
                x >= before,
                "writer {k}, chunk {c} went back: {before} -> {x}"
            );
        }
    }
}

/// One process of [`run`]: its role comes from `AF_CHILD_ROLE`. Run alone
/// (no role), it does nothing.
#[test]
#[ignore = "a child process of the tests above, which run it"]
fn child() {
    let Ok(role) = std::env::var("AF_CHILD_ROLE") else {
        return;
    };
    let var = |name: &str| std::env::var(name).unwrap();
    let id: usize = var("AF_CHILD_ID").parse().unwrap();
    let store = crate::common::s3::client(&var("AF_CHILD_ENDPOINT"), &var("AF_CHILD_BUCKET"));
    let stop = PathBuf::from(var("AF_CHILD_STOP"));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        match role.as_str() {
            "writer" => writer(store, id).await,
            "compactor" => compactor(store, &stop).await,
            "reader" => reader(store, id, &stop).await,
            other => panic!("no role {other:?}"),
        }
    });
}

async fn open(store: &Arc<dyn ObjectStore>) -> ArrayFile {
    ArrayFile::open(Arc::clone(store), Path::from(NAME), config())
        .await
        .unwrap()
}

async fn writer(store: Arc<dyn ObjectStore>, k: usize) {
    let mut f = open(&store).await;
    for r in 1..=ROUNDS {
        let block = ArrayD::from_elem(IxDyn(&[1, CHUNK]), value(k, r));
        for attempt in 0.. {
            assert!(
                attempt < 200,
                "writer {k}, round {r}: no commit in 200 attempts"
            );
            for c in [r % COLS, (r + 1) % COLS, usize::MAX] {
                let (row, col) = if c == usize::MAX { (SHARED, 0) } else { (k, c) };
                f.write_array("v", vec![row, col * CHUNK], block.view())
                    .await
                    .unwrap();
            }
            match f.flush().await {
                Ok(()) => break,
                // Another writer took the number, or wrote the shared
                // chunk since this view: start over from a fresh one.
                Err(Error::Conflict { .. }) => {
                    f.discard_pending();
                    f.refresh().await.unwrap();
                }
                Err(e) => panic!("writer {k}, round {r}: {e}"),
            }
        }
        println!("{REPORT}acked {r}");
        // Room for the compactor and the readers between rounds.
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
}

async fn compactor(store: Arc<dyn ObjectStore>, stop: &std::path::Path) {
    let mut f = open(&store).await;
    let mut compactions = 0usize;
    while !stop.exists() || compactions < 2 {
        if stop.exists() {
            // A layer for the last compactions to merge (the writers are
            // done: this view is the newest once refreshed).
            f.refresh().await.unwrap();
            let n = i64::try_from(compactions).unwrap();
            f.set_attribute("v", "compacted", array_format::AttributeValue::Int64(n))
                .unwrap();
            f.flush().await.unwrap();
        }
        match f.compact().await {
            Ok(()) => {
                compactions += 1;
                f.vacuum().await.unwrap();
            }
            Err(Error::Conflict { .. }) => {}
            Err(e) => panic!("compaction: {e}"),
        }
        f.refresh().await.unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    println!("{REPORT}compactions {compactions}");
}

async fn reader(store: Arc<dyn ObjectStore>, id: usize, stop: &std::path::Path) {
    let mut f = open(&store).await;
    let mut seen = BTreeMap::new();
    let mut reads = 0usize;
    let stop = stop.with_extension("readers");
    loop {
        let finished = stop.exists();
        let v = read(&f).await;
        check_read(&v, &mut seen);
        reads += 1;
        if reads.is_multiple_of(3 + id) {
            f.refresh().await.unwrap();
        }
        if finished {
            break;
        }
    }
    println!("{REPORT}reads {reads}");
}
