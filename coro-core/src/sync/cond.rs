//! [`Cond`]: a condition variable for coroutines (libco's `co_cond`).

use std::time::{Duration, Instant};

use super::mutex::MutexGuard;
use super::wait_queue::WaitQueue;

/// A condition variable for the coroutines of one thread: [`wait`](Cond::wait) parks the
/// calling coroutine until another one calls [`signal`](Cond::signal) (wakes the longest
/// waiting coroutine) or [`broadcast`](Cond::broadcast) (wakes all of them).
///
/// Like libco's `co_cond` and unlike `std::sync::Condvar`, it needs no mutex: coroutines of a
/// thread never preempt one another, so nothing can change between checking a condition and
/// calling `wait`. A wait returns only when woken by a signal (or at its timeout), never
/// spuriously; a signal with nobody waiting is not remembered. Still, check the condition in a
/// loop when several coroutines may consume it:
///
/// ```
/// use std::cell::Cell;
/// use std::rc::Rc;
///
/// coro::run(|| {
///     let ready = Rc::new((coro::sync::Cond::new(), Cell::new(false)));
///     let r = Rc::clone(&ready);
///     let waiter = coro::spawn(move || {
///         while !r.1.get() {
///             r.0.wait();
///         }
///         "woken"
///     });
///     coro::yield_now(); // let the waiter park
///     ready.1.set(true);
///     assert_eq!(ready.0.signal(), true);
///     assert_eq!(waiter.join().unwrap(), "woken");
/// });
/// ```
///
/// `!Send` and `!Sync`: share it between the coroutines of a thread with `Rc`.
#[derive(Debug, Default)]
pub struct Cond {
    waiters: WaitQueue,
}

impl Cond {
    /// A condition variable with nobody waiting.
    pub const fn new() -> Cond {
        Cond {
            waiters: WaitQueue::new(),
        }
    }

    /// Wakes the coroutine that has waited longest. Returns whether one was waiting.
    pub fn signal(&self) -> bool {
        self.waiters.notify_one()
    }

    /// Wakes every waiting coroutine, in the order they started waiting. Returns how many.
    pub fn broadcast(&self) -> usize {
        self.waiters.notify_all()
    }

    /// How many coroutines are waiting.
    pub fn waiting(&self) -> usize {
        self.waiters.len()
    }

    /// Parks the calling coroutine until [`signal`](Cond::signal) or
    /// [`broadcast`](Cond::broadcast) wakes it.
    ///
    /// # Panics
    ///
    /// Outside a coro task (inside `coro::run`), where nothing could ever wake it.
    pub fn wait(&self) {
        let node = self.waiters.push();
        self.waiters
            .wait(&node, None, "coro::sync::Cond::wait", &|| {});
    }

    /// Unlocks `guard`'s mutex, parks until [`signal`](Cond::signal) or
    /// [`broadcast`](Cond::broadcast) wakes the calling coroutine, then locks the mutex again
    /// (`std::sync::Condvar::wait`'s shape, for a condition kept inside a
    /// [`Mutex`](super::Mutex) that is also held across other parks). The coroutine is queued
    /// on the condition before the mutex is unlocked, so no signal sent after that is missed.
    ///
    /// # Panics
    ///
    /// Outside a coro task (inside `coro::run`), where nothing could ever wake it.
    pub fn wait_locked<'a, T: ?Sized>(&self, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
        let mutex = guard.mutex;
        let node = self.waiters.push();
        drop(guard);
        self.waiters
            .wait(&node, None, "coro::sync::Cond::wait_locked", &|| {});
        mutex.lock()
    }

    /// Parks the calling coroutine until it is woken (returns true) or `timeout` has passed
    /// (returns false). Outside a coro task it sleeps the thread for `timeout`.
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        self.wait_until(Instant::now() + timeout)
    }

    /// Parks the calling coroutine until it is woken (returns true) or `deadline` has passed
    /// (returns false).
    pub fn wait_until(&self, deadline: Instant) -> bool {
        let node = self.waiters.push();
        self.waiters.wait(
            &node,
            Some(deadline),
            "coro::sync::Cond::wait_until",
            &|| {},
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signal_without_waiters_is_not_remembered() {
        let c = Cond::new();
        assert!(!c.signal());
        assert_eq!(c.broadcast(), 0);
        assert!(!c.wait_timeout(Duration::from_millis(2)));
        assert_eq!(c.waiting(), 0);
    }
}
