//! What the runtime knows of the blocking pool (`crate::blocking`, a layer above it): the size a
//! [`RuntimeBuilder`](crate::RuntimeBuilder) asks for, and how many pool threads sit idle, which
//! the deadlock check must not count as threads that could wake a coroutine. The pool writes
//! both (it registers its idle count when it starts); the runtime only reads, so no call runs
//! upward.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Threads in the pool unless a size is set.
pub(crate) const DEFAULT_SIZE: usize = 4;

static SIZE: AtomicUsize = AtomicUsize::new(DEFAULT_SIZE);

/// The pool's count of idle threads, registered by the pool when it is first made.
static IDLE_THREADS: OnceLock<fn() -> usize> = OnceLock::new();

/// Sets how many threads the pool may start (at least 1).
pub(crate) fn set_size(n: usize) {
    SIZE.store(n.max(1), Ordering::Relaxed);
}

/// How many threads the pool may start.
pub(crate) fn size() -> usize {
    SIZE.load(Ordering::Relaxed)
}

/// Registers how the pool counts its idle threads; the first registration stays.
pub(crate) fn register_idle_threads(count: fn() -> usize) {
    IDLE_THREADS.get_or_init(|| count);
}

/// Pool threads that wait for a job and will not take one; 0 before the pool exists.
pub(crate) fn idle_threads() -> usize {
    IDLE_THREADS.get().map_or(0, |count| count())
}
