//! Broadcast channels: [`broadcast`] between the coroutines of a thread, and
//! [`sync::broadcast`](super::sync::broadcast) across threads. Every receiver sees every
//! message sent after it subscribed, in order; a receiver that falls too far behind loses the
//! oldest messages and is told how many (tokio's `broadcast` semantics).
//!
//! [`Bcast`] is the state, shared by both flavours and tested below without a context switch.
//! It keeps the messages that some receiver has still to take, each with a count of the
//! receivers still to take it, at positions `head..tail` of the channel's history; a receiver
//! is a position (`next`) in that history, kept in the receiver itself. A receiver that takes a
//! message counts it off; the message is dropped when the last one has taken it (that one gets
//! the value itself, without a clone). A send into a full buffer drops the oldest message,
//! which lags the receivers that had not taken it: their next receive reports how many they
//! missed and moves them to the oldest message kept.
//!
//! Receivers that wait are woken all together by every send (each wants every message), so a
//! receiver that gives up (a timeout, a cancel, a deadline scope) has nothing to pass on.
//!
//! The halves of both flavours come from one macro, [`broadcast_halves!`], as in `ops.rs`.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt;
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::error::{
    BroadcastRecvError, BroadcastRecvTimeoutError, BroadcastTryRecvError, SendError,
};
use super::ops::{self, Lock};
use crate::sync::waiters::{LocalNode, Node, Waiters};

/// A message and the number of receivers still to take it.
#[derive(Debug)]
struct Slot<T> {
    value: T,
    rem: usize,
}

/// The state of a broadcast channel.
///
/// Invariant: a receiver takes the messages in order, so the receivers still to take a message
/// are among those still to take every later one: the counts never decrease from front to back,
/// a count of zero can only be at the front (such a message is dropped at once), and a count of
/// one at the front belongs to the receiver that takes it.
#[derive(Debug)]
pub(crate) struct Bcast<T, W> {
    slots: VecDeque<Slot<T>>,
    /// The position of `slots[0]` in the channel's history.
    head: u64,
    cap: usize,
    senders: usize,
    receivers: usize,
    waiters: Waiters<W>,
}

/// What a send did: how many receivers it reached, the message it pushed out of a full buffer
/// (to be dropped after the lock is released) and the receivers to wake.
#[derive(Debug)]
#[must_use = "the receivers must be woken"]
pub(crate) struct Sent<T, W> {
    pub(crate) receivers: usize,
    pub(crate) evicted: Option<T>,
    pub(crate) woken: VecDeque<W>,
}

impl<T, W: Node> Bcast<T, W> {
    /// A channel with one sender and one receiver (at position 0) that holds at most `cap`
    /// messages.
    ///
    /// # Panics
    ///
    /// If `cap` is 0.
    pub(crate) fn new(cap: usize) -> Self {
        assert!(
            cap > 0,
            "a coro broadcast channel needs a capacity of at least 1: its senders never wait, so with no room every message would be lost at once"
        );
        Bcast {
            slots: VecDeque::new(),
            head: 0,
            cap,
            senders: 1,
            receivers: 1,
            waiters: Waiters::new(),
        }
    }

    /// The position the next message sent will have.
    fn tail(&self) -> u64 {
        self.head + self.slots.len() as u64
    }

    /// The messages held: sent, and not yet taken by every receiver.
    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    /// How many messages it holds at most.
    pub(crate) fn capacity(&self) -> usize {
        self.cap
    }

    /// How many receivers there are.
    pub(crate) fn receiver_count(&self) -> usize {
        self.receivers
    }

    /// Whether every sender is gone.
    pub(crate) fn senders_gone(&self) -> bool {
        self.senders == 0
    }

    /// The messages held that the receiver at `next` has not taken yet.
    pub(crate) fn unread(&self, next: u64) -> usize {
        (self.tail() - next.max(self.head)) as usize
    }

