//! [`Chan`]: the state of a channel (queue, capacity, counts, wait queues) and its
//! transitions, shared by the thread-local and the cross-thread flavours.
//!
//! Every method runs under the flavour's lock (a `RefCell` borrow or a `std::sync::Mutex`) and
//! never parks or unparks: it returns the parties to unpark, which the caller wakes after
//! releasing the lock. So the whole protocol is testable without a context switch (see the
//! tests below).
//!
//! Rules that keep messages and wake-ups from being lost:
//!
//! * a receiver waits only when the queue is empty; every message pushed notifies the first
//!   waiting receiver, and a receiver that takes a message and sees more notifies the next one;
//! * on a bounded channel a receiver that frees a slot *reserves* it for the first waiting
//!   sender (`reserved`), so a sender that arrives later cannot take it: senders are served in
//!   arrival order, and a waiting sender is woken only when it can send;
//! * a notified party that unwinds before acting passes its notification on;
//! * `Disconnected` is reported to a receiver only when the queue is empty and no sender is left,
//!   so every message sent is received first.
//!
//! A rendezvous channel (capacity 0) has no slots to reserve. A blocking sender puts its value
//! in the queue as an *offer* tagged with its ticket and wait node (`owners`), notifies the
//! first waiting receiver, and waits; the receiver that takes an offer notifies its sender,
//! whose `send` then returns. A sender that gives up (a timeout, or an unwind) takes its offer
//! back under the lock, so an offer is either taken by one receiver or returned to its sender,
//! never both. A sender notified because every receiver is gone finds its offer still queued
//! and takes it back (`reclaim`). `try_send` succeeds only when a receiver waits: it queues the
//! value with no owner and notifies that receiver.

use std::collections::VecDeque;

use super::error::TrySendError;
use crate::sync::waiters::{Node, NodeState, Waiters};

/// The state of one channel.
#[derive(Debug)]
pub(crate) struct Chan<T, W> {
    queue: VecDeque<T>,
    /// Rendezvous only (empty otherwise), one entry per queued message in the same order: the
    /// ticket and node of the sender that waits for it to be taken, or `None` for a message
    /// that `try_send` handed to a waiting receiver.
    owners: VecDeque<Option<(u64, W)>>,
    /// The ticket of the next rendezvous offer.
    next_ticket: u64,
    /// `None`: unbounded.
    cap: Option<usize>,
    /// Slots promised to notified senders that have not sent yet.
    reserved: usize,
    senders: usize,
    receivers: usize,
    recv_waiters: Waiters<W>,
    send_waiters: Waiters<W>,
}

/// Up to two parties to unpark once the lock is released.
#[derive(Debug)]
#[must_use = "the parties must be unparked"]
pub(crate) struct Wake<W>(Option<W>, Option<W>);

impl<W: Node> Wake<W> {
    /// Unparks the parties.
    pub(crate) fn unpark(self) {
        if let Some(w) = self.0 {
            w.unpark();
        }
        if let Some(w) = self.1 {
            w.unpark();
        }
    }
}

impl<T, W: Node> Chan<T, W> {
    /// A channel with one sender and one receiver; `cap` of `None` means unbounded, `Some(0)`
    /// rendezvous.
    pub(crate) fn new(cap: Option<usize>) -> Self {
        Chan {
            queue: VecDeque::new(),
            owners: VecDeque::new(),
            next_ticket: 0,
            cap,
            reserved: 0,
            senders: 1,
            receivers: 1,
            recv_waiters: Waiters::new(),
            send_waiters: Waiters::new(),
        }
    }

    /// Messages queued now.
    pub(crate) fn len(&self) -> usize {
        self.queue.len()
    }

    /// The capacity, `None` if unbounded.
    pub(crate) fn capacity(&self) -> Option<usize> {
        self.cap
    }

    /// Whether this is a rendezvous channel (capacity 0).
    pub(crate) fn is_rendezvous(&self) -> bool {
        self.cap == Some(0)
    }

