//! Watch channels: [`watch`] between the coroutines of a thread, and
//! [`sync::watch`](super::sync::watch) across threads. The channel holds one value; senders
//! replace it, receivers read it and wait for it to change (tokio's `watch` semantics).
//!
//! [`Watch`] is the state, shared by both flavours and tested below without a context switch:
//! the value, a version that every change increments, and the receivers that wait. Each
//! receiver keeps the version it last saw; it has a change to see while the channel's version
//! differs from its own, so any number of sends between two looks make one change, and the look
//! sees the latest value. Every change wakes every waiting receiver, so a receiver that gives up
//! (a timeout, a cancel, a deadline scope) has nothing to pass on.
//!
//! The value sits behind the flavour's lock (a `RefCell`, or a `std::sync::RwLock` so that
//! readers on several threads do not exclude one another); `borrow` hands out a guard on it.

use std::cell::{Ref, RefCell};
use std::collections::VecDeque;
use std::fmt;
use std::ops::Deref;
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::error::{ChangedError, ChangedTimeoutError, SendError};
use super::ops::{self, Lock};
use crate::sync::waiters::{LocalNode, Node, Waiters};

/// The state of a watch channel.
#[derive(Debug)]
pub(crate) struct Watch<T, W> {
    value: T,
    /// How many times the value was changed.
    version: u64,
    senders: usize,
    receivers: usize,
    waiters: Waiters<W>,
}

impl<T, W: Node> Watch<T, W> {
    /// A channel holding `value` (version 0), with one sender and one receiver that has seen it.
    pub(crate) fn new(value: T) -> Self {
        Watch {
            value,
            version: 0,
            senders: 1,
            receivers: 1,
            waiters: Waiters::new(),
        }
    }

    /// The current value.
    pub(crate) fn value(&self) -> &T {
        &self.value
    }

    /// The current version.
    pub(crate) fn version(&self) -> u64 {
        self.version
    }

    /// How many receivers there are.
    pub(crate) fn receiver_count(&self) -> usize {
        self.receivers
    }

    /// Whether every receiver is gone.
    pub(crate) fn receivers_gone(&self) -> bool {
        self.receivers == 0
    }

    /// Whether every sender is gone.
    pub(crate) fn senders_gone(&self) -> bool {
        self.senders == 0
    }

    /// Replaces the value, if there is a receiver (else gives `v` back): the old value (to be
    /// dropped after the lock is released) and the receivers to wake.
    pub(crate) fn send(&mut self, v: T) -> Result<(T, VecDeque<W>), T> {
        if self.receivers == 0 {
            return Err(v);
        }
        Ok(self.replace(v))
    }

    /// Replaces the value whether or not there is a receiver.
    pub(crate) fn replace(&mut self, v: T) -> (T, VecDeque<W>) {
        let old = std::mem::replace(&mut self.value, v);
        self.version += 1;
        (old, self.waiters.take_all())
    }

    /// Lets `f` change the value in place; if it says it did, that is a change. Returns what
    /// `f` said and the receivers to wake. A panic in `f` leaves the value as `f` left it, and
    /// no change.
    pub(crate) fn modify(&mut self, f: impl FnOnce(&mut T) -> bool) -> (bool, VecDeque<W>) {
        if f(&mut self.value) {
            self.version += 1;
            (true, self.waiters.take_all())
        } else {
            (false, VecDeque::new())
        }
    }

    /// For a receiver that saw version `seen`: `Ok` if there is a newer one, which it now has
    /// seen; `Err` if not and every sender is gone; `None` if not, yet.
    pub(crate) fn changed(&mut self, seen: &mut u64) -> Option<Result<(), ChangedError>> {
        if *seen != self.version {
            *seen = self.version;
            Some(Ok(()))
        } else if self.senders == 0 {
            Some(Err(ChangedError))
        } else {
            None
        }
    }

    /// Enqueues a receiver that waits for a change.
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

    /// A sender is dropped; when it was the last, the waiting receivers are returned to be woken
    /// (they see `ChangedError` unless a change is left for them).
    pub(crate) fn drop_sender(&mut self) -> VecDeque<W> {
        self.senders -= 1;
        if self.senders == 0 {
            self.waiters.take_all()
        } else {
            VecDeque::new()
        }
    }

    /// One more receiver; returns the current version, which it has seen.
    pub(crate) fn add_receiver(&mut self) -> u64 {
        self.receivers += 1;
        self.version
    }

