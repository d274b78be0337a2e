//! `af attrs`: the attributes of an array, and of the file itself (`/`).

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

#[test]
fn the_file_s_own_attributes_are_addressed_as_slash() {
    let d = TempDir::new().unwrap();
    let p = d.path();
    demo(p);
    let f = ["attrs", "demo.af", "/"];
    let with =
        |extra: &[&'static str]| -> Vec<&'static str> { f.iter().chain(extra).copied().collect() };
    assert_eq!(ok(p, &with(&["get", "Conventions"])), "CF-1.10\n");
    assert_eq!(
        ok(p, &with(&["set", "institution", "Nowhere Lab"])),
        "set /institution = \"Nowhere Lab\" (string)\n"
    );
    ok(p, &with(&["set", "version", "3", "--type", "u16"]));
    assert_eq!(ok(p, &with(&["rm", "history"])), "removed /history\n");
    // Committed: a new process sees them, in key order.
    let list = json(p, &with(&["--json"]));
    let keys: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["Conventions", "institution", "title", "version"]);
    assert_eq!(list[3]["type"], "u16");
    let table = ok(p, &f);
    assert!(
        table.starts_with("KEY") && table.contains("Nowhere Lab"),
        "{table}"
    );
    let info = ok(p, &["info", "demo.af"]);
    assert!(info.contains("institution = \"Nowhere Lab\""), "{info}");
    let info = json(p, &["info", "demo.af", "--json"]);
    assert_eq!(info["attributes"][1]["value"], "Nowhere Lab");
    // The arrays' attributes are untouched.
    assert_eq!(
        ok(p, &["attrs", "demo.af", "temperature", "get", "units"]),
        "K\n"
    );
    // Old versions: layer 1 had no history yet; read-only.
    fails(
        p,
        &["attrs", "demo.af", "/", "get", "history", "--at", "1"],
        2,
        "demo.af has no file attribute \"history\"",
    );
    assert_eq!(
        ok(p, &["attrs", "demo.af", "/", "get", "history", "--at", "2"]),
        "written by af demo in two flushes\n"
    );
    fails(
        p,
        &["attrs", "demo.af", "/", "set", "x", "1", "--at", "2"],
        2,
        "read-only",
    );
    fails(
        p,
        &with(&["rm", "nope"]),
        2,
        "has no file attribute \"nope\"",
    );
    fails(
        p,
        &with(&["get", "nope"]),
        2,
        "has no file attribute \"nope\"",
    );
    // Kept by compaction.
    ok(p, &["compact", "demo.af"]);
    assert_eq!(json(p, &with(&["--json"])), list);
    // A file without any.
    let a = ndarray::ArrayD::from_elem(ndarray::IxDyn(&[2]), 1u8);
    crate::write_npy(&p.join("a.npy"), &a);
    ok(p, &["import", "bare.af", "a", "a.npy"]);
    assert_eq!(
        ok(p, &["attrs", "bare.af", "/"]),
        "bare.af has no file attributes\n"
    );
    assert!(ok(p, &["info", "bare.af"]).contains("attributes    none"));
}
