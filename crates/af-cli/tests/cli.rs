//! End-to-end tests of the `af` binary: every command, .npy round trips,
//! slices, edits that survive reopening, damage detection, history, copies,
//! and the message and exit code of each kind of bad input.

use std::path::Path;

use assert_cmd::Command;
use ndarray::{Array, ArrayD, IxDyn, ShapeBuilder};
use ndarray_npy::{ReadNpyExt, WriteNpyExt};
use predicates::prelude::*;
use serde_json::Value;
use tempfile::TempDir;

fn af(dir: &Path) -> Command {
    let mut c = assert_cmd::cargo::cargo_bin_cmd!("af");
    c.current_dir(dir);
    c
}

/// Runs `af args` in `dir`, expects success, returns stdout.
fn ok(dir: &Path, args: &[&str]) -> String {
    let out = af(dir).args(args).assert().success().get_output().clone();
    assert!(
        out.stderr.is_empty(),
        "stderr of {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs `af args --json`-style commands and parses stdout.
fn json(dir: &Path, args: &[&str]) -> Value {
    serde_json::from_str(&ok(dir, args)).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

/// Expects exit `code` and a stderr line starting with `af: ` that contains
/// `msg`; never a panic or a backtrace.
fn fails(dir: &Path, args: &[&str], code: i32, msg: &str) -> String {
    let out = af(dir)
        .args(args)
        .assert()
        .code(code)
        .stderr(predicate::str::contains(msg))
        .stderr(predicate::str::contains("panicked").not())
        .get_output()
        .clone();
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        !err.contains("panicked") && !err.contains("backtrace"),
        "{args:?}: {err}"
    );
    assert!(err.contains(msg), "{args:?}: expected {msg:?} in {err:?}");
    assert!(err.lines().count() <= 8, "{args:?}: too long: {err}");
    err
}

fn demo(dir: &Path) {
    af(dir).args(["demo", "demo.af"]).assert().success();
}

fn write_npy<T: ndarray_npy::WritableElement>(path: &Path, a: &ArrayD<T>) {
    let f = std::fs::File::create(path).unwrap();
    a.write_npy(f).unwrap();
}

fn read_npy<T: ndarray_npy::ReadableElement>(path: &Path) -> ArrayD<T> {
    ArrayD::<T>::read_npy(std::fs::File::open(path).unwrap()).unwrap()
}

/// Flips one byte in the middle of the data region of a layer object.
fn flip_data_byte(path: &Path) {
    let mut b = std::fs::read(path).unwrap();
    let n = b.len();
    let footer_len = u64::from_le_bytes(b[n - 32..n - 24].try_into().unwrap()) as usize;
    let data_end = n - 32 - footer_len;
    assert!(data_end > 0, "{} has no data region", path.display());
    b[data_end / 2] ^= 0x5a;
    std::fs::write(path, b).unwrap();
}

#[test]
fn demo_writes_a_file_with_history_and_suggests_commands() {
    let d = TempDir::new().unwrap();
    // Default path: ./demo.af
    let out = ok(d.path(), &["demo"]);
    assert!(d.path().join("demo.af").exists());
    for s in [
        "arrays        4",
        "codecs        lz4",
        "Next, try:",
        "af cat demo.af temperature --slice",
        "af verify demo.af",
    ] {
        assert!(out.contains(s), "{s:?} not in\n{out}");
    }
    let ls = json(d.path(), &["ls", "demo.af", "--json"]);
    let names: Vec<(&str, &str)> = ls
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["name"].as_str().unwrap(), a["dtype"].as_str().unwrap()))
        .collect();
    assert_eq!(
        names,
        [
            ("temperature", "f32"),
            ("land_mask", "u8"),
            ("time", "timestamp_ns"),
            ("station_names", "string")
        ]
    );
    let t = &ls[0];
    assert_eq!(t["shape"], serde_json::json!([48, 90, 180]));
    assert_eq!(
        t["dimension_names"],
        serde_json::json!(["time", "lat", "lon"])
    );
    assert_eq!(t["fill_value"], "nan");
    assert!(t["stored_bytes"].as_u64().unwrap() > 0);
    assert!(t["ratio"].as_f64().unwrap() > 1.0);
    assert_eq!(
        ok(
            d.path(),
            &["attrs", "demo.af", "temperature", "get", "units"]
        ),
        "K\n"
    );
    // Two flushes: snapshot 1 and delta 2 are visible.
    let layers = json(d.path(), &["layers", "demo.af", "--json"]);
    let visible: Vec<u64> = layers
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["visible"].as_bool().unwrap())
        .map(|l| l["layer"].as_u64().unwrap())
        .collect();
    assert_eq!(visible, [1, 2]);
    assert!(ok(d.path(), &["verify", "demo.af"]).starts_with("ok: demo.af"));
    // The tables have their columns in the documented order.
    let header = ok(d.path(), &["ls", "demo.af"]);
    assert!(header.starts_with("NAME "), "{header}");
    let cols: Vec<&str> = header.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        cols,
        [
            "NAME", "DTYPE", "SHAPE", "CHUNKS", "FILL", "STORED", "RATIO"
        ]
    );
}