    /// A receiver is dropped.
    pub(crate) fn drop_receiver(&mut self) {
        self.receivers -= 1;
    }
}

/// Wakes the receivers a change returned.
fn wake<W: Node>(woken: VecDeque<W>) {
    for w in woken {
        w.unpark();
    }
}

/// Waits until there is a version newer than `seen`, parking while there is none and senders
/// remain, until `deadline` if there is one.
fn changed<T, W: Node, L: Lock<Watch<T, W>, Node = W>>(
    l: &L,
    seen: &mut u64,
    deadline: Option<Instant>,
    what: &'static str,
) -> Result<(), ChangedTimeoutError> {
    let got = ops::park_until(
        l,
        deadline,
        what,
        |w, node| {
            let r = w.changed(seen);
            if let (None, Some(node)) = (&r, node) {
                w.wait(node.clone());
            }
            r
        },
        |w, node| w.cancel(node),
    );
    match got {
        None => Err(ChangedTimeoutError::Timeout),
        Some(Ok(())) => Ok(()),
        Some(Err(ChangedError)) => Err(ChangedTimeoutError::Disconnected),
    }
}

/// The methods and trait impls of a flavour's `WatchSender<T>` and `WatchReceiver<T>`, which
/// differ only in the pointer to the shared state (`Rc` or `Arc`), how the value is read (a
/// `read` function in scope: the guard and the version) and what an untimed wait outside a task
/// does. Invoked here (local) and in `sync` below.
macro_rules! watch_halves {
    ($ptr:ident, changed: $what:literal $(#[$changed_doc:meta])*) => {
        impl<T> WatchSender<T> {
            /// Replaces the value and wakes the receivers that wait for a change. Fails, giving
            /// the value back and leaving the channel as it was, if there is no receiver (as in
            /// tokio); [`send_replace`](Self::send_replace) stores it anyway.
            pub fn send(&self, value: T) -> Result<(), SendError<T>> {
                let (old, woken) = self.shared.with(|w| w.send(value)).map_err(SendError)?;
                drop(old);
                wake(woken);
                Ok(())
            }

            /// Replaces the value, whether or not there is a receiver, wakes the receivers that
            /// wait, and returns the old value.
            pub fn send_replace(&self, value: T) -> T {
                let (old, woken) = self.shared.with(|w| w.replace(value));
                wake(woken);
                old
            }

            /// Changes the value in place with `f`; that is a change, whether or not there is a
            /// receiver. `f` runs under the channel's lock: it must not use the channel. If it
            /// panics, the value stays as `f` left it and no change is made.
            pub fn send_modify(&self, f: impl FnOnce(&mut T)) {
                self.send_if_modified(|v| {
                    f(v);
                    true
                });
            }

            /// Lets `f` change the value in place; it is a change (receivers are woken) only if
            /// `f` returns true. Returns what `f` returned. As for
            /// [`send_modify`](Self::send_modify), `f` must not use the channel.
            pub fn send_if_modified(&self, f: impl FnOnce(&mut T) -> bool) -> bool {
                let (modified, woken) = self.shared.with(|w| w.modify(f));
                wake(woken);
                modified
            }

            /// The current value, behind a guard (see [`WatchRef`]).
            pub fn borrow(&self) -> WatchRef<'_, T> {
                read(&self.shared).0
            }

            /// A new receiver, which has seen the current value.
            pub fn subscribe(&self) -> WatchReceiver<T> {
                let seen = self.shared.with(|w| w.add_receiver());
                WatchReceiver {
                    shared: $ptr::clone(&self.shared),
                    seen,
                }
            }

            /// How many receivers there are.
            pub fn receiver_count(&self) -> usize {
                self.shared.with(|w| w.receiver_count())
            }

            /// Whether every receiver is gone (`send` fails).
            pub fn is_disconnected(&self) -> bool {
                self.shared.with(|w| w.receivers_gone())
            }
        }

        impl<T> WatchReceiver<T> {
            /// The current value, behind a guard (see [`WatchRef`]). It does not count as
            /// seeing it: [`changed`](Self::changed) is not affected.
            pub fn borrow(&self) -> WatchRef<'_, T> {
                read(&self.shared).0
            }

            /// The current value, behind a guard, which this receiver has now seen: `changed`
            /// waits for a newer one.
            pub fn borrow_and_update(&mut self) -> WatchRef<'_, T> {
                let (value, version) = read(&self.shared);
                self.seen = version;
                value
            }

            /// Whether there is a value this receiver has not seen (it does not mark it seen).
            pub fn has_changed(&self) -> bool {
                read(&self.shared).1 != self.seen
            }

            /// Waits until there is a value newer than the last one this receiver saw, and marks
            /// it seen. Returns at once if there is one already. Several sends since the last
            /// look make one change, whose value is the latest. Fails when every sender is gone
            /// and there is no unseen value.
            ///
            /// Read the value with [`borrow_and_update`](Self::borrow_and_update), which marks
            /// what it reads as seen, or with [`borrow`](Self::borrow), which does not: a value
            /// sent between `changed` and `borrow` (from another thread, or while the receiver
            /// parked in between) is then read now and reported again by the next `changed`.
            ///
            $(#[$changed_doc])*
            pub fn changed(&mut self) -> Result<(), ChangedError> {
                changed(&*self.shared, &mut self.seen, None, $what).map_err(|_| ChangedError)
            }

            /// As [`changed`](Self::changed), waiting at most `timeout`.
            pub fn changed_timeout(&mut self, timeout: Duration) -> Result<(), ChangedTimeoutError> {
                self.changed_deadline(Instant::now() + timeout)
            }

            /// As [`changed`](Self::changed), waiting until `deadline` at the latest.
            pub fn changed_deadline(&mut self, deadline: Instant) -> Result<(), ChangedTimeoutError> {
                changed(&*self.shared, &mut self.seen, Some(deadline), "")
            }

            /// Whether every sender is gone (no value will come after the current one).
            pub fn is_disconnected(&self) -> bool {
                self.shared.with(|w| w.senders_gone())
            }

            /// The channel's state and the version this receiver saw, for `select!`'s
            /// `changed` arms.
            pub(crate) fn select_parts(&mut self) -> (&Shared<T>, &mut u64) {
                (&self.shared, &mut self.seen)
            }
        }

        impl<T> Clone for WatchSender<T> {
            fn clone(&self) -> Self {
                self.shared.with(|w| w.add_sender());
                WatchSender {
                    shared: $ptr::clone(&self.shared),
                }
            }
        }

        /// A receiver that has seen what this one has seen.
        impl<T> Clone for WatchReceiver<T> {
            fn clone(&self) -> Self {
                self.shared.with(|w| w.add_receiver());
                WatchReceiver {
                    shared: $ptr::clone(&self.shared),
                    seen: self.seen,
                }
            }
        }

        impl<T> Drop for WatchSender<T> {
            fn drop(&mut self) {
                wake(self.shared.with(|w| w.drop_sender()));
            }
        }

        impl<T> Drop for WatchReceiver<T> {
            fn drop(&mut self) {
                self.shared.with(|w| w.drop_receiver());
            }
        }

        impl<T> Deref for WatchRef<'_, T> {
            type Target = T;
            fn deref(&self) -> &T {
                self.value()
            }
        }

        impl<T: fmt::Debug> fmt::Debug for WatchRef<'_, T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(self.value(), f)
            }
        }

        impl<T: fmt::Debug> fmt::Debug for WatchSender<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct("WatchSender")
                    .field("value", &*self.borrow())
                    .finish_non_exhaustive()
            }
        }

        impl<T: fmt::Debug> fmt::Debug for WatchReceiver<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct("WatchReceiver")
                    .field("value", &*self.borrow())
                    .field("has_changed", &self.has_changed())
                    .finish_non_exhaustive()
            }
        }
    };
}

