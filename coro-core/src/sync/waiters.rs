//! Wait nodes and the FIFO list of them that every primitive and channel parks on.
//!
//! A waiting party (a coroutine, or a plain thread) is represented by a *node* on the heap
//! (`Rc` for the thread-local primitives, `Arc` for the cross-thread channel) that holds its
//! [`NodeState`] and the handle that wakes it. Nothing here ever points into a coroutine's stack, so
//! coroutines on shared (copy) stacks may wait: their frames can move while they are parked.
//!
//! The protocol, the same everywhere:
//!
//! 1. under the primitive's lock (a `RefCell` borrow or a `std::sync::Mutex`), the waiter checks
//!    its condition and, if it must wait, pushes a fresh node in state [`NodeState::Waiting`];
//! 2. it releases the lock and parks ([`park_on`]) until its node is [`NodeState::Notified`]
//!    (parking may return spuriously, so it loops);
//! 3. a notifier pops the *first* waiting node under the lock ([`Waiters::pop_waiting`]),
//!    marks it notified (for a mutex or a semaphore this hands over ownership) and unparks it
//!    after releasing the lock;
//! 4. a waiter that gives up (timeout, or its coroutine is dropped and unwinds) cancels its node
//!    under the lock. A node still waiting becomes [`NodeState::Cancelled`] and is skipped later; a
//!    node already notified must pass on what it was handed, so nothing is lost.
//!
//! This logic involves no context switch: the unit tests below run it on one plain thread.

use std::cell::Cell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Instant;

use super::park::{self, RemoteUnparker, Unparker};
use crate::runtime::census::Wait;

/// Where a waiter stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum NodeState {
    /// In a queue, parked or about to park.
    Waiting = 0,
    /// Popped by a notifier; what was handed to it (a lock, a permit, a slot) is its own.
    Notified = 1,
    /// Gave up while still waiting; notifiers skip it.
    Cancelled = 2,
}

impl NodeState {
    fn from_u8(v: u8) -> NodeState {
        match v {
            0 => NodeState::Waiting,
            1 => NodeState::Notified,
            _ => NodeState::Cancelled,
        }
    }
}

/// A handle to a heap-allocated wait node.
pub(crate) trait Node: Clone {
    /// The node's current state.
    fn state(&self) -> NodeState;
    /// Changes the node's state (only under the owning primitive's lock).
    fn set_state(&self, state: NodeState);
    /// Makes the waiting party runnable.
    fn unpark(&self);
}

/// A wait node for a party of this thread (thread-local primitives and channels).
#[derive(Debug)]
pub(crate) struct LocalNode {
    state: Cell<NodeState>,
    unparker: Unparker,
}

impl LocalNode {
    /// A node in state [`NodeState::Waiting`] that wakes `unparker`.
    pub(crate) fn new(unparker: Unparker) -> Rc<LocalNode> {
        Rc::new(LocalNode {
            state: Cell::new(NodeState::Waiting),
            unparker,
        })
    }

    /// A node for the calling coroutine (or thread).
    pub(crate) fn current() -> Rc<LocalNode> {
        LocalNode::new(park::current_unparker())
    }
}

impl Node for Rc<LocalNode> {
    fn state(&self) -> NodeState {
        self.state.get()
    }
    fn set_state(&self, state: NodeState) {
        self.state.set(state);
    }
    fn unpark(&self) {
        self.unparker.unpark();
    }
}

/// A wait node that can be notified from any thread (the cross-thread channel).
#[derive(Debug)]
pub(crate) struct RemoteNode {
    state: AtomicU8,
    unparker: RemoteUnparker,
}

impl RemoteNode {
    /// A node for the calling coroutine (or thread), wakeable from any thread.
    pub(crate) fn current() -> Arc<RemoteNode> {
        Arc::new(RemoteNode {
            state: AtomicU8::new(NodeState::Waiting as u8),
            unparker: park::current_remote_unparker(),
        })
    }
}

impl Node for Arc<RemoteNode> {
    fn state(&self) -> NodeState {
        NodeState::from_u8(self.state.load(Ordering::Acquire))
    }
    fn set_state(&self, state: NodeState) {
        self.state.store(state as u8, Ordering::Release);
    }
    fn unpark(&self) {
        self.unparker.unpark();
    }
}

