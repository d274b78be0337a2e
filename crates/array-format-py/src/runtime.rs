//! The tokio runtime that drives the library's async API from Python
//! threads: one per process, started on first use.

use std::sync::{Arc, Mutex};

use pyo3::prelude::*;
use tokio::runtime::Runtime;

/// The runtime and the process it was started in: a child made by `fork`
/// inherits the memory but none of the threads, so it starts its own.
static RUNTIME: Mutex<Option<(u32, Arc<Runtime>)>> = Mutex::new(None);

fn runtime() -> PyResult<Arc<Runtime>> {
    let pid = std::process::id();
    let mut slot = RUNTIME.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((owner, rt)) = slot.as_ref()
        && *owner == pid
    {
        return Ok(Arc::clone(rt));
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("arrayformat-io")
        .build()
        .map(Arc::new)
        .map_err(|e| {
            pyo3::exceptions::PyRuntimeError::new_err(format!("cannot start the I/O runtime: {e}"))
        })?;
    if let Some((_, inherited)) = slot.replace((pid, Arc::clone(&rt))) {
        // Its worker threads stayed in the parent; dropping it here would
        // wait for them forever.
        std::mem::forget(inherited);
    }
    Ok(rt)
}

/// Whether this process has started the runtime (and with it the
/// library's thread pools), which a forked child cannot use.
pub fn started() -> bool {
    let slot = RUNTIME.lock().unwrap_or_else(|p| p.into_inner());
    slot.as_ref()
        .is_some_and(|(owner, _)| *owner == std::process::id())
}

/// Runs `f` with the GIL released, so that other Python threads run (and
/// read) meanwhile; `f` drives futures with the runtime it is given.
pub fn detached<R, F>(py: Python<'_>, f: F) -> PyResult<R>
where
    F: FnOnce(&Runtime) -> R + Send,
    R: Send,
{
    let rt = runtime()?;
    Ok(py.detach(move || f(&rt)))
}
