//! The model-based test (`model.rs`) on every store: the same sequences
//! (`model::STORE_SEEDS`) everywhere, fewer of them on remote stores when
//! `AF_TEST_REMOTE_SHARE` says so.

use af_testkit::Backend;

use crate::model::{STORE_SEEDS, Target};

async fn model(backend: Backend, test: &'static str) {
    crate::model::run(Target::Store(&backend), test, STORE_SEEDS).await;
}

per_backend!(model);
