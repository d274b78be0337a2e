//! W6, W1 and W2 on a loopback S3 server: array-format, its 0.10 release
//! and zarrs (through `zarrs_object_store`) each write to a bucket of their
//! own on one S3 server in this process (af-testkit's `s3s-fs` on
//! 127.0.0.1, serving a temporary directory), and read back through the
//! same `object_store` S3 client. Every request is counted by af-testkit's
//! `CountingStore` around the client, and every GET timed (first byte sent
//! to last byte read) by a `TimedStore` under it.
//!
//! - W1-shaped: 10,000 arrays of 10,000 random i32 (lz4; zarrs: one
//!   `[n, 10000]` array, row chunks in shards of 1,000 rows). Per system:
//!   the write, the open, a read of every array whole (24 tasks x 8 reads,
//!   fresh handle, open excluded), and cold reads of one array each through
//!   a freshly opened handle: time, requests and bytes fetched of each.
//! - W2-shaped: 8192 x 8192 f32 in 256 x 256 chunks, zstd 3; 300 random
//!   non-aligned chunk-sized windows (the same for every system) through a
//!   fresh handle, caches off and default caches (zarrs: its defaults):
//!   mean and p99 latency, requests and bytes per window.
//!
//! Limits: the compressed size of what each read needs (one array's frame;
//! the chunks a window touches), the codec alone on the same data, and the
//! same GETs array-format sent, replayed on the bare client (as many in
//! flight as array-format had, or one at a time): the server and client's
//! own cost for those byte ranges. "Where the time goes" splits
//! array-format's W1 read and W2 windows into time with a GET in flight,
//! the sum and longest of the GETs' latencies, and the rest.
//!
//! `cargo bench --bench w6`; `AF_BENCH_SCALE=0.1` for a tenth of the
//! arrays, windows and grid (the side scales with the square root);
//! `AF_BENCH_S3=moto` with `AF_TEST_MOTO_ENDPOINT=http://127.0.0.1:PORT`
//! runs against a moto server instead.

use std::future::Future;
use std::sync::Arc;

use af_bench::remote::{self, Remote, Traffic};
use af_bench::timed_store::SpanStats;
use af_bench::zarrs_peer::{self, Codec};
use af_bench::{Data, OURS, Table, V010, ZARRS, median_of, ours, v010, wants, zarrs_s3};
use af_testkit::s3::{Bucket, Moto, S3Server};
use rand::{Rng, SeedableRng};

/// Elements of a W1 array.
const LEN: usize = 10_000;
/// W1 arrays at scale 1.
const ARRAYS: usize = 10_000;
/// Cold one-array reads, each through a fresh handle.
const COLD_READS: usize = 30;
/// Side of a W2 chunk and window.
const CHUNK: usize = 256;
/// W2 windows at scale 1.
const WINDOWS: usize = 300;
/// W1 reads: tasks, and reads in flight per task (as in W1).
const TASKS: usize = 24;
const PER_TASK: usize = 8;

const GIB: f64 = (1u64 << 30) as f64;
const MIB: f64 = (1u64 << 20) as f64;
const KIB: f64 = 1024.0;

/// The S3 server every system shares.
enum Server {
    S3s(S3Server),
    Moto(Moto),
}

impl Server {
    fn start() -> Server {
        if std::env::var("AF_BENCH_S3").as_deref() == Ok("moto") {
            let moto = af_testkit::s3::moto("w6").expect("AF_TEST_MOTO_ENDPOINT names no server");
            Server::Moto(moto)
        } else {
            Server::S3s(S3Server::start())
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Server::S3s(_) => "s3s-fs",
            Server::Moto(_) => "moto",
        }
    }

    /// A fresh bucket behind the counting and timing wrappers.
    fn bucket(&self) -> Remote {
        let Bucket { store, .. } = match self {
            Server::S3s(s) => s.fresh_bucket(),
            Server::Moto(m) => m.fresh_bucket(),
        };
        Remote::new(store)
    }
}

fn main() {
    let server = Server::start();
    let rt = af_bench::runtime();
    let mut table = Table::default();
    eprintln!("W6 on {}", server.name());
    server_cost(&server, &rt, &mut table);
    w1(&server, &rt, &mut table);
    w2(&server, &rt, &mut table);
    table.print(&format!(
        "W6: W1 and W2 on a loopback S3 server ({})",
        server.name()
    ));
}

