//! Test support of the integration tests: where a test's file lives
//! ([`Place`]) and ways to damage layer objects. The stores, servers and
//! wrappers they share with the benchmarks are in `af-testkit`.

#![allow(dead_code)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod place;

pub use place::Place;

pub use af_testkit::{CountingStore, FaultyStore, RequestKind, Rng, azurite, s3};

use array_format::ArrayFile;

// ── Damage ──────────────────────────────────────────────────────────

/// Rewrites the footer of the layer object at `path` with `patch` and
/// recomputes the footer and trailer checksums, so that only what the patch
/// damaged is damaged.
pub fn patch_footer(path: &std::path::Path, patch: impl FnOnce(&mut [u8])) {
    let mut bytes = std::fs::read(path).unwrap();
    let n = bytes.len();
    let footer_len = u64::from_le_bytes(bytes[n - 32..n - 24].try_into().unwrap()) as usize;
    let footer = n - 32 - footer_len..n - 32;
    patch(&mut bytes[footer.clone()]);
    let crc = crc32c::crc32c(&bytes[footer]);
    bytes[n - 24..n - 20].copy_from_slice(&crc.to_le_bytes());
    let crc = crc32c::crc32c(&bytes[n - 32..n - 16]);
    bytes[n - 16..n - 12].copy_from_slice(&crc.to_le_bytes());
    std::fs::write(path, bytes).unwrap();
}

/// The message of an [`Error::Corrupted`] about layer `layer`; any other
/// error fails the test.
pub fn corrupted(e: array_format::Error, layer: &str) -> String {
    match e {
        array_format::Error::Corrupted { path, what } => {
            assert!(path.ends_with(layer), "{path}");
            what
        }
        other => panic!("expected Corrupted, got {other:?}"),
    }
}

/// Damages the layer object at `path` where the string attribute value
/// `marker` (shorter than 128 bytes) is stored: its tag (12, before the
/// length) becomes the unknown tag 99, the checksums stay valid.
pub fn damage_string_attribute(path: &std::path::Path, marker: &[u8]) {
    patch_footer(path, |footer| {
        let at = footer
            .windows(marker.len())
            .position(|w| w == marker)
            .unwrap();
        assert_eq!(&footer[at - 2..at], &[12, marker.len() as u8]);
        footer[at - 2] = 99;
    });
}

/// `verify` and `versions` report damage in the footer of layer `layer`
/// (named `file`) only, and `compact` refuses to drop it.
pub async fn assert_footer_damage_reported(f: &mut ArrayFile, layer: u64, file: &str) {
    let report = f.verify().await.unwrap();
    assert!(!report.is_ok());
    assert!(
        report
            .damaged
            .iter()
            .all(|d| d.frame.is_none() && d.path.ends_with(file)),
        "{:?}",
        report.damaged
    );
    let versions = f.versions().await.unwrap();
    for v in &versions {
        assert_eq!(v.damage.is_some(), v.layer == layer, "{v:?}");
    }
    let layers = f.num_layers();
    corrupted(f.compact().await.unwrap_err(), file);
    assert_eq!(f.num_layers(), layers);
}
