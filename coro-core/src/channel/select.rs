//! The channel arms of [`select!`](crate::select!): `recv(rx)` on every receiver (queue,
//! rendezvous, broadcast, local and cross-thread), `send(tx, value)` on the queue senders, and
//! `changed(rx)` on watch receivers.
//!
//! Each arm keeps the channel's own waiting protocol (see `chan.rs` and `sync/waiters.rs`): to
//! register it queues a wait node as a blocking call would, and a wake-up is what the channel
//! would give that call. What differs is that a select may take another arm after it was woken,
//! so an arm that does not win unregisters the way an unwinding call gives up
//! (`cancel_*(node, abandon = true)`):
//!
//! * a queue receiver woken for a message passes the wake-up to the next waiting receiver
//!   (the message stays queued; it was never taken);
//! * a bounded sender woken with a reserved slot passes the slot to the next waiting sender,
//!   or frees it;
//! * on a rendezvous channel a send arm waits among the channel's senders for a receiver to
//!   wait (a blocking sender leaves its value as an offer instead, which a select cannot: an
//!   offer is taken without its sender running, and the select may have taken another arm
//!   by then). A receiver that starts to wait wakes the first such arm, which hands its value
//!   over with `try_send` when it wins; an arm that does not win passes the wake-up on;
//! * broadcast and watch receivers are woken all at once by a send, so one that does not win
//!   has nothing to pass on.
//!
//! The polling side is the channel's `try_` operation, after the arm's node is taken off the
//! queue under the same lock.

use std::marker::PhantomData;

use super::broadcast::{self, Bcast};
use super::error::{
    BroadcastRecvError, BroadcastTryRecvError, ChangedError, RecvError, SendError, TrySendError,
};
use super::local;
use super::ops::{Flavor, Lock};
use super::sync;
use super::watch::{self, Watch};
use crate::select::{Op, SelectChanged, SelectRecv, SelectSend};
use crate::sync::waiters::Node;

/// A receive arm on a queue or rendezvous channel.
struct Recv<'a, T, F: Flavor<T>> {
    chan: &'a F,
    node: Option<F::Node>,
    _message: PhantomData<fn() -> T>,
}

impl<T, F: Flavor<T>> Op for Recv<'_, T, F> {
    type Output = Result<T, RecvError>;

    #[inline]
    fn poll(&mut self) -> Option<Self::Output> {
        let node = self.node.take();
        let got = self.chan.with(|c| {
            if let Some(node) = &node {
                // Still waiting: off the queue. Woken: the wake-up is this attempt's.
                let _ = c.cancel_recv(node, false);
            }
            c.try_recv()
        });
        match got {
            Ok((v, wake)) => {
                wake.unpark();
                Some(Ok(v))
            }
            Err(true) => Some(Err(RecvError)),
            Err(false) => None,
        }
    }

    fn register(&mut self) -> bool {
        let node = F::node();
        let (ready, sender) = self.chan.with(|c| {
            if c.recv_ready() {
                (true, None)
            } else {
                (false, c.wait_recv(node.clone()))
            }
        });
        if let Some(s) = sender {
            s.unpark();
        }
        if !ready {
            self.node = Some(node);
        }
        !ready
    }

    #[inline]
    fn unregister(&mut self) {
        if let Some(node) = self.node.take() {
            let (_, next) = self.chan.with(|c| c.cancel_recv(&node, true));
            if let Some(next) = next {
                next.unpark();
            }
        }
    }

    fn can_block(&self) -> bool {
        F::can_block()
    }
}

/// A send arm on a queue or rendezvous channel. It holds the value until it is sent; the value
/// of an arm that does not win is dropped with the select.
struct Send<'a, T, F: Flavor<T>> {
    chan: &'a F,
    value: Option<T>,
    node: Option<F::Node>,
}

/// What a send arm's attempt came to.
enum Sent<T, W> {
    /// Sent: wake this receiver.
    Done(Option<W>),
    /// No room: the value comes back.
    Full(T),
    /// Every receiver is gone: the value comes back.
    Gone(T),
}

