//! The blocking send and receive, written once for both channel flavours.
//!
//! A [`Flavor`] is the lock around a [`Chan`] plus the kind of wait node its parties use. The
//! operations take the lock only for a [`Chan`] transition, park without it, and unpark the
//! parties a transition returned after releasing it. [`Lock`] and [`park_until`] are the same
//! for the broadcast and watch channels, whose waiters are all woken together.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Instant;

use super::chan::{Chan, Wake};
use super::error::{RecvTimeoutError, SendTimeoutError, TryRecvError, TrySendError};
use crate::runtime::census::Wait;
use crate::sync::waiters::{self, LocalNode, Node, RemoteNode};

/// The lock around a channel's state, and how its parties wait.
pub(crate) trait Flavor<T> {
    /// The wait node of this flavour.
    type Node: Node;
    /// Runs `f` under the lock.
    fn with<R>(&self, f: impl FnOnce(&mut Chan<T, Self::Node>) -> R) -> R;
    /// A fresh node for the calling coroutine (or thread).
    fn node() -> Self::Node;
    /// Whether an untimed wait may block the caller (see `waiters::can_block`).
    fn can_block() -> bool;
}

/// The lock around the state `S` of a broadcast or watch channel, and how its parties wait:
/// `RefCell` with thread-local nodes for the local flavour, `Mutex` and `RwLock` with nodes any
/// thread can wake for the cross-thread one.
pub(crate) trait Lock<S> {
    /// The wait node of this flavour.
    type Node: Node;
    /// Runs `f` under the lock.
    fn with<R>(&self, f: impl FnOnce(&mut S) -> R) -> R;
    /// A fresh node for the calling coroutine (or thread).
    fn node() -> Self::Node;
    /// Whether an untimed wait may block the caller (see `waiters::can_block`).
    fn can_block() -> bool;
}

impl<S> Lock<S> for RefCell<S> {
    type Node = Rc<LocalNode>;
    fn with<R>(&self, f: impl FnOnce(&mut S) -> R) -> R {
        match self.try_borrow_mut() {
            Ok(mut s) => f(&mut s),
            Err(_) => panic!(
                "a coro channel was used while a `borrow()` of its value is held (a watch `Ref` kept across a send or a wait); drop the `Ref` first"
            ),
        }
    }
    fn node() -> Rc<LocalNode> {
        LocalNode::current()
    }
    fn can_block() -> bool {
        waiters::can_block()
    }
}

// No code runs under these locks that could panic with the state half-changed (a clone of a
// message runs before anything changes; values are dropped and parties woken after the lock is
// released), so a poisoned lock is sound. The one exception is a watch's `send_modify`, whose
// closure is the user's: a panic in it leaves the value as the closure left it (documented).

impl<S> Lock<S> for Mutex<S> {
    type Node = Arc<RemoteNode>;
    fn with<R>(&self, f: impl FnOnce(&mut S) -> R) -> R {
        f(&mut self.lock().unwrap_or_else(PoisonError::into_inner))
    }
    fn node() -> Arc<RemoteNode> {
        RemoteNode::current()
    }
    fn can_block() -> bool {
        // The other side may be another thread, so parking a plain thread is fine.
        true
    }
}

impl<S> Lock<S> for RwLock<S> {
    type Node = Arc<RemoteNode>;
    fn with<R>(&self, f: impl FnOnce(&mut S) -> R) -> R {
        f(&mut self.write().unwrap_or_else(PoisonError::into_inner))
    }
    fn node() -> Arc<RemoteNode> {
        RemoteNode::current()
    }
    fn can_block() -> bool {
        true
    }
}