    /// Appends `v` for every receiver, dropping the oldest message if the buffer is full; gives
    /// `v` back if there is no receiver.
    pub(crate) fn send(&mut self, v: T) -> Result<Sent<T, W>, T> {
        if self.receivers == 0 {
            return Err(v);
        }
        let evicted = if self.slots.len() == self.cap {
            self.head += 1;
            self.slots.pop_front().map(|s| s.value)
        } else {
            None
        };
        self.slots.push_back(Slot {
            value: v,
            rem: self.receivers,
        });
        Ok(Sent {
            receivers: self.receivers,
            evicted,
            woken: self.waiters.take_all(),
        })
    }

    /// The next message for the receiver at `next`, which it moves past; or how many messages
    /// it lost (then it moves to the oldest one kept); or `Empty`, or `Disconnected` once every
    /// sender is gone and it has taken everything.
    pub(crate) fn try_recv(&mut self, next: &mut u64) -> Result<T, BroadcastTryRecvError>
    where
        T: Clone,
    {
        if *next < self.head {
            let missed = self.head - *next;
            *next = self.head;
            return Err(BroadcastTryRecvError::Lagged(missed));
        }
        if *next == self.tail() {
            return Err(if self.senders == 0 {
                BroadcastTryRecvError::Disconnected
            } else {
                BroadcastTryRecvError::Empty
            });
        }
        let i = (*next - self.head) as usize;
        let v = if self.slots[i].rem == 1 {
            // The last receiver to take it: by the invariant it is at the front.
            debug_assert_eq!(i, 0);
            self.head += 1;
            self.slots
                .pop_front()
                .map(|s| s.value)
                .expect("a slot at i")
        } else {
            // A clone that panics leaves the state as it was.
            let v = self.slots[i].value.clone();
            self.slots[i].rem -= 1;
            v
        };
        *next += 1;
        Ok(v)
    }

    /// Enqueues a receiver that found nothing to take.
    pub(crate) fn wait(&mut self, node: W) {
        self.waiters.push(node);
    }

    /// A waiting receiver gives up; false if it was already woken.
    pub(crate) fn cancel(&mut self, node: &W) -> bool {
        self.waiters.cancel(node)
    }

    /// One more sender.
    pub(crate) fn add_sender(&mut self) {
        self.senders += 1;
    }

    /// A sender is dropped; when it was the last, the waiting receivers are returned to be
    /// woken (they take what is left, then see `Disconnected`).
    pub(crate) fn drop_sender(&mut self) -> VecDeque<W> {
        self.senders -= 1;
        if self.senders == 0 {
            self.waiters.take_all()
        } else {
            VecDeque::new()
        }
    }

    /// A new receiver, which will see the messages sent from now on: its position.
    pub(crate) fn subscribe(&mut self) -> u64 {
        self.receivers += 1;
        self.tail()
    }

    /// A new receiver at the same position as the one at `next`: it will take what that one
    /// has still to take (and lag as it would).
    pub(crate) fn clone_receiver(&mut self, next: u64) {
        self.receivers += 1;
        let from = (next.max(self.head) - self.head) as usize;
        for s in self.slots.range_mut(from..) {
            s.rem += 1;
        }
    }

    /// The receiver at `next` is dropped: it counts off what it had still to take. Returns the
    /// messages nobody needs any more, to be dropped after the lock is released (their
    /// destructors may use the channel).
    pub(crate) fn drop_receiver(&mut self, next: u64) -> VecDeque<T> {
        self.receivers -= 1;
        let from = (next.max(self.head) - self.head) as usize;
        for s in self.slots.range_mut(from..) {
            s.rem -= 1;
        }
        let mut done = VecDeque::new();
        while self.slots.front().is_some_and(|s| s.rem == 0) {
            done.extend(self.slots.pop_front().map(|s| s.value));
            self.head += 1;
        }
        done
    }
}

/// Sends `v` to every receiver and wakes those that wait: how many receivers there are.
fn send<T, W: Node, L: Lock<Bcast<T, W>>>(l: &L, v: T) -> Result<usize, SendError<T>> {
    let sent = l.with(|b| b.send(v)).map_err(SendError)?;
    drop(sent.evicted);
    for w in sent.woken {
        w.unpark();
    }
    Ok(sent.receivers)
}

