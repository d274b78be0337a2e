//! `af import` and `af export`: .npy round trips for many dtypes and ranks,
//! writes into regions, replacement, Fortran order.

use ndarray::{Array, ArrayD, IxDyn, ShapeBuilder};
use ndarray_npy::WriteNpyExt;
use std::path::Path;
use tempfile::TempDir;

use crate::{demo, fails, json, ok, read_npy, write_npy};

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

/// A `.npy` file of `descr` elements whose little-endian bytes are `data`.
fn raw_npy(path: &Path, descr: &str, len: usize, data: &[u8]) {
    let dict = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': ({len},), }}");
    let mut header = dict.into_bytes();
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(b' ');
    }
    header.push(b'\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(&header);
    out.extend_from_slice(data);
    std::fs::write(path, out).unwrap();
}

#[test]
fn half_floats_and_complex_numbers_import_print_and_export() {
    use array_format::half::f16;
    let d = TempDir::new().unwrap();
    let p = d.path();
    let h: Vec<u8> = [1.5f32, -2.0, f32::NAN]
        .iter()
        .flat_map(|&v| f16::from_f32(v).to_bits().to_le_bytes())
        .collect();
    raw_npy(&p.join("h.npy"), "<f2", 3, &h);
    let c: Vec<u8> = [1.0f32, 2.0, -0.5, -4.0]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    raw_npy(&p.join("c.npy"), "<c8", 2, &c);
    ok(p, &["import", "x.af", "h", "h.npy", "--fill", "-1"]);
    ok(
        p,
        &[
            "import", "x.af", "c", "c.npy", "--codec", "zstd", "--fill", "0.5,-1",
        ],
    );
    assert_eq!(
        ok(p, &["cat", "x.af", "h", "-f", "csv"]).trim(),
        "1.5\n-2.0\nnan"
    );
    assert_eq!(
        ok(p, &["cat", "x.af", "c", "-f", "csv"]).trim(),
        "(1.0+2.0j)\n(-0.5-4.0j)"
    );
    let ls = json(p, &["ls", "x.af", "--json"]);
    let arrays = ls.as_array().unwrap();
    let c_meta = arrays.iter().find(|a| a["name"] == "c").unwrap();
    assert_eq!(c_meta["dtype"], "c64");
    assert_eq!(c_meta["fill_value"], serde_json::json!([0.5, -1.0]));
    assert_eq!(c_meta["codec"], "shuffle+zstd:3");
    // Exported, the files hold the bytes they were imported from.
    ok(p, &["export", "x.af", "h", "h2.npy"]);
    ok(p, &["export", "x.af", "c", "c2.npy"]);
    for (file, data) in [("h2.npy", &h), ("c2.npy", &c)] {
        let bytes = std::fs::read(p.join(file)).unwrap();
        assert_eq!(&bytes[bytes.len() - data.len()..], &data[..], "{file}");
    }
    fails(
        p,
        &["import", "x.af", "q", "c.npy", "--filters", "delta"],
        2,
        "differences of integers",
    );
}