/// Waits until `poll` has an answer, for waits where every waiter is woken at once (broadcast
/// and watch receivers): runs `poll(state, None)` under the lock; if it has no answer, parks
/// with a fresh node, which `poll(state, Some(node))` must enqueue when it again has none, and
/// polls again when woken. `cancel` takes a node that gives up (a timeout, or an unwind) off the
/// wait list and says whether it was still waiting; a woken waiter has nothing to pass on, since
/// the others were woken with it. `None`: `deadline` passed first.
pub(crate) fn park_until<S, L: Lock<S>, R>(
    l: &L,
    deadline: Option<Instant>,
    what: &'static str,
    mut poll: impl FnMut(&mut S, Option<&L::Node>) -> Option<R>,
    cancel: impl Fn(&mut S, &L::Node) -> bool,
) -> Option<R> {
    if let Some(r) = l.with(|s| poll(s, None)) {
        return Some(r);
    }
    if deadline.is_none() && !L::can_block() {
        waiters::cannot_block(what);
    }
    loop {
        let node = L::node();
        if let Some(r) = l.with(|s| poll(s, Some(&node))) {
            return Some(r);
        }
        let give_up = |_abandon: bool| l.with(|s| cancel(s, &node));
        if !waiters::park_on(&node, deadline, Wait::Channel { what }, &give_up) {
            return None;
        }
    }
}

fn wake_one<W: Node>(w: Option<W>) {
    if let Some(w) = w {
        w.unpark();
    }
}

/// Queues `v` without waiting.
pub(crate) fn try_send<T, F: Flavor<T>>(f: &F, v: T) -> Result<(), TrySendError<T>> {
    let woken = f.with(|c| c.try_send(v))?;
    wake_one(woken);
    Ok(())
}

/// Where a blocking sender stands after its second look under the lock.
enum Queued<T, W> {
    /// Sent; wake this receiver.
    Sent(Option<W>),
    /// Full: the sender's node waits for a slot, and it keeps its value.
    Slot(T),
    /// Rendezvous: the value waits in the channel as offer `.0`; wake receiver `.1`.
    Offered(u64, Option<W>),
    /// Every receiver is gone.
    Gone(T),
}

/// Queues `v`, parking while the channel is full, until `deadline` if there is one. On a
/// rendezvous channel, parks until a receiver has taken `v`.
pub(crate) fn send<T, F: Flavor<T>>(
    f: &F,
    v: T,
    deadline: Option<Instant>,
    what: &'static str,
) -> Result<(), SendTimeoutError<T>> {
    // One lock when there is room. A rendezvous sender always offers and waits, so that its
    // `send` returns only once a receiver has the value (see `send_rendezvous`).
    let v = match f.with(|c| {
        if c.is_rendezvous() {
            Err(TrySendError::Full(v))
        } else {
            c.try_send(v)
        }
    }) {
        Ok(woken) => {
            wake_one(woken);
            return Ok(());
        }
        Err(TrySendError::Disconnected(v)) => return Err(SendTimeoutError::Disconnected(v)),
        Err(TrySendError::Full(v)) => v,
    };
    if deadline.is_none() && !F::can_block() {
        waiters::cannot_block(what);
    }
    // Full: try again with a node ready to enqueue.
    let node = F::node();
    let queued = f.with(|c| {
        if c.is_rendezvous() {
            return match c.offer(v, node.clone()) {
                Ok((ticket, woken)) => Queued::Offered(ticket, woken),
                Err(v) => Queued::Gone(v),
            };
        }
        match c.try_send(v) {
            Ok(woken) => Queued::Sent(woken),
            Err(TrySendError::Full(v)) => {
                c.wait_send(node.clone());
                Queued::Slot(v)
            }
            Err(TrySendError::Disconnected(v)) => Queued::Gone(v),
        }
    });
    match queued {
        Queued::Sent(woken) => {
            wake_one(woken);
            Ok(())
        }
        Queued::Gone(v) => Err(SendTimeoutError::Disconnected(v)),
        Queued::Slot(v) => wait_for_slot(f, &node, v, deadline, what),
        Queued::Offered(ticket, woken) => {
            wake_one(woken);
            wait_until_taken(f, &node, ticket, deadline, what)
        }
    }
}