/// The next message for the receiver at `next`, parking while there is none and senders
/// remain, until `deadline` if there is one.
fn recv<T: Clone, W: Node, L: Lock<Bcast<T, W>, Node = W>>(
    l: &L,
    next: &mut u64,
    deadline: Option<Instant>,
    what: &'static str,
) -> Result<T, BroadcastRecvTimeoutError> {
    let got = ops::park_until(
        l,
        deadline,
        what,
        |b, node| match b.try_recv(next) {
            Err(BroadcastTryRecvError::Empty) => {
                if let Some(node) = node {
                    b.wait(node.clone());
                }
                None
            }
            other => Some(other),
        },
        |b, node| b.cancel(node),
    );
    match got {
        None => Err(BroadcastRecvTimeoutError::Timeout),
        Some(Ok(v)) => Ok(v),
        Some(Err(BroadcastTryRecvError::Lagged(n))) => Err(BroadcastRecvTimeoutError::Lagged(n)),
        Some(Err(_)) => Err(BroadcastRecvTimeoutError::Disconnected),
    }
}

/// The methods, trait impls and docs of a flavour's `BroadcastSender<T>` and
/// `BroadcastReceiver<T>`, which differ only in the pointer to the shared state (`Rc` or `Arc`)
/// and what an untimed wait outside a task does. Invoked here (local) and in `sync` below, where
/// the two structs (`shared: $ptr<Shared<T>>`, and the receiver's `next: u64`) and
/// `Shared<T>: Lock<Bcast<T, _>>` are defined.
macro_rules! broadcast_halves {
    ($ptr:ident, recv: $recv_what:literal $(#[$recv_doc:meta])*) => {
        impl<T> BroadcastSender<T> {
            /// Sends `value` to every receiver and returns how many there are; never waits.
            /// When the channel already holds `capacity` messages, the oldest is dropped: the
            /// receivers that had not taken it will be told they lagged. Fails, giving the value
            /// back, if there is no receiver (a receiver subscribed later will not see it).
            pub fn send(&self, value: T) -> Result<usize, SendError<T>> {
                send(&*self.shared, value)
            }

            /// A new receiver, which will see every message sent from now on.
            pub fn subscribe(&self) -> BroadcastReceiver<T> {
                let next = self.shared.with(|b| b.subscribe());
                BroadcastReceiver {
                    shared: $ptr::clone(&self.shared),
                    next,
                }
            }

            /// How many receivers there are.
            pub fn receiver_count(&self) -> usize {
                self.shared.with(|b| b.receiver_count())
            }

            /// The messages held: sent, and not yet taken (nor lost) by every receiver.
            pub fn len(&self) -> usize {
                self.shared.with(|b| b.len())
            }

            /// Whether no message is held.
            pub fn is_empty(&self) -> bool {
                self.len() == 0
            }

            /// How many messages the channel holds at most.
            pub fn capacity(&self) -> usize {
                self.shared.with(|b| b.capacity())
            }
        }

        impl<T: Clone> BroadcastReceiver<T> {
            /// Takes the next message, parking the calling coroutine while there is none.
            ///
            /// Fails with `Lagged(n)` if `n` messages were dropped before this receiver took
            /// them (it fell more than the capacity behind); the next receive continues with
            /// the oldest message kept. Fails with `Disconnected` when every sender is gone and
            /// this receiver has taken every message.
            ///
            $(#[$recv_doc])*
            pub fn recv(&mut self) -> Result<T, BroadcastRecvError> {
                recv(&*self.shared, &mut self.next, None, $recv_what).map_err(|e| match e {
                    BroadcastRecvTimeoutError::Lagged(n) => BroadcastRecvError::Lagged(n),
                    _ => BroadcastRecvError::Disconnected,
                })
            }

            /// Takes the next message if there is one now (see [`recv`](Self::recv)).
            pub fn try_recv(&mut self) -> Result<T, BroadcastTryRecvError> {
                self.shared.with(|b| b.try_recv(&mut self.next))
            }

            /// Takes the next message, waiting at most `timeout` (see [`recv`](Self::recv)).
            pub fn recv_timeout(&mut self, timeout: Duration) -> Result<T, BroadcastRecvTimeoutError> {
                self.recv_deadline(Instant::now() + timeout)
            }

            /// Takes the next message, waiting until `deadline` at the latest (see
            /// [`recv`](Self::recv)).
            pub fn recv_deadline(&mut self, deadline: Instant) -> Result<T, BroadcastRecvTimeoutError> {
                recv(&*self.shared, &mut self.next, Some(deadline), "")
            }
        }

        impl<T> BroadcastReceiver<T> {
            /// A new receiver, which will see the messages sent from now on (and none of those
            /// this one has still to take). `clone` instead makes one at this receiver's
            /// position.
            pub fn resubscribe(&self) -> Self {
                let next = self.shared.with(|b| b.subscribe());
                BroadcastReceiver {
                    shared: $ptr::clone(&self.shared),
                    next,
                }
            }

            /// The messages held that this receiver has not taken yet.
            pub fn len(&self) -> usize {
                self.shared.with(|b| b.unread(self.next))
            }

            /// Whether this receiver has taken every message held.
            pub fn is_empty(&self) -> bool {
                self.len() == 0
            }

            /// Whether every sender is gone (once this receiver has taken what is left,
            /// receives fail).
            pub fn is_disconnected(&self) -> bool {
                self.shared.with(|b| b.senders_gone())
            }

            /// How many messages the channel holds at most.
            pub fn capacity(&self) -> usize {
                self.shared.with(|b| b.capacity())
            }

            /// The channel's state and this receiver's position, for `select!`'s receive arms.
            pub(crate) fn select_parts(&mut self) -> (&Shared<T>, &mut u64) {
                (&self.shared, &mut self.next)
            }
        }

        impl<T> Clone for BroadcastSender<T> {
            fn clone(&self) -> Self {
                self.shared.with(|b| b.add_sender());
                BroadcastSender {
                    shared: $ptr::clone(&self.shared),
                }
            }
        }

        /// A receiver at the same position: it will take the same messages as this one from
        /// now on, and lag as it would. See also
        /// [`resubscribe`](BroadcastReceiver::resubscribe).
        impl<T> Clone for BroadcastReceiver<T> {
            fn clone(&self) -> Self {
                self.shared.with(|b| b.clone_receiver(self.next));
                BroadcastReceiver {
                    shared: $ptr::clone(&self.shared),
                    next: self.next,
                }
            }
        }

        impl<T> Drop for BroadcastSender<T> {
            fn drop(&mut self) {
                for w in self.shared.with(|b| b.drop_sender()) {
                    w.unpark();
                }
            }
        }

        impl<T> Drop for BroadcastReceiver<T> {
            fn drop(&mut self) {
                // Dropped after the lock is released: a message may hold a half of this channel.
                let done = self.shared.with(|b| b.drop_receiver(self.next));
                drop(done);
            }
        }

        impl<T> fmt::Debug for BroadcastSender<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct("BroadcastSender")
                    .field("len", &self.len())
                    .field("receivers", &self.receiver_count())
                    .finish_non_exhaustive()
            }
        }

        impl<T> fmt::Debug for BroadcastReceiver<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct("BroadcastReceiver")
                    .field("len", &self.len())
                    .finish_non_exhaustive()
            }
        }
    };
}