/// Adds a read's rows: requests and bytes per read (the read's own time is
/// added by the caller).
fn traffic_rows(table: &mut Table, case: &str, system: &str, t: &[Traffic]) {
    let n = t.len().max(1) as f64;
    let requests = t.iter().map(Traffic::total).sum::<usize>() as f64 / n;
    let bytes = t.iter().map(Traffic::bytes_read).sum::<u64>() as f64 / n;
    table.push(&format!("{case}: requests"), system, requests, "", false);
    table.push(
        &format!("{case}: KiB fetched"),
        system,
        bytes / KIB,
        "KiB",
        false,
    );
    if let Some(first) = t.first() {
        eprintln!("    {system}: {case}: {}", first.describe());
    }
    if let [one] = t
        && one.total() <= 8
    {
        for r in &one.requests {
            eprintln!("      {:?} {} {:?}: {} B", r.kind, r.path, r.range, r.bytes);
        }
    }
    if t.len() > 1 {
        // How often each size occurs: a read unit that differs between
        // handles shows up here.
        let mut sizes: Vec<(u64, usize)> = Vec::new();
        for kib in t.iter().map(|t| t.bytes_read() >> 10) {
            match sizes.iter_mut().find(|(k, _)| *k == kib) {
                Some((_, n)) => *n += 1,
                None => sizes.push((kib, 1)),
            }
        }
        sizes.sort_by_key(|&(_, n)| std::cmp::Reverse(n));
        let shown: Vec<String> = sizes
            .iter()
            .take(6)
            .map(|(k, n)| format!("{k} KiB x{n}"))
            .collect();
        eprintln!(
            "    {system}: {case}: fetched per read: {}",
            shown.join(", ")
        );
    }
}

