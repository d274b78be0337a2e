//! The crash points of `crash.rs` on every store: for each mutating
//! request k of the workload (a sample on remote stores), the workload
//! runs on a fresh store of the kind through a `FaultyStore` failing from
//! request k on; the file, reopened through a new client, must be at a
//! committed version and take new commits.

use af_testkit::Backend;

async fn crash(backend: Backend, _test: &'static str) {
    crate::crash::crash_points(&backend).await;
}

per_backend!(crash);
