//! [`Semaphore`]: a counting semaphore for coroutines, FIFO fair.

use std::cell::Cell;
use std::time::{Duration, Instant};

use super::wait_queue::WaitQueue;

/// A counting semaphore for the coroutines of one thread.
///
/// Fair: permits go to waiting coroutines in the order they arrived. A
/// [`release`](Semaphore::release) with coroutines waiting hands its permit straight to the
/// first of them, so a coroutine that arrives later cannot overtake it, and
/// [`try_acquire`](Semaphore::try_acquire) fails while anyone waits.
///
/// ```
/// use std::rc::Rc;
///
/// coro::run(|| {
///     let sem = Rc::new(coro::sync::Semaphore::new(2));
///     let tasks: Vec<_> = (0..5)
///         .map(|_| {
///             let sem = Rc::clone(&sem);
///             coro::spawn(move || {
///                 sem.acquire();
///                 coro::yield_now(); // at most two coroutines are here at once
///                 sem.release();
///             })
///         })
///         .collect();
///     for t in tasks {
///         t.join().unwrap();
///     }
///     assert_eq!(sem.available_permits(), 2);
/// });
/// ```
///
/// `!Send` and `!Sync`: share it between the coroutines of a thread with `Rc`.
#[derive(Debug, Default)]
pub struct Semaphore {
    permits: Cell<usize>,
    waiters: WaitQueue,
}

impl Semaphore {
    /// A semaphore holding `permits` permits.
    pub const fn new(permits: usize) -> Semaphore {
        Semaphore {
            permits: Cell::new(permits),
            waiters: WaitQueue::new(),
        }
    }

    /// How many permits are free now.
    pub fn available_permits(&self) -> usize {
        self.permits.get()
    }

    /// How many coroutines wait for a permit.
    pub fn waiting(&self) -> usize {
        self.waiters.len()
    }

    /// Takes a permit if one is free and nobody waits for one; returns whether it did.
    pub fn try_acquire(&self) -> bool {
        let p = self.permits.get();
        if p > 0 && !self.waiters.has_waiting() {
            self.permits.set(p - 1);
            true
        } else {
            false
        }
    }

    /// Takes a permit, parking the calling coroutine until one is handed to it.
    ///
    /// # Panics
    ///
    /// If it must wait outside a coro task, where nothing could ever release a permit.
    pub fn acquire(&self) {
        if !self.try_acquire() {
            let node = self.waiters.push();
            self.waiters
                .wait(&node, None, "coro::sync::Semaphore::acquire", &|| {
                    self.release()
                });
        }
    }

    /// Takes a permit, waiting at most `timeout`; returns whether it got one.
    pub fn acquire_timeout(&self, timeout: Duration) -> bool {
        self.acquire_until(Instant::now() + timeout)
    }

    /// Takes a permit, waiting until `deadline` at the latest; returns whether it got one.
    pub fn acquire_until(&self, deadline: Instant) -> bool {
        if self.try_acquire() {
            return true;
        }
        let node = self.waiters.push();
        self.waiters.wait(
            &node,
            Some(deadline),
            "coro::sync::Semaphore::acquire_until",
            &|| self.release(),
        )
    }

    /// Gives a permit back: to the first waiting coroutine if there is one, else to the pool.
    /// (Releasing more permits than were taken raises the number of permits.)
    pub fn release(&self) {
        if !self.waiters.notify_one() {
            self.permits.set(self.permits.get() + 1);
        }
    }

    /// As [`acquire`](Semaphore::acquire), returning a guard that releases the permit when
    /// dropped (also when the coroutine panics).
    ///
    /// # Panics
    ///
    /// If it must wait outside a coro task, where nothing could ever release a permit.
    pub fn acquire_permit(&self) -> SemaphorePermit<'_> {
        self.acquire();
        SemaphorePermit { sem: self }
    }

    /// As [`try_acquire`](Semaphore::try_acquire), returning a guard that releases the permit
    /// when dropped.
    pub fn try_acquire_permit(&self) -> Option<SemaphorePermit<'_>> {
        self.try_acquire().then(|| SemaphorePermit { sem: self })
    }
}

/// A permit taken from a [`Semaphore`], released when dropped.
#[derive(Debug)]
#[must_use = "the permit is released as soon as it is dropped"]
pub struct SemaphorePermit<'a> {
    sem: &'a Semaphore,
}

impl SemaphorePermit<'_> {
    /// Keeps the permit taken for good: it is not released.
    pub fn forget(self) {
        std::mem::forget(self);
    }
}

impl Drop for SemaphorePermit<'_> {
    fn drop(&mut self) {
        self.sem.release();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::waiters::{LocalNode, Node, NodeState};

    #[test]
    fn try_acquire_counts_down() {
        let s = Semaphore::new(2);
        assert!(s.try_acquire());
        assert!(s.try_acquire());
        assert!(!s.try_acquire());
        s.release();
        assert_eq!(s.available_permits(), 1);
    }

    #[test]
    fn release_hands_the_permit_to_the_first_waiter() {
        let s = Semaphore::new(0);
        let a = LocalNode::current();
        let b = LocalNode::current();
        s.waiters.push_node(a.clone());
        s.waiters.push_node(b.clone());
        s.release();
        assert_eq!(
            a.state(),
            NodeState::Notified,
            "the first waiter owns the permit"
        );
        assert_eq!(b.state(), NodeState::Waiting);
        assert_eq!(
            s.available_permits(),
            0,
            "the permit was handed over, not pooled"
        );
        assert!(!s.try_acquire(), "a newcomer cannot overtake b");
        s.release();
        assert_eq!(b.state(), NodeState::Notified);
        s.release();
        assert_eq!(s.available_permits(), 1);
    }

    #[test]
    fn permit_guard_releases_on_drop() {
        let s = Semaphore::new(1);
        let p = s.try_acquire_permit().unwrap();
        assert!(s.try_acquire_permit().is_none());
        drop(p);
        assert_eq!(s.available_permits(), 1);
        s.try_acquire_permit().unwrap().forget();
        assert_eq!(s.available_permits(), 0);
    }

    #[test]
    fn acquire_timeout_outside_a_task_times_out() {
        let s = Semaphore::new(0);
        assert!(!s.acquire_timeout(Duration::from_millis(2)));
        assert_eq!(s.waiting(), 0);
        s.release();
        assert!(s.acquire_timeout(Duration::from_millis(2)));
    }
}