    /// Whether every receiver is gone.
    pub(crate) fn receivers_gone(&self) -> bool {
        self.receivers == 0
    }

    /// Whether every sender is gone.
    pub(crate) fn senders_gone(&self) -> bool {
        self.senders == 0
    }

    /// Queues `v` if there is room (on a rendezvous channel: if a receiver waits); returns the
    /// receiver to wake.
    pub(crate) fn try_send(&mut self, v: T) -> Result<Option<W>, TrySendError<T>> {
        if self.receivers == 0 {
            return Err(TrySendError::Disconnected(v));
        }
        if self.is_rendezvous() {
            return match self.recv_waiters.pop_waiting() {
                Some(r) => {
                    self.queue.push_back(v);
                    self.owners.push_back(None);
                    Ok(Some(r))
                }
                None => Err(TrySendError::Full(v)),
            };
        }
        if let Some(cap) = self.cap
            && self.queue.len() + self.reserved >= cap
        {
            return Err(TrySendError::Full(v));
        }
        self.queue.push_back(v);
        Ok(self.recv_waiters.pop_waiting())
    }

    /// Enqueues a sender that found the channel full. On a rendezvous channel only a
    /// `select!` send arm waits here (a blocking sender offers its value instead): it is woken
    /// when a receiver starts to wait, and then hands its value over with `try_send`.
    pub(crate) fn wait_send(&mut self, node: W) {
        self.send_waiters.push(node);
    }

    /// Whether a send would not wait now: there is room (a rendezvous channel: a receiver
    /// waits), or every receiver is gone (it fails at once). For `select!`'s send arms.
    pub(crate) fn send_ready(&self) -> bool {
        if self.receivers == 0 {
            return true;
        }
        match self.cap {
            None => true,
            Some(0) => self.recv_waiters.has_waiting(),
            Some(cap) => self.queue.len() + self.reserved < cap,
        }
    }

    /// Whether a receive would not wait now: a message (or an offer) is queued, or every
    /// sender is gone. For `select!`'s receive arms.
    pub(crate) fn recv_ready(&self) -> bool {
        !self.queue.is_empty() || self.senders == 0
    }

    /// A notified sender sends into the slot reserved for it; gives `v` back if every receiver
    /// is gone (that also notifies senders). Returns the receiver to wake.
    pub(crate) fn send_reserved(&mut self, v: T) -> Result<Option<W>, T> {
        if self.receivers == 0 {
            return Err(v);
        }
        self.reserved -= 1;
        self.queue.push_back(v);
        Ok(self.recv_waiters.pop_waiting())
    }

    /// A waiting sender gives up (`abandon`: it unwinds). Returns whether it was still waiting,
    /// and whom to wake: an unwinding sender that was handed a slot passes it on.
    pub(crate) fn cancel_send(&mut self, node: &W, abandon: bool) -> (bool, Option<W>) {
        if self.send_waiters.cancel(node) {
            return (true, None);
        }
        if !abandon || self.receivers == 0 {
            return (false, None);
        }
        if self.is_rendezvous() {
            // A `select!` send arm woken for a waiting receiver: no slot was reserved, the
            // wake-up goes to the next such arm while a receiver still waits.
            let next = if self.recv_waiters.has_waiting() {
                self.send_waiters.pop_waiting()
            } else {
                None
            };
            return (false, next);
        }
        match self.send_waiters.pop_waiting() {
            Some(next) => (false, Some(next)),
            None => {
                self.reserved -= 1;
                (false, None)
            }
        }
    }

    /// Rendezvous: queues `v` as the offer of the waiting sender `node`. Returns the offer's
    /// ticket and the receiver to wake, or gives `v` back if every receiver is gone.
    pub(crate) fn offer(&mut self, v: T, node: W) -> Result<(u64, Option<W>), T> {
        debug_assert!(self.is_rendezvous());
        if self.receivers == 0 {
            return Err(v);
        }
        let ticket = self.next_ticket;
        self.next_ticket += 1;
        self.queue.push_back(v);
        self.owners.push_back(Some((ticket, node)));
        Ok((ticket, self.recv_waiters.pop_waiting()))
    }