/// When more than this many cancelled nodes are queued (and they are the majority), the queue
/// is compacted, so that waits that keep timing out cannot grow it without bound.
const COMPACT_AFTER: usize = 32;

/// A FIFO queue of wait nodes. Holds only waiting and cancelled nodes: notified nodes have been
/// popped. Cancelled nodes are removed lazily (skipped when they reach the front).
#[derive(Debug)]
pub(crate) struct Waiters<W> {
    queue: VecDeque<W>,
    cancelled: usize,
}

impl<W: Node> Default for Waiters<W> {
    fn default() -> Self {
        Self::new()
    }
}

impl<W: Node> Waiters<W> {
    /// An empty queue.
    pub(crate) const fn new() -> Self {
        Waiters {
            queue: VecDeque::new(),
            cancelled: 0,
        }
    }

    /// Appends a waiting node.
    pub(crate) fn push(&mut self, node: W) {
        debug_assert_eq!(node.state(), NodeState::Waiting);
        self.queue.push_back(node);
    }

    /// How many nodes are waiting.
    pub(crate) fn len(&self) -> usize {
        self.queue.len() - self.cancelled
    }

    /// Whether any node is waiting.
    pub(crate) fn has_waiting(&self) -> bool {
        self.len() > 0
    }

    /// Pops the first waiting node and marks it notified. The caller unparks it (after
    /// releasing its lock).
    pub(crate) fn pop_waiting(&mut self) -> Option<W> {
        while let Some(node) = self.queue.pop_front() {
            match node.state() {
                NodeState::Waiting => {
                    node.set_state(NodeState::Notified);
                    return Some(node);
                }
                _ => self.cancelled -= 1,
            }
        }
        None
    }

    /// Pops every waiting node, marking each notified, in FIFO order.
    pub(crate) fn take_all(&mut self) -> VecDeque<W> {
        let mut all = std::mem::take(&mut self.queue);
        self.cancelled = 0;
        all.retain(|n| n.state() == NodeState::Waiting);
        for n in &all {
            n.set_state(NodeState::Notified);
        }
        all
    }

    /// Cancels `node` if it is still waiting and returns true; returns false if it was already
    /// notified (the caller must then pass on what the notification handed it).
    pub(crate) fn cancel(&mut self, node: &W) -> bool {
        match node.state() {
            NodeState::Waiting => {
                node.set_state(NodeState::Cancelled);
                self.cancelled += 1;
                if self.cancelled > COMPACT_AFTER && self.cancelled * 2 > self.queue.len() {
                    self.queue.retain(|n| n.state() == NodeState::Waiting);
                    self.cancelled = 0;
                }
                true
            }
            NodeState::Notified => false,
            NodeState::Cancelled => true,
        }
    }
}

/// Whether the caller may wait without a deadline on a thread-local primitive: only a coro
/// task can, since outside one nothing else on the thread could ever run to wake it.
pub(crate) fn can_block() -> bool {
    park::in_task()
}

/// Panics with the message for an untimed wait outside a coro task (see [`can_block`]).
#[cold]
pub(crate) fn cannot_block(what: &str) -> ! {
    panic!(
        "{what} would block forever: it was called outside a coro task, where nothing else on this thread can run to wake it; call it inside `coro::run` / `coro::spawn`, or use its `try_` or timeout variant"
    )
}

