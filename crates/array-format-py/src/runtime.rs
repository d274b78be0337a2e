//! The tokio runtime that drives the library's async API from Python
//! threads: one per process, started on first use.
//!
//! A process made by `fork` (a `multiprocessing` or PyTorch `DataLoader`
//! worker) inherits the parent's memory but none of its threads, so it
//! starts a runtime of its own; the library's CPU pool does the same.

use std::future::Future;
use std::sync::RwLock;
use std::task::{Context, Poll, Waker};

use pyo3::prelude::*;
use tokio::runtime::Runtime;

/// The runtime and the process that started it.
static RUNTIME: RwLock<Option<(u32, &'static Runtime)>> = RwLock::new(None);

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
    let pid = std::process::id();
    if let Ok(slot) = RUNTIME.read()
        && let Some((owner, rt)) = *slot
        && owner == pid
    {
        return Ok(rt);
    }
    let mut slot = RUNTIME.write().unwrap_or_else(|p| p.into_inner());
    if let Some((owner, rt)) = *slot
        && owner == pid
    {
        return Ok(rt);
    }
    let rt = build().map_err(|e| {
        pyo3::exceptions::PyRuntimeError::new_err(format!("cannot start the I/O runtime: {e}"))
    })?;
    // Leaked on purpose: it lives as long as the process, and the one a
    // forked child inherits has no threads to shut down.
    let rt: &'static Runtime = Box::leak(Box::new(rt));
    *slot = Some((pid, rt));
    Ok(rt)
}

/// Drives `fut` to completion on `rt`. A read the caches answer completes
/// on its first poll, which is made here, in the runtime's context, without
/// the cost of parking this thread; anything else continues in `block_on`.
pub fn run<F: Future>(rt: &Runtime, fut: F) -> F::Output {
    let _context = rt.enter();
    let mut fut = std::pin::pin!(fut);
    let mut cx = Context::from_waker(Waker::noop());
    match fut.as_mut().poll(&mut cx) {
        Poll::Ready(out) => out,
        // The future registered the no-op waker; `block_on` polls it again
        // with its own, as the Future contract allows.
        Poll::Pending => rt.block_on(fut),
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