type Shared<T> = RefCell<Bcast<T, Rc<LocalNode>>>;

/// A broadcast channel between the coroutines of this thread, which holds at most `capacity`
/// messages: every receiver sees every message sent after it subscribed, in order, as a clone.
/// Senders never wait; a receiver that falls more than `capacity` messages behind loses the
/// oldest ones, and its next receive says how many
/// ([`BroadcastRecvError::Lagged`](crate::channel::BroadcastRecvError::Lagged)).
///
/// ```
/// use coro::channel::BroadcastRecvError;
///
/// coro::run(|| {
///     let (tx, mut rx1) = coro::channel::broadcast(2);
///     let mut rx2 = tx.subscribe();
///     let reader = coro::spawn(move || {
///         let mut got = Vec::new();
///         while let Ok(v) = rx2.recv() {
///             got.push(v); // parks while nothing is there
///         }
///         got
///     });
///     for v in 1..=4 {
///         tx.send(v).unwrap(); // never waits
///         coro::yield_now(); // the reader keeps up
///     }
///     drop(tx);
///     assert_eq!(reader.join().unwrap(), [1, 2, 3, 4]);
///     // rx1 did not keep up: of 4 messages, the 2 oldest were dropped.
///     assert_eq!(rx1.recv(), Err(BroadcastRecvError::Lagged(2)));
///     assert_eq!(rx1.recv(), Ok(3));
///     assert_eq!(rx1.recv(), Ok(4));
///     assert_eq!(rx1.recv(), Err(BroadcastRecvError::Disconnected));
/// });
/// ```
///
/// # Panics
///
/// If `capacity` is 0: senders never wait, so a channel with no room would lose every message.
pub fn broadcast<T: Clone>(capacity: usize) -> (BroadcastSender<T>, BroadcastReceiver<T>) {
    let shared = Rc::new(RefCell::new(Bcast::new(capacity)));
    (
        BroadcastSender {
            shared: Rc::clone(&shared),
        },
        BroadcastReceiver { shared, next: 0 },
    )
}