impl<T, F: Flavor<T>> Op for Send<'_, T, F> {
    type Output = Result<(), SendError<T>>;

    #[inline]
    fn poll(&mut self) -> Option<Self::Output> {
        let v = self.value.take()?;
        let node = self.node.take();
        let sent = self.chan.with(|c| {
            if let Some(node) = &node {
                let (waiting, _) = c.cancel_send(node, false);
                if !waiting && !c.is_rendezvous() {
                    // Woken: a slot is reserved for this arm (or every receiver is gone).
                    return match c.send_reserved(v) {
                        Ok(woken) => Sent::Done(woken),
                        Err(v) => Sent::Gone(v),
                    };
                }
            }
            match c.try_send(v) {
                Ok(woken) => Sent::Done(woken),
                Err(TrySendError::Full(v)) => Sent::Full(v),
                Err(TrySendError::Disconnected(v)) => Sent::Gone(v),
            }
        });
        match sent {
            Sent::Done(woken) => {
                if let Some(r) = woken {
                    r.unpark();
                }
                Some(Ok(()))
            }
            Sent::Gone(v) => Some(Err(SendError(v))),
            Sent::Full(v) => {
                self.value = Some(v);
                None
            }
        }
    }

    fn register(&mut self) -> bool {
        let node = F::node();
        let ready = self.chan.with(|c| {
            let ready = c.send_ready();
            if !ready {
                c.wait_send(node.clone());
            }
            ready
        });
        if !ready {
            self.node = Some(node);
        }
        !ready
    }

    #[inline]
    fn unregister(&mut self) {
        if let Some(node) = self.node.take() {
            let (_, next) = self.chan.with(|c| c.cancel_send(&node, true));
            if let Some(next) = next {
                next.unpark();
            }
        }
    }

    fn can_block(&self) -> bool {
        F::can_block()
    }
}

/// A receive arm on a broadcast channel, at its receiver's position.
struct BroadcastRecv<'a, T, W, L> {
    shared: &'a L,
    next: &'a mut u64,
    node: Option<W>,
    _message: PhantomData<fn() -> T>,
}

impl<T: Clone, W: Node, L: Lock<Bcast<T, W>, Node = W>> Op for BroadcastRecv<'_, T, W, L> {
    type Output = Result<T, BroadcastRecvError>;

    fn poll(&mut self) -> Option<Self::Output> {
        let node = self.node.take();
        let next = &mut *self.next;
        let got = self.shared.with(|b| {
            if let Some(node) = &node {
                b.cancel(node);
            }
            b.try_recv(next)
        });
        match got {
            Ok(v) => Some(Ok(v)),
            Err(BroadcastTryRecvError::Lagged(n)) => Some(Err(BroadcastRecvError::Lagged(n))),
            Err(BroadcastTryRecvError::Disconnected) => Some(Err(BroadcastRecvError::Disconnected)),
            Err(BroadcastTryRecvError::Empty) => None,
        }
    }

    fn register(&mut self) -> bool {
        let node = L::node();
        let next = *self.next;
        // A receiver that lagged has unread messages too (a send that drops one adds one).
        let ready = self.shared.with(|b| {
            let ready = b.unread(next) > 0 || b.senders_gone();
            if !ready {
                b.wait(node.clone());
            }
            ready
        });
        if !ready {
            self.node = Some(node);
        }
        !ready
    }

    fn unregister(&mut self) {
        if let Some(node) = self.node.take() {
            self.shared.with(|b| b.cancel(&node));
        }
    }

    fn can_block(&self) -> bool {
        L::can_block()
    }
}

/// A `changed` arm on a watch channel, from the version its receiver saw.
struct Changed<'a, T, W, L> {
    shared: &'a L,
    seen: &'a mut u64,
    node: Option<W>,
    _value: PhantomData<fn() -> T>,
}

impl<T, W: Node, L: Lock<Watch<T, W>, Node = W>> Op for Changed<'_, T, W, L> {
    type Output = Result<(), ChangedError>;

    fn poll(&mut self) -> Option<Self::Output> {
        let node = self.node.take();
        let seen = &mut *self.seen;
        self.shared.with(|w| {
            if let Some(node) = &node {
                w.cancel(node);
            }
            w.changed(seen)
        })
    }

    fn register(&mut self) -> bool {
        let node = L::node();
        let seen = *self.seen;
        let ready = self.shared.with(|w| {
            let ready = w.version() != seen || w.senders_gone();
            if !ready {
                w.wait(node.clone());
            }
            ready
        });
        if !ready {
            self.node = Some(node);
        }
        !ready
    }

    fn unregister(&mut self) {
        if let Some(node) = self.node.take() {
            self.shared.with(|w| w.cancel(&node));
        }
    }

    fn can_block(&self) -> bool {
        L::can_block()
    }
}

