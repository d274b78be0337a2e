//! The crate's bottom layers and what each may use: the on-disk format
//! (`format/`) knows the plain value types and nothing of the runtime
//! (files, layers, caches, statistics code, codecs, storage), and the plain
//! value types know nothing above them. A test reads the sources and fails
//! on any `crate::` path outside these rules, so an arrow pointing up is
//! caught when it is written.

#![cfg(test)]

use std::path::{Path, PathBuf};

/// Each bottom module (a file, or a directory for every file in it) and
/// the top-level modules of the crate it may name.
const RULES: &[(&str, &[&str])] = &[
    (
        "format",
        &[
            "chunk_stats",
            "dtype",
            "error",
            "format",
            "value",
            "version",
        ],
    ),
    ("chunk_stats.rs", &["dtype", "value"]),
    ("error.rs", &["dtype", "version"]),
    ("value.rs", &["dtype"]),
    ("dtype.rs", &[]),
    ("version.rs", &[]),
];

fn sources(at: &Path) -> Vec<PathBuf> {
    if at.is_file() {
        return vec![at.to_path_buf()];
    }
    let mut out = Vec::new();
    for entry in std::fs::read_dir(at).unwrap_or_else(|e| panic!("{}: {e}", at.display())) {
        let path = entry.map(|e| e.path()).unwrap_or_default();
        out.extend(
            sources(&path)
                .into_iter()
                .filter(|p| p.extension().is_some_and(|e| e == "rs")),
        );
    }
    out
}

/// The top-level modules `source` names through `crate::` paths, outside
/// comments (doc links are not dependencies), with their line numbers.
fn crate_paths(source: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (n, line) in source.lines().enumerate() {
        let code = line.split("//").next().unwrap_or_default();
        for (at, _) in code.match_indices("crate::") {
            let rest = &code[at + "crate::".len()..];
            let module: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            out.push((n + 1, module));
        }
    }
    out
}

#[test]
fn the_format_and_the_plain_value_types_depend_on_nothing_above_them() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut wrong = Vec::new();
    let mut checked = 0;
    for (module, allowed) in RULES {
        for file in sources(&src.join(module)) {
            let text = std::fs::read_to_string(&file).unwrap_or_default();
            checked += 1;
            for (line, used) in crate_paths(&text) {
                if !allowed.contains(&used.as_str()) {
                    let file = file
                        .strip_prefix(&src)
                        .unwrap_or(&file)
                        .display()
                        .to_string();
                    wrong.push(format!("{file}:{line} uses crate::{used}"));
                }
            }
        }
    }
    assert!(
        checked >= 14,
        "only {checked} files checked: is src/ where it was?"
    );
    assert!(
        wrong.is_empty(),
        "arrows pointing up:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_scan_sees_paths_in_code_and_not_in_comments() {
    let found =
        crate_paths("use crate::stats::X; // crate::file\n/// [a](crate::layer)\nx(crate::nd::f)");
    let modules: Vec<&str> = found.iter().map(|(_, m)| m.as_str()).collect();
    assert_eq!(modules, ["stats", "nd"]);
}
