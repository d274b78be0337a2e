//! W4, many layers: W2's array (8192 x 8192 f32 in 256 x 256 chunks, zstd
//! level 3) written and flushed once, then 200 flushes that each rewrite 1%
//! of the chunks (random chunk-aligned blocks, the same for every system)
//! with new values. Then, for array-format and 0.10: the time to open the
//! file with all its layers and to read the whole array through a fresh
//! handle; compaction; and the same two after it.
//!
//! Ratios reported for both versions (targets for array-format: a full read
//! of the layered file <= 1.25x the compacted one; an open with 200 layers
//! <= 10x a one-layer open). Every full read's values are hashed and must
//! agree across layouts and versions.
//!
//! `cargo bench --bench w4`; `AF_BENCH_SCALE=0.1` shrinks the array (side
//! by the square root of the scale) and the number of flushes.

use rand::SeedableRng;
use rand::seq::index;

use af_bench::{OURS, Table, V010, dir_bytes, fresh_dir, median_of, ours, v010, wants};

/// Chunk side.
const CHUNK: usize = 256;
/// Update flushes at scale 1.
const FLUSHES: usize = 200;

/// The array's side, as in W2.
fn side() -> usize {
    CHUNK * ((32.0 * af_bench::scale().sqrt()).round() as usize).max(1)
}

/// For each of `flushes` rounds, 1% (at least one) of the chunks of a grid
/// of `n x n` chunks, distinct within a round, as (row, column) of chunks.
fn rounds(n: usize, flushes: usize, seed: u64) -> Vec<Vec<(usize, usize)>> {
    let per_round = ((n * n) as f64 * 0.01).round().max(1.0) as usize;
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    (0..flushes)
        .map(|_| {
            index::sample(&mut rng, n * n, per_round)
                .into_iter()
                .map(|i| (i / n, i % n))
                .collect()
        })
        .collect()
}

/// Results of one version.
struct Phases {
    build: f64,
    layers: usize,
    open_layered: f64,
    read_layered: f64,
    compact: f64,
    open_compacted: f64,
    read_compacted: f64,
}

/// Builds, measures, compacts and measures again with one array-format
/// version's drivers; asserts that every full read yields `$hash` (if set).
macro_rules! measure {
    ($m:ident, $rt:expr, $side:expr, $rounds:expr, $hash:expr) => {{
        let dir = fresh_dir(concat!("w4-", stringify!($m)));
        let (build, layers) = $rt.block_on($m::w4_build(&dir, $side, CHUNK, $rounds));
        eprintln!(
            "    {}: built in {build:.2} s, {layers} layers, {:.0} MiB",
            stringify!($m),
            dir_bytes(&dir) as f64 / (1u64 << 20) as f64
        );
        $rt.block_on($m::timed_open(&dir)); // warm-up
        let open_layered = median_of(|| $rt.block_on($m::timed_open(&dir)).0);
        let read = |hash: &mut Option<u64>| {
            median_of(|| {
                let (s, h) = $rt.block_on($m::w4_read_whole(&dir));
                assert_eq!(*hash.get_or_insert(h), h, "full reads disagree");
                s
            })
        };
        let read_layered = read($hash);
        let compact = $rt.block_on($m::timed_compact(&dir));
        let (_, left) = $rt.block_on($m::timed_open(&dir));
        eprintln!(
            "    {}: compacted in {compact:.2} s to {left} layer(s), {:.0} MiB",
            stringify!($m),
            dir_bytes(&dir) as f64 / (1u64 << 20) as f64
        );
        $rt.block_on($m::timed_open(&dir)); // warm-up
        let open_compacted = median_of(|| $rt.block_on($m::timed_open(&dir)).0);
        let read_compacted = read($hash);
        Phases {
            build,
            layers,
            open_layered,
            read_layered,
            compact,
            open_compacted,
            read_compacted,
        }
    }};
}

fn main() {
    let side = side();
    let flushes = af_bench::scaled(FLUSHES).max(2);
    let n = side / CHUNK;
    let rounds = rounds(n, flushes, 4);
    let rt = af_bench::runtime();
    let mut table = Table::default();
    eprintln!(
        "W4: {side} x {side} f32, {} chunks, {flushes} flushes of {} chunks each",
        n * n,
        rounds[0].len()
    );

    let mut hash = None;
    let mut measured = Vec::new();
    if wants(OURS) {
        measured.push((measure!(ours, rt, side, &rounds, &mut hash), OURS));
    }
    if wants(V010) {
        measured.push((measure!(v010, rt, side, &rounds, &mut hash), V010));
    }
    let layers = flushes + 1;
    for (p, system) in measured.iter().map(|(p, s)| (p, *s)) {
        if p.layers != layers {
            eprintln!(
                "    {system}: num_layers() = {} after {layers} flushes (counting the \
                 empty layer `create` writes)",
                p.layers
            );
        }
        table.time(
            &format!("W4 build ({layers} flushes)"),
            system,
            p.build,
            "s",
        );
        table.time(
            &format!("W4 open, {layers} layers"),
            system,
            p.open_layered,
            "ms",
        );
        table.time("W4 open, compacted", system, p.open_compacted, "ms");
        table.time(
            &format!("W4 full read, {layers} layers"),
            system,
            p.read_layered,
            "s",
        );
        table.time("W4 full read, compacted", system, p.read_compacted, "s");
        table.time("W4 compact", system, p.compact, "s");
    }
    for (p, system) in measured.iter().map(|(p, s)| (p, *s)) {
        let read = p.read_layered / p.read_compacted;
        let open = p.open_layered / p.open_compacted;
        eprintln!(
            "  {system}: read layered / compacted = {read:.2}x (target <= 1.25), \
             open layered / one-layer = {open:.2}x (target <= 10)"
        );
        table.push("W4 read layered / compacted", system, read, "x", false);
        table.push("W4 open layered / one-layer", system, open, "x", false);
    }
    table.print(&format!(
        "W4: {side} x {side} f32 after {layers} flushes of 1% of the chunks, zstd 3"
    ));
}
