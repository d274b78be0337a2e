//! End-to-end tests of the `af` binary, one test binary with a module per
//! command group: every command, .npy round trips, slices, edits that
//! survive reopening, per-array codecs, the file's attributes, damage
//! detection, history, copies, and the message and exit code of each kind
//! of bad input. The helpers below run `af` in a directory.

mod attrs;
mod cat;
mod codecs;
mod cp;
mod general;
mod inspect;
mod maintenance;
mod npy;
mod parts;

use std::path::Path;

use assert_cmd::Command;
use ndarray::{ArrayD, IxDyn};
use ndarray_npy::{ReadNpyExt, WriteNpyExt};
use predicates::prelude::*;
use serde_json::Value;
use tempfile::TempDir;

/// `af`, run in `dir`.
pub(crate) fn af(dir: &Path) -> Command {
    let mut c = assert_cmd::cargo::cargo_bin_cmd!("af");
    c.current_dir(dir);
    c
}

/// Runs `af args` in `dir`, expects success, returns stdout.
pub(crate) fn ok(dir: &Path, args: &[&str]) -> String {
    let out = af(dir).args(args).assert().success().get_output().clone();
    assert!(
        out.stderr.is_empty(),
        "stderr of {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs `af args --json`-style commands and parses stdout.
pub(crate) fn json(dir: &Path, args: &[&str]) -> Value {
    serde_json::from_str(&ok(dir, args)).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

/// Expects exit `code` and a stderr line starting with `af: ` that contains
/// `msg`; never a panic or a backtrace.
pub(crate) fn fails(dir: &Path, args: &[&str], code: i32, msg: &str) -> String {
    let out = af(dir)
        .args(args)
        .assert()
        .code(code)
        .stderr(predicate::str::contains(msg))
        .stderr(predicate::str::contains("panicked").not())
        .get_output()
        .clone();
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        !err.contains("panicked") && !err.contains("backtrace"),
        "{args:?}: {err}"
    );
    assert!(err.contains(msg), "{args:?}: expected {msg:?} in {err:?}");
    assert!(err.lines().count() <= 8, "{args:?}: too long: {err}");
    err
}

/// Writes the sample file `demo.af` into `dir`.
pub(crate) fn demo(dir: &Path) {
    af(dir).args(["demo", "demo.af"]).assert().success();
}

/// Writes `a` to the .npy file at `path`.
pub(crate) fn write_npy<T: ndarray_npy::WritableElement>(path: &Path, a: &ArrayD<T>) {
    let f = std::fs::File::create(path).unwrap();
    a.write_npy(f).unwrap();
}

/// Reads the .npy file at `path`.
pub(crate) fn read_npy<T: ndarray_npy::ReadableElement>(path: &Path) -> ArrayD<T> {
    ArrayD::<T>::read_npy(std::fs::File::open(path).unwrap()).unwrap()
}

/// Flips one byte in the middle of the data region of a layer object.
pub(crate) fn flip_data_byte(path: &Path) {
    let mut b = std::fs::read(path).unwrap();
    let n = b.len();
    let footer_len = u64::from_le_bytes(b[n - 32..n - 24].try_into().unwrap()) as usize;
    let data_end = n - 32 - footer_len;
    assert!(data_end > 0, "{} has no data region", path.display());
    b[data_end / 2] ^= 0x5a;
    std::fs::write(path, b).unwrap();
}

/// Imports 0..n as i32 with `shape` and returns the file's directory.
pub(crate) fn counting(shape: &[usize], chunks: &str) -> TempDir {
    let d = TempDir::new().unwrap();
    let n: usize = shape.iter().product();
    let a = ArrayD::from_shape_vec(IxDyn(shape), (0..n as i32).collect()).unwrap();
    write_npy(&d.path().join("a.npy"), &a);
    ok(
        d.path(),
        &["import", "s.af", "a", "a.npy", "--chunks", chunks],
    );
    d
}