/// Runs `read` on each item, forgetting the traffic before each and taking
/// it after; returns the seconds each reported and the traffic of each.
async fn each<T: Copy, F, Fut>(
    remote: &Remote,
    items: &[T],
    mut read: F,
) -> (Vec<f64>, Vec<Traffic>)
where
    F: FnMut(T) -> Fut,
    Fut: Future<Output = f64>,
{
    let mut times = Vec::with_capacity(items.len());
    let mut traffic = Vec::with_capacity(items.len());
    for &item in items {
        remote.reset();
        times.push(read(item).await);
        traffic.push(remote.take());
    }
    (times, traffic)
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

/// Mean and 99th percentile.
fn mean_p99(v: &[f64]) -> (f64, f64) {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let i = ((s.len() as f64 * 0.99).ceil() as usize).clamp(1, s.len().max(1)) - 1;
    (mean(&s), s.get(i).copied().unwrap_or(f64::NAN))
}

/// The server's own cost for one GET by size: what a read pays per request
/// and per byte on this server and client.
fn server_cost(server: &Server, rt: &tokio::runtime::Runtime, table: &mut Table) {
    let sizes = [1 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20, 4 << 20];
    let remote = server.bucket();
    let times = rt.block_on(remote::get_cost(remote.bare(), &sizes, 21));
    for (size, t) in sizes.iter().zip(times) {
        let what = format!("{} KiB", size >> 10);
        table.time("server: one bare GET, one at a time", &what, t, "ms");
    }
    // A flush of a layer over 16 MiB uploads it in parts of 8 MiB and
    // links it into place with `copy_if_not_exists`.
    let (put, upload, copy) = rt.block_on(remote::write_cost(remote.bare(), 16, 64, 8));
    let case = "server: bare writes, one at a time";
    table.rate(case, "PUT of 16 MiB", 16.0 / put, "MiB/s");
    table.rate(
        case,
        "multipart upload of 64 MiB, 8 MiB parts",
        64.0 / upload,
        "MiB/s",
    );
    table.rate(case, "copy_if_not_exists of 64 MiB", 64.0 / copy, "MiB/s");
}

// ---- W1 ----------------------------------------------------------------

/// The W1 phases on one system, through the generic calls in `$m::remote`
/// (array-format and 0.10 share them).
macro_rules! af_w1 {
    ($m:ident, $system:expr, $server:expr, $rt:expr, $table:expr, $arrays:expr, $cold:expr) => {{
        let (system, rt, table, arrays, cold) = ($system, $rt, &mut *$table, $arrays, $cold);
        let n = arrays.len();
        let remote = $server.bucket();
        let (w, f, c) = rt.block_on($m::remote::w1_write(remote.store(), Codec::Lz4, arrays));
        let write = remote.take();
        eprintln!(
            "    {system}: write {w:.3} s, flush {f:.3} s, compact {c:.3} s; {}",
            write.describe()
        );
        table.time("W1 write+flush+compact", system, w + f + c, "s");
        table.push(
            "W1 write: requests",
            system,
            write.total() as f64,
            "",
            false,
        );

        let mut open = Traffic::default();
        let t = median_of(|| {
            remote.reset();
            let (s, file) = rt.block_on($m::remote::w1_open(remote.store(), Codec::Lz4));
            open = remote.take();
            drop(file);
            s
        });
        table.time("W1 open", system, t, "ms");
        traffic_rows(table, "W1 open", system, std::slice::from_ref(&open));

        // The traffic, the most GETs in flight and the wall time of one
        // repetition (the last), for "where the time goes".
        let (mut read, mut read_secs, mut in_flight) = (Traffic::default(), 0.0, 0);
        let t = median_of(|| {
            let (_, file) = rt.block_on($m::remote::w1_open(remote.store(), Codec::Lz4));
            remote.reset();
            read_secs = af_bench::secs(|| {
                rt.block_on($m::read_all(Arc::new(file), n, TASKS, PER_TASK));
            });
            in_flight = remote.max_in_flight();
            read = remote.take();
            read_secs
        });
        let raw = (n * LEN * 4) as f64;
        table.rate("W1 read all", system, raw / t / GIB, "GiB/s");
        traffic_rows(table, "W1 read all", system, std::slice::from_ref(&read));

        let (store, remote_ref) = (remote.store(), &remote);
        let (times, traffic) = rt.block_on(each(&remote, cold, move |i| {
            let store = Arc::clone(&store);
            async move {
                let (_, file) = $m::remote::w1_open(store, Codec::Lz4).await;
                remote_ref.reset();
                $m::remote::w1_read_one(&file, i, LEN).await
            }
        }));
        table.time("W1 cold read of one array", system, mean(&times), "ms");
        traffic_rows(table, "W1 cold read of one array", system, &traffic);
        (remote, read, read_secs, in_flight, traffic)
    }};
}

fn w1(server: &Server, rt: &tokio::runtime::Runtime, table: &mut Table) {
    let n = af_bench::scaled(ARRAYS);
    eprintln!(
        "W1: {n} arrays x {LEN} random i32, lz4 ({:.2} GiB)",
        (n * LEN * 4) as f64 / GIB
    );
    let arrays: Vec<Vec<i32>> = (0..n).map(|i| Data::Random.i32s(i, LEN)).collect();
    let cold = af_bench::random_indices(n, COLD_READS, 7);

    let (remote, read, read_secs, in_flight, cold_traffic) =
        af_w1!(ours, OURS, server, rt, table, &arrays, &cold);
    if wants(V010) {
        af_w1!(v010, V010, server, rt, table, &arrays, &cold);
    }
    if wants(ZARRS) {
        zarrs_w1(server, rt, table, &arrays, &cold);
    }

    // Limits: what the arrays occupy in ours' file.
    let (_, file) = rt.block_on(ours::remote::w1_open(remote.store(), Codec::Lz4));
    let stored: Vec<u64> = (0..n)
        .map(|i| {
            file.array_storage(&ours::name(i))
                .expect("array_storage")
                .stored_bytes
        })
        .collect();
    let total: u64 = stored.iter().sum();
    let one = cold.iter().map(|&i| stored[i]).sum::<u64>() as f64 / cold.len() as f64;
    let limit = "limit: compressed size";
    table.push(
        "W1 read all: KiB fetched",
        limit,
        total as f64 / KIB,
        "KiB",
        false,
    );
    table.push(
        "W1 cold read of one array: requests",
        "limit",
        1.0,
        "",
        false,
    );
    table.push(
        "W1 cold read of one array: KiB fetched",
        limit,
        one / KIB,
        "KiB",
        false,
    );

    // The same GETs on the bare client, as many in flight as ours had.
    let gets = read.gets();
    let bare = median_of(|| rt.block_on(remote::replay(remote.bare(), &gets, in_flight)));
    let raw = (n * LEN * 4) as f64;
    let bare_limit = format!(
        "limit: ours' {} GETs, bare, {in_flight} in flight",
        gets.len()
    );
    table.rate("W1 read all", &bare_limit, raw / bare / GIB, "GiB/s");
    let cold_gets: Vec<_> = cold_traffic.iter().flat_map(Traffic::gets).collect();
    let one_by_one = rt.block_on(remote::one_by_one(remote.bare(), &cold_gets));
    let per_read = cold_gets.len() as f64 / cold_traffic.len().max(1) as f64;
    table.time(
        "W1 cold read of one array",
        &format!("limit: ours' {per_read:.1} GETs, bare, one at a time"),
        one_by_one * per_read,
        "ms",
    );

    // Where the time goes in ours' read of every array.
    let decode = lz4_decode_secs(&arrays);
    let s = read.get_stats();
    let case = "W1 read all, ours: where the time goes";
    let label = format!("same GETs, bare client, {in_flight} in flight");
    where_rows(table, case, read_secs, &s, decode, bare, &label);
    let mean_sequential = rt.block_on(remote::one_by_one(
        remote.bare(),
        &gets[..gets.len().min(100)],
    ));
    per_get_rows(table, "W1 read all", &s, mean_sequential);
}

/// The W1 phases on zarrs.
fn zarrs_w1(
    server: &Server,
    rt: &tokio::runtime::Runtime,
    table: &mut Table,
    arrays: &[Vec<i32>],
    cold: &[usize],
) {
    let n = arrays.len();
    let remote = server.bucket();
    let w = rt.block_on(zarrs_s3::w1_write(remote.store(), Codec::Lz4, arrays));
    let write = remote.take();
    eprintln!("    zarrs: write {w:.3} s; {}", write.describe());
    table.time("W1 write+flush+compact", ZARRS, w, "s");
    table.push("W1 write: requests", ZARRS, write.total() as f64, "", false);

    let mut open = Traffic::default();
    let t = median_of(|| {
        remote.reset();
        let (s, _) = rt.block_on(zarrs_s3::w1_open(remote.store()));
        open = remote.take();
        s
    });
    table.time("W1 open", ZARRS, t, "ms");
    traffic_rows(table, "W1 open", ZARRS, std::slice::from_ref(&open));

    let mut read = Traffic::default();
    let t = median_of(|| {
        let (_, z) = rt.block_on(zarrs_s3::w1_open(remote.store()));
        remote.reset();
        let t = rt.block_on(zarrs_s3::w1_read_all(Arc::new(z), n, LEN, TASKS, PER_TASK));
        read = remote.take();
        t
    });
    table.rate(
        "W1 read all",
        ZARRS,
        (n * LEN * 4) as f64 / t / GIB,
        "GiB/s",
    );
    traffic_rows(table, "W1 read all", ZARRS, std::slice::from_ref(&read));

    let (store, remote_ref) = (remote.store(), &remote);
    let (times, traffic) = rt.block_on(each(&remote, cold, move |i| {
        let store = Arc::clone(&store);
        async move {
            let (_, z) = zarrs_s3::w1_open(store).await;
            remote_ref.reset();
            zarrs_s3::w1_read_one(&z, i, LEN).await
        }
    }));
    table.time("W1 cold read of one array", ZARRS, mean(&times), "ms");
    traffic_rows(table, "W1 cold read of one array", ZARRS, &traffic);
}

/// Seconds liblz4 takes, on one thread, to decode every W1 array
/// compressed by lz4_flex (as array-format does both).
fn lz4_decode_secs(arrays: &[Vec<i32>]) -> f64 {
    let packed: Vec<Vec<u8>> = arrays
        .iter()
        .map(|a| lz4_flex::block::compress(af_bench::as_bytes(a)))
        .collect();
    let mut out = vec![0u8; LEN * 4];
    median_of(|| {
        af_bench::secs(|| {
            for c in &packed {
                lz4::block::decompress_to_buffer(c, Some(out.len() as i32), &mut out).expect("lz4");
            }
            std::hint::black_box(&out);
        })
    })
}

/// The rows of "where the time goes": the read's wall time; the time with
/// a GET in flight, the sum and the longest of their latencies; the rest;
/// the codec alone on one thread; the same GETs on the bare client.
fn where_rows(
    table: &mut Table,
    case: &str,
    wall: f64,
    s: &SpanStats,
    decode: f64,
    bare: f64,
    bare_label: &str,
) {
    table.time(case, "wall time", wall, "ms");
    table.time(case, "a GET in flight (union)", s.union_secs, "ms");
    table.time(
        case,
        "no GET in flight (rest)",
        (wall - s.union_secs).max(0.0),
        "ms",
    );
    table.time(case, "GET latencies, sum", s.sum_secs, "ms");
    table.time(case, "GET latency, longest", s.max_secs, "ms");
    table.time(case, "decode alone, 1 thread", decode, "ms");
    table.time(case, bare_label, bare, "ms");
}

/// Rows comparing the mean GET latency array-format saw with a bare GET of
/// the same ranges, one at a time.
fn per_get_rows(table: &mut Table, what: &str, s: &SpanStats, bare_one: f64) {
    let case = format!("{what}, ours: one GET");
    table.time(&case, "latency in the read", s.mean_secs(), "ms");
    table.time(&case, "same range, bare, one at a time", bare_one, "ms");
    table.push(
        &case,
        "KiB per GET",
        s.bytes as f64 / s.count.max(1) as f64 / KIB,
        "KiB",
        false,
    );
}

// ---- W2 ----------------------------------------------------------------

/// The array's side: 8192 at scale 1, scaled by the square root of the
/// scale (as in W2); a multiple of `CHUNK`.
fn side() -> usize {
    CHUNK * ((32.0 * af_bench::scale().sqrt()).round() as usize).max(1)
}

/// `n` random window origins, each in `0..=side - CHUNK` in both axes.
fn windows(side: usize, n: usize, seed: u64) -> Vec<(usize, usize)> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            (
                rng.random_range(0..=side - CHUNK),
                rng.random_range(0..=side - CHUNK),
            )
        })
        .collect()
}

