//! Timers: [`sleep`], [`sleep_until`] and [`timeout`], on a hierarchical timing wheel with
//! millisecond ticks and no upper bound (the driver's, in `runtime/driver/wheel.rs`).

use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::runtime::park;

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

/// Runs `f` as a coroutine of its own with a deadline `d` from now, and waits for it:
/// `Ok(value)`, or [`Error::TimedOut`] if the deadline reached a wait inside `f`.
///
/// The deadline works as [`with_timeout`](crate::with_timeout)'s, inside the new coroutine:
/// each wait in `f` that sees it ends (a hooked call fails with `ETIMEDOUT`, coro's own waits
/// unwind, so destructors run), and `timeout` returns once `f` has ended. So `f` must be
/// `'static`; [`with_timeout`](crate::with_timeout) runs a borrowing closure in place instead.
/// If the caller is cancelled while it waits, so is the coroutine.
///
/// A panic in `f` is re-raised in the caller. Outside a runtime, [`Error::NoRuntime`].
///
/// ```
/// use std::time::Duration;
/// coro::run(|| {
///     assert_eq!(coro::timeout(Duration::from_secs(1), || 5).unwrap(), 5);
///     let slow = coro::timeout(Duration::from_millis(10), || coro::sleep(Duration::from_secs(60)));
///     assert!(matches!(slow, Err(coro::Error::TimedOut)));
/// });
/// ```
#[track_caller]
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
    let h = crate::runtime::Builder::new().spawn(move || crate::with_timeout(d, f))?;

    /// Cancels the coroutine if the caller unwinds while it waits for it.
    struct CancelOnUnwind<'a, T>(&'a crate::JoinHandle<T>);
    impl<T> Drop for CancelOnUnwind<'_, T> {
        fn drop(&mut self) {
            self.0.cancel();
        }
    }
    let guard = CancelOnUnwind(&h);
    while !h.is_finished() {
        h.set_waiter(park::current_unparker());
        park::park(crate::runtime::census::Wait::Join { id: h.id() });
    }
    std::mem::forget(guard);
    match h.join() {
        Ok(r) => r,
        Err(p) => std::panic::resume_unwind(p),
    }
}