/// Parks the caller until `node` is notified (returns true) or `deadline` passes (returns
/// false). `wait` names the wait for the census.
///
/// `cancel(abandon)` must, under the primitive's lock, cancel the node if it is still waiting
/// and return true; if the node was already notified it returns false, and when `abandon` is
/// true it also passes on what the notification handed over. It is called with `abandon ==
/// false` when the deadline passes, and with `abandon == true` if the wait unwinds (the
/// coroutine is dropped while parked).
pub(crate) fn park_on<W: Node>(
    node: &W,
    deadline: Option<Instant>,
    wait: Wait,
    cancel: &dyn Fn(bool) -> bool,
) -> bool {
    struct Abandon<'a>(&'a dyn Fn(bool) -> bool);
    impl Drop for Abandon<'_> {
        fn drop(&mut self) {
            (self.0)(true);
        }
    }
    let guard = Abandon(cancel);
    let notified = loop {
        if node.state() == NodeState::Notified {
            break true;
        }
        if !park::park_deadline(deadline, wait) && node.state() != NodeState::Notified {
            break !cancel(false);
        }
    };
    std::mem::forget(guard);
    notified
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node() -> Rc<LocalNode> {
        LocalNode::current()
    }

    #[test]
    fn pop_is_fifo_and_skips_cancelled() {
        let mut q = Waiters::new();
        let (a, b, c) = (node(), node(), node());
        q.push(a.clone());
        q.push(b.clone());
        q.push(c.clone());
        assert_eq!(q.len(), 3);
        assert!(q.cancel(&b));
        assert_eq!(b.state(), NodeState::Cancelled);
        assert_eq!(q.len(), 2);
        let first = q.pop_waiting().expect("a waits");
        assert!(Rc::ptr_eq(&first, &a));
        assert_eq!(a.state(), NodeState::Notified);
        let second = q.pop_waiting().expect("c waits");
        assert!(Rc::ptr_eq(&second, &c));
        assert!(q.pop_waiting().is_none());
        assert!(!q.has_waiting());
    }

    #[test]
    fn cancel_after_notify_reports_it() {
        let mut q = Waiters::new();
        let a = node();
        q.push(a.clone());
        q.pop_waiting();
        assert!(!q.cancel(&a), "a notified node cannot be cancelled");
        assert_eq!(a.state(), NodeState::Notified);
    }

    #[test]
    fn take_all_notifies_only_waiting() {
        let mut q = Waiters::new();
        let nodes: Vec<_> = (0..5).map(|_| node()).collect();
        for n in &nodes {
            q.push(n.clone());
        }
        q.cancel(&nodes[1]);
        q.cancel(&nodes[3]);
        let all = q.take_all();
        assert_eq!(all.len(), 3);
        assert!(Rc::ptr_eq(&all[0], &nodes[0]));
        assert!(Rc::ptr_eq(&all[1], &nodes[2]));
        assert!(Rc::ptr_eq(&all[2], &nodes[4]));
        assert!(all.iter().all(|n| n.state() == NodeState::Notified));
        assert_eq!(q.len(), 0);
    }

    #[test]
    fn cancelled_nodes_are_compacted() {
        let mut q = Waiters::new();
        let keep = node();
        q.push(keep.clone());
        for _ in 0..1000 {
            let n = node();
            q.push(n.clone());
            q.cancel(&n);
        }
        assert!(
            q.queue.len() <= 2 * COMPACT_AFTER + 2,
            "queue holds {}",
            q.queue.len()
        );
        assert_eq!(q.len(), 1);
        assert!(Rc::ptr_eq(&q.pop_waiting().unwrap(), &keep));
    }

    #[test]
    fn park_on_times_out_and_cancels() {
        let mut q = std::cell::RefCell::new(Waiters::new());
        let n = node();
        q.get_mut().push(n.clone());
        let deadline = Instant::now() + std::time::Duration::from_millis(5);
        let got = park_on(&n, Some(deadline), Wait::Other, &|_| {
            q.borrow_mut().cancel(&n)
        });
        assert!(!got);
        assert_eq!(n.state(), NodeState::Cancelled);
        assert!(Instant::now() >= deadline);
    }

    #[test]
    fn park_on_returns_at_once_when_notified() {
        let mut q = Waiters::new();
        let n = node();
        q.push(n.clone());
        q.pop_waiting();
        assert!(park_on(&n, None, Wait::Other, &|_| unreachable!()));
    }

    #[test]
    fn remote_node_is_notified_from_another_thread() {
        let q = Arc::new(std::sync::Mutex::new(Waiters::new()));
        let n = RemoteNode::current();
        q.lock().unwrap().push(n.clone());
        let q2 = Arc::clone(&q);
        let t = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(10));
            let w = q2.lock().unwrap().pop_waiting().unwrap();
            w.unpark();
        });
        assert!(park_on(&n, None, Wait::Other, &|_| q
            .lock()
            .unwrap()
            .cancel(&n)));
        t.join().unwrap();
    }
}