#[test]
fn every_command_has_help_with_examples() {
    let d = TempDir::new().unwrap();
    let top = ok(d.path(), &["--help"]);
    assert!(
        top.contains("Exit codes:") && top.contains("s3://"),
        "{top}"
    );
    for cmd in [
        "demo", "info", "ls", "cat", "stats", "attrs", "compact", "verify", "layers", "import",
        "export", "cp", "vacuum",
    ] {
        let h = ok(d.path(), &[cmd, "--help"]);
        assert!(h.contains("Examples:"), "{cmd}: {h}");
    }
}

#[test]
fn info_ls_stats_and_layers_report_the_file() {
    let d = TempDir::new().unwrap();
    demo(d.path());
    let info = json(d.path(), &["info", "demo.af", "--json"]);
    assert_eq!(info["arrays"], 4);
    assert_eq!(info["layers"]["visible"], serde_json::json!([1, 2]));
    assert_eq!(info["codecs"], serde_json::json!(["lz4"]));
    assert!(info["raw_bytes"].as_u64().unwrap() > info["stored_bytes"].as_u64().unwrap());
    let text = ok(d.path(), &["info", "demo.af"]);
    assert!(text.contains("snapshot 1 + delta 2"), "{text}");

    let long = ok(d.path(), &["ls", "demo.af", "--long"]);
    let first: Vec<&str> = long.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        first,
        [
            "NAME", "DTYPE", "SHAPE", "CHUNKS", "DIMS", "FILL", "ATTRS", "WRITTEN", "RAW",
            "STORED", "RATIO"
        ]
    );
    assert!(
        long.contains("time,lat,lon") && long.contains("32/32"),
        "{long}"
    );

    let stats = json(d.path(), &["stats", "demo.af", "temperature", "--json"]);
    assert_eq!(stats["count"], 48 * 90 * 180);
    assert_eq!(stats["null_count"], 0);
    assert!(stats["min"].as_f64().unwrap() > 200.0 && stats["max"].as_f64().unwrap() < 330.0);
    let all = json(d.path(), &["stats", "demo.af", "--json"]);
    assert_eq!(all.as_array().unwrap().len(), 4);
    assert_eq!(all[1]["max"], 1);
    assert_eq!(all[2]["min"], "2024-01-01T00:00:00Z");
    assert_eq!(all[3]["min"], "Cairo");
    let table = ok(d.path(), &["stats", "demo.af"]);
    let cols: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(cols, ["NAME", "DTYPE", "MIN", "MAX", "NULLS", "COUNT"]);

    let layers = ok(d.path(), &["layers", "demo.af"]);
    assert!(layers.starts_with("LAYER  KIND"), "{layers}");
    assert!(
        layers.contains("snapshot") && layers.contains("delta"),
        "{layers}"
    );
}

#[test]
fn at_opens_old_versions() {
    let d = TempDir::new().unwrap();
    demo(d.path());
    // At layer 1 the last 12 hours were not written yet: NaN fill.
    let old = json(
        d.path(),
        &["stats", "demo.af", "temperature", "--at", "1", "--json"],
    );
    assert_eq!(old["null_count"], 12 * 90 * 180);
    let then = json(
        d.path(),
        &[
            "cat",
            "demo.af",
            "temperature",
            "--slice",
            "-1,0,0",
            "-f",
            "json",
            "--at",
            "1",
        ],
    );
    assert_eq!(then, Value::Null); // NaN prints as null
    let now = json(
        d.path(),
        &[
            "cat",
            "demo.af",
            "temperature",
            "--slice",
            "-1,0,0",
            "-f",
            "json",
        ],
    );
    assert!(now.as_f64().is_some());
    // Attributes and arrays as they were.
    fails(
        d.path(),
        &[
            "attrs",
            "demo.af",
            "temperature",
            "get",
            "history",
            "--at",
            "1",
        ],
        2,
        "no attribute \"history\"",
    );
    assert_eq!(
        ok(
            d.path(),
            &["attrs", "demo.af", "temperature", "get", "history"]
        ),
        "hours 36-47 appended in layer 2\n"
    );
    let info = json(d.path(), &["info", "demo.af", "--at", "1", "--json"]);
    assert_eq!(info["as_of"], 1);
    assert_eq!(info["layers"]["visible"], serde_json::json!([1]));
    assert_eq!(
        json(d.path(), &["ls", "demo.af", "--at", "0", "--json"]),
        serde_json::json!([])
    );
    let layers = json(d.path(), &["layers", "demo.af", "--at", "1", "--json"]);
    let visible: Vec<bool> = layers
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["visible"].as_bool().unwrap())
        .collect();
    assert_eq!(visible, [false, true, false]);
    // Export of the old version.
    ok(
        d.path(),
        &["export", "demo.af", "temperature", "old.npy", "--at", "1"],
    );
    let a: ArrayD<f32> = read_npy(&d.path().join("old.npy"));
    assert_eq!(a.iter().filter(|v| v.is_nan()).count(), 12 * 90 * 180);
    // Old versions are read-only; missing ones are an input error.
    fails(
        d.path(),
        &[
            "attrs",
            "demo.af",
            "temperature",
            "set",
            "x",
            "1",
            "--at",
            "1",
        ],
        2,
        "read-only",
    );
    fails(
        d.path(),
        &["info", "demo.af", "--at", "9"],
        2,
        "has no layer 9",
    );
}

