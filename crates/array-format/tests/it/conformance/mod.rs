//! The conformance suite: the library's contracts checked on every kind of
//! store it runs on, `af_testkit::Backend` — `memory` (`InMemory`), `disk`
//! (`LocalFileSystem` over a temporary directory), `s3s` (the S3 server in
//! this process), and `moto` and `azurite` when the environment names them
//! (`SKIP` otherwise; a failure under `REQUIRE_S3=1` / `REQUIRE_AZURITE=1`).
//!
//! Each suite is a module with one test per kind
//! (`conformance::<suite>::<kind>`, so that the kinds run in parallel and
//! can be picked by name):
//!
//! * `capabilities`: probes what each store can do and checks it against
//!   the table in `af_testkit::Capabilities` (which the other suites
//!   consult, never silently leaving a case out: a case a backend cannot
//!   run prints `SKIP <case> on <backend>: <capability>`);
//! * `model`: the model-based test (`model.rs`), every sequence's file in
//!   a directory of its own;
//! * `crash`: the crash points of `crash.rs`, each on a fresh store of the
//!   kind, reopened through a new client of it;
//! * `writers`: two handles racing commits on one file (`writers.rs`):
//!   disjoint changes both land, colliding ones are a `Conflict` (never
//!   lost), stale writers against a compaction, reads after a compaction;
//! * `corruption`: `corruption.rs`'s damaged bytes and truncations, applied
//!   through the store.
//!
//! On remote stores (`s3s`, `moto`, `azurite`) every request is a round
//! trip: `AF_TEST_REMOTE_SHARE` (a fraction) makes each suite run that
//! share of its cases there (`Backend::cases`, `Backend::sample`), spread
//! over the whole list. Unset, every case runs everywhere. Each test prints
//! `conformance: <test> (<store>) <seconds> s`. See docs/TESTING.md.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::future::Future;
use std::time::Instant;

use af_testkit::{Backend, Kind};

/// One test per kind of store, `memory` to `azurite`, each running
/// `$suite(backend, test)` on a fresh store of its kind ([`run`]).
macro_rules! per_backend {
    ($suite:ident) => {
        per_backend!(@each $suite: memory Memory, disk Disk, s3s S3s, moto Moto, azurite Azurite);
    };
    (@each $suite:ident: $($name:ident $kind:ident),*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let test = concat!(module_path!(), "::", stringify!($name));
                crate::conformance::run(af_testkit::Kind::$kind, test, $suite).await;
            }
        )*
    };
}

mod capabilities;
mod corruption;
mod crash;
mod model;
mod writers;

/// Runs `suite` on a fresh store of `kind` if one is available (`SKIP`
/// otherwise), and prints how long it took. `test` is the test's module
/// path (`it::conformance::model::s3s`).
pub(crate) async fn run<S, F>(kind: Kind, test: &'static str, suite: S)
where
    S: FnOnce(Backend, &'static str) -> F,
    F: Future<Output = ()>,
{
    let test = test.strip_prefix("it::").unwrap_or(test);
    let Some(backend) = Backend::available(kind, test) else {
        return;
    };
    let started = Instant::now();
    let store = format!("{backend:?}");
    suite(backend, test).await;
    println!(
        "conformance: {test} ({store}) {:.1} s",
        started.elapsed().as_secs_f64()
    );
}