/// Chunks a `CHUNK x CHUNK` window at `(r0, c0)` overlaps.
fn chunks_touched((r0, c0): (usize, usize)) -> usize {
    // Chunks from the first element's to the last one's.
    let span = |first: usize| {
        let last = first + CHUNK - 1;
        last / CHUNK - first / CHUNK + 1
    };
    span(r0) * span(c0)
}

/// Adds one system's window rows in configuration `tag`.
fn window_rows(table: &mut Table, tag: &str, system: &str, times: &[f64], t: &[Traffic]) {
    let (m, p99) = mean_p99(times);
    table.time(&format!("W2 window mean, {tag}"), system, m, "ms");
    table.time(&format!("W2 window p99, {tag}"), system, p99, "ms");
    traffic_rows(table, &format!("W2 window, {tag}"), system, t);
}

/// The W2 windows of one array-format version, with both cache settings;
/// returns the caches-off run (times and traffic per window).
macro_rules! af_w2 {
    ($m:ident, $system:expr, $server:expr, $rt:expr, $table:expr, $side:expr, $origins:expr) => {{
        let (system, rt, table, side, origins) = ($system, $rt, &mut *$table, $side, $origins);
        let remote = $server.bucket();
        let (w, f, c) = rt.block_on($m::remote::w2_write(remote.store(), side, CHUNK));
        let write = remote.take();
        eprintln!(
            "    {system}: write {w:.3} s, flush {f:.3} s, compact {c:.3} s; {}",
            write.describe()
        );
        table.time("W2 write+flush+compact", system, w + f + c, "s");
        let mut off = (Vec::new(), Vec::new());
        for (caches, tag) in [(false, "caches off"), (true, "default caches")] {
            let file = rt.block_on($m::open_store(remote.store(), caches));
            let open = remote.take();
            eprintln!("    {system}: open, {tag}: {}", open.describe());
            let file = &file;
            let run = rt.block_on(each(&remote, origins, move |(r0, c0)| {
                $m::remote::w2_window(file, r0, c0, CHUNK)
            }));
            window_rows(table, tag, system, &run.0, &run.1);
            if !caches {
                off = run;
            }
        }
        (remote, off)
    }};
}