/// Writes `a` to a .npy file, imports it, exports it again, and checks
/// that the export equals `a` exactly.
fn round_trip<T>(dir: &Path, name: &str, a: ArrayD<T>, extra: &[&str])
where
    T: ndarray_npy::WritableElement + ndarray_npy::ReadableElement + PartialEq + std::fmt::Debug,
{
    let src = dir.join(format!("{name}.in.npy"));
    let dst = dir.join(format!("{name}.out.npy"));
    write_npy(&src, &a);
    let mut args = vec!["import", "rt.af", name, src.to_str().unwrap()];
    args.extend_from_slice(extra);
    ok(dir, &args);
    ok(dir, &["export", "rt.af", name, dst.to_str().unwrap()]);
    let back: ArrayD<T> = read_npy(&dst);
    assert_eq!(back, a, "{name}");
}

#[test]
fn npy_round_trips_for_many_dtypes_and_ranks() {
    let d = TempDir::new().unwrap();
    let p = d.path();
    let f32s = Array::from_shape_fn(IxDyn(&[7, 9, 11]), |ix| {
        (ix[0] * 100 + ix[1] * 10 + ix[2]) as f32 * 0.25 - 3.0
    });
    round_trip(
        p,
        "f32_3d",
        f32s,
        &["--chunks", "3,4,5", "--codec", "zstd:5"],
    );
    let mut f64s = Array::from_shape_fn(IxDyn(&[13, 6]), |ix| {
        (ix[0] as f64).sin() * 1e6 + ix[1] as f64
    });
    f64s[[2, 3]] = f64::INFINITY;
    round_trip(p, "f64_2d", f64s, &["--chunks", "5,4", "--codec", "none"]);
    round_trip(
        p,
        "i8",
        Array::from_shape_fn(IxDyn(&[300]), |ix| (ix[0] % 256) as u8 as i8),
        &["--chunks", "64"],
    );
    round_trip(
        p,
        "i16",
        Array::from_shape_fn(IxDyn(&[5, 5]), |ix| {
            (ix[0] as i16 - 2) * 1000 + ix[1] as i16
        }),
        &[],
    );
    round_trip(
        p,
        "i32",
        Array::from_shape_fn(IxDyn(&[4, 3, 2]), |ix| {
            -(ix[0] as i32) * 65_536 + ix[2] as i32
        }),
        &["--codec", "lz4"],
    );
    round_trip(
        p,
        "i64",
        Array::from_shape_fn(IxDyn(&[10]), |ix| i64::MIN + ix[0] as i64),
        &[],
    );
    round_trip(
        p,
        "u8",
        Array::from_shape_fn(IxDyn(&[16, 16]), |ix| (ix[0] * 16 + ix[1]) as u8),
        &["--chunks", "5,7"],
    );
    round_trip(
        p,
        "u16",
        Array::from_shape_fn(IxDyn(&[33]), |ix| ix[0] as u16 * 2000),
        &[],
    );
    round_trip(
        p,
        "u32",
        Array::from_shape_fn(IxDyn(&[2, 2, 2]), |ix| u32::MAX - ix[0] as u32),
        &[],
    );
    round_trip(
        p,
        "u64",
        Array::from_shape_fn(IxDyn(&[3, 4]), |ix| {
            (u64::MAX / (ix[0] as u64 + 1)).wrapping_add(ix[1] as u64)
        }),
        &[],
    );
    round_trip(
        p,
        "bool",
        Array::from_shape_fn(IxDyn(&[3, 7]), |ix| (ix[0] + ix[1]) % 3 == 0),
        &["--chunks", "2,2"],
    );
    round_trip(p, "scalar", ArrayD::from_elem(IxDyn(&[]), 2.5f64), &[]);
    round_trip(p, "empty", ArrayD::<u32>::zeros(IxDyn(&[0, 4])), &[]);
    // Everything landed in one file, each import one commit.
    let ls = json(p, &["ls", "rt.af", "--json"]);
    assert_eq!(ls.as_array().unwrap().len(), 13);
    assert_eq!(ls[0]["chunk_shape"], serde_json::json!([3, 4, 5]));
    assert!(ok(p, &["verify", "rt.af"]).starts_with("ok:"));
    let info = json(p, &["info", "rt.af", "--json"]);
    let codecs = info["codecs"].as_array().unwrap();
    assert!(
        codecs.contains(&"zstd".into()) && codecs.contains(&"none".into()),
        "{codecs:?}"
    );

    // Strings and timestamps go through .npy as <U and datetime64[ns]:
    // export from the demo, import, export again, compare bytes.
    demo(p);
    for name in ["station_names", "time"] {
        let a = p.join(format!("{name}.a.npy"));
        let b = p.join(format!("{name}.b.npy"));
        ok(p, &["export", "demo.af", name, a.to_str().unwrap()]);
        ok(p, &["import", "rt.af", name, a.to_str().unwrap()]);
        ok(p, &["export", "rt.af", name, b.to_str().unwrap()]);
        assert_eq!(
            std::fs::read(&a).unwrap(),
            std::fs::read(&b).unwrap(),
            "{name}"
        );
        assert_eq!(
            ok(p, &["cat", "demo.af", name, "-f", "json"]),
            ok(p, &["cat", "rt.af", name, "-f", "json"])
        );
    }
    let a = std::fs::read(p.join("station_names.a.npy")).unwrap();
    assert!(String::from_utf8_lossy(&a).contains("'descr': '<U9'"));
    let t = std::fs::read(p.join("time.a.npy")).unwrap();
    assert!(String::from_utf8_lossy(&t).contains("'descr': '<M8[ns]'"));
}

