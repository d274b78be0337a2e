//! The tokio runtime that drives the library's async API from Python
//! threads: one per process, started on first use.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use pyo3::prelude::*;
use tokio::runtime::Runtime;

static RUNTIME: OnceLock<Runtime> = OnceLock::new();

/// Set in a child process made by `fork` after the parent had started the
/// runtime: the child inherits its memory but none of its threads.
static FORKED: AtomicBool = AtomicBool::new(false);

fn build() -> std::io::Result<Runtime> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    tokio::runtime::Builder::new_multi_thread()
        // The library's CPU work runs on its own pool; the runtime's
        // workers only drive I/O, and fewer start faster.
        .worker_threads(cores.clamp(1, 4))
        // Large local reads run (and decode, with a buffer each) on the
        // blocking pool: as many as there are cores, so that a read of a
        // large array neither waits nor holds a buffer per frame.
        .max_blocking_threads(cores.max(4))
        .enable_all()
        .thread_name("arrayformat-io")
        .build()
}

fn runtime() -> PyResult<&'static Runtime> {
    if FORKED.load(Ordering::Relaxed) {
        return Err(crate::errors::raise(
            "InvalidOperationError",
            "this process was forked after its parent used arrayformat, whose threads a forked child does not have; start worker processes with the 'spawn' or 'forkserver' method".into(),
        ));
    }
    if let Some(rt) = RUNTIME.get() {
        return Ok(rt);
    }
    let rt = build().map_err(|e| {
        pyo3::exceptions::PyRuntimeError::new_err(format!("cannot start the I/O runtime: {e}"))
    })?;
    // A concurrent first call may have won; its runtime serves both.
    Ok(RUNTIME.get_or_init(|| rt))
}

/// Whether this process has started the runtime (and with it the
/// library's thread pools), which a forked child cannot use.
pub fn started() -> bool {
    RUNTIME.get().is_some()
}

/// Marks this process as a child forked after the runtime started.
pub fn forked() {
    if started() {
        FORKED.store(true, Ordering::Relaxed);
    }
}

/// Runs `f` with the GIL released, so that other Python threads run (and
/// read) meanwhile; `f` drives futures with the runtime it is given.
pub fn detached<R, F>(py: Python<'_>, f: F) -> PyResult<R>
where
    F: FnOnce(&Runtime) -> R + Send,
    R: Send,
{
    let rt = runtime()?;
    Ok(py.detach(move || f(rt)))
}