/// The `SelectRecv` and `SelectSend` impls of a queue flavour's halves.
macro_rules! queue_arms {
    ($flavor:ident) => {
        impl<'a, T> SelectRecv for &'a $flavor::Receiver<T> {
            type Output = Result<T, RecvError>;
            #[inline]
            fn select_recv(self) -> impl Op<Output = Self::Output> {
                Recv {
                    chan: self.shared(),
                    node: None,
                    _message: PhantomData,
                }
            }
        }

        impl<'a, T> SelectSend for &'a $flavor::Sender<T> {
            type Item = T;
            type Output = Result<(), SendError<T>>;
            #[inline]
            fn select_send(self, value: T) -> impl Op<Output = Self::Output> {
                Send {
                    chan: self.shared(),
                    value: Some(value),
                    node: None,
                }
            }
        }
    };
}

queue_arms!(local);
queue_arms!(sync);

impl<T: Clone> SelectRecv for &mut broadcast::BroadcastReceiver<T> {
    type Output = Result<T, BroadcastRecvError>;
    fn select_recv(self) -> impl Op<Output = Self::Output> {
        let (shared, next) = self.select_parts();
        BroadcastRecv {
            shared,
            next,
            node: None,
            _message: PhantomData,
        }
    }
}

impl<T: Clone> SelectRecv for &mut broadcast::sync::BroadcastReceiver<T> {
    type Output = Result<T, BroadcastRecvError>;
    fn select_recv(self) -> impl Op<Output = Self::Output> {
        let (shared, next) = self.select_parts();
        BroadcastRecv {
            shared,
            next,
            node: None,
            _message: PhantomData,
        }
    }
}

impl<T> SelectChanged for &mut watch::WatchReceiver<T> {
    type Output = Result<(), ChangedError>;
    fn select_changed(self) -> impl Op<Output = Self::Output> {
        let (shared, seen) = self.select_parts();
        Changed {
            shared,
            seen,
            node: None,
            _value: PhantomData,
        }
    }
}

impl<T> SelectChanged for &mut watch::sync::WatchReceiver<T> {
    type Output = Result<(), ChangedError>;
    fn select_changed(self) -> impl Op<Output = Self::Output> {
        let (shared, seen) = self.select_parts();
        Changed {
            shared,
            seen,
            node: None,
            _value: PhantomData,
        }
    }
}

#[cfg(test)]
mod tests {
    //! The arms' protocol on one plain thread, without a switch: registrations, wake-ups
    //! passed on by arms that do not win, rendezvous hand-over.

    use super::*;
    use std::cell::RefCell;
    use std::rc::Rc;

    use crate::channel::chan::Chan;
    use crate::sync::waiters::{LocalNode, NodeState};

    type C = RefCell<Chan<u32, Rc<LocalNode>>>;