#[test]
fn import_into_regions_replace_and_fortran_order() {
    let d = TempDir::new().unwrap();
    let p = d.path();
    let zeros = ArrayD::<i32>::zeros(IxDyn(&[6, 8]));
    write_npy(&p.join("zeros.npy"), &zeros);
    let patch = Array::from_shape_fn(IxDyn(&[2, 3]), |ix| (ix[0] * 3 + ix[1] + 1) as i32);
    write_npy(&p.join("patch.npy"), &patch);
    ok(
        p,
        &[
            "import",
            "f.af",
            "grid",
            "zeros.npy",
            "--chunks",
            "4,4",
            "--dims",
            "y,x",
            "--fill",
            "-1",
        ],
    );
    ok(
        p,
        &["import", "f.af", "grid", "patch.npy", "--start", "3,4"],
    );
    let v = json(
        p,
        &["cat", "f.af", "grid", "--slice", "2:6,3:8", "-f", "json"],
    );
    assert_eq!(
        v,
        serde_json::json!([
            [0, 0, 0, 0, 0],
            [0, 1, 2, 3, 0],
            [0, 4, 5, 6, 0],
            [0, 0, 0, 0, 0]
        ])
    );
    let ls = json(p, &["ls", "f.af", "--json"]);
    assert_eq!(ls[0]["dimension_names"], serde_json::json!(["y", "x"]));
    assert_eq!(ls[0]["fill_value"], -1);
    // Replacing redefines the array (another dtype is fine then).
    let floats = ArrayD::from_elem(IxDyn(&[2]), 0.5f32);
    write_npy(&p.join("floats.npy"), &floats);
    fails(
        p,
        &["import", "f.af", "grid", "floats.npy"],
        2,
        "already exists",
    );
    ok(p, &["import", "f.af", "grid", "floats.npy", "--replace"]);
    assert_eq!(ok(p, &["cat", "f.af", "grid"]), "[0.5, 0.5]\n");
    // Column-major .npy files import in the right order.
    let c = Array::from_shape_fn((3, 4), |(i, j)| (i * 4 + j) as i16);
    let mut f = Array::<i16, _>::zeros((3, 4).f());
    f.assign(&c);
    assert!(!f.is_standard_layout() && f.t().is_standard_layout());
    let mut file = std::fs::File::create(p.join("fortran.npy")).unwrap();
    f.write_npy(&mut file).unwrap();
    drop(file);
    ok(p, &["import", "f.af", "fortran", "fortran.npy"]);
    assert_eq!(
        json(p, &["cat", "f.af", "fortran", "-f", "json"]),
        serde_json::json!([[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]])
    );
}

/// Imports 0..n as i32 with `shape` and returns the file's directory.
fn counting(shape: &[usize], chunks: &str) -> TempDir {
    let d = TempDir::new().unwrap();
    let n: usize = shape.iter().product();
    let a = ArrayD::from_shape_vec(IxDyn(shape), (0..n as i32).collect()).unwrap();
    write_npy(&d.path().join("a.npy"), &a);
    ok(
        d.path(),
        &["import", "s.af", "a", "a.npy", "--chunks", chunks],
    );
    d
}

