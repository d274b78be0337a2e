//! Files written by many processes: `af layers` and `af info` show the
//! staged parts a layer adopted, `af verify` checks them, `af vacuum`
//! reports the parts it removes, and `af compact` folds them in.

use std::path::Path;

use array_format::{ArrayFile, FileConfig, Lz4Codec};
use ndarray::{ArrayD, IxDyn};
use tempfile::TempDir;

use crate::{fails, json, ok};

/// `s.af`: `t` (i32, 8 elements in chunks of 2) committed empty, then
/// three handles stage a chunk each, and a coordinator commits two of the
/// three parts as one layer (the third stays unadopted).
fn staged_file(dir: &Path) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let path = dir.join("s.af");
        let config = || FileConfig::new(Lz4Codec);
        let mut f = ArrayFile::create_path(&path, config()).await.unwrap();
        f.define_array::<i32>("t", vec![], vec![8], Some(vec![2]), None)
            .unwrap();
        f.flush().await.unwrap();
        let mut parts = Vec::new();
        for w in 0..3 {
            let mut h = ArrayFile::open_path(&path, config()).await.unwrap();
            let data = ArrayD::from_shape_vec(IxDyn(&[2]), vec![w * 10, w * 10 + 1]).unwrap();
            h.write_array("t", vec![2 * w as usize], data.view())
                .await
                .unwrap();
            parts.push(h.stage().await.unwrap());
        }
        f.commit_parts(&parts[..2]).await.unwrap();
    });
}

#[test]
fn layers_info_verify_vacuum_and_compact_know_staged_parts() {
    let d = TempDir::new().unwrap();
    let p = d.path();
    staged_file(p);
    let layers = ok(p, &["layers", "s.af"]);
    let header = layers.lines().next().unwrap();
    assert!(header.ends_with("VISIBLE  PARTS"), "{layers}");
    let last = layers.lines().last().unwrap();
    assert!(
        last.starts_with("    2  delta") && last.ends_with(" 2"),
        "{layers}"
    );
    let v = json(p, &["layers", "s.af", "--json"]);
    assert_eq!(v[2]["parts"], 2);
    assert_eq!(v[1]["parts"], 0);
    let info = ok(p, &["info", "s.af"]);
    assert!(info.contains("staged parts  2 adopted"), "{info}");
    assert_eq!(json(p, &["info", "s.af", "--json"])["layers"]["parts"], 2);
    assert_eq!(
        ok(p, &["cat", "s.af", "t", "-f", "csv"]).trim(),
        "0\n1\n10\n11\n0\n0\n0\n0"
    );
    assert!(ok(p, &["verify", "s.af"]).starts_with("ok:"));

    // The unadopted part is young: kept, unless the grace says otherwise.
    assert!(ok(p, &["vacuum", "s.af"]).contains("nothing to delete"));
    fails(p, &["vacuum", "s.af", "--part-grace", "2w"], 2, "unit");
    let out = ok(p, &["vacuum", "s.af", "--part-grace", "0"]);
    assert!(out.contains("deleted s.parts/"), "{out}");
    assert!(out.contains("1 object (1 staged part)"), "{out}");
    assert_eq!(std::fs::read_dir(p.join("s.parts")).unwrap().count(), 2);
    assert!(ok(p, &["verify", "s.af"]).starts_with("ok:"));

    // Compaction copies the adopted frames; the parts stay with the layer
    // that adopted it for the retention, and go with it after that.
    assert!(ok(p, &["compact", "s.af"]).starts_with("compacted s.af: 2 layers -> 1"));
    assert_eq!(std::fs::read_dir(p.join("s.parts")).unwrap().count(), 2);
    assert!(ok(p, &["vacuum", "s.af"]).contains("nothing to delete"));
    fails(p, &["vacuum", "s.af", "--retention", "1w"], 2, "unit");
    let out = ok(p, &["vacuum", "s.af", "--retention", "0"]);
    assert!(out.contains("deleted s.2.af"), "{out}");
    assert!(out.contains("(2 staged parts)"), "{out}");
    assert_eq!(std::fs::read_dir(p.join("s.parts")).unwrap().count(), 0);
    let layers = ok(p, &["layers", "s.af"]);
    assert!(!layers.contains("PARTS"), "{layers}");
    assert!(!ok(p, &["info", "s.af"]).contains("staged parts"));
    assert_eq!(
        ok(p, &["cat", "s.af", "t", "-f", "csv"]).trim(),
        "0\n1\n10\n11\n0\n0\n0\n0"
    );
}
