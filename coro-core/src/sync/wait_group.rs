//! [`WaitGroup`]: wait for a group of coroutines to finish (Go's `sync.WaitGroup`).

use std::cell::Cell;
use std::time::{Duration, Instant};

use super::wait_queue::WaitQueue;

/// Waits for a counter to drop to zero: [`add`](WaitGroup::add) before starting work,
/// [`done`](WaitGroup::done) when a piece of it finishes, [`wait`](WaitGroup::wait) to park
/// until all of it has finished. Go's `sync.WaitGroup` for the coroutines of one thread.
///
/// ```
/// use std::rc::Rc;
///
/// coro::run(|| {
///     let wg = Rc::new(coro::sync::WaitGroup::new());
///     for _ in 0..10 {
///         wg.add(1);
///         let wg = Rc::clone(&wg);
///         coro::spawn(move || {
///             coro::yield_now();
///             wg.done();
///         });
///     }
///     wg.wait();
///     assert_eq!(wg.count(), 0);
/// });
/// ```
///
/// `!Send` and `!Sync`: share it between the coroutines of a thread with `Rc`.
#[derive(Debug, Default)]
pub struct WaitGroup {
    count: Cell<usize>,
    waiters: WaitQueue,
}

impl WaitGroup {
    /// A wait group with a count of zero.
    pub const fn new() -> WaitGroup {
        WaitGroup {
            count: Cell::new(0),
            waiters: WaitQueue::new(),
        }
    }

    /// Adds `n` to the count.
    pub fn add(&self, n: usize) {
        let count = self.count.get().checked_add(n);
        self.count
            .set(count.expect("coro::sync::WaitGroup count overflowed"));
    }

    /// Subtracts one from the count; at zero, wakes every waiting coroutine.
    ///
    /// # Panics
    ///
    /// If the count is already zero (more `done` than `add`).
    pub fn done(&self) {
        let count = self.count.get();
        assert!(
            count > 0,
            "coro::sync::WaitGroup::done called more times than `add` added"
        );
        self.count.set(count - 1);
        if count == 1 {
            self.waiters.notify_all();
        }
    }

    /// The current count.
    pub fn count(&self) -> usize {
        self.count.get()
    }

    /// Parks the calling coroutine until the count is zero (returns at once if it is).
    ///
    /// # Panics
    ///
    /// If it must wait outside a coro task, where nothing could ever call `done`.
    pub fn wait(&self) {
        if self.count.get() > 0 {
            let node = self.waiters.push();
            self.waiters
                .wait(&node, None, "coro::sync::WaitGroup::wait", &|| {});
        }
    }

    /// Parks until the count is zero (returns true) or `timeout` has passed (returns false).
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        self.wait_until(Instant::now() + timeout)
    }

    /// Parks until the count is zero (returns true) or `deadline` has passed (returns false).
    pub fn wait_until(&self, deadline: Instant) -> bool {
        if self.count.get() == 0 {
            return true;
        }
        let node = self.waiters.push();
        self.waiters.wait(
            &node,
            Some(deadline),
            "coro::sync::WaitGroup::wait_until",
            &|| {},
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::waiters::{LocalNode, Node, NodeState};

    #[test]
    fn done_to_zero_wakes_all_waiters() {
        let wg = WaitGroup::new();
        wg.add(2);
        let nodes: Vec<_> = (0..3).map(|_| LocalNode::current()).collect();
        for n in &nodes {
            wg.waiters.push_node(n.clone());
        }
        wg.done();
        assert!(nodes.iter().all(|n| n.state() == NodeState::Waiting));
        wg.done();
        assert!(nodes.iter().all(|n| n.state() == NodeState::Notified));
        assert!(wg.wait_timeout(Duration::ZERO));
    }

    #[test]
    #[should_panic(expected = "more times than `add` added")]
    fn done_below_zero_panics() {
        WaitGroup::new().done();
    }
}