type Shared<T> = RefCell<Watch<T, Rc<LocalNode>>>;

/// A watch channel between the coroutines of this thread, holding `init`: senders replace the
/// value, receivers read it and wait for it to change.
///
/// ```
/// coro::run(|| {
///     let (tx, mut rx) = coro::channel::watch("starting");
///     let watcher = coro::spawn(move || {
///         let mut seen = Vec::new();
///         while rx.changed().is_ok() {
///             seen.push(*rx.borrow()); // parks in `changed` until a new value
///         }
///         seen
///     });
///     coro::yield_now(); // the watcher waits
///     tx.send("loading").unwrap();
///     tx.send("ready").unwrap(); // before the watcher looked: one change, the latest value
///     coro::yield_now();
///     tx.send("stopping").unwrap();
///     drop(tx); // `changed` fails once the watcher has seen the last value
///     assert_eq!(watcher.join().unwrap(), ["ready", "stopping"]);
/// });
/// ```
pub fn watch<T>(init: T) -> (WatchSender<T>, WatchReceiver<T>) {
    let shared = Rc::new(RefCell::new(Watch::new(init)));
    (
        WatchSender {
            shared: Rc::clone(&shared),
        },
        WatchReceiver { shared, seen: 0 },
    )
}

/// The sending half of a thread-local watch channel. Clone it for more senders; when the last
/// one is dropped, `changed` fails once the receivers have seen the last value.
///
/// `!Send`: for a channel between threads use [`sync::watch`](crate::channel::sync::watch).
///
/// ```compile_fail,E0277
/// let (tx, _rx) = coro::channel::watch(0u8);
/// std::thread::spawn(move || tx.send(1));
/// ```
pub struct WatchSender<T> {
    shared: Rc<Shared<T>>,
}