/// A bounded sender whose `node` waits for a slot sends `v` into the slot reserved for it.
fn wait_for_slot<T, F: Flavor<T>>(
    f: &F,
    node: &F::Node,
    v: T,
    deadline: Option<Instant>,
    what: &'static str,
) -> Result<(), SendTimeoutError<T>> {
    let cancel = |abandon: bool| {
        let (waiting, next) = f.with(|c| c.cancel_send(node, abandon));
        wake_one(next);
        waiting
    };
    if !waiters::park_on(node, deadline, Wait::Channel { what }, &cancel) {
        return Err(SendTimeoutError::Timeout(v));
    }
    // Notified: a slot is reserved for us, or every receiver is gone.
    match f.with(|c| c.send_reserved(v)) {
        Ok(woken) => {
            wake_one(woken);
            Ok(())
        }
        Err(v) => Err(SendTimeoutError::Disconnected(v)),
    }
}

/// A rendezvous sender whose `node` offered its value as `ticket` waits until a receiver takes
/// it. The value stays in the channel while it waits, so a receiver takes it without waiting
/// for the sender to run; a sender that gives up takes it back under the lock (a timeout
/// returns it, an unwind drops it here, after the lock is released).
fn wait_until_taken<T, F: Flavor<T>>(
    f: &F,
    node: &F::Node,
    ticket: u64,
    deadline: Option<Instant>,
    what: &'static str,
) -> Result<(), SendTimeoutError<T>> {
    let back = Cell::new(None);
    let cancel = |abandon: bool| {
        let (waiting, v) = f.with(|c| c.cancel_offer(node, ticket, abandon));
        if v.is_some() {
            back.set(v);
        }
        waiting
    };
    if !waiters::park_on(node, deadline, Wait::Channel { what }, &cancel) {
        let v = back.take();
        return Err(SendTimeoutError::Timeout(
            v.expect("a sender that gave up while waiting has its offer back"),
        ));
    }
    // Notified: a receiver took the value, or every receiver is gone and it is still queued.
    match f.with(|c| c.reclaim(ticket)) {
        None => Ok(()),
        Some(v) => Err(SendTimeoutError::Disconnected(v)),
    }
}

/// Takes a message without waiting.
pub(crate) fn try_recv<T, F: Flavor<T>>(f: &F) -> Result<T, TryRecvError> {
    match f.with(|c| c.try_recv()) {
        Ok((v, wake)) => {
            wake.unpark();
            Ok(v)
        }
        Err(true) => Err(TryRecvError::Disconnected),
        Err(false) => Err(TryRecvError::Empty),
    }
}

/// Takes a message, parking while the channel is empty and senders remain, until `deadline`
/// if there is one.
pub(crate) fn recv<T, F: Flavor<T>>(
    f: &F,
    deadline: Option<Instant>,
    what: &'static str,
) -> Result<T, RecvTimeoutError> {
    loop {
        match try_recv(f) {
            Ok(v) => return Ok(v),
            Err(TryRecvError::Disconnected) => return Err(RecvTimeoutError::Disconnected),
            Err(TryRecvError::Empty) => {}
        }
        if deadline.is_none() && !F::can_block() {
            waiters::cannot_block(what);
        }
        // Empty: try again with a node ready to enqueue.
        let node = F::node();
        // A rendezvous channel's `select!` sender that waited for a receiver to wait.
        let mut sender = None;
        let got: Result<(T, Wake<F::Node>), bool> = f.with(|c| {
            let r = c.try_recv();
            if let Err(false) = r {
                sender = c.wait_recv(node.clone());
            }
            r
        });
        wake_one(sender);
        match got {
            Ok((v, wake)) => {
                wake.unpark();
                return Ok(v);
            }
            Err(true) => return Err(RecvTimeoutError::Disconnected),
            Err(false) => {}
        }
        let cancel = |abandon: bool| {
            let (waiting, next) = f.with(|c| c.cancel_recv(&node, abandon));
            wake_one(next);
            waiting
        };
        if !waiters::park_on(&node, deadline, Wait::Channel { what }, &cancel) {
            return Err(RecvTimeoutError::Timeout);
        }
    }
}

