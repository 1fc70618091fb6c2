//! The thread-local channel: [`unbounded`] and [`bounded`], for the coroutines of one thread.

use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::chan::Chan;
use super::error::{
    RecvError, RecvTimeoutError, SendError, SendTimeoutError, TryRecvError, TrySendError,
};
use super::ops::{self, Flavor};
use crate::sync::waiters::{self, LocalNode, Node};

type Shared<T> = RefCell<Chan<T, Rc<LocalNode>>>;

impl<T> Flavor<T> for Shared<T> {
    type Node = Rc<LocalNode>;
    fn with<R>(&self, f: impl FnOnce(&mut Chan<T, Rc<LocalNode>>) -> R) -> R {
        f(&mut self.borrow_mut())
    }
    fn node() -> Rc<LocalNode> {
        LocalNode::current()
    }
    fn can_block() -> bool {
        waiters::can_block()
    }
}

/// A channel of unlimited capacity between the coroutines of this thread: `send` never parks.
///
/// ```
/// let (tx, rx) = coro::channel::unbounded();
/// tx.send(1).unwrap();
/// tx.send(2).unwrap();
/// drop(tx);
/// assert_eq!(rx.iter().collect::<Vec<i32>>(), [1, 2]);
/// ```
pub fn unbounded<T>() -> (Sender<T>, Receiver<T>) {
    channel(None)
}

/// A channel that holds at most `capacity` messages between the coroutines of this thread: a
/// `send` to a full channel parks the sender until a receiver makes room (back-pressure).
///
/// # Panics
///
/// If `capacity` is 0 (rendezvous channels are not supported).
pub fn bounded<T>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    channel(Some(capacity))
}

fn channel<T>(cap: Option<usize>) -> (Sender<T>, Receiver<T>) {
    let chan = Rc::new(RefCell::new(Chan::new(cap)));
    (
        Sender {
            chan: Rc::clone(&chan),
        },
        Receiver { chan },
    )
}

/// The sending half of a thread-local channel. Clone it for more senders; when the last one
/// is dropped, receivers get [`RecvError`] once they have received every message.
///
/// `!Send`: for a channel between threads use [`crate::channel::sync`].
pub struct Sender<T> {
    chan: Rc<Shared<T>>,
}

/// The receiving half of a thread-local channel. Clone it for more receivers (each message
/// goes to one of them, waiting receivers are served in order); when the last one is dropped,
/// the messages still queued are dropped and senders get [`SendError`].
///
/// `!Send`: for a channel between threads use [`crate::channel::sync`].
pub struct Receiver<T> {
    chan: Rc<Shared<T>>,
}

impl<T> Sender<T> {
    /// Sends `value`, parking the calling coroutine while a bounded channel is full. Fails,
    /// giving the value back, if every receiver is gone.
    ///
    /// # Panics
    ///
    /// If it must wait outside a coro task, where no receiver could ever make room.
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        ops::send(&*self.chan, value, None, "coro::channel::Sender::send")
            .map_err(|e| SendError(e.into_inner()))
    }

    /// Sends `value` if there is room now.
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        ops::try_send(&*self.chan, value)
    }

    /// Sends `value`, waiting at most `timeout` for room.
    pub fn send_timeout(&self, value: T, timeout: Duration) -> Result<(), SendTimeoutError<T>> {
        self.send_deadline(value, Instant::now() + timeout)
    }

    /// Sends `value`, waiting until `deadline` at the latest for room.
    pub fn send_deadline(&self, value: T, deadline: Instant) -> Result<(), SendTimeoutError<T>> {
        ops::send(&*self.chan, value, Some(deadline), "")
    }

    /// Whether every receiver is gone (sends fail).
    pub fn is_disconnected(&self) -> bool {
        self.chan.borrow().receivers_gone()
    }

    /// Messages queued now.
    pub fn len(&self) -> usize {
        self.chan.borrow().len()
    }

    /// Whether no message is queued.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The capacity, `None` for an unbounded channel.
    pub fn capacity(&self) -> Option<usize> {
        self.chan.borrow().capacity()
    }
}

