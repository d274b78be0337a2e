//! W5, metadata: 100,000 tiny arrays (1-D, 4 i32, one chunk each) with 20
//! attributes each (Int64, Float64 and String in turn, keys `attr_00` to
//! `attr_19`), flushed and compacted. Then, for array-format and 0.10, on a
//! fresh handle: open time, one `list_arrays`, and the mean time of
//! `get_array` (10,000 random names) and of `get_attribute` (10,000 random
//! (name, key) pairs). The same is measured on a second file with a tenth
//! of the arrays, so that constant-time lookups (equal times) and linear
//! ones (10x) can be told apart.
//!
//! Attribute values repeat every 100 arrays, as units, instruments or flags
//! do: 0.10 interns every value by a linear search of the values seen
//! before, so with 2,000,000 distinct values its build alone would take
//! most of an hour.
//!
//! `cargo bench --bench w5`; `AF_BENCH_SCALE=0.1` for a tenth of the
//! arrays; `AF_BENCH_SYSTEMS=ours` (or `v010`) measures one version only.

use rand::{Rng, SeedableRng};

use af_bench::{OURS, Table, V010, dir_bytes, fresh_dir, median_of, ours, v010, wants};

/// Arrays at scale 1.
const ARRAYS: usize = 100_000;
/// Attributes per array.
const ATTRS: usize = 20;
/// Distinct values of each attribute key (array `i` gets those of
/// `i % DISTINCT`).
const DISTINCT: usize = 100;
/// Lookups timed per call kind.
const LOOKUPS: usize = 10_000;

/// `k` random array indices below `n` and attribute indices below `ATTRS`.
fn lookups(n: usize, k: usize, seed: u64) -> Vec<(usize, usize)> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    (0..k)
        .map(|_| (rng.random_range(0..n), rng.random_range(0..ATTRS)))
        .collect()
}

/// Builds the file of `$n` arrays with one version's drivers and adds its
/// rows.
macro_rules! measure {
    ($m:ident, $system:expr, $rt:expr, $table:expr, $n:expr) => {{
        let n = $n;
        let dir = fresh_dir(&format!("w5-{}-{n}", stringify!($m)));
        let (w, f, c) = $rt.block_on($m::w5_build(&dir, n, ATTRS, DISTINCT));
        eprintln!(
            "    {}: define+write+attributes {w:.2} s, flush {f:.2} s, compact {c:.2} s, {:.1} MiB",
            stringify!($m),
            dir_bytes(&dir) as f64 / (1u64 << 20) as f64
        );
        let tag = format!("{n} arrays");
        $table.time(
            &format!("W5 build (+flush+compact), {tag}"),
            $system,
            w + f + c,
            "s",
        );
        $rt.block_on($m::w5_open(&dir)); // warm-up
        let open = median_of(|| $rt.block_on($m::w5_open(&dir)).0);
        $table.time(&format!("W5 open, {tag}"), $system, open, "ms");
        let (_, file) = $rt.block_on($m::w5_open(&dir));
        let list = median_of(|| $m::w5_list(&file, n));
        $table.time(&format!("W5 list_arrays, {tag}"), $system, list, "ms");
        let picks = lookups(n, LOOKUPS, 5);
        let names: Vec<String> = picks.iter().map(|&(i, _)| $m::w5_name(i)).collect();
        let pairs: Vec<(String, String)> = picks
            .iter()
            .map(|&(i, j)| ($m::w5_name(i), $m::w5_key(j)))
            .collect();
        let get = median_of(|| $m::w5_get_array(&file, &names));
        $table.time(&format!("W5 get_array, {tag}"), $system, get, "us");
        let attr = median_of(|| $m::w5_get_attribute(&file, &pairs));
        $table.time(&format!("W5 get_attribute, {tag}"), $system, attr, "us");
        (open, attr)
    }};
}

fn main() {
    let n = af_bench::scaled(ARRAYS).max(10);
    let small = (n / 10).max(1);
    let rt = af_bench::runtime();
    let mut table = Table::default();
    eprintln!("W5: {n} and {small} arrays of 4 i32 with {ATTRS} attributes each");

    let mut ratios = Vec::new();
    if wants(OURS) {
        let (open_s, attr_s) = measure!(ours, OURS, rt, table, small);
        let (open, attr) = measure!(ours, OURS, rt, table, n);
        ratios.push((OURS, open / open_s, attr / attr_s));
    }
    if wants(V010) {
        let (open_s, attr_s) = measure!(v010, V010, rt, table, small);
        let (open, attr) = measure!(v010, V010, rt, table, n);
        ratios.push((V010, open / open_s, attr / attr_s));
    }
    for (system, open, attr) in ratios {
        eprintln!(
            "  {system}: open {n} / {small} arrays = {open:.2}x, get_attribute = {attr:.2}x \
             (1x: constant time, 10x: linear)"
        );
        table.push(
            &format!("W5 open, {n} / {small} arrays"),
            system,
            open,
            "x",
            false,
        );
        table.push(
            &format!("W5 get_attribute, {n} / {small} arrays"),
            system,
            attr,
            "x",
            false,
        );
    }
    table.print(&format!(
        "W5: {n} arrays x {ATTRS} attributes, open and lookups"
    ));
}