/// The methods, trait impls and iterators of a flavour's `Sender<T>` and `Receiver<T>`, which
/// are the same for both flavours but for the pointer to the shared state (`Rc` or `Arc`) and
/// what an untimed wait outside a task does. Invoked in `local` and `sync`, where the two
/// structs (each with a `chan: $ptr<Shared<T>>` field) and `Shared<T>: Flavor<T>` are defined,
/// with the error types and `Duration`, `Instant` and `fmt` in scope.
macro_rules! channel_halves {
    (
        $ptr:ident,
        send: $send_what:literal $(#[$send_doc:meta])*,
        recv: $recv_what:literal $(#[$recv_doc:meta])* $(,)?
    ) => {
        impl<T> Sender<T> {
            /// Sends `value`, parking the calling coroutine while a bounded channel is full (on a
            /// rendezvous channel, until a receiver has taken it). Fails, giving the value back,
            /// if every receiver is gone.
            ///
            $(#[$send_doc])*
            pub fn send(&self, value: T) -> Result<(), SendError<T>> {
                $crate::channel::ops::send(&*self.chan, value, None, $send_what)
                    .map_err(|e| SendError(e.into_inner()))
            }

            /// Sends `value` if there is room now (on a rendezvous channel: if a receiver is
            /// waiting; the value is then handed to it).
            pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
                $crate::channel::ops::try_send(&*self.chan, value)
            }

            /// Sends `value`, waiting at most `timeout` for room (on a rendezvous channel, for a
            /// receiver to take it); the value comes back in the error when time runs out.
            pub fn send_timeout(
                &self,
                value: T,
                timeout: Duration,
            ) -> Result<(), SendTimeoutError<T>> {
                self.send_deadline(value, Instant::now() + timeout)
            }

            /// Sends `value`, waiting until `deadline` at the latest for room (on a rendezvous
            /// channel, for a receiver to take it).
            pub fn send_deadline(
                &self,
                value: T,
                deadline: Instant,
            ) -> Result<(), SendTimeoutError<T>> {
                $crate::channel::ops::send(&*self.chan, value, Some(deadline), "")
            }

            /// Whether every receiver is gone (sends fail).
            pub fn is_disconnected(&self) -> bool {
                $crate::channel::ops::Flavor::with(&*self.chan, |c| c.receivers_gone())
            }

            /// Messages queued now (on a rendezvous channel, the values offered by waiting
            /// senders).
            pub fn len(&self) -> usize {
                $crate::channel::ops::Flavor::with(&*self.chan, |c| c.len())
            }

            /// Whether no message is queued.
            pub fn is_empty(&self) -> bool {
                self.len() == 0
            }

            /// The capacity, `None` for an unbounded channel, `Some(0)` for a rendezvous one.
            pub fn capacity(&self) -> Option<usize> {
                $crate::channel::ops::Flavor::with(&*self.chan, |c| c.capacity())
            }
        }

        impl<T> Receiver<T> {
            /// Takes the next message, parking the calling coroutine while the channel is empty.
            /// Fails when the channel is empty and every sender is gone.
            ///
            $(#[$recv_doc])*
            pub fn recv(&self) -> Result<T, RecvError> {
                $crate::channel::ops::recv(&*self.chan, None, $recv_what).map_err(|_| RecvError)
            }

            /// Takes the next message if there is one now.
            pub fn try_recv(&self) -> Result<T, TryRecvError> {
                $crate::channel::ops::try_recv(&*self.chan)
            }

            /// Takes the next message, waiting at most `timeout`.
            pub fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvTimeoutError> {
                self.recv_deadline(Instant::now() + timeout)
            }

            /// Takes the next message, waiting until `deadline` at the latest.
            pub fn recv_deadline(&self, deadline: Instant) -> Result<T, RecvTimeoutError> {
                $crate::channel::ops::recv(&*self.chan, Some(deadline), "")
            }

            /// An iterator that receives until the channel is empty and every sender is gone.
            pub fn iter(&self) -> Iter<'_, T> {
                Iter { rx: self }
            }

            /// An iterator over the messages queued now; it never parks.
            pub fn try_iter(&self) -> TryIter<'_, T> {
                TryIter { rx: self }
            }

            /// Whether every sender is gone (once the queue is drained, receives fail).
            pub fn is_disconnected(&self) -> bool {
                $crate::channel::ops::Flavor::with(&*self.chan, |c| c.senders_gone())
            }

            /// Messages queued now (on a rendezvous channel, the values offered by waiting
            /// senders).
            pub fn len(&self) -> usize {
                $crate::channel::ops::Flavor::with(&*self.chan, |c| c.len())
            }

            /// Whether no message is queued.
            pub fn is_empty(&self) -> bool {
                self.len() == 0
            }

            /// The capacity, `None` for an unbounded channel, `Some(0)` for a rendezvous one.
            pub fn capacity(&self) -> Option<usize> {
                $crate::channel::ops::Flavor::with(&*self.chan, |c| c.capacity())
            }
        }

        impl<T> Sender<T> {
            /// The channel's state, for `select!`'s send arms.
            pub(crate) fn shared(&self) -> &Shared<T> {
                &self.chan
            }
        }

        impl<T> Receiver<T> {
            /// The channel's state, for `select!`'s receive arms.
            pub(crate) fn shared(&self) -> &Shared<T> {
                &self.chan
            }
        }

        impl<T> Clone for Sender<T> {
            fn clone(&self) -> Self {
                $crate::channel::ops::Flavor::with(&*self.chan, |c| c.add_sender());
                Sender {
                    chan: $ptr::clone(&self.chan),
                }
            }
        }

        impl<T> Clone for Receiver<T> {
            fn clone(&self) -> Self {
                $crate::channel::ops::Flavor::with(&*self.chan, |c| c.add_receiver());
                Receiver {
                    chan: $ptr::clone(&self.chan),
                }
            }
        }

        impl<T> Drop for Sender<T> {
            fn drop(&mut self) {
                let woken = $crate::channel::ops::Flavor::with(&*self.chan, |c| c.drop_sender());
                for w in woken {
                    w.unpark();
                }
            }
        }

        impl<T> Drop for Receiver<T> {
            fn drop(&mut self) {
                // The messages are dropped after the lock is released: one may hold a half of this
                // very channel.
                let (messages, woken) =
                    $crate::channel::ops::Flavor::with(&*self.chan, |c| c.drop_receiver());
                drop(messages);
                for w in woken {
                    w.unpark();
                }
            }
        }

        impl<T> fmt::Debug for Sender<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct("Sender")
                    .field("len", &self.len())
                    .finish_non_exhaustive()
            }
        }

        impl<T> fmt::Debug for Receiver<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct("Receiver")
                    .field("len", &self.len())
                    .finish_non_exhaustive()
            }
        }

        /// Receives until the channel is empty and every sender is gone ([`Receiver::iter`]).
        #[derive(Debug)]
        pub struct Iter<'a, T> {
            rx: &'a Receiver<T>,
        }

        /// The messages queued now ([`Receiver::try_iter`]).
        #[derive(Debug)]
        pub struct TryIter<'a, T> {
            rx: &'a Receiver<T>,
        }

        /// Receives until the channel is empty and every sender is gone (`Receiver::into_iter`).
        #[derive(Debug)]
        pub struct IntoIter<T> {
            rx: Receiver<T>,
        }

        impl<T> Iterator for Iter<'_, T> {
            type Item = T;
            fn next(&mut self) -> Option<T> {
                self.rx.recv().ok()
            }
        }

        impl<T> Iterator for TryIter<'_, T> {
            type Item = T;
            fn next(&mut self) -> Option<T> {
                self.rx.try_recv().ok()
            }
        }

        impl<T> Iterator for IntoIter<T> {
            type Item = T;
            fn next(&mut self) -> Option<T> {
                self.rx.recv().ok()
            }
        }

        impl<'a, T> IntoIterator for &'a Receiver<T> {
            type Item = T;
            type IntoIter = Iter<'a, T>;
            fn into_iter(self) -> Iter<'a, T> {
                self.iter()
            }
        }

        impl<T> IntoIterator for Receiver<T> {
            type Item = T;
            type IntoIter = IntoIter<T>;
            fn into_iter(self) -> IntoIter<T> {
                IntoIter { rx: self }
            }
        }
    };
}

pub(crate) use channel_halves;