/// The sending half of a thread-local broadcast channel. Clone it for more senders; when the
/// last one is dropped, receivers get `Disconnected` once they have taken every message.
///
/// `!Send`: for a channel between threads use
/// [`sync::broadcast`](crate::channel::sync::broadcast).
///
/// ```compile_fail,E0277
/// let (tx, _rx) = coro::channel::broadcast(1);
/// std::thread::spawn(move || tx.send(1u8));
/// ```
pub struct BroadcastSender<T> {
    shared: Rc<Shared<T>>,
}

/// The receiving half of a thread-local broadcast channel: a position in the channel's
/// history. Make more with [`BroadcastSender::subscribe`] (from the next message on),
/// [`resubscribe`](BroadcastReceiver::resubscribe) (the same) or `clone` (from this one's
/// position). The receive methods take `&mut self`: each receiver is one reader.
///
/// `!Send`: for a channel between threads use
/// [`sync::broadcast`](crate::channel::sync::broadcast).
pub struct BroadcastReceiver<T> {
    shared: Rc<Shared<T>>,
    next: u64,
}

broadcast_halves! {
    Rc,
    recv: "coro::channel::BroadcastReceiver::recv"
        /// # Panics
        ///
        /// If it must wait outside a coro task, where no sender could ever run.
}

/// The cross-thread flavour: `channel::sync::{broadcast, BroadcastSender, BroadcastReceiver}`.
pub(super) mod sync {
    use std::fmt;
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    use super::{Bcast, recv, send};
    use crate::channel::error::{
        BroadcastRecvError, BroadcastRecvTimeoutError, BroadcastTryRecvError, SendError,
    };
    use crate::channel::ops::Lock;
    use crate::sync::waiters::{Node, RemoteNode};

    type Shared<T> = Mutex<Bcast<T, Arc<RemoteNode>>>;

