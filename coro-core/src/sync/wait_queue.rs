//! [`WaitQueue`]: the thread-local FIFO queue of parked coroutines under `Cond`, `Semaphore`,
//! `Mutex` and `WaitGroup`.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Instant;

use super::waiters::{self, LocalNode, Node, Waiters};
use crate::runtime::census::Wait;

/// A FIFO queue of coroutines of this thread waiting for something.
///
/// `!Send` and `!Sync`: it lives on one thread, like the coroutines that use it. The borrow of
/// the inner `RefCell` is never held across a park, nor while a party is unparked.
#[derive(Debug, Default)]
pub(crate) struct WaitQueue {
    waiters: RefCell<Waiters<Rc<LocalNode>>>,
}

impl WaitQueue {
    /// An empty queue.
    pub(crate) const fn new() -> Self {
        WaitQueue {
            waiters: RefCell::new(Waiters::new()),
        }
    }

    /// Enqueues a node for the calling coroutine. The caller then calls [`WaitQueue::wait`].
    pub(crate) fn push(&self) -> Rc<LocalNode> {
        let node = LocalNode::current();
        self.push_node(node.clone());
        node
    }

    /// Enqueues `node` (tests build nodes by hand).
    pub(crate) fn push_node(&self, node: Rc<LocalNode>) {
        self.waiters.borrow_mut().push(node);
    }

    /// How many parties are waiting.
    pub(crate) fn len(&self) -> usize {
        self.waiters.borrow().len()
    }

    /// Whether any party is waiting.
    pub(crate) fn has_waiting(&self) -> bool {
        self.waiters.borrow().has_waiting()
    }

    /// Notifies (and unparks) the first waiting party; false if none waits.
    pub(crate) fn notify_one(&self) -> bool {
        let node = self.waiters.borrow_mut().pop_waiting();
        match node {
            Some(node) => {
                node.unpark();
                true
            }
            None => false,
        }
    }

    /// Notifies every waiting party, in FIFO order; returns how many.
    pub(crate) fn notify_all(&self) -> usize {
        let all = self.waiters.borrow_mut().take_all();
        for node in &all {
            node.unpark();
        }
        all.len()
    }

    /// Parks until `node` (pushed by [`WaitQueue::push`]) is notified (true) or `deadline`
    /// passes (false).
    ///
    /// `on_abandon` runs if `node` was notified but its coroutine unwinds before using the
    /// notification (it is dropped while parked): it passes on what was handed over.
    ///
    /// # Panics
    ///
    /// Without a deadline, outside a coro task (see [`waiters::can_block`]); the node is
    /// cancelled first. `what` names the operation in the message.
    pub(crate) fn wait(
        &self,
        node: &Rc<LocalNode>,
        deadline: Option<Instant>,
        what: &'static str,
        on_abandon: &dyn Fn(),
    ) -> bool {
        let cancel = |abandon: bool| {
            let waiting = self.waiters.borrow_mut().cancel(node);
            if !waiting && abandon {
                on_abandon();
            }
            waiting
        };
        if deadline.is_none()
            && node.state() == waiters::NodeState::Waiting
            && !waiters::can_block()
        {
            self.waiters.borrow_mut().cancel(node);
            waiters::cannot_block(what);
        }
        waiters::park_on(node, deadline, Wait::Lock { what }, &cancel)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::waiters::NodeState;

    #[test]
    fn notify_one_wakes_in_order() {
        let q = WaitQueue::new();
        let a = q.push();
        let b = q.push();
        assert_eq!(q.len(), 2);
        assert!(q.notify_one());
        assert_eq!(a.state(), NodeState::Notified);
        assert_eq!(b.state(), NodeState::Waiting);
        assert!(q.notify_one());
        assert!(!q.notify_one());
    }

    #[test]
    fn notify_all_counts() {
        let q = WaitQueue::new();
        let nodes: Vec<_> = (0..10).map(|_| q.push()).collect();
        assert_eq!(q.notify_all(), 10);
        assert!(nodes.iter().all(|n| n.state() == NodeState::Notified));
        assert_eq!(q.notify_all(), 0);
    }

    #[test]
    fn untimed_wait_outside_a_task_panics_and_cancels() {
        let q = WaitQueue::new();
        let n = q.push();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            q.wait(&n, None, "test wait", &|| {});
        }));
        let msg = *r.unwrap_err().downcast::<String>().unwrap();
        assert!(msg.contains("test wait would block forever"), "{msg}");
        assert_eq!(n.state(), NodeState::Cancelled);
        assert!(!q.has_waiting());
    }
}