    fn recv_op(c: &C) -> Recv<'_, u32, C> {
        Recv {
            chan: c,
            node: None,
            _message: PhantomData,
        }
    }

    fn send_op(c: &C, v: u32) -> Send<'_, u32, C> {
        Send {
            chan: c,
            value: Some(v),
            node: None,
        }
    }

    #[test]
    fn a_receive_arm_that_does_not_win_passes_its_wake_up_on() {
        let c = RefCell::new(Chan::new(None));
        let mut arm = recv_op(&c);
        assert!(arm.poll().is_none());
        assert!(arm.register(), "empty: it waits");
        let other = LocalNode::current();
        let _ = c.borrow_mut().wait_recv(other.clone());
        let woken = c.borrow_mut().try_send(7).unwrap().unwrap();
        assert_eq!(woken.state(), NodeState::Notified, "the arm is woken first");
        arm.unregister();
        assert_eq!(other.state(), NodeState::Notified, "and passes it on");
        assert_eq!(c.borrow_mut().try_recv().ok().unwrap().0, 7);
    }

    #[test]
    fn a_woken_receive_arm_takes_the_message() {
        let c = RefCell::new(Chan::new(None));
        let mut arm = recv_op(&c);
        assert!(arm.register());
        let woken = c.borrow_mut().try_send(3).unwrap();
        assert!(woken.is_some(), "the arm's node is woken");
        assert_eq!(arm.poll(), Some(Ok(3)));
        assert!(arm.node.is_none());
    }

    #[test]
    fn a_send_arm_that_does_not_win_passes_its_reserved_slot_on() {
        let c = RefCell::new(Chan::new(Some(1)));
        c.borrow_mut().try_send(1).unwrap();
        let mut arm = send_op(&c, 2);
        assert!(arm.poll().is_none(), "full");
        assert!(arm.register());
        let other = LocalNode::current();
        c.borrow_mut().wait_send(other.clone());
        let (v, wake) = c.borrow_mut().try_recv().ok().unwrap();
        assert_eq!(v, 1);
        wake.unpark();
        arm.unregister();
        assert_eq!(other.state(), NodeState::Notified, "the slot went on");
        assert!(
            c.borrow_mut().send_reserved(9).is_ok(),
            "the other sender has the slot"
        );
        drop(arm);
        assert_eq!(c.borrow().len(), 1);
    }

    #[test]
    fn a_woken_send_arm_sends_into_its_reserved_slot() {
        let c = RefCell::new(Chan::new(Some(1)));
        c.borrow_mut().try_send(1).unwrap();
        let mut arm = send_op(&c, 2);
        assert!(arm.register());
        let _ = c.borrow_mut().try_recv().ok().unwrap();
        assert!(
            c.borrow_mut().try_send(5).unwrap_err().is_full(),
            "the slot is the arm's"
        );
        assert_eq!(arm.poll(), Some(Ok(())));
        assert_eq!(c.borrow_mut().try_recv().ok().unwrap().0, 2);
    }

    #[test]
    fn a_rendezvous_send_arm_waits_for_a_receiver_and_hands_over() {
        let c = RefCell::new(Chan::new(Some(0)));
        let mut arm = send_op(&c, 4);
        assert!(arm.poll().is_none(), "nobody receives");
        assert!(arm.register());
        let r = LocalNode::current();
        let woken = c
            .borrow_mut()
            .wait_recv(r.clone())
            .expect("the arm is woken");
        assert_eq!(woken.state(), NodeState::Notified);
        assert_eq!(arm.poll(), Some(Ok(())));
        assert_eq!(
            r.state(),
            NodeState::Notified,
            "the receiver is handed the value"
        );
        assert_eq!(c.borrow_mut().try_recv().ok().unwrap().0, 4);
    }

    #[test]
    fn a_rendezvous_send_arm_that_does_not_win_wakes_the_next_one() {
        let c = RefCell::new(Chan::new(Some(0)));
        let (mut a, mut b) = (send_op(&c, 1), send_op(&c, 2));
        assert!(a.register());
        assert!(b.register());
        let r = LocalNode::current();
        let _ = c.borrow_mut().wait_recv(r.clone());
        a.unregister();
        assert_eq!(b.poll(), Some(Ok(())), "b was woken and hands over");
        assert_eq!(c.borrow_mut().try_recv().ok().unwrap().0, 2);
        assert!(a.value.is_some(), "a keeps its value");
    }

    #[test]
    fn disconnected_arms_are_ready_with_an_error() {
        let c: C = RefCell::new(Chan::new(Some(0)));
        let mut s = send_op(&c, 1);
        assert!(s.register());
        let (dropped, woken) = c.borrow_mut().drop_receiver();
        assert!(dropped.is_empty());
        assert_eq!(woken.len(), 1, "the waiting arm is woken");
        assert_eq!(s.poll().map(|r| r.unwrap_err().0), Some(1));
        let c: C = RefCell::new(Chan::new(None));
        let mut r = recv_op(&c);
        assert!(r.register());
        assert_eq!(c.borrow_mut().drop_sender().len(), 1);
        assert_eq!(r.poll(), Some(Err(RecvError)));
    }
}