#[test]
fn slices_follow_numpy() {
    let d = counting(&[4, 5, 6], "3,2,4");
    let p = d.path();
    // value at (i, j, k) is i*30 + j*6 + k
    let cat = |s: &str| json(p, &["cat", "s.af", "a", "--slice", s, "-f", "json"]);
    assert_eq!(cat("1,2,3"), serde_json::json!(45));
    assert_eq!(cat("-1,-1,-1"), serde_json::json!(119));
    assert_eq!(cat("0,0"), serde_json::json!([0, 1, 2, 3, 4, 5]));
    assert_eq!(cat("0,1:3,4:"), serde_json::json!([[10, 11], [16, 17]]));
    assert_eq!(
        cat("-2:,0,::2"),
        serde_json::json!([[60, 62, 64], [90, 92, 94]])
    );
    assert_eq!(cat("...,0").as_array().unwrap().len(), 4);
    assert_eq!(cat("...,0")[3], serde_json::json!([90, 96, 102, 108, 114]));
    assert_eq!(cat("::3,::4,5"), serde_json::json!([[5, 29], [95, 119]]));
    assert_eq!(
        cat("1:3,:-3,-1:"),
        serde_json::json!([[[35], [41]], [[65], [71]]])
    );
    assert_eq!(cat("0,0,10:"), serde_json::json!([]));
    assert_eq!(cat("0:100,4,5").as_array().unwrap().len(), 4); // ranges clamp like numpy
    // Fewer entries than dimensions: the rest are whole.
    assert_eq!(cat("3").as_array().unwrap().len(), 5);
    // CSV: rows of the last dimension.
    assert_eq!(
        ok(p, &["cat", "s.af", "a", "--slice", "0,:2,:3", "-f", "csv"]),
        "0,1,2\n6,7,8\n"
    );
    assert_eq!(
        ok(p, &["cat", "s.af", "a", "--slice", "0,0,:3", "-f", "csv"]),
        "0\n1\n2\n"
    );
    // Text.
    assert_eq!(
        ok(p, &["cat", "s.af", "a", "--slice", "0,:2,:3"]),
        "[[0, 1, 2],\n [6, 7, 8]]\n"
    );
    assert_eq!(ok(p, &["cat", "s.af", "a", "-s", "1,1,1"]), "37\n");
}

#[test]
fn large_outputs_are_elided_unless_asked() {
    let d = counting(&[40, 50], "16,16");
    let p = d.path();
    let text = ok(p, &["cat", "s.af", "a"]);
    assert!(text.contains("..."), "{text}");
    assert!(
        text.starts_with("[[   0,    1,    2, ...,   47,   48,   49],"),
        "{text}"
    );
    assert!(
        text.trim_end()
            .ends_with("[1950, 1951, 1952, ..., 1997, 1998, 1999]]"),
        "{text}"
    );
    assert_eq!(text.lines().count(), 7);
    let all = ok(p, &["cat", "s.af", "a", "--all"]);
    assert!(!all.contains("..."));
    assert!(all.contains(" 1234,"));
    // CSV and JSON always print everything.
    let csv = ok(p, &["cat", "s.af", "a", "-f", "csv"]);
    assert_eq!(csv.lines().count(), 40);
    let v = json(p, &["cat", "s.af", "a", "-f", "json"]);
    assert_eq!(v[39][49], 1999);
    // Strided selections too.
    let text = ok(p, &["cat", "s.af", "a", "--slice", "::2,::3"]);
    assert!(!text.contains("..."), "{text}"); // 20 x 17 = 340 values
    assert!(text.starts_with("[[   0,    3,    6,"), "{text}");
}

#[test]
fn attribute_edits_survive_reopening() {
    let d = TempDir::new().unwrap();
    let p = d.path();
    demo(p);
    let a = ["attrs", "demo.af", "temperature"];
    fn cat<'s>(a: &[&'s str], extra: &[&'s str]) -> Vec<&'s str> {
        a.iter().chain(extra).copied().collect()
    }
    let with = |extra: &[&'static str]| cat(&a, extra);
    assert_eq!(
        ok(p, &with(&["set", "units", "degC"])),
        "set temperature.units = \"degC\" (string)\n"
    );
    ok(p, &with(&["set", "scale", "0.5", "--type", "f32"]));
    ok(p, &with(&["set", "levels", "1,2,3", "--type", "i16[]"]));
    ok(p, &with(&["set", "count", "-7"]));
    ok(p, &with(&["set", "ok", "true"]));
    ok(
        p,
        &with(&["set", "tags", "[\"a\", \"b,c\"]", "--type", "string[]"]),
    );
    ok(p, &with(&["rm", "history"]));
    // Every command is a new process: the edits were committed.
    assert_eq!(ok(p, &with(&["get", "units"])), "degC\n");
    assert_eq!(ok(p, &with(&["get", "scale"])), "0.5\n");
    assert_eq!(ok(p, &with(&["get", "levels"])), "[1, 2, 3]\n");
    let list = json(p, &with(&["--json"]));
    let rows: Vec<(String, String, Value)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["key"].as_str().unwrap().into(),
                r["type"].as_str().unwrap().into(),
                r["value"].clone(),
            )
        })
        .collect();
    let find = |k: &str| rows.iter().find(|r| r.0 == k).cloned().unwrap();
    assert_eq!(find("scale").1, "f32");
    assert_eq!(find("levels").1, "i16[]");
    assert_eq!(
        find("count"),
        ("count".into(), "i64".into(), serde_json::json!(-7))
    );
    assert_eq!(find("ok").2, true);
    assert_eq!(find("tags").2, serde_json::json!(["a", "b,c"]));
    assert_eq!(find("valid_range").2, serde_json::json!([180.0, 340.0]));
    assert!(rows.iter().all(|r| r.0 != "history"));
    let keys: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
    let table = ok(p, &a);
    assert!(table.starts_with("KEY"), "{table}");
    assert!(
        table.contains("units") && table.contains("\"degC\""),
        "{table}"
    );
    assert_eq!(
        json(p, &with(&["get", "units", "--json"]))["type"],
        "string"
    );
    // Bad edits.
    fails(p, &with(&["get", "nope"]), 2, "has no attribute \"nope\"");
    fails(p, &with(&["rm", "nope"]), 2, "has no attribute \"nope\"");
    fails(
        p,
        &with(&["set", "x", "300", "--type", "u8"]),
        2,
        "not a valid u8",
    );
    fails(
        p,
        &with(&["set", "x", "1", "--type", "complex"]),
        2,
        "unknown attribute type",
    );
    fails(p, &["attrs", "demo.af", "nope"], 2, "no array \"nope\"");
}

