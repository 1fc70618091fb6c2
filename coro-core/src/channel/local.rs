//! The thread-local channel: [`unbounded`] and [`bounded`], for the coroutines of one thread.

use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::chan::Chan;
use super::error::{
    RecvError, RecvTimeoutError, SendError, SendTimeoutError, TryRecvError, TrySendError,
};
use super::ops::{Flavor, channel_halves};
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
/// `bounded(0)` is a rendezvous channel: a `send` parks until a receiver has taken the value
/// (see [the module](crate::channel#rendezvous)).
///
/// ```
/// coro::run(|| {
///     let (tx, rx) = coro::channel::bounded(0);
///     let sender = coro::spawn(move || tx.send("hand-off"));
///     assert_eq!(rx.recv(), Ok("hand-off")); // the sender's `send` returns after this
///     sender.join().unwrap().unwrap();
/// });
/// ```
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

channel_halves! {
    Rc,
    send: "coro::channel::Sender::send"
        /// # Panics
        ///
        /// If it must wait outside a coro task, where no receiver could ever make room.
    ,
    recv: "coro::channel::Receiver::recv"
        /// # Panics
        ///
        /// If it must wait outside a coro task, where no sender could ever run.
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
        struct Msg {
            _sender: Sender<Msg>,
        }
        let (tx, rx) = unbounded::<Msg>();
        tx.send(Msg {
            _sender: tx.clone(),
        })
        .unwrap();
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
