//! `af compact`, `af vacuum` and `af verify`.

use ndarray::{Array, IxDyn};
use serde_json::Value;
use tempfile::TempDir;

use crate::{af, demo, fails, flip_data_byte, json, ok, write_npy};

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
    // The replaced layers stay for the retention: time travel reaches them.
    assert!(ok(p, &["vacuum", "c.af"]).contains("nothing to delete"));
    assert!(p.join("c.1.af").exists() && p.join("c.4.af").exists());
    assert_eq!(
        ok(p, &["cat", "c.af", "a", "-f", "json", "--at", "4"]),
        before
    );
    let out = ok(p, &["vacuum", "c.af", "--retention", "0"]);
    assert!(out.contains("vacuumed c.af: 4 objects"), "{out}");
    assert!(!p.join("c.1.af").exists() && !p.join("c.4.af").exists());
    assert_eq!(ok(p, &["cat", "c.af", "a", "-f", "json"]), before);
}

#[test]
fn compact_with_no_retention_deletes_the_replaced_layers() {
    let d = TempDir::new().unwrap();
    let p = d.path();
    demo(p);
    let before = ok(p, &["cat", "demo.af", "temperature", "-f", "csv"]);
    let out = ok(p, &["compact", "demo.af", "--retention", "0"]);
    assert!(out.contains("layers -> 1"), "{out}");
    let names: Vec<String> = std::fs::read_dir(p)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("demo.") && n.ends_with(".af"))
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert_eq!(
        ok(p, &["cat", "demo.af", "temperature", "-f", "csv"]),
        before
    );
    fails(
        p,
        &["compact", "demo.af", "--retention", "soon"],
        2,
        "retention",
    );
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
