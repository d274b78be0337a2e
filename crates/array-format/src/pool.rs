//! The thread pool the library's CPU work runs on (decoding, compressing,
//! statistics): its own, one per process.
//!
//! Not rayon's global pool, for two reasons. A process made by `fork` (a
//! Python `multiprocessing` or PyTorch `DataLoader` worker) inherits the
//! parent's memory but none of its threads: rayon's global pool would then
//! accept work that no thread ever runs, while this one is built anew in
//! the child. And the library's work does not queue behind (or ahead of)
//! the application's own rayon work.

use std::sync::{OnceLock, RwLock};

/// The pool, and the process that built it.
static POOL: RwLock<Option<(u32, &'static rayon::ThreadPool)>> = RwLock::new(None);

/// Whether building a pool ever failed (then work runs on rayon's global
/// pool, which is right in every process but a forked child).
static FALLBACK: OnceLock<()> = OnceLock::new();

/// This process's pool, built on first use.
pub(crate) fn pool() -> Option<&'static rayon::ThreadPool> {
    let pid = std::process::id();
    if let Ok(slot) = POOL.read()
        && let Some((owner, pool)) = *slot
        && owner == pid
    {
        return Some(pool);
    }
    if FALLBACK.get().is_some() {
        return None;
    }
    let Ok(mut slot) = POOL.write() else {
        return None;
    };
    if let Some((owner, pool)) = *slot
        && owner == pid
    {
        return Some(pool);
    }
    match rayon::ThreadPoolBuilder::new()
        .num_threads(crate::cores())
        .thread_name(|i| format!("array-format-{i}"))
        .build()
    {
        // Leaked on purpose: it lives as long as the process, and the one a
        // forked child inherits has no threads to join.
        Ok(pool) => {
            let pool: &'static rayon::ThreadPool = Box::leak(Box::new(pool));
            *slot = Some((pid, pool));
            Some(pool)
        }
        Err(_) => {
            let _ = FALLBACK.set(());
            None
        }
    }
}

/// Runs `f` in the pool, so that the parallel iterators in it use the
/// pool's threads.
pub(crate) fn install<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    match pool() {
        Some(pool) => pool.install(f),
        None => f(),
    }
}

/// Runs `f` on a thread of the pool, in the background.
pub(crate) fn spawn(f: impl FnOnce() + Send + 'static) {
    match pool() {
        Some(pool) => pool.spawn(f),
        None => rayon::spawn(f),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn work_runs_on_the_pool_threads() {
        use rayon::prelude::*;
        let names: Vec<String> = install(|| {
            (0..64)
                .into_par_iter()
                .map(|_| std::thread::current().name().unwrap_or("").to_owned())
                .collect()
        });
        assert!(
            names.iter().all(|n| n.starts_with("array-format-")),
            "{names:?}"
        );
        let (tx, rx) = std::sync::mpsc::channel();
        spawn(move || {
            let _ = tx.send(std::thread::current().name().map(str::to_owned));
        });
        let name = rx.recv().ok().flatten().unwrap_or_default();
        assert!(name.starts_with("array-format-"), "{name}");
    }
}