    /// A broadcast channel whose halves can move to other threads, which holds at most
    /// `capacity` messages: every receiver sees every message sent after it subscribed, in
    /// order, as a clone. Senders never wait; a receiver that falls more than `capacity`
    /// messages behind loses the oldest ones, and its next receive says how many. A send from
    /// any thread wakes the receiving coroutines through their schedulers' eventfds; a plain
    /// thread can receive too (it parks the thread).
    ///
    /// ```
    /// let (tx, mut rx) = coro::channel::sync::broadcast(16);
    /// let mut rx2 = tx.subscribe();
    /// let t = std::thread::spawn(move || {
    ///     for v in 0..3 {
    ///         tx.send(v).unwrap();
    ///     }
    /// });
    /// let other = std::thread::spawn(move || coro::run(move || rx2.recv()));
    /// assert_eq!(rx.recv(), Ok(0));
    /// assert_eq!(other.join().unwrap(), Ok(0));
    /// t.join().unwrap();
    /// ```
    ///
    /// # Panics
    ///
    /// If `capacity` is 0: senders never wait, so a channel with no room would lose every
    /// message.
    pub fn broadcast<T: Clone>(capacity: usize) -> (BroadcastSender<T>, BroadcastReceiver<T>) {
        let shared = Arc::new(Mutex::new(Bcast::new(capacity)));
        (
            BroadcastSender {
                shared: Arc::clone(&shared),
            },
            BroadcastReceiver { shared, next: 0 },
        )
    }

    /// The sending half of a cross-thread broadcast channel. `Send` and `Sync` when
    /// `T: Send`. Clone it for more senders; when the last one is dropped, receivers get
    /// `Disconnected` once they have taken every message.
    pub struct BroadcastSender<T> {
        shared: Arc<Shared<T>>,
    }

    /// The receiving half of a cross-thread broadcast channel: a position in the channel's
    /// history. `Send` and `Sync` when `T: Send`. Make more with
    /// [`BroadcastSender::subscribe`] (from the next message on),
    /// [`resubscribe`](BroadcastReceiver::resubscribe) (the same) or `clone` (from this one's
    /// position). The receive methods take `&mut self`: each receiver is one reader.
    pub struct BroadcastReceiver<T> {
        shared: Arc<Shared<T>>,
        next: u64,
    }