    /// Rendezvous: a notified sender takes its offer back if it is still queued (every
    /// receiver is gone); `None`: a receiver took it.
    pub(crate) fn reclaim(&mut self, ticket: u64) -> Option<T> {
        let i = self
            .owners
            .iter()
            .position(|o| matches!(o, Some((t, _)) if *t == ticket))?;
        self.owners.remove(i);
        self.queue.remove(i)
    }

    /// Rendezvous: the sender of offer `ticket` gives up (`abandon`: it unwinds). Returns
    /// whether it was still waiting, and its value if it takes it back: always when it was
    /// waiting; when it was notified and abandons, only if every receiver is gone (a value a
    /// receiver took stays taken).
    pub(crate) fn cancel_offer(
        &mut self,
        node: &W,
        ticket: u64,
        abandon: bool,
    ) -> (bool, Option<T>) {
        if node.state() == NodeState::Waiting {
            node.set_state(NodeState::Cancelled);
            let v = self.reclaim(ticket);
            debug_assert!(v.is_some(), "a waiting sender's offer is queued");
            (true, v)
        } else if abandon {
            (false, self.reclaim(ticket))
        } else {
            (false, None)
        }
    }

    /// Takes the first message, if any, with the parties to wake (a sender for the freed slot,
    /// or the sender of a rendezvous offer; the next receiver if more messages wait).
    /// `Err(true)`: empty and every sender is gone; `Err(false)`: empty.
    pub(crate) fn try_recv(&mut self) -> Result<(T, Wake<W>), bool> {
        match self.queue.pop_front() {
            Some(v) => {
                let mut wake = Wake(None, None);
                if self.is_rendezvous() {
                    if let Some(Some((_, sender))) = self.owners.pop_front() {
                        debug_assert_eq!(sender.state(), NodeState::Waiting);
                        sender.set_state(NodeState::Notified);
                        wake.0 = Some(sender);
                    }
                } else if self.cap.is_some() {
                    wake.0 = self.send_waiters.pop_waiting();
                    if wake.0.is_some() {
                        self.reserved += 1;
                    }
                }
                if !self.queue.is_empty() {
                    wake.1 = self.recv_waiters.pop_waiting();
                }
                Ok((v, wake))
            }
            None => Err(self.senders == 0),
        }
    }

    /// Enqueues a receiver that found the channel empty. Returns whom to wake: on a rendezvous
    /// channel, the first `select!` send arm that waits for a receiver (see `wait_send`).
    pub(crate) fn wait_recv(&mut self, node: W) -> Option<W> {
        debug_assert!(self.queue.is_empty());
        self.recv_waiters.push(node);
        if self.is_rendezvous() {
            self.send_waiters.pop_waiting()
        } else {
            None
        }
    }

    /// A waiting receiver gives up (`abandon`: it unwinds). Returns whether it was still
    /// waiting, and whom to wake: an unwinding receiver that was notified passes it on.
    pub(crate) fn cancel_recv(&mut self, node: &W, abandon: bool) -> (bool, Option<W>) {
        if self.recv_waiters.cancel(node) {
            return (true, None);
        }
        if abandon && !self.queue.is_empty() {
            (false, self.recv_waiters.pop_waiting())
        } else {
            (false, None)
        }
    }

    /// One more sender.
    pub(crate) fn add_sender(&mut self) {
        self.senders += 1;
    }

    /// One more receiver.
    pub(crate) fn add_receiver(&mut self) {
        self.receivers += 1;
    }

