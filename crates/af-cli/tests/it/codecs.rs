//! Per-array codecs through the command line: `af import --codec` records
//! the codec, later writes and compactions keep it, `af ls` and `af info`
//! show it, `af cp --codec` records its codec for every array, and a file
//! whose arrays record different codecs works with every command.

use ndarray::{ArrayD, IxDyn};
use serde_json::Value;
use tempfile::TempDir;

use crate::{fails, json, ok, write_npy};

/// The `codec` and `stored_codecs` of array `name` in `af ls --json`.
fn codecs(dir: &std::path::Path, file: &str, name: &str) -> (Value, Value) {
    let ls = json(dir, &["ls", file, "--json"]);
    let a = ls
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == name)
        .unwrap()
        .clone();
    (a["codec"].clone(), a["stored_codecs"].clone())
}

#[test]
fn arrays_record_their_codec_and_every_command_follows_it() {
    let d = TempDir::new().unwrap();
    let p = d.path();
    let a = ArrayD::from_shape_fn(IxDyn(&[64, 64]), |ix| (ix[0] * 64 + ix[1]) as i32 % 17);
    write_npy(&p.join("a.npy"), &a);
    let half = ArrayD::from_elem(IxDyn(&[32, 64]), 5i32);
    write_npy(&p.join("half.npy"), &half);
    // Three arrays, three codecs, in a file whose own codec is lz4.
    ok(p, &["import", "m.af", "plain", "a.npy", "--chunks", "8,64"]);
    for (name, pipeline) in [
        ("dense", &["--codec", "zstd", "--filters", "none"][..]),
        ("raw", &["--codec", "none"][..]),
    ] {
        let mut v = vec!["import", "m.af", name, "a.npy", "--chunks", "8,64"];
        v.extend(pipeline);
        ok(p, &v);
    }
    // Told nothing, an array gets the pipeline measured best for its dtype.
    assert_eq!(
        codecs(p, "m.af", "plain"),
        ("pco:8".into(), serde_json::json!(["pco:i32"]))
    );
    assert_eq!(
        codecs(p, "m.af", "dense"),
        ("zstd:3".into(), serde_json::json!(["zstd"]))
    );
    assert_eq!(
        codecs(p, "m.af", "raw"),
        ("none".into(), serde_json::json!(["none"]))
    );
    let ls = ok(p, &["ls", "m.af"]);
    let row = |name: &str| -> Vec<String> {
        ls.lines()
            .find(|l| l.starts_with(name))
            .unwrap()
            .split_whitespace()
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(row("plain")[5], "pco:8");
    assert_eq!(row("dense")[5], "zstd:3");
    assert_eq!(row("raw")[5], "none");
    let info = json(p, &["info", "m.af", "--json"]);
    assert_eq!(
        info["codecs"],
        serde_json::json!(["none", "pco:i32", "zstd"])
    );
    assert_eq!(
        info["array_codecs"],
        serde_json::json!({"plain": "pco:8", "dense": "zstd:3", "raw": "none"})
    );
    let text = ok(p, &["info", "m.af"]);
    assert!(
        text.contains("array codecs  none (1 array), pco:8 (1 array), zstd:3 (1 array)"),
        "{text}"
    );

    // Writes into the arrays keep each one's codec, whatever the file's.
    for name in ["plain", "dense", "raw"] {
        ok(p, &["import", "m.af", name, "half.npy", "--start", "0,0"]);
    }
    assert_eq!(codecs(p, "m.af", "raw").1, serde_json::json!(["none"]));
    assert_eq!(codecs(p, "m.af", "dense").1, serde_json::json!(["zstd"]));
    // --codec cannot change what an array records.
    fails(
        p,
        &[
            "import", "m.af", "raw", "half.npy", "--start", "0,0", "--codec", "lz4",
        ],
        2,
        "records pipeline none",
    );
    ok(
        p,
        &[
            "import", "m.af", "raw", "half.npy", "--start", "32,0", "--codec", "none",
        ],
    );
    fails(
        p,
        &["import", "m.af", "x", "a.npy", "--codec", "gzip"],
        2,
        "unknown codec \"gzip\"",
    );

    // Compaction with another codec for the frames it repacks: arrays that
    // record a codec keep it.
    let before: Vec<String> = ["plain", "dense", "raw"]
        .iter()
        .map(|n| ok(p, &["cat", "m.af", n, "-f", "csv"]))
        .collect();
    ok(p, &["compact", "m.af", "--codec", "zstd:1"]);
    assert_eq!(
        codecs(p, "m.af", "raw"),
        ("none".into(), serde_json::json!(["none"]))
    );
    assert_eq!(codecs(p, "m.af", "dense").0, "zstd:3");
    for (n, b) in ["plain", "dense", "raw"].iter().zip(&before) {
        assert_eq!(&ok(p, &["cat", "m.af", n, "-f", "csv"]), b, "{n}");
    }
    assert!(ok(p, &["verify", "m.af"]).starts_with("ok:"));

    // A copy keeps each array's codec; with --codec, records it for all.
    ok(p, &["cp", "m.af", "same.af"]);
    for name in ["plain", "dense", "raw"] {
        assert_eq!(
            codecs(p, "same.af", name).0,
            codecs(p, "m.af", name).0,
            "{name}"
        );
    }
    ok(p, &["cp", "m.af", "all.af", "--codec", "lz4"]);
    for name in ["plain", "dense", "raw"] {
        assert_eq!(
            codecs(p, "all.af", name),
            ("shuffle+lz4".into(), serde_json::json!(["shuffle:4+lz4"])),
            "{name}"
        );
        assert_eq!(
            ok(p, &["cat", "all.af", name, "-f", "csv"]),
            ok(p, &["cat", "m.af", name, "-f", "csv"])
        );
    }
}

#[test]
fn codecs_and_filters_make_a_pipeline_checked_against_the_dtype() {
    let d = TempDir::new().unwrap();
    let p = d.path();
    let f = ArrayD::from_shape_fn(IxDyn(&[40, 50]), |ix| {
        280.0f32 + ((ix[0] as f32) / 7.0).sin() * 15.0 + ix[1] as f32 * 0.01
    });
    write_npy(&p.join("f.npy"), &f);
    let n = ArrayD::from_shape_fn(IxDyn(&[40, 50]), |ix| (ix[0] * 1000 + ix[1]) as i64);
    write_npy(&p.join("n.npy"), &n);
    for (name, npy, args, recorded, stored) in [
        ("pco", "f.npy", &["--codec", "pco"][..], "pco:8", "pco:f32"),
        (
            "delta",
            "n.npy",
            &["--filters", "delta,shuffle"][..],
            "delta+shuffle+zstd:3",
            "delta:8+shuffle:8+zstd",
        ),
        (
            "whole",
            "n.npy",
            &["--codec", "delta+lz4"][..],
            "delta+lz4",
            "delta:8+lz4",
        ),
        (
            "rounded",
            "f.npy",
            &["--filters", "bitround:8,shuffle", "--codec", "zstd:5"][..],
            "bitround:8+shuffle+zstd:5",
            "shuffle:4+zstd",
        ),
    ] {
        let mut v = vec!["import", "p.af", name, npy];
        v.extend(args);
        ok(p, &v);
        assert_eq!(
            codecs(p, "p.af", name),
            (recorded.into(), serde_json::json!([stored])),
            "{name}"
        );
    }
    // Lossless pipelines read back exactly; bitround within its rounding.
    let cat = |name: &str| ok(p, &["cat", "p.af", name, "-f", "csv"]);
    ok(
        p,
        &[
            "import",
            "p.af",
            "plain",
            "f.npy",
            "--filters",
            "none",
            "--codec",
            "none",
        ],
    );
    assert_eq!(codecs(p, "p.af", "plain").0, "none");
    assert_eq!(cat("pco"), cat("plain"));
    ok(
        p,
        &["import", "p.af", "n_plain", "n.npy", "--codec", "none"],
    );
    assert_eq!(cat("delta"), cat("n_plain"));
    assert_eq!(cat("whole"), cat("n_plain"));
    let rounded: Vec<f64> = cat("rounded")
        .split([',', '\n'])
        .filter_map(|x| x.trim().parse().ok())
        .collect();
    let exact: Vec<f64> = cat("plain")
        .split([',', '\n'])
        .filter_map(|x| x.trim().parse().ok())
        .collect();
    assert_eq!(rounded.len(), 2000);
    assert!(rounded != exact, "bitround changed some values");
    for (r, e) in rounded.iter().zip(&exact) {
        assert!((r - e).abs() <= e.abs() * 2f64.powi(-9), "{r} {e}");
    }
    // What does not suit the dtype, or names filters twice, is refused.
    for (args, says) in [
        (&["--filters", "delta"][..], "differences of integers"),
        (
            &["--codec", "shuffle+lz4", "--filters", "shuffle"][..],
            "not both",
        ),
        (&["--filters", "zip"][..], "unknown filter"),
        (&["--codec", "pco:20"][..], "0-12"),
    ] {
        let mut v = vec!["import", "p.af", "bad", "f.npy"];
        v.extend(args);
        fails(p, &v, 2, says);
    }
    // Writing into an array with another pipeline is refused.
    fails(
        p,
        &[
            "import", "p.af", "pco", "f.npy", "--start", "0,0", "--codec", "lz4",
        ],
        2,
        "records pipeline pco:8",
    );
    ok(
        p,
        &[
            "import", "p.af", "pco", "f.npy", "--start", "0,0", "--codec", "pco",
        ],
    );
}
