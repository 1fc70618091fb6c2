//! Timers: [`sleep`], [`sleep_until`] and [`timeout`], on a hierarchical timing wheel with
//! millisecond ticks and no upper bound (see `wheel.rs`).

use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::runtime::park;

pub(crate) mod wheel;

/// Suspends the running coroutine for at least `d` while others run (a timer on the event
/// loop; the thread sleeps in `epoll_wait` if nothing else is ready). Outside a coroutine it is
/// [`std::thread::sleep`].
///
/// ```
/// use std::time::{Duration, Instant};
/// coro::run(|| {
///     let t = Instant::now();
///     coro::sleep(Duration::from_millis(20));
///     assert!(t.elapsed() >= Duration::from_millis(20));
/// });
/// ```
pub fn sleep(d: Duration) {
    park::sleep(d);
}

/// As [`sleep`], until `deadline`.
pub fn sleep_until(deadline: Instant) {
    park::sleep_until(deadline);
}

/// Runs `f` as a coroutine and waits at most `d` for it: `Ok(value)`, or
/// [`Error::TimedOut`] after which the coroutine is cancelled (its stack is unwound, so its
/// destructors run, at its current suspension point).
///
/// A panic in `f` is re-raised in the caller. Outside a runtime, [`Error::NoRuntime`]; `f` must
/// be `'static` because it runs as a coroutine of its own.
///
/// ```
/// use std::time::Duration;
/// coro::run(|| {
///     assert_eq!(coro::timeout(Duration::from_secs(1), || 5).unwrap(), 5);
///     let slow = coro::timeout(Duration::from_millis(10), || coro::sleep(Duration::from_secs(60)));
///     assert!(matches!(slow, Err(coro::Error::TimedOut)));
/// });
/// ```
pub fn timeout<T, F>(d: Duration, f: F) -> Result<T>
where
    F: FnOnce() -> T + 'static,
    T: 'static,
{
    if !park::in_task() {
        let in_runtime = crate::runtime::scheduler::SCHED.is_set();
        return Err(if in_runtime {
            Error::NotInCoroutine
        } else {
            Error::NoRuntime
        });
    }
    let h = crate::runtime::Builder::new().spawn(f)?;
    let deadline = Instant::now().checked_add(d);
    while !h.is_finished() {
        h.set_waiter(park::current_unparker());
        let in_time = park::park_deadline(deadline);
        if !in_time && !h.is_finished() {
            crate::runtime::scheduler::SCHED.with(|s| s.cancel_later(h.task().clone()));
            return Err(Error::TimedOut);
        }
    }
    match h.join() {
        Ok(v) => Ok(v),
        Err(p) => std::panic::resume_unwind(p),
    }
}
