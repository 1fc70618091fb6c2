//! The cross-thread channels: `channel::sync::{unbounded, bounded}` (defined here),
//! [`broadcast`] and [`watch`] (defined beside their local flavours, in `broadcast.rs` and
//! `watch.rs`).
//!
//! Their halves are `Send` (and `Sync`) when `T: Send` (`T: Send + Sync` for watch, whose
//! receivers on several threads read the one value at once): a sender on any thread (a coroutine of
//! another scheduler, or a plain `std::thread`) wakes a receiving coroutine through its
//! scheduler's eventfd, and a plain thread can receive too (it parks the thread). Waiting
//! coroutines park only themselves, never their thread.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::chan::Chan;
use super::error::{
    RecvError, RecvTimeoutError, SendError, SendTimeoutError, TryRecvError, TrySendError,
};
use super::ops::{Flavor, channel_halves};
use crate::sync::waiters::{Node, RemoteNode};

pub use super::broadcast::sync::{BroadcastReceiver, BroadcastSender, broadcast};
pub use super::watch::sync::{WatchReceiver, WatchRef, WatchSender, watch};

type Shared<T> = Mutex<Chan<T, Arc<RemoteNode>>>;

impl<T> Flavor<T> for Shared<T> {
    type Node = Arc<RemoteNode>;
    fn with<R>(&self, f: impl FnOnce(&mut Chan<T, Arc<RemoteNode>>) -> R) -> R {
        // No code runs under the lock that could panic with the state half-changed (messages
        // are dropped and parties woken after it is released), so a poisoned lock is sound.
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

/// A channel of unlimited capacity whose halves can move to other threads: `send` never parks.
///
/// ```
/// let (tx, rx) = coro::channel::sync::unbounded();
/// let t = std::thread::spawn(move || {
///     tx.send(1).unwrap();
///     tx.send(2).unwrap();
/// });
/// assert_eq!(rx.iter().collect::<Vec<i32>>(), [1, 2]);
/// t.join().unwrap();
/// ```
pub fn unbounded<T>() -> (Sender<T>, Receiver<T>) {
    channel(None)
}

/// A channel that holds at most `capacity` messages, whose halves can move to other threads: a
/// `send` to a full channel parks the sending coroutine (or thread) until a receiver makes room
/// (back-pressure).
///
/// `bounded(0)` is a rendezvous channel: a `send` parks until a receiver has taken the value
/// (see [the module](crate::channel#rendezvous)).
///
/// ```
/// let (tx, rx) = coro::channel::sync::bounded(0);
/// let t = std::thread::spawn(move || tx.send(5)); // waits for the receive below
/// assert_eq!(rx.recv(), Ok(5));
/// t.join().unwrap().unwrap();
/// ```
pub fn bounded<T>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    channel(Some(capacity))
}

fn channel<T>(cap: Option<usize>) -> (Sender<T>, Receiver<T>) {
    let chan = Arc::new(Mutex::new(Chan::new(cap)));
    (
        Sender {
            chan: Arc::clone(&chan),
        },
        Receiver { chan },
    )
}

/// The sending half of a cross-thread channel. `Send` and `Sync` when `T: Send`. Clone it
/// for more senders; when the last one is dropped, receivers get [`RecvError`] once they have
/// received every message.
pub struct Sender<T> {
    chan: Arc<Shared<T>>,
}

/// The receiving half of a cross-thread channel. `Send` and `Sync` when `T: Send`. Clone it
/// for more receivers (each message goes to one of them, waiting receivers are served in
/// order); when the last one is dropped, the messages still queued are dropped and senders get
/// [`SendError`].
pub struct Receiver<T> {
    chan: Arc<Shared<T>>,
}

channel_halves! {
    Arc,
    send: "coro::channel::sync::Sender::send"
        /// Outside a coro task it parks the thread.
    ,
    recv: "coro::channel::sync::Receiver::recv"
        /// Outside a coro task it parks the thread.
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::thread;

    #[test]
    fn halves_are_send_and_sync() {
        fn assert_send_sync<X: Send + Sync>() {}
        assert_send_sync::<Sender<String>>();
        assert_send_sync::<Receiver<String>>();
    }

    #[test]
    fn threads_to_thread_exactly_once() {
        let (tx, rx) = bounded(16);
        let senders: Vec<_> = (0..4u64)
            .map(|t| {
                let tx = tx.clone();
                thread::spawn(move || {
                    for i in 0..10_000u64 {
                        tx.send(t * 1_000_000 + i).unwrap();
                    }
                })
            })
            .collect();
        drop(tx);
        let mut seen = [0u64; 4];
        let mut count = 0;
        for v in rx.iter() {
            let (t, i) = ((v / 1_000_000) as usize, v % 1_000_000);
            assert_eq!(i, seen[t], "per-sender order");
            seen[t] += 1;
            count += 1;
        }
        assert_eq!(count, 40_000);
        for s in senders {
            s.join().unwrap();
        }
    }

    #[test]
    fn bounded_sender_thread_waits_for_room() {
        let (tx, rx) = bounded(1);
        tx.send(0).unwrap();
        let t = thread::spawn(move || {
            let start = Instant::now();
            tx.send(1).unwrap();
            start.elapsed()
        });
        thread::sleep(Duration::from_millis(30));
        assert_eq!(rx.recv(), Ok(0));
        let waited = t.join().unwrap();
        assert!(
            waited >= Duration::from_millis(20),
            "sender waited {waited:?}"
        );
        assert_eq!(rx.recv(), Ok(1));
        assert_eq!(rx.recv(), Err(RecvError));
    }

    #[test]
    fn many_receiver_threads_share_the_messages() {
        let (tx, rx) = unbounded::<u32>();
        let rxs: Vec<_> = (0..3)
            .map(|_| {
                let rx = rx.clone();
                thread::spawn(move || rx.iter().map(u64::from).sum::<u64>())
            })
            .collect();
        drop(rx);
        for i in 0..3000 {
            tx.send(i).unwrap();
        }
        drop(tx);
        let total: u64 = rxs.into_iter().map(|t| t.join().unwrap()).sum();
        assert_eq!(total, (0..3000u64).sum::<u64>());
    }

    #[test]
    fn timeouts() {
        let (tx, rx) = bounded::<u8>(1);
        assert_eq!(
            rx.recv_timeout(Duration::from_millis(2)),
            Err(RecvTimeoutError::Timeout)
        );
        tx.send(1).unwrap();
        assert!(
            tx.send_timeout(2, Duration::from_millis(2))
                .unwrap_err()
                .is_timeout()
        );
        drop(rx);
        assert!(
            tx.send_timeout(2, Duration::from_millis(2))
                .unwrap_err()
                .is_disconnected()
        );
    }
}
