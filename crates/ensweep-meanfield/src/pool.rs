//! The optional thread pool of one run: training and evaluation run their parallel phases
//! through these helpers, on the calling thread when the run has one thread.

use crate::error::MlpError;
use rayon::prelude::*;

/// A rayon pool for `threads > 1`; `None` runs on the calling thread.
pub fn make_pool(threads: usize) -> Result<Option<rayon::ThreadPool>, MlpError> {
    if threads <= 1 {
        return Ok(None);
    }
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map(Some)
        .map_err(|e| MlpError::Threads {
            threads,
            reason: e.to_string(),
        })
}

/// Runs `f` on a thread of `pool` when there is one (nested [`for_each`] calls then run
/// without a hand-off), else here.
pub fn in_pool<R: Send>(pool: Option<&rayon::ThreadPool>, f: impl FnOnce() -> R + Send) -> R {
    match pool {
        Some(p) => p.install(f),
        None => f(),
    }
}

/// Runs `f` on every item, in parallel inside `pool` when there is one.
pub fn for_each<T: Send>(
    pool: Option<&rayon::ThreadPool>,
    items: Vec<T>,
    f: impl Fn(T) + Sync + Send,
) {
    match pool {
        Some(p) => p.install(|| items.into_par_iter().for_each(f)),
        None => items.into_iter().for_each(f),
    }
}