#[test]
fn compact_keeps_the_data() {
    let d = TempDir::new().unwrap();
    let p = d.path();
    let a = Array::from_shape_fn(IxDyn(&[30, 20]), |ix| (ix[0] * 20 + ix[1]) as f64 / 7.0);
    write_npy(&p.join("a.npy"), &a);
    let b = Array::from_shape_fn(IxDyn(&[10, 20]), |ix| -((ix[0] + ix[1]) as f64));
    write_npy(&p.join("b.npy"), &b);
    ok(p, &["import", "c.af", "a", "a.npy", "--chunks", "8,8"]);
    ok(p, &["import", "c.af", "a", "b.npy", "--start", "10,0"]);
    ok(p, &["import", "c.af", "copy", "a.npy", "--codec", "zstd"]);
    ok(p, &["attrs", "c.af", "a", "set", "units", "m"]);
    let before = ok(p, &["cat", "c.af", "a", "-f", "json"]);
    let stats_before = ok(p, &["stats", "c.af", "--json"]);
    assert_eq!(
        json(p, &["info", "c.af", "--json"])["layers"]["visible"],
        serde_json::json!([1, 2, 3, 4])
    );
    let out = ok(p, &["compact", "c.af"]);
    assert!(out.starts_with("compacted c.af: 4 layers -> 1"), "{out}");
    assert_eq!(ok(p, &["cat", "c.af", "a", "-f", "json"]), before);
    assert_eq!(ok(p, &["stats", "c.af", "--json"]), stats_before);
    assert_eq!(ok(p, &["attrs", "c.af", "a", "get", "units"]), "m\n");
    assert_eq!(
        json(p, &["info", "c.af", "--json"])["layers"]["visible"],
        serde_json::json!([5])
    );
    assert!(ok(p, &["compact", "c.af"]).contains("nothing to compact"));
    assert!(ok(p, &["verify", "c.af"]).starts_with("ok:"));
    assert!(ok(p, &["vacuum", "c.af"]).contains("nothing to delete"));
}

