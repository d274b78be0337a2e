//! `af demo`, the help of every command, and what goes wrong: each kind of
//! bad input gives one line and an exit code, a closed pipe is no error.

use ndarray::{ArrayD, IxDyn};
use tempfile::TempDir;

use crate::{counting, demo, fails, json, ok, write_npy};

#[test]
fn demo_writes_a_file_with_history_and_suggests_commands() {
    let d = TempDir::new().unwrap();
    // Default path: ./demo.af
    let out = ok(d.path(), &["demo"]);
    assert!(d.path().join("demo.af").exists());
    for s in [
        "arrays        4",
        "codecs        lz4",
        "array codecs  none recorded (4 arrays)",
        "attributes    Conventions = \"CF-1.10\"",
        "af attrs demo.af /",
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
            "NAME", "DTYPE", "SHAPE", "CHUNKS", "FILL", "CODEC", "STORED", "RATIO"
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
        &["ls", "http://host/x.af"],
        2,
        "http:// URLs are not supported",
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
    // A .npy file of 32-byte complex numbers (header written by hand).
    let mut complex = b"\x93NUMPY\x01\x00".to_vec();
    let mut header = "{'descr': '<c32', 'fortran_order': False, 'shape': (1,), }".to_string();
    while !(10 + header.len() + 1).is_multiple_of(64) {
        header.push(' ');
    }
    header.push('\n');
    complex.extend_from_slice(&(header.len() as u16).to_le_bytes());
    complex.extend_from_slice(header.as_bytes());
    complex.extend_from_slice(&[0; 32]);
    std::fs::write(p.join("complex.npy"), complex).unwrap();
    fails(
        p,
        &["import", "demo.af", "new", "complex.npy"],
        2,
        "this complex size",
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