fn w2(server: &Server, rt: &tokio::runtime::Runtime, table: &mut Table) {
    let side = side();
    let n = af_bench::scaled(WINDOWS).max(50);
    eprintln!(
        "W2: {side} x {side} f32 ({:.0} MiB) in {CHUNK} x {CHUNK} chunks, zstd 3; {n} windows",
        (side * side * 4) as f64 / MIB
    );
    let origins = windows(side, n, 2);
    let touched_chunks =
        origins.iter().map(|&w| chunks_touched(w)).sum::<usize>() as f64 / n as f64;

    let (remote, (times, traffic)) = af_w2!(ours, OURS, server, rt, table, side, &origins);
    if wants(V010) {
        af_w2!(v010, V010, server, rt, table, side, &origins);
    }
    if wants(ZARRS) {
        let remote = server.bucket();
        let w = rt.block_on(zarrs_s3::w2_write(remote.store(), side, CHUNK));
        let write = remote.take();
        eprintln!("    zarrs: write {w:.3} s; {}", write.describe());
        table.time("W2 write+flush+compact", ZARRS, w, "s");
        let (_, z) = rt.block_on(zarrs_s3::w2_open(remote.store()));
        let open = remote.take();
        eprintln!("    zarrs: open: {}", open.describe());
        let z = &z;
        let (t, tr) = rt.block_on(each(&remote, &origins, move |(r0, c0)| {
            zarrs_s3::w2_window(z, r0, c0, CHUNK)
        }));
        window_rows(table, "default caches", ZARRS, &t, &tr);
    }

    // Limits: the compressed size of the chunks a window touches (ours'
    // frames: each chunk is one; the index gives the array's total, so a
    // chunk counts as the average) and zstd decoding them on one thread.
    let storage = {
        let file = rt.block_on(ours::open_store(remote.store(), true));
        file.array_storage(ours::GRID).expect("array_storage")
    };
    let per_chunk = storage.stored_bytes as f64 / storage.written_chunks.len().max(1) as f64;
    let touched = per_chunk * touched_chunks;
    let decode = zstd_decode_secs(side) * touched_chunks;
    let limit = format!("limit: compressed size of the {touched_chunks:.2} chunks touched");
    for tag in ["caches off", "default caches"] {
        let case = format!("W2 window, {tag}: KiB fetched");
        table.push(&case, &limit, touched / KIB, "KiB", false);
        let case = format!("W2 window mean, {tag}");
        let what = format!("limit: zstd decode of {touched_chunks:.2} chunks, 1 thread");
        table.time(&case, &what, decode, "ms");
    }

    // Where the time goes in ours' windows, caches off: each window's own
    // GETs, and the same GETs replayed on the bare client, all at once (as
    // ours sends a window's requests) and one at a time.
    let stats: Vec<SpanStats> = traffic.iter().map(Traffic::get_stats).collect();
    let per_window = |f: fn(&SpanStats) -> f64| mean(&stats.iter().map(f).collect::<Vec<_>>());
    let in_flight = traffic.iter().map(|t| t.gets().len()).max().unwrap_or(1);
    let bare: Vec<f64> = traffic
        .iter()
        .map(|t| {
            let gets = t.gets();
            rt.block_on(remote::replay(remote.bare(), &gets, gets.len()))
        })
        .collect();
    let mean_stats = SpanStats {
        count: traffic.iter().map(|t| t.gets().len()).sum::<usize>() / traffic.len().max(1),
        sum_secs: per_window(|s| s.sum_secs),
        max_secs: per_window(|s| s.max_secs),
        union_secs: per_window(|s| s.union_secs),
        bytes: (stats.iter().map(|s| s.bytes).sum::<u64>()) / stats.len().max(1) as u64,
    };
    let case = "W2 window, caches off, ours: where the time goes (mean per window)";
    let label = format!("same GETs, bare client, all of a window's at once (up to {in_flight})");
    where_rows(
        table,
        case,
        mean(&times),
        &mean_stats,
        decode,
        mean(&bare),
        &label,
    );
    let all: Vec<_> = traffic.iter().flat_map(Traffic::gets).collect();
    let one = rt.block_on(remote::one_by_one(
        remote.bare(),
        &all[..all.len().min(200)],
    ));
    let all_stats = SpanStats::of(
        &traffic
            .iter()
            .flat_map(|t| t.spans.clone())
            .collect::<Vec<_>>(),
    );
    per_get_rows(table, "W2 window, caches off", &all_stats, one);
}

/// Seconds zstd takes, on one thread, to decode one chunk of the grid.
fn zstd_decode_secs(side: usize) -> f64 {
    const DECODES: usize = 50;
    let chunk: Vec<f32> = (0..CHUNK)
        .flat_map(|r| af_bench::f32_signal(r as u64, side)[..CHUNK].to_vec())
        .collect();
    let raw = af_bench::as_bytes(&chunk);
    let packed = zstd::bulk::compress(raw, zarrs_peer::W2_ZSTD_LEVEL).expect("zstd compress");
    let mut out = vec![0u8; raw.len()];
    let mut decoder = zstd::bulk::Decompressor::new().expect("zstd decompressor");
    median_of(|| {
        af_bench::secs(|| {
            for _ in 0..DECODES {
                decoder
                    .decompress_to_buffer(&packed, &mut out)
                    .expect("zstd decompress");
            }
            std::hint::black_box(&out);
        })
    }) / DECODES as f64
}
