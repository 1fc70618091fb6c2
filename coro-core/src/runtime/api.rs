//! The runtime's public free functions: [`run`] and [`try_run`], [`spawn`], [`current`] and
//! [`yield_now`].

use crate::error::Result;

use super::builder::Builder;
use super::cancel;
use super::join::JoinHandle;
use super::scheduler::SCHED;

/// Spawns `f` as a coroutine on this thread's scheduler and returns its [`JoinHandle`].
///
/// ```
/// coro::run(|| {
///     let a = coro::spawn(|| 20);
///     let b = coro::spawn(|| 22);
///     assert_eq!(a.join().unwrap() + b.join().unwrap(), 42);
/// });
/// ```
///
/// # Panics
///
/// Outside [`crate::run`] ([`Error::NoRuntime`](crate::Error::NoRuntime)), or when no stack can be mapped; use
/// [`Builder::spawn`] to get these as errors.
#[track_caller]
pub fn spawn<T, F>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + 'static,
    T: 'static,
{
    match Builder::new().spawn(f) {
        Ok(h) => h,
        Err(e) => panic!("coro::spawn: {e}"),
    }
}

/// What [`current`] tells about the running coroutine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoroutineInfo {
    /// The coroutine's id, unique in the process and never 0.
    pub id: u64,
    /// Its name, if it was given one through [`Builder::name`].
    pub name: Option<String>,
}

/// The running coroutine (a task of this thread's runtime), or `None` outside one.
pub fn current() -> Option<CoroutineInfo> {
    if !SCHED.is_set() {
        return None;
    }
    SCHED.with(|s| {
        s.with_current(|t| CoroutineInfo {
            id: t.id,
            name: t.name().map(String::from),
        })
    })
}

/// Lets the other ready coroutines run, then continues; outside a coroutine,
/// [`std::thread::yield_now`].
///
/// A wait of coro's own: a pending cancel, or an expired deadline scope, unwinds from here
/// (see [`coro::cancel`](crate::cancel)), so a long computation that yields now and then can
/// be cancelled.
pub fn yield_now() {
    if SCHED.is_set() {
        let t = SCHED.with(|s| s.current_task());
        if let Some(t) = t {
            if t.cancel.armed()
                && cancel::can_raise()
                && let Some(i) = t.cancel.pending(std::time::Instant::now)
            {
                cancel::raise(i);
            }
            SCHED.with(|s| s.yield_now(&t));
            return;
        }
    }
    std::thread::yield_now();
}

/// Runs `f` as the first coroutine of a new runtime on this thread, drives the event loop
/// until every coroutine has finished, and returns `f`'s value.
///
/// `f` runs on a stack of [`MAIN_STACK_SIZE`](crate::MAIN_STACK_SIZE) bytes (8 MiB, as a main
/// thread's), the coroutines it spawns on [`DEFAULT_STACK_SIZE`](crate::DEFAULT_STACK_SIZE)
/// unless they ask for another; [`Runtime::builder`](crate::Runtime::builder) sets both.
///
/// `f` may borrow from the caller: it cannot outlive this call. A panic in `f` stops the
/// runtime at once: the other coroutines are cancelled (their stacks unwound, so their
/// destructors run) instead of waited for, since some may never end (a server's accept loop),
/// and the panic is re-raised here, as `block_on` does. A panic in any other coroutine only
/// ends that one (its [`JoinHandle::join`] returns it as `Err`).
///
/// ```
/// let greeting = String::from("hello");
/// let n = coro::run(|| {
///     let h = coro::spawn(|| 2);
///     greeting.len() + h.join().unwrap()
/// });
/// assert_eq!(n, 7);
/// ```
///
/// # Panics
///
/// When called inside a running runtime ([`Error::NestedRun`](crate::Error::NestedRun)) or when the runtime cannot be
/// set up; [`try_run`] returns these as errors. Also when every coroutine is parked and
/// nothing can ever wake one (a deadlock).
#[track_caller]
pub fn run<T, F: FnOnce() -> T>(f: F) -> T {
    match try_run(f) {
        Ok(v) => v,
        Err(e) => panic!("coro::run: {e}"),
    }
}

/// As [`run`], with set-up failures as errors: [`Error::NestedRun`](crate::Error::NestedRun) inside a runtime,
/// [`Error::Io`](crate::Error::Io) if epoll or the eventfd cannot be created.
///
/// ```
/// coro::run(|| {
///     let err = coro::try_run(|| ()).unwrap_err();
///     assert!(matches!(err, coro::Error::NestedRun));
/// });
/// ```
#[track_caller]
pub fn try_run<T, F: FnOnce() -> T>(f: F) -> Result<T> {
    let options = super::run::RunOptions::default();
    super::run::run_main(&options, 0, std::panic::Location::caller(), f)
}

/// As [`run`], with `f` on a stack of `size` bytes (`#[coro::main(stack_size = N)]`).
#[track_caller]
pub(crate) fn run_with_main_stack<T, F: FnOnce() -> T>(size: usize, f: F) -> T {
    let options = super::run::RunOptions {
        main_stack_size: size,
        ..Default::default()
    };
    match super::run::run_main(&options, 0, std::panic::Location::caller(), f) {
        Ok(v) => v,
        Err(e) => panic!("coro::run: {e}"),
    }
}