impl<T> Receiver<T> {
    /// Takes the next message, parking the calling coroutine while the channel is empty. Fails
    /// when the channel is empty and every sender is gone.
    ///
    /// # Panics
    ///
    /// If it must wait outside a coro task, where no sender could ever run.
    pub fn recv(&self) -> Result<T, RecvError> {
        ops::recv(&*self.chan, None, "coro::channel::Receiver::recv").map_err(|_| RecvError)
    }

    /// Takes the next message if there is one now.
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        ops::try_recv(&*self.chan)
    }

    /// Takes the next message, waiting at most `timeout`.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        self.recv_deadline(Instant::now() + timeout)
    }

    /// Takes the next message, waiting until `deadline` at the latest.
    pub fn recv_deadline(&self, deadline: Instant) -> Result<T, RecvTimeoutError> {
        ops::recv(&*self.chan, Some(deadline), "")
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
        self.chan.borrow().senders_gone()
    }

    /// Messages queued now.
    pub fn len(&self) -> usize {
        self.chan.borrow().len()
    }

    /// Whether no message is queued.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The capacity, `None` for an unbounded channel.
    pub fn capacity(&self) -> Option<usize> {
        self.chan.borrow().capacity()
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.chan.borrow_mut().add_sender();
        Sender {
            chan: Rc::clone(&self.chan),
        }
    }
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Self {
        self.chan.borrow_mut().add_receiver();
        Receiver {
            chan: Rc::clone(&self.chan),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let woken = self.chan.borrow_mut().drop_sender();
        for w in woken {
            w.unpark();
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let (messages, woken) = self.chan.borrow_mut().drop_receiver();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn try_ops_and_disconnect() {
        let (tx, rx) = bounded(2);
        tx.try_send(1).unwrap();
        tx.send(2).unwrap();
        assert!(tx.try_send(3).unwrap_err().is_full());
        assert_eq!(tx.len(), 2);
        assert_eq!(rx.try_recv(), Ok(1));
        let tx2 = tx.clone();
        drop(tx);
        tx2.send(3).unwrap();
        assert!(!rx.is_disconnected());
        drop(tx2);
        assert!(rx.is_disconnected());
        assert_eq!(rx.try_iter().collect::<Vec<_>>(), [2, 3]);
        assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
        assert_eq!(rx.recv(), Err(RecvError));
    }

    #[test]
    fn receiver_gone_gives_the_value_back() {
        let (tx, rx) = unbounded::<String>();
        drop(rx);
        assert_eq!(tx.send("x".into()).unwrap_err().into_inner(), "x");
        assert!(tx.is_disconnected());
    }

    #[test]
    fn queued_messages_are_dropped_with_the_last_receiver() {
        let (tx, rx) = unbounded();
        let token = Rc::new(());
        tx.send(Rc::clone(&token)).unwrap();
        assert_eq!(Rc::strong_count(&token), 2);
        drop(rx);
        assert_eq!(Rc::strong_count(&token), 1);
    }

    #[test]
    fn a_message_holding_its_own_sender_can_be_dropped() {
        struct Msg(#[allow(dead_code)] Sender<Msg>);
        let (tx, rx) = unbounded::<Msg>();
        tx.send(Msg(tx.clone())).unwrap();
        drop(rx); // drops the queued Sender, which touches the channel: must not double-borrow
        drop(tx);
    }

    #[test]
    fn recv_timeout_outside_a_task_times_out() {
        let (tx, rx) = unbounded::<u8>();
        assert_eq!(
            rx.recv_timeout(Duration::from_millis(2)),
            Err(RecvTimeoutError::Timeout)
        );
        tx.send(4).unwrap();
        assert_eq!(rx.recv_timeout(Duration::from_millis(2)), Ok(4));
    }

    #[test]
    #[should_panic(expected = "Receiver::recv would block forever")]
    fn untimed_recv_outside_a_task_panics() {
        let (_tx, rx) = unbounded::<u8>();
        let _ = rx.recv();
    }
}