#[test]
fn verify_reports_a_flipped_byte() {
    let d = TempDir::new().unwrap();
    let p = d.path();
    demo(p);
    flip_data_byte(&p.join("demo.2.af"));
    let out = af(p)
        .args(["verify", "demo.af"])
        .assert()
        .code(1)
        .get_output()
        .clone();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{stdout}");
    assert!(
        lines[0].starts_with("damaged: demo.2.af: frame "),
        "{stdout}"
    );
    assert!(lines[0].contains("checksum"), "{stdout}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("af: demo.af is damaged"));
    let v: Value = serde_json::from_slice(
        &af(p)
            .args(["verify", "demo.af", "--json"])
            .assert()
            .code(1)
            .get_output()
            .stdout,
    )
    .unwrap();
    assert_eq!(v["ok"], false);
    assert_eq!(v["damaged"][0]["path"], "demo.2.af");
    assert!(v["damaged"][0]["frame"].is_u64());
    // Reading the damaged data is an error (exit 1), never wrong data.
    fails(
        p,
        &["export", "demo.af", "temperature", "t.npy"],
        1,
        "checksum mismatch",
    );
    assert!(!p.join("t.npy").exists());
    // A damaged footer: the file cannot even be opened.
    let base = p.join("demo.1.af");
    let mut b = std::fs::read(&base).unwrap();
    let n = b.len();
    b[n - 40] ^= 1;
    std::fs::write(&base, b).unwrap();
    let out = af(p)
        .args(["verify", "demo.af"])
        .assert()
        .code(1)
        .get_output()
        .clone();
    assert!(String::from_utf8_lossy(&out.stdout).contains("footer checksum mismatch"));
    fails(p, &["info", "demo.af"], 1, "corrupted file demo.1.af");
}

#[test]
fn cp_rewrites_with_another_codec_and_keeps_everything() {
    let d = TempDir::new().unwrap();
    let p = d.path();
    demo(p);
    let out = ok(
        p,
        &[
            "cp",
            "demo.af",
            "z.af",
            "--codec",
            "zstd:7",
            "--block-size",
            "256K",
            "--frame-size",
            "8K",
        ],
    );
    assert!(
        out.starts_with("copied demo.af to z.af: 4 arrays, codec zstd:7"),
        "{out}"
    );
    assert_eq!(
        json(p, &["info", "z.af", "--json"])["codecs"],
        serde_json::json!(["zstd"])
    );
    for name in ["temperature", "land_mask", "time", "station_names"] {
        assert_eq!(
            ok(p, &["cat", "demo.af", name, "-f", "json"]),
            ok(p, &["cat", "z.af", name, "-f", "json"]),
            "{name}"
        );
        assert_eq!(
            ok(p, &["attrs", "demo.af", name, "--json"]),
            ok(p, &["attrs", "z.af", name, "--json"])
        );
    }
    let strip = |v: Value| -> Vec<Value> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|a| {
                let mut a = a.clone();
                for k in ["stored_bytes", "ratio"] {
                    a.as_object_mut().unwrap().remove(k);
                }
                a
            })
            .collect()
    };
    assert_eq!(
        strip(json(p, &["ls", "demo.af", "--json"])),
        strip(json(p, &["ls", "z.af", "--json"]))
    );
    assert_eq!(
        ok(p, &["stats", "demo.af", "--json"]),
        ok(p, &["stats", "z.af", "--json"])
    );
    // A sparse array stays sparse, with the same statistics.
    let a = ArrayD::from_elem(IxDyn(&[4, 4]), 3u16);
    write_npy(&p.join("a.npy"), &a);
    ok(p, &["import", "demo.af", "sparse", "a.npy"]);
    let big = ArrayD::<u16>::zeros(IxDyn(&[64, 64]));
    write_npy(&p.join("big.npy"), &big);
    ok(
        p,
        &[
            "import",
            "demo.af",
            "sparse",
            "big.npy",
            "--replace",
            "--chunks",
            "8,8",
        ],
    );
    ok(
        p,
        &["import", "demo.af", "sparse", "a.npy", "--start", "60,0"],
    );
    ok(p, &["cp", "demo.af", "z.af", "--force"]);
    let sparse = |f: &str| {
        json(p, &["ls", f, "--json"])
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == "sparse")
            .unwrap()["chunks_written"]
            .clone()
    };
    assert_eq!(sparse("demo.af"), 64);
    assert_eq!(sparse("z.af"), 64);
    assert_eq!(
        ok(p, &["stats", "demo.af", "sparse", "--json"]),
        ok(p, &["stats", "z.af", "sparse", "--json"])
    );
    // Copying an old version, and the guards.
    ok(p, &["cp", "demo.af", "old.af", "--at", "1"]);
    assert_eq!(
        json(p, &["stats", "old.af", "temperature", "--json"])["null_count"],
        12 * 90 * 180
    );
    fails(
        p,
        &["cp", "demo.af", "z.af"],
        2,
        "already exists; use --force",
    );
    fails(
        p,
        &["cp", "demo.af", "./demo.af", "--force"],
        2,
        "are the same file",
    );
}

#[test]
fn file_urls_name_local_files() {
    let d = TempDir::new().unwrap();
    let p = d.path();
    demo(p);
    let url = format!(
        "file://{}",
        p.join("demo.af").canonicalize().unwrap().display()
    );
    let ls = json(p, &["ls", &url, "--json"]);
    assert_eq!(ls.as_array().unwrap().len(), 4);
    assert!(ls[0]["stored_bytes"].as_u64().unwrap() > 0);
    let copy = format!("file://{}/copy.af", p.canonicalize().unwrap().display());
    ok(p, &["cp", &url, &copy]);
    assert_eq!(
        ok(p, &["cat", "copy.af", "land_mask", "-f", "csv"]),
        ok(p, &["cat", &url, "land_mask", "-f", "csv"])
    );
    assert!(ok(p, &["verify", &copy]).starts_with("ok:"));
}