/// The receiving half of a thread-local watch channel: it reads the value and remembers the
/// last version it saw. Make more with [`WatchSender::subscribe`] (having seen the current
/// value) or `clone` (having seen what this one has seen).
///
/// `!Send`: for a channel between threads use [`sync::watch`](crate::channel::sync::watch).
pub struct WatchReceiver<T> {
    shared: Rc<Shared<T>>,
    seen: u64,
}

/// The value of a thread-local watch channel, borrowed: it dereferences to the value.
///
/// Drop it before the coroutine parks or sends on the same channel: while it is alive a
/// `send` (from any coroutine of the thread) panics, as a `RefCell` would.
pub struct WatchRef<'a, T> {
    value: Ref<'a, T>,
}

impl<T> WatchRef<'_, T> {
    fn value(&self) -> &T {
        &self.value
    }
}

/// The value and its version, read under the lock.
fn read<T>(shared: &Shared<T>) -> (WatchRef<'_, T>, u64) {
    let w = shared.try_borrow().unwrap_or_else(|_| {
        panic!(
            "a watch channel's value was read inside its own `send_modify` or `send_if_modified`"
        )
    });
    let version = w.version();
    (
        WatchRef {
            value: Ref::map(w, |w| w.value()),
        },
        version,
    )
}

watch_halves! {
    Rc,
    changed: "coro::channel::WatchReceiver::changed"
        /// # Panics
        ///
        /// If it must wait outside a coro task, where no sender could ever run.
}

