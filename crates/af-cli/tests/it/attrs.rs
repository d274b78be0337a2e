//! `af attrs`: the attributes of an array.

use serde_json::Value;
use tempfile::TempDir;

use crate::{demo, fails, json, ok};

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
