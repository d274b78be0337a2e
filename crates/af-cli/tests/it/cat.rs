//! `af cat`: numpy-like slices and elided output.

use crate::{counting, json, ok};

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