/// The cross-thread flavour: `channel::sync::{watch, WatchSender, WatchReceiver, WatchRef}`.
pub(super) mod sync {
    use std::fmt;
    use std::ops::Deref;
    use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard};
    use std::time::{Duration, Instant};

    use super::{Watch, changed, wake};
    use crate::channel::error::{ChangedError, ChangedTimeoutError, SendError};
    use crate::channel::ops::Lock;
    use crate::sync::waiters::RemoteNode;

    type Shared<T> = RwLock<Watch<T, Arc<RemoteNode>>>;

    /// A watch channel whose halves can move to other threads, holding `init`: senders replace
    /// the value, receivers read it and wait for it to change. A send from any thread wakes the
    /// waiting coroutines through their schedulers' eventfds; a plain thread can wait too (it
    /// parks the thread).
    ///
    /// ```
    /// let (tx, mut rx) = coro::channel::sync::watch(0);
    /// let t = std::thread::spawn(move || {
    ///     for v in 1..=3 {
    ///         tx.send(v).unwrap();
    ///     }
    /// });
    /// coro::run(move || {
    ///     while rx.changed().is_ok() {} // as long as the sender lives
    ///     assert_eq!(*rx.borrow(), 3); // the last value sent
    /// });
    /// t.join().unwrap();
    /// ```
    pub fn watch<T>(init: T) -> (WatchSender<T>, WatchReceiver<T>) {
        let shared = Arc::new(RwLock::new(Watch::new(init)));
        (
            WatchSender {
                shared: Arc::clone(&shared),
            },
            WatchReceiver { shared, seen: 0 },
        )
    }

    /// The sending half of a cross-thread watch channel. `Send` and `Sync` when
    /// `T: Send + Sync`. Clone it for more senders; when the last one is dropped, `changed`
    /// fails once the receivers have seen the last value.
    pub struct WatchSender<T> {
        shared: Arc<Shared<T>>,
    }

    /// The receiving half of a cross-thread watch channel: it reads the value and remembers the
    /// last version it saw. `Send` and `Sync` when `T: Send + Sync`. Make more with
    /// [`WatchSender::subscribe`] (having seen the current value) or `clone` (having seen what
    /// this one has seen).
    pub struct WatchReceiver<T> {
        shared: Arc<Shared<T>>,
        seen: u64,
    }

    /// The value of a cross-thread watch channel, borrowed: a read lock on it, which
    /// dereferences to the value. Readers on any number of threads can hold one at once; a
    /// send waits until none is held.
    ///
    /// Drop it before the coroutine parks or sends on the same channel: a send from the thread
    /// that holds it would wait for it forever (a deadlock, as with `std::sync::RwLock`).
    pub struct WatchRef<'a, T> {
        guard: RwLockReadGuard<'a, Watch<T, Arc<RemoteNode>>>,
    }

    impl<T> WatchRef<'_, T> {
        fn value(&self) -> &T {
            self.guard.value()
        }
    }

    /// The value and its version, read under the lock.
    fn read<T>(shared: &Shared<T>) -> (WatchRef<'_, T>, u64) {
        let guard = shared.read().unwrap_or_else(PoisonError::into_inner);
        let version = guard.version();
        (WatchRef { guard }, version)
    }

    watch_halves! {
        Arc,
        changed: "coro::channel::sync::WatchReceiver::changed"
            /// Outside a coro task it parks the thread.
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::waiters::NodeState;

    type W = Watch<&'static str, Rc<LocalNode>>;

    fn node() -> Rc<LocalNode> {
        LocalNode::current()
    }

    #[test]
    fn several_sends_make_one_change_with_the_latest_value() {
        let mut w = W::new("a");
        let mut seen = 0;
        assert_eq!(w.changed(&mut seen), None, "the first value counts as seen");
        let _ = w.send("b").unwrap();
        let _ = w.send("c").unwrap();
        assert_eq!(w.changed(&mut seen), Some(Ok(())));
        assert_eq!(*w.value(), "c");
        assert_eq!(w.changed(&mut seen), None);
    }

    #[test]
    fn a_send_wakes_every_waiting_receiver() {
        let mut w = W::new("a");
        let (n1, n2, n3) = (node(), node(), node());
        w.wait(n1.clone());
        w.wait(n2.clone());
        w.wait(n3.clone());
        assert!(w.cancel(&n2));
        let (old, woken) = w.send("b").unwrap();
        assert_eq!(old, "a");
        assert_eq!(woken.len(), 2);
        assert_eq!(n1.state(), NodeState::Notified);
        assert_eq!(n3.state(), NodeState::Notified);
        assert!(!w.cancel(&n1), "woken already: nothing to pass on");
    }

    #[test]
    fn send_without_receivers_fails_and_leaves_the_value() {
        let mut w = W::new("a");
        w.drop_receiver();
        assert_eq!(w.send("b").unwrap_err(), "b");
        assert_eq!((*w.value(), w.version()), ("a", 0));
        let (old, _) = w.replace("c");
        assert_eq!((old, w.version()), ("a", 1));
        let mut seen = w.add_receiver();
        assert_eq!(
            w.changed(&mut seen),
            None,
            "a new receiver has seen the value"
        );
    }

    #[test]
    fn an_unseen_change_outlives_the_senders() {
        let mut w = W::new("a");
        let mut seen = 0;
        let _ = w.send("b").unwrap();
        let n = node();
        w.wait(n.clone());
        assert_eq!(
            w.drop_sender().len(),
            1,
            "the last sender wakes the waiters"
        );
        assert_eq!(w.changed(&mut seen), Some(Ok(())));
        assert_eq!(w.changed(&mut seen), Some(Err(ChangedError)));
    }

    #[test]
    fn modify_is_a_change_only_when_it_says_so() {
        let mut w = Watch::<u32, Rc<LocalNode>>::new(1);
        let mut seen = 0;
        let (modified, _) = w.modify(|v| {
            *v += 1;
            false
        });
        assert!(!modified);
        assert_eq!((*w.value(), w.changed(&mut seen)), (2, None));
        let (modified, _) = w.modify(|v| {
            *v += 1;
            true
        });
        assert!(modified);
        assert_eq!((*w.value(), w.changed(&mut seen)), (3, Some(Ok(()))));
    }

    #[test]
    fn a_panic_in_modify_is_no_change() {
        let mut w = Watch::<u32, Rc<LocalNode>>::new(1);
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            w.modify(|v| {
                *v = 5;
                panic!("half way")
            })
        }));
        assert!(r.is_err());
        assert_eq!((*w.value(), w.version()), (5, 0));
    }
}
