//! Channels between coroutines: [`unbounded`] and [`bounded`] within a thread, and
//! [`sync::unbounded`] and [`sync::bounded`] across threads.
//!
//! Both flavours have the same API (modelled on `std::sync::mpsc`, with cloneable receivers):
//! `send`, `try_send`, `send_timeout`; `recv`, `try_recv`, `recv_timeout`; `iter`, `try_iter`
//! and `IntoIterator` on the receiver. A waiting party parks its coroutine, not its thread.
//!
//! * **Nothing sent is lost.** When the last sender is dropped, receivers first get every
//!   message still queued, then [`RecvError`] (or `Disconnected`). When the last receiver is
//!   dropped, senders get their message back in [`SendError`].
//! * **Back-pressure.** A `send` to a full bounded channel parks until a receiver makes room;
//!   parked senders are served in arrival order (a slot freed is reserved for the first one).
//! * **Errors.** The channel has its own error types, shaped like std's ([`SendError`] gives the
//!   message back); each converts into [`crate::Error`] (`Disconnected`, `TimedOut`) so `?`
//!   works in a function returning `coro::Result`.
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

mod chan;
mod error;
mod local;
mod ops;
pub mod sync;

pub use error::{
    RecvError, RecvTimeoutError, SendError, SendTimeoutError, TryRecvError, TrySendError,
};
pub use local::{IntoIter, Iter, Receiver, Sender, TryIter, bounded, unbounded};
