//! Channels between coroutines: [`unbounded`] and [`bounded`] within a thread, and
//! [`sync::unbounded`] and [`sync::bounded`] across threads, where each message goes to one
//! receiver; [`broadcast`] ([`sync::broadcast`]), where every receiver gets every message;
//! and [`watch`] ([`sync::watch`]), one value that receivers read and wait to see change.
//!
//! | channel | a message goes to | a sender waits | made by |
//! |---|---|---|---|
//! | queue | one receiver | when a bounded channel is full | [`unbounded`], [`bounded`] |
//! | rendezvous | one receiver | until a receiver takes it | [`bounded(0)`](bounded) |
//! | broadcast | every receiver subscribed when it was sent | never: a slow receiver loses the oldest | [`broadcast`] |
//! | watch | replaces the value every receiver reads | never | [`watch`] |
//!
//! The local and the cross-thread flavour of each have the same API. The queues' is modelled
//! on `std::sync::mpsc`, with cloneable receivers: `send`, `try_send`, `send_timeout`; `recv`,
//! `try_recv`, `recv_timeout`; `iter`, `try_iter` and `IntoIterator` on the receiver. A waiting
//! party parks its coroutine, not its thread. For the queues:
//!
//! * **Nothing sent is lost.** When the last sender is dropped, receivers first get every
//!   message still queued, then [`RecvError`] (or `Disconnected`). When the last receiver is
//!   dropped, senders get their message back in [`SendError`].
//! * **Back-pressure.** A `send` to a full bounded channel parks until a receiver makes room;
//!   parked senders are served in arrival order (a slot freed is reserved for the first one).
//!   `bounded(0)` is a [rendezvous](#rendezvous) channel.
//! * **Errors.** The channel has its own error types, shaped like std's ([`SendError`] gives the
//!   message back); each converts into [`crate::Error`] (`Disconnected`, `TimedOut`) so `?`
//!   works in a function returning `coro::Result`.
//!
//! # Rendezvous
//!
//! `bounded(0)` (and `sync::bounded(0)`) is a rendezvous channel, as in crossbeam: a `send`
//! parks until a receiver has taken its value, and a `recv` parks until a sender offers one.
//! `try_send` succeeds only while a receiver waits, `try_recv` only while a sender waits; a
//! `send_timeout` that runs out gets its value back.
//!
//! It fits the channel's state machine without a second one: a waiting sender leaves its value
//! in the channel's queue as an *offer* tagged with its wait node, so a receiver takes it
//! without waiting for the sender to run, and notifies the sender, whose `send` then returns.
//! Everything happens under the channel's lock, so an offer is either taken by exactly one
//! receiver or taken back by its sender, never both; nothing points into the sender's stack,
//! so coroutines on shared stacks may use it. The sender always waits for the taking, even
//! when a receiver was already waiting: a receiver that is handed a value can still be
//! cancelled before it runs, and the `send` must not have returned `Ok` for a value that
//! nobody received. The cancellation rule holds both ways:
//!
//! * a receiver cancelled in the same turn as it was woken for an offer passes the wake-up on
//!   to the next waiting receiver, and the offer stays with its waiting sender;
//! * a sender cancelled (or whose deadline scope expires) while it waits takes its offer back,
//!   which is dropped as it unwinds; a sender cancelled in the same turn as a receiver took its
//!   value unwinds too (the cancel wins), and the value stays received.
//!
//! One corner: a value that `try_send` handed to a waiting receiver has no sender left to give
//! it back to; if that receiver is cancelled before it runs and no other receiver waits, the
//! value waits in the channel for the next `recv`, as if the channel had one slot. It is never
//! lost.
//!
//! ```
//! use std::cell::Cell;
//! use std::rc::Rc;
//!
//! coro::run(|| {
//!     let (tx, rx) = coro::channel::bounded(0);
//!     let sent = Rc::new(Cell::new(false));
//!     let s = Rc::clone(&sent);
//!     let sender = coro::spawn(move || {
//!         tx.send(1).unwrap(); // parks until the main coroutine takes the value
//!         s.set(true);
//!     });
//!     coro::yield_now();
//!     assert!(!sent.get(), "nobody has received yet");
//!     assert_eq!(rx.recv(), Ok(1));
//!     sender.join().unwrap();
//!     assert!(sent.get());
//! });
//! ```
//!
//! # Broadcast
//!
//! [`broadcast(capacity)`](broadcast) has tokio's semantics: `send` never waits and clones
//! nothing; each receiver is a position in the channel's history and gets a clone of every
//! message sent after it subscribed, in order (the last receiver to take a message gets the
//! value itself). The channel holds at most `capacity` messages: a send into a full channel
//! drops the oldest, and a receiver that had not taken it gets
//! [`Lagged(n)`](BroadcastRecvError::Lagged) from its next receive, with `n` the number it
//! missed, then goes on with the oldest message kept. When the last sender is dropped the
//! receivers take what is left, then get `Disconnected`. Receivers that wait are all woken by
//! each send, so one that is cancelled or times out takes nothing from the others.
//!
//! # Watch
//!
//! [`watch(init)`](watch) has tokio's semantics: the channel holds one value and a version
//! that every change increments. `send` replaces the value and wakes the receivers that wait;
//! `borrow` reads it (behind a guard: drop it before parking or sending); each receiver
//! remembers the version it last saw, and `changed` parks until there is a newer one, so any
//! number of sends between two looks make one change, whose value is the latest. `changed`
//! fails once every sender is gone and the receiver has seen the last value. `send` with no
//! receiver left fails and stores nothing, as in tokio; `send_replace` stores anyway.
//!
//! The thread-local halves are `!Send` and cost no atomic operation; the [`sync`] halves are
//! `Send + Sync` (for `T: Send`) and wake a receiving coroutine through its scheduler's
//! eventfd, from any thread, `std::thread`s included.
//!
//! A local sender cannot be sent to another thread (use [`sync`] for that):
//!
//! ```compile_fail,E0277
//! let (tx, _rx) = coro::channel::unbounded::<u8>();
//! std::thread::spawn(move || tx.send(1));
//! ```
//!
//! ```
//! let (tx, rx) = coro::channel::sync::unbounded::<u8>();
//! std::thread::spawn(move || tx.send(1)).join().unwrap().unwrap();
//! assert_eq!(rx.recv(), Ok(1));
//! ```

mod broadcast;
mod chan;
mod error;
mod local;
mod ops;
mod select;
pub mod sync;
mod watch;

pub use broadcast::{BroadcastReceiver, BroadcastSender, broadcast};
pub use error::{
    BroadcastRecvError, BroadcastRecvTimeoutError, BroadcastTryRecvError, ChangedError,
    ChangedTimeoutError, RecvError, RecvTimeoutError, SendError, SendTimeoutError, TryRecvError,
    TrySendError,
};
pub use local::{IntoIter, Iter, Receiver, Sender, TryIter, bounded, unbounded};
pub use watch::{WatchReceiver, WatchRef, WatchSender, watch};