    /// A sender is dropped; when it was the last, every waiting receiver is returned to be
    /// woken (they will drain the queue, then see `Disconnected`).
    pub(crate) fn drop_sender(&mut self) -> VecDeque<W> {
        self.senders -= 1;
        if self.senders == 0 {
            self.recv_waiters.take_all()
        } else {
            VecDeque::new()
        }
    }

    /// A receiver is dropped; when it was the last, the queued messages (to be dropped after
    /// the lock is released: their destructors may use the channel) and every waiting sender
    /// (to be woken: they will see `Disconnected`) are returned. Rendezvous offers stay queued
    /// for their senders to take back.
    pub(crate) fn drop_receiver(&mut self) -> (VecDeque<T>, VecDeque<W>) {
        self.receivers -= 1;
        if self.receivers > 0 {
            return (VecDeque::new(), VecDeque::new());
        }
        self.reserved = 0;
        let mut senders = self.send_waiters.take_all();
        if !self.is_rendezvous() {
            return (std::mem::take(&mut self.queue), senders);
        }
        let mut dropped = VecDeque::new();
        let queue = std::mem::take(&mut self.queue);
        let owners = std::mem::take(&mut self.owners);
        for (v, owner) in queue.into_iter().zip(owners) {
            match owner {
                None => dropped.push_back(v),
                Some((ticket, sender)) => {
                    sender.set_state(NodeState::Notified);
                    senders.push_back(sender.clone());
                    self.queue.push_back(v);
                    self.owners.push_back(Some((ticket, sender)));
                }
            }
        }
        (dropped, senders)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::waiters::LocalNode;
    use std::rc::Rc;

    type C = Chan<u32, Rc<LocalNode>>;

    fn node() -> Rc<LocalNode> {
        LocalNode::current()
    }

    #[test]
    fn messages_come_out_in_order() {
        let mut c = C::new(None);
        for i in 0..100 {
            assert!(c.try_send(i).unwrap().is_none());
        }
        for i in 0..100 {
            assert_eq!(c.try_recv().ok().unwrap().0, i);
        }
        assert_eq!(c.try_recv().err(), Some(false));
    }

    #[test]
    fn send_wakes_the_first_waiting_receiver() {
        let mut c = C::new(None);
        let (a, b) = (node(), node());
        c.wait_recv(a.clone());
        c.wait_recv(b.clone());
        let woken = c.try_send(1).unwrap().unwrap();
        assert!(Rc::ptr_eq(&woken, &a));
        assert_eq!(b.state(), NodeState::Waiting);
    }

    #[test]
    fn bounded_full_reserves_the_freed_slot_for_the_first_sender() {
        let mut c = C::new(Some(2));
        c.try_send(1).unwrap();
        c.try_send(2).unwrap();
        assert!(c.try_send(3).unwrap_err().is_full());
        let (s1, s2) = (node(), node());
        c.wait_send(s1.clone());
        c.wait_send(s2.clone());
        let (v, wake) = c.try_recv().ok().unwrap();
        assert_eq!(v, 1);
        assert!(Rc::ptr_eq(wake.0.as_ref().unwrap(), &s1));
        assert_eq!(s1.state(), NodeState::Notified);
        assert!(
            c.try_send(9).unwrap_err().is_full(),
            "a newcomer cannot take the reserved slot"
        );
        assert!(c.send_reserved(3).unwrap().is_none());
        assert_eq!(c.len(), 2);
        let (v, _) = c.try_recv().ok().unwrap();
        assert_eq!(v, 2);
        assert_eq!(s2.state(), NodeState::Notified);
        c.send_reserved(4).unwrap();
        let got: Vec<u32> = std::iter::from_fn(|| c.try_recv().ok().map(|(v, _)| v)).collect();
        assert_eq!(got, [3, 4]);
    }

    #[test]
    fn disconnect_is_reported_only_after_the_queue_drains() {
        let mut c = C::new(None);
        c.try_send(1).unwrap();
        c.try_send(2).unwrap();
        let r = node();
        assert!(c.drop_sender().is_empty());
        assert!(c.senders_gone());
        assert_eq!(c.try_recv().ok().unwrap().0, 1);
        assert_eq!(c.try_recv().ok().unwrap().0, 2);
        assert_eq!(c.try_recv().err(), Some(true));
        drop(r);
    }

    #[test]
    fn last_sender_drop_wakes_every_receiver() {
        let mut c = C::new(None);
        c.add_sender();
        let (a, b) = (node(), node());
        c.wait_recv(a.clone());
        c.wait_recv(b.clone());
        assert!(c.drop_sender().is_empty());
        assert_eq!(c.drop_sender().len(), 2);
        assert_eq!(a.state(), NodeState::Notified);
        assert_eq!(b.state(), NodeState::Notified);
    }

    #[test]
    fn last_receiver_drop_returns_messages_and_wakes_senders() {
        let mut c = C::new(Some(1));
        c.try_send(7).unwrap();
        let s = node();
        c.wait_send(s.clone());
        let (msgs, wake) = c.drop_receiver();
        assert_eq!(msgs, [7]);
        assert_eq!(wake.len(), 1);
        assert!(matches!(c.send_reserved(8), Err(8)));
        assert!(c.try_send(9).unwrap_err().is_disconnected());
    }

    #[test]
    fn unwinding_notified_sender_passes_its_slot_on() {
        let mut c = C::new(Some(1));
        c.try_send(1).unwrap();
        let (s1, s2) = (node(), node());
        c.wait_send(s1.clone());
        c.wait_send(s2.clone());
        let _ = c.try_recv().ok().unwrap();
        assert_eq!(s1.state(), NodeState::Notified);
        let (waiting, next) = c.cancel_send(&s1, true);
        assert!(!waiting);
        assert!(Rc::ptr_eq(&next.unwrap(), &s2));
        c.send_reserved(2).unwrap();
        assert_eq!(c.try_recv().ok().unwrap().0, 2);
    }

    #[test]
    fn unwinding_notified_sender_with_no_successor_frees_the_slot() {
        let mut c = C::new(Some(1));
        c.try_send(1).unwrap();
        let s1 = node();
        c.wait_send(s1.clone());
        let _ = c.try_recv().ok().unwrap();
        assert!(matches!(c.cancel_send(&s1, true), (false, None)));
        c.try_send(5).unwrap();
    }

    #[test]
    fn timed_out_sender_is_cancelled() {
        let mut c = C::new(Some(1));
        c.try_send(1).unwrap();
        let s1 = node();
        c.wait_send(s1.clone());
        assert!(matches!(c.cancel_send(&s1, false), (true, None)));
        let (_, wake) = c.try_recv().ok().unwrap();
        assert!(wake.0.is_none(), "nobody to hand the slot to");
        c.try_send(2).unwrap();
    }

    #[test]
    fn unwinding_notified_receiver_passes_the_message_on() {
        let mut c = C::new(None);
        let (a, b) = (node(), node());
        c.wait_recv(a.clone());
        c.wait_recv(b.clone());
        c.try_send(1).unwrap();
        let (waiting, next) = c.cancel_recv(&a, true);
        assert!(!waiting);
        assert!(Rc::ptr_eq(&next.unwrap(), &b));
    }

    #[test]
    fn rendezvous_try_send_needs_a_waiting_receiver() {
        let mut c = C::new(Some(0));
        assert!(c.try_send(1).unwrap_err().is_full());
        assert_eq!(c.try_recv().err(), Some(false), "nobody offers");
        let r = node();
        c.wait_recv(r.clone());
        let woken = c.try_send(2).unwrap().unwrap();
        assert!(Rc::ptr_eq(&woken, &r));
        assert!(
            c.try_send(3).unwrap_err().is_full(),
            "one value per waiting receiver"
        );
        let (v, wake) = c.try_recv().ok().unwrap();
        assert_eq!(v, 2);
        assert!(wake.0.is_none() && wake.1.is_none());
    }

    #[test]
    fn rendezvous_offer_is_taken_and_its_sender_notified() {
        let mut c = C::new(Some(0));
        let (s1, s2) = (node(), node());
        let (t1, woken) = c.offer(1, s1.clone()).unwrap();
        assert!(woken.is_none());
        let (t2, _) = c.offer(2, s2.clone()).unwrap();
        assert_eq!(c.len(), 2);
        let (v, wake) = c.try_recv().ok().unwrap();
        assert_eq!(v, 1);
        assert!(Rc::ptr_eq(wake.0.as_ref().unwrap(), &s1));
        assert_eq!(s1.state(), NodeState::Notified);
        assert_eq!(s2.state(), NodeState::Waiting);
        assert_eq!(c.reclaim(t1), None, "taken");
        assert_eq!(c.try_recv().ok().unwrap().0, 2);
        assert_eq!(c.reclaim(t2), None);
    }

    #[test]
    fn rendezvous_offer_wakes_a_waiting_receiver() {
        let mut c = C::new(Some(0));
        let (r, s) = (node(), node());
        c.wait_recv(r.clone());
        let (_, woken) = c.offer(7, s.clone()).unwrap();
        assert!(Rc::ptr_eq(&woken.unwrap(), &r));
        assert_eq!(
            s.state(),
            NodeState::Waiting,
            "the sender waits until it is taken"
        );
    }

    #[test]
    fn rendezvous_sender_that_times_out_takes_its_value_back() {
        let mut c = C::new(Some(0));
        let (s1, s2) = (node(), node());
        let (t1, _) = c.offer(1, s1.clone()).unwrap();
        let _ = c.offer(2, s2.clone()).unwrap();
        assert_eq!(c.cancel_offer(&s1, t1, false), (true, Some(1)));
        assert_eq!(s1.state(), NodeState::Cancelled);
        assert_eq!(
            c.try_recv().ok().unwrap().0,
            2,
            "the receiver gets the next offer"
        );
    }

    #[test]
    fn rendezvous_sender_cancelled_after_its_value_was_taken_leaves_it_taken() {
        let mut c = C::new(Some(0));
        let s = node();
        let (t, _) = c.offer(1, s.clone()).unwrap();
        assert_eq!(c.try_recv().ok().unwrap().0, 1);
        assert_eq!(c.cancel_offer(&s, t, false), (false, None));
        assert_eq!(c.cancel_offer(&s, t, true), (false, None));
    }

    #[test]
    fn rendezvous_last_receiver_drop_gives_offers_back() {
        let mut c = C::new(Some(0));
        let r = node();
        c.wait_recv(r.clone());
        c.try_send(9).unwrap(); // handed to r, no owner
        let (s1, s2) = (node(), node());
        let (t1, _) = c.offer(1, s1.clone()).unwrap();
        let (t2, _) = c.offer(2, s2.clone()).unwrap();
        let (dropped, woken) = c.drop_receiver();
        assert_eq!(dropped, [9]);
        assert_eq!(woken.len(), 2);
        assert_eq!(s1.state(), NodeState::Notified);
        assert_eq!(c.reclaim(t2), Some(2));
        assert_eq!(c.cancel_offer(&s1, t1, true), (false, Some(1)));
        assert!(c.offer(3, node()).is_err());
        assert!(c.try_send(3).unwrap_err().is_disconnected());
    }

    #[test]
    fn rendezvous_receiver_that_unwinds_passes_an_offer_on() {
        let mut c = C::new(Some(0));
        let (a, b) = (node(), node());
        c.wait_recv(a.clone());
        c.wait_recv(b.clone());
        let _ = c.offer(1, node()).unwrap(); // notifies a
        let (waiting, next) = c.cancel_recv(&a, true);
        assert!(!waiting);
        assert!(Rc::ptr_eq(&next.unwrap(), &b));
    }
}
