//! The read-only reports: `af info`, `af ls`, `af stats`, `af layers`, and
//! old versions through `--at`.

use ndarray::ArrayD;
use serde_json::Value;
use tempfile::TempDir;

use crate::{demo, fails, json, ok, read_npy};

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
            "NAME", "DTYPE", "SHAPE", "CHUNKS", "DIMS", "FILL", "ATTRS", "CODEC", "WRITTEN", "RAW",
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
