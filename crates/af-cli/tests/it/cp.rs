//! `af cp`: copies with another codec, old versions, URLs.

use ndarray::{ArrayD, IxDyn};
use serde_json::Value;
use tempfile::TempDir;

use crate::{demo, fails, json, ok, write_npy};

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
    let info = json(p, &["info", "z.af", "--json"]);
    // zstd:7 after the default filters of each array's dtype.
    assert_eq!(
        info["codecs"],
        serde_json::json!(["shuffle:4+zstd", "shuffle:8+zstd", "zstd"])
    );
    assert_eq!(
        info["array_codecs"],
        serde_json::json!({
            "temperature": "shuffle+zstd:7", "land_mask": "zstd:7", "time": "shuffle+zstd:7",
            "station_names": "zstd:7"
        })
    );
    // The file's own attributes are copied too.
    assert_eq!(
        ok(p, &["attrs", "demo.af", "/", "--json"]),
        ok(p, &["attrs", "z.af", "/", "--json"])
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
                // The copy records zstd:7 for every array.
                for k in ["stored_bytes", "ratio", "codec", "stored_codecs"] {
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
