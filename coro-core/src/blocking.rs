//! [`spawn_blocking`]: a small process-wide thread pool for calls that can only block
//! (`getaddrinfo`, disk files, CPU-heavy work), so that the coroutine waits without blocking
//! its thread.

use std::collections::VecDeque;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;

use crate::runtime::census::Wait;
#[cfg(feature = "hooks")]
use crate::runtime::park::{Interrupt, Parked};
use crate::runtime::{self, park};

/// Threads in the pool unless [`set_pool_size`] says otherwise.
pub const DEFAULT_POOL_SIZE: usize = runtime::pool::DEFAULT_SIZE;

type Job = Box<dyn FnOnce() + Send>;

#[derive(Default)]
struct Pool {
    /// The fork generation the pool was made under (see `sys::fork_generation`).
    generation: u32,
    queue: Mutex<VecDeque<Job>>,
    ready: Condvar,
    /// Threads started so far.
    started: AtomicUsize,
    /// Threads waiting for a job.
    idle: AtomicUsize,
}

/// The pool of this process. A fork child does not use its parent's: the threads are not
/// there, and a lock one of them held at the fork would stay locked. It makes a pool of its
/// own, and leaves the copy alone.
static POOL: AtomicPtr<Pool> = AtomicPtr::new(std::ptr::null_mut());

/// Sets how many threads the blocking pool may start (at least 1). Threads already started
/// stay; a smaller size only stops new ones from starting.
pub fn set_pool_size(n: usize) {
    runtime::pool::set_size(n);
}

/// How many of this process's pool threads wait for a job and will not take one (they hold
/// nothing that could wake a coroutine). A queued job counts one idle thread as busy: the
/// thread is still in its wait, about to take it. Registered with the runtime's deadlock check
/// (`runtime::pool`) when the first pool is made.
fn idle_threads() -> usize {
    // SAFETY: a non-null POOL points to a leaked pool, never freed.
    match unsafe { POOL.load(Ordering::Acquire).as_ref() } {
        Some(pool) if pool.generation == crate::sys::fork_generation() => {
            let queued = pool.queue.lock().unwrap_or_else(|e| e.into_inner()).len();
            pool.idle.load(Ordering::Acquire).saturating_sub(queued)
        }
        _ => 0,
    }
}

fn pool() -> &'static Pool {
    let generation = crate::sys::fork_generation();
    loop {
        let p = POOL.load(Ordering::Acquire);
        // SAFETY: a non-null POOL points to a leaked pool, never freed.
        if let Some(pool) = unsafe { p.as_ref() }
            && pool.generation == generation
        {
            return pool;
        }
        // Making a pool (rare) is where the runtime's deadlock check learns to count its idle
        // threads; only the first registration is kept.
        runtime::pool::register_idle_threads(idle_threads);
        let fresh = Box::into_raw(Box::new(Pool {
            generation,
            ..Pool::default()
        }));
        match POOL.compare_exchange(p, fresh, Ordering::AcqRel, Ordering::Acquire) {
            // The pool lives as long as the process (its threads hold it); a pool replaced
            // after a fork is the parent's copy, leaked with its vanished threads.
            // SAFETY: just made, and now published for good.
            Ok(_) => return unsafe { &*fresh },
            // Another thread made one first: ours was never shared.
            // SAFETY: `fresh` came from Box::into_raw above and nobody else saw it.
            Err(_) => drop(unsafe { Box::from_raw(fresh) }),
        }
    }
}

impl Pool {
    fn submit(&'static self, job: Job) {
        self.queue
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push_back(job);
        let started = self.started.load(Ordering::Acquire);
        if self.idle.load(Ordering::Acquire) == 0
            && started < runtime::pool::size()
            && self
                .started
                .compare_exchange(started, started + 1, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            let spawned = thread::Builder::new()
                .name(format!("coro-blocking-{started}"))
                .spawn(move || self.work());
            if spawned.is_err() {
                self.started.fetch_sub(1, Ordering::AcqRel);
            }
        }
        self.ready.notify_one();
    }

    fn work(&self) {
        let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            match q.pop_front() {
                Some(job) => {
                    drop(q);
                    job();
                    q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
                }
                None => {
                    self.idle.fetch_add(1, Ordering::AcqRel);
                    q = self.ready.wait(q).unwrap_or_else(|e| e.into_inner());
                    self.idle.fetch_sub(1, Ordering::AcqRel);
                }
            }
        }
    }
}

/// Runs `f` on the blocking pool and suspends the running coroutine until it returns; other
/// coroutines run meanwhile. Outside a coroutine, `f` simply runs on the calling thread.
///
/// A panic in `f` is re-raised in the caller (the pool thread survives it). A wait of coro's
/// own: a cancel or an expired deadline scope unwinds the caller from here, and `f` runs on
/// to its end on the pool, its result dropped.
///
/// ```
/// coro::run(|| {
///     let len = coro::spawn_blocking(|| std::fs::read("Cargo.toml").map(|b| b.len()));
///     assert!(len.unwrap() > 0);
/// });
/// ```
pub fn spawn_blocking<T, F>(f: F) -> T
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    if !park::in_task() {
        return f();
    }
    let slot = submit(f);
    loop {
        match take(&slot) {
            Some(Ok(v)) => return v,
            Some(Err(p)) => panic::resume_unwind(p),
            None => park::park(Wait::Blocking {
                call: "spawn_blocking",
            }),
        }
    }
}

/// Where a pool job leaves its result.
type Slot<T> = Arc<Mutex<Option<thread::Result<T>>>>;

/// Queues `f` on the pool, to wake the running party when it is done.
fn submit<T, F>(f: F) -> Slot<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let slot: Slot<T> = Arc::new(Mutex::new(None));
    let done = slot.clone();
    let waker = park::current_remote_unparker();
    pool().submit(Box::new(move || {
        let r = panic::catch_unwind(AssertUnwindSafe(f));
        *done.lock().unwrap_or_else(|e| e.into_inner()) = Some(r);
        waker.unpark();
    }));
    slot
}

fn take<T>(slot: &Slot<T>) -> Option<thread::Result<T>> {
    slot.lock().unwrap_or_else(|e| e.into_inner()).take()
}

#[cfg(feature = "hooks")]
/// As [`spawn_blocking`] for the hooks, which must not unwind: an interrupt (a cancel, or an
/// expired deadline scope) ends the wait with `Err`; the job still runs to its end on the
/// pool, and its result is dropped there. A panic in `f` is returned as `Ok(Err(payload))`.
/// `call` names the hooked call, for the census.
pub(crate) fn run_interruptible<T, F>(
    call: &'static str,
    f: F,
) -> Result<thread::Result<T>, Interrupt>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    if !park::in_task() {
        return Ok(panic::catch_unwind(AssertUnwindSafe(f)));
    }
    let slot = submit(f);
    loop {
        if let Some(r) = take(&slot) {
            return Ok(r);
        }
        if let Parked::Interrupted(i) = park::park_wait(None, Wait::Blocking { call }) {
            return Err(i);
        }
    }
}