#[test]
fn bad_inputs_give_one_line_and_an_exit_code() {
    let d = TempDir::new().unwrap();
    let p = d.path();
    demo(p);
    // Missing files.
    fails(
        p,
        &["info", "missing.af"],
        2,
        "af: cannot open missing.af: no array-format file at missing.af",
    );
    fails(
        p,
        &["ls", "nowhere/missing.af"],
        2,
        "cannot open nowhere/missing.af",
    );
    fails(p, &["info", "demo.txt"], 2, "must end in \".af\"");
    // Bad URLs.
    fails(p, &["ls", "ftp://host/x.af"], 2, "unsupported URL");
    fails(p, &["ls", "s3:///x.af"], 2, "unsupported URL");
    fails(
        p,
        &["ls", "gs://bucket/x.af"],
        2,
        "gs:// URLs are not supported",
    );
    fails(p, &["ls", "memory:///x.af"], 2, "memory://");
    fails(p, &["ls", "s3://bad host/x.af"], 2, "invalid URL");
    // Unknown array.
    fails(
        p,
        &["cat", "demo.af", "temp"],
        2,
        "no array \"temp\" in demo.af; its arrays are: temperature, land_mask",
    );
    fails(p, &["stats", "demo.af", "temp"], 2, "no array \"temp\"");
    fails(
        p,
        &["export", "demo.af", "temp", "x.npy"],
        2,
        "no array \"temp\"",
    );
    // Bad slices.
    fails(
        p,
        &["cat", "demo.af", "temperature", "--slice", "48"],
        2,
        "index 48 is out of range for dimension 0 (time) of size 48",
    );
    fails(
        p,
        &["cat", "demo.af", "temperature", "--slice", "0,-91"],
        2,
        "out of range for dimension 1 (lat)",
    );
    fails(
        p,
        &["cat", "demo.af", "temperature", "--slice", "0,0,0,0"],
        2,
        "4 entries but the array has 3 dimensions",
    );
    fails(
        p,
        &["cat", "demo.af", "temperature", "--slice", "::-1"],
        2,
        "negative steps",
    );
    fails(
        p,
        &["cat", "demo.af", "temperature", "--slice", "x:2"],
        2,
        "is not an integer",
    );
    fails(
        p,
        &["cat", "demo.af", "temperature", "--slice", "0::0"],
        2,
        "must not be 0",
    );
    fails(
        p,
        &[
            "export",
            "demo.af",
            "temperature",
            "x.npy",
            "--slice",
            "1,2,3,4",
        ],
        2,
        "4 entries",
    );
    // Wrong dtype for import into an existing array, and other import errors.
    write_npy(
        &p.join("f64.npy"),
        &ArrayD::from_elem(IxDyn(&[2, 2]), 1.0f64),
    );
    fails(
        p,
        &[
            "import",
            "demo.af",
            "land_mask",
            "f64.npy",
            "--start",
            "0,0",
        ],
        2,
        "the array holds u8, the .npy file holds f64",
    );
    write_npy(&p.join("u8.npy"), &ArrayD::from_elem(IxDyn(&[2, 2]), 1u8));
    fails(
        p,
        &[
            "import",
            "demo.af",
            "land_mask",
            "u8.npy",
            "--start",
            "89,0",
        ],
        2,
        "does not fit",
    );
    fails(
        p,
        &["import", "demo.af", "land_mask", "u8.npy", "--start", "0"],
        2,
        "the ranks differ",
    );
    fails(
        p,
        &["import", "demo.af", "land_mask", "f64.npy"],
        2,
        "already exists",
    );
    fails(
        p,
        &["import", "demo.af", "new", "f64.npy", "--chunks", "2"],
        2,
        "--chunks has 1 entries",
    );
    fails(
        p,
        &["import", "demo.af", "new", "f64.npy", "--fill", "abc"],
        2,
        "--fill",
    );
    fails(
        p,
        &["import", "demo.af", "new", "missing.npy"],
        2,
        "cannot read missing.npy",
    );
    std::fs::write(p.join("junk.npy"), b"not a numpy file").unwrap();
    fails(
        p,
        &["import", "demo.af", "new", "junk.npy"],
        2,
        "is not a valid .npy file",
    );
    // A complex-number .npy file (header written by hand).
    let mut complex = b"\x93NUMPY\x01\x00".to_vec();
    let mut header = "{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }".to_string();
    while !(10 + header.len() + 1).is_multiple_of(64) {
        header.push(' ');
    }
    header.push('\n');
    complex.extend_from_slice(&(header.len() as u16).to_le_bytes());
    complex.extend_from_slice(header.as_bytes());
    complex.extend_from_slice(&[0; 8]);
    std::fs::write(p.join("complex.npy"), complex).unwrap();
    fails(
        p,
        &["import", "demo.af", "new", "complex.npy"],
        2,
        "complex numbers",
    );
    let whole = std::fs::read(p.join("f64.npy")).unwrap();
    std::fs::write(p.join("short.npy"), &whole[..whole.len() - 3]).unwrap();
    fails(
        p,
        &["import", "demo.af", "new", "short.npy"],
        2,
        "short.npy is truncated",
    );
    // Nothing was defined by the failed imports.
    assert_eq!(
        json(p, &["ls", "demo.af", "--json"])
            .as_array()
            .unwrap()
            .len(),
        4
    );
    // Usage errors from the argument parser.
    fails(
        p,
        &["cat", "demo.af", "temperature", "--format", "xml"],
        2,
        "invalid value 'xml'",
    );
    fails(
        p,
        &["import", "demo.af", "x", "f64.npy", "--codec", "gzip"],
        2,
        "unknown codec",
    );
    fails(
        p,
        &["cp", "demo.af", "x.af", "--block-size", "lots"],
        2,
        "is not a size",
    );
    fails(p, &["frobnicate"], 2, "unrecognized subcommand");
    // A corrupt file: damage is exit code 1.
    let mut b = std::fs::read(p.join("demo.2.af")).unwrap();
    let n = b.len();
    b[n - 1] ^= 0xff; // the trailer's magic
    std::fs::write(p.join("demo.2.af"), b).unwrap();
    fails(p, &["ls", "demo.af"], 1, "corrupted file demo.2.af");
}

#[test]
fn output_to_a_closed_pipe_is_not_an_error() {
    let d = counting(&[2000, 100], "100,100");
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin!("af"))
        .args(["cat", "s.af", "a", "-f", "csv"])
        .current_dir(d.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 16];
    std::io::Read::read_exact(&mut stdout, &mut first).unwrap();
    drop(stdout);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
