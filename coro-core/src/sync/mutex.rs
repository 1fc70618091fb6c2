//! [`Mutex`]: a fair mutual-exclusion lock for coroutines, with a guard.

use std::cell::{Cell, UnsafeCell};
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::time::{Duration, Instant};

use super::wait_queue::WaitQueue;

/// A mutual-exclusion lock for the coroutines of one thread, protecting a `T`.
///
/// Use it when a critical section parks (it does I/O, sleeps, waits on a channel): a
/// `RefCell` borrow held across a park would make the other coroutines panic, this lock makes
/// them wait. [`lock`](Mutex::lock) returns a [`MutexGuard`] that unlocks when dropped.
///
/// Fair: the lock is handed straight to the coroutine that has waited longest, so coroutines
/// get it in the order they asked for it, and [`try_lock`](Mutex::try_lock) fails while anyone
/// waits. There is no poisoning: a coroutine that panics while holding the lock unlocks it as
/// its guard is dropped.
///
/// ```
/// use std::rc::Rc;
///
/// coro::run(|| {
///     let log = Rc::new(coro::sync::Mutex::new(Vec::new()));
///     let tasks: Vec<_> = (0..3)
///         .map(|i| {
///             let log = Rc::clone(&log);
///             coro::spawn(move || {
///                 let mut guard = log.lock();
///                 coro::yield_now(); // the others queue up meanwhile
///                 guard.push(i);
///             })
///         })
///         .collect();
///     for t in tasks {
///         t.join().unwrap();
///     }
///     assert_eq!(*log.lock(), [0, 1, 2]);
/// });
/// ```
///
/// `!Send` and `!Sync`: share it between the coroutines of a thread with `Rc`.
pub struct Mutex<T: ?Sized> {
    locked: Cell<bool>,
    waiters: WaitQueue,
    value: UnsafeCell<T>,
}

impl<T> Mutex<T> {
    /// An unlocked mutex holding `value`.
    pub const fn new(value: T) -> Mutex<T> {
        Mutex {
            locked: Cell::new(false),
            waiters: WaitQueue::new(),
            value: UnsafeCell::new(value),
        }
    }

    /// Consumes the mutex and returns its value.
    pub fn into_inner(self) -> T {
        self.value.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Locks the mutex, parking the calling coroutine until it is its turn.
    ///
    /// # Panics
    ///
    /// If it must wait outside a coro task, where nothing could ever unlock it.
    pub fn lock(&self) -> MutexGuard<'_, T> {
        if let Some(guard) = self.try_lock() {
            return guard;
        }
        let node = self.waiters.push();
        self.waiters
            .wait(&node, None, "coro::sync::Mutex::lock", &|| self.unlock());
        // Notified: the unlocking coroutine handed the lock over (`locked` stayed true).
        MutexGuard { mutex: self }
    }

    /// Locks the mutex if it is free and nobody waits for it.
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        if self.locked.get() || self.waiters.has_waiting() {
            None
        } else {
            self.locked.set(true);
            Some(MutexGuard { mutex: self })
        }
    }

    /// Locks the mutex, waiting at most `timeout`.
    pub fn lock_timeout(&self, timeout: Duration) -> Option<MutexGuard<'_, T>> {
        self.lock_until(Instant::now() + timeout)
    }

    /// Locks the mutex, waiting until `deadline` at the latest.
    pub fn lock_until(&self, deadline: Instant) -> Option<MutexGuard<'_, T>> {
        if let Some(guard) = self.try_lock() {
            return Some(guard);
        }
        let node = self.waiters.push();
        self.waiters
            .wait(
                &node,
                Some(deadline),
                "coro::sync::Mutex::lock_until",
                &|| self.unlock(),
            )
            .then(|| MutexGuard { mutex: self })
    }

    /// Whether the mutex is locked now.
    pub fn is_locked(&self) -> bool {
        self.locked.get()
    }

    /// A mutable reference to the value; no locking needed, the borrow proves exclusivity.
    pub fn get_mut(&mut self) -> &mut T {
        self.value.get_mut()
    }

    /// Hands the lock to the first waiter, or marks it free.
    fn unlock(&self) {
        if !self.waiters.notify_one() {
            self.locked.set(false);
        }
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Self {
        Mutex::new(T::default())
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Mutex");
        match self.try_lock() {
            Some(guard) => d.field("value", &&*guard),
            None => d.field("value", &format_args!("<locked>")),
        };
        d.field("waiting", &self.waiters.len()).finish()
    }
}

/// Proof that the holder has locked a [`Mutex`]: dereferences to the value, unlocks on drop
/// (handing the lock to the next waiter).
#[must_use = "the mutex unlocks as soon as the guard is dropped"]
pub struct MutexGuard<'a, T: ?Sized> {
    pub(super) mutex: &'a Mutex<T>,
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard exists only while the mutex is locked by its holder, so no other
        // reference to the value exists; the mutex outlives the guard ('a).
        unsafe { &*self.mutex.value.get() }
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`; `&mut self` makes this the only access through the guard.
        unsafe { &mut *self.mutex.value.get() }
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    fn drop(&mut self) {
        self.mutex.unlock();
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::waiters::{LocalNode, Node, NodeState};

    #[test]
    fn try_lock_excludes() {
        let m = Mutex::new(1);
        let g = m.try_lock().unwrap();
        assert!(m.try_lock().is_none());
        assert!(m.is_locked());
        drop(g);
        assert!(!m.is_locked());
        *m.try_lock().unwrap() += 1;
        assert_eq!(m.into_inner(), 2);
    }

    #[test]
    fn unlock_hands_over_to_the_first_waiter() {
        let m = Mutex::new(());
        let g = m.lock();
        let a = LocalNode::current();
        let b = LocalNode::current();
        m.waiters.push_node(a.clone());
        m.waiters.push_node(b.clone());
        drop(g);
        assert_eq!(a.state(), NodeState::Notified, "a owns the lock now");
        assert!(m.is_locked(), "the lock was handed over, not freed");
        assert!(m.try_lock().is_none(), "a newcomer cannot overtake b");
        m.unlock(); // a's guard dropped
        assert_eq!(b.state(), NodeState::Notified);
        m.unlock(); // b's guard dropped
        assert!(!m.is_locked());
    }

    #[test]
    fn lock_timeout_outside_a_task_times_out() {
        let m = Mutex::new(5);
        let g = m.lock();
        assert!(m.lock_timeout(Duration::from_millis(2)).is_none());
        assert!(
            m.is_locked(),
            "a timed-out lock leaves the holder's lock alone"
        );
        assert!(m.try_lock().is_none());
        drop(g);
        assert_eq!(*m.lock_timeout(Duration::from_millis(2)).unwrap(), 5);
    }

    #[test]
    fn debug_shows_value_or_locked() {
        let m = Mutex::new(7);
        assert_eq!(format!("{m:?}"), "Mutex { value: 7, waiting: 0 }");
        let _g = m.lock();
        assert_eq!(format!("{m:?}"), "Mutex { value: <locked>, waiting: 0 }");
    }
}