    broadcast_halves! {
        Arc,
        recv: "coro::channel::sync::BroadcastReceiver::recv"
            /// Outside a coro task it parks the thread.
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::waiters::NodeState;

    type B = Bcast<u32, Rc<LocalNode>>;

    fn node() -> Rc<LocalNode> {
        LocalNode::current()
    }

    /// Sends `v` (there is nobody to wake in these tests).
    fn put(b: &mut B, v: u32) {
        let _ = b.send(v).unwrap();
    }

    fn take(b: &mut B, next: &mut u64) -> Result<u32, BroadcastTryRecvError> {
        b.try_recv(next)
    }

    #[test]
    fn every_receiver_takes_every_message_in_order() {
        let mut b = B::new(8);
        let (mut r1, mut r2) = (0, b.subscribe());
        for v in 0..5 {
            assert_eq!(b.send(v).unwrap().receivers, 2);
        }
        for v in 0..5 {
            assert_eq!(take(&mut b, &mut r1), Ok(v));
        }
        assert_eq!(take(&mut b, &mut r1), Err(BroadcastTryRecvError::Empty));
        assert_eq!(b.len(), 5, "r2 has still to take them");
        for v in 0..5 {
            assert_eq!(take(&mut b, &mut r2), Ok(v));
        }
        assert_eq!(b.len(), 0, "taken by every receiver: dropped");
    }

    #[test]
    fn a_late_subscriber_sees_only_later_messages() {
        let mut b = B::new(8);
        put(&mut b, 1);
        let mut r2 = b.subscribe();
        put(&mut b, 2);
        assert_eq!(take(&mut b, &mut r2), Ok(2));
        assert_eq!(take(&mut b, &mut r2), Err(BroadcastTryRecvError::Empty));
    }

    #[test]
    fn a_slow_receiver_lags_by_exactly_what_was_dropped() {
        let mut b = B::new(3);
        let (mut slow, mut fast) = (0, b.subscribe());
        for v in 0..10 {
            let sent = b.send(v).unwrap();
            assert_eq!(sent.evicted, v.checked_sub(3), "the oldest is pushed out");
            assert_eq!(
                take(&mut b, &mut fast),
                Ok(v),
                "a receiver that keeps up never lags"
            );
        }
        assert_eq!(b.unread(slow), 3);
        assert_eq!(
            take(&mut b, &mut slow),
            Err(BroadcastTryRecvError::Lagged(7))
        );
        for v in 7..10 {
            assert_eq!(take(&mut b, &mut slow), Ok(v));
        }
        assert_eq!(take(&mut b, &mut slow), Err(BroadcastTryRecvError::Empty));
        assert_eq!(b.len(), 0);
    }

    #[test]
    fn messages_nobody_needs_are_not_held() {
        let mut b = B::new(2);
        let mut r = 0;
        for v in 0..100 {
            put(&mut b, v);
            assert_eq!(take(&mut b, &mut r), Ok(v));
            assert_eq!(b.len(), 0);
        }
    }

    #[test]
    fn a_clone_starts_at_its_originals_position() {
        let mut b = B::new(4);
        let mut r1 = 0;
        for v in 0..3 {
            put(&mut b, v);
        }
        assert_eq!(take(&mut b, &mut r1), Ok(0));
        b.clone_receiver(r1);
        let mut r2 = r1;
        for v in 1..3 {
            assert_eq!(take(&mut b, &mut r1), Ok(v));
        }
        assert_eq!(b.len(), 2, "the clone has still to take 1 and 2");
        for v in 1..3 {
            assert_eq!(take(&mut b, &mut r2), Ok(v));
        }
        assert_eq!(b.len(), 0);
    }

    #[test]
    fn a_clone_of_a_lagging_receiver_lags_too() {
        let mut b = B::new(2);
        let mut r1 = 0;
        for v in 0..5 {
            put(&mut b, v);
        }
        b.clone_receiver(r1);
        let mut r2 = r1;
        assert_eq!(take(&mut b, &mut r1), Err(BroadcastTryRecvError::Lagged(3)));
        assert_eq!(take(&mut b, &mut r2), Err(BroadcastTryRecvError::Lagged(3)));
        assert_eq!(take(&mut b, &mut r1), Ok(3));
        assert_eq!(take(&mut b, &mut r2), Ok(3));
    }

    #[test]
    fn a_dropped_receiver_releases_what_it_had_still_to_take() {
        let mut b = B::new(4);
        let r2 = b.subscribe();
        let mut r1 = 0;
        for v in 0..3 {
            put(&mut b, v);
        }
        assert_eq!(take(&mut b, &mut r1), Ok(0));
        assert_eq!(b.drop_receiver(r2), [0]);
        assert_eq!(b.len(), 2);
        assert_eq!(b.drop_receiver(r1), [1, 2]);
        assert!(b.send(9).is_err(), "no receiver: the value comes back");
        let mut r3 = b.subscribe();
        put(&mut b, 10);
        assert_eq!(take(&mut b, &mut r3), Ok(10));
    }

    #[test]
    fn disconnected_only_after_the_rest_is_taken() {
        let mut b = B::new(4);
        let mut r = 0;
        put(&mut b, 1);
        let w = node();
        b.add_sender();
        assert!(b.drop_sender().is_empty());
        b.wait(w.clone());
        assert_eq!(
            b.drop_sender().len(),
            1,
            "the last sender wakes the waiters"
        );
        assert_eq!(w.state(), NodeState::Notified);
        assert_eq!(take(&mut b, &mut r), Ok(1));
        assert_eq!(
            take(&mut b, &mut r),
            Err(BroadcastTryRecvError::Disconnected)
        );
    }

    #[test]
    fn a_send_wakes_every_waiting_receiver_and_skips_cancelled_ones() {
        let mut b = B::new(4);
        let (n1, n2, n3) = (node(), node(), node());
        b.wait(n1.clone());
        b.wait(n2.clone());
        b.wait(n3.clone());
        assert!(b.cancel(&n2));
        let sent = b.send(1).unwrap();
        assert_eq!(sent.woken.len(), 2);
        assert_eq!(n1.state(), NodeState::Notified);
        assert_eq!(n3.state(), NodeState::Notified);
        assert!(!b.cancel(&n1), "woken already: nothing to pass on");
    }

    #[test]
    #[should_panic(expected = "capacity of at least 1")]
    fn zero_capacity_is_refused() {
        let _ = B::new(0);
    }
}
