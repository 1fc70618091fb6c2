//! Seeing inside a running program: the census of live coroutines, backtraces of suspended
//! ones, dumps on `SIGQUIT`, and the stall watchdog.
//!
//! ```
//! coro::run(|| {
//!     let (tx, rx) = coro::channel::unbounded::<u32>();
//!     let waiter = coro::Builder::new()
//!         .name("waiter")
//!         .spawn(move || rx.recv())
//!         .unwrap();
//!     coro::yield_now(); // the waiter parks in its recv
//!     let census = coro::debug::census().unwrap();
//!     let w = census.get(waiter.id()).unwrap();
//!     assert_eq!(w.status, coro::debug::TaskStatus::Parked);
//!     assert!(matches!(w.wait, Some(coro::debug::Wait::Channel { .. })));
//!     println!("{census}"); // one aligned line per coroutine
//!     tx.send(1).unwrap();
//!     waiter.join().unwrap().unwrap();
//! });
//! ```
//!
//! Nothing here costs anything while nobody looks: a census is taken from the event loop,
//! between two coroutines, when asked; the watchdog is off unless switched on.

use crate::error::Result;
pub use crate::runtime::census::{Census, CoroutineReport, StackUse, TaskStatus, Wait};

/// The live coroutines of the runtime the caller runs in (every thread's, for a multi-thread
/// [`Runtime`](crate::Runtime)): id, name, spawn site, state, what each waits for, its timer,
/// how long since it last ran, and its stack. No backtraces (see
/// [`census_with_backtraces`]).
///
/// The caller parks until every thread's event loop has answered (each answers between two
/// of its coroutines), so the census is a consistent picture of each thread.
///
/// Errors: [`Error::NoRuntime`](crate::Error::NoRuntime) outside a coroutine of a runtime.
pub fn census() -> Result<Census> {
    crate::runtime::census::take(false)
}

/// As [`census`], with a backtrace of every coroutine that has started
/// ([`CoroutineReport::backtrace`]), from its suspension point down to its body's first
/// frame. Each is taken by resuming the coroutine in a capture mode at its park point, where
/// it records its own stack and suspends again at once: it stays parked or queued as it was,
/// and its wait goes on (a coroutine on a shared stack has its frames copied in and out for
/// it). Symbols are resolved when a backtrace is printed.
pub fn census_with_backtraces() -> Result<Census> {
    crate::runtime::census::take(true)
}

/// Prints a census with backtraces to standard error, as `SIGQUIT` does with
/// `dump_on_sigquit`. Errors as [`census`].
pub fn dump() -> Result<()> {
    let census = census_with_backtraces()?;
    crate::runtime::census::print_dump(&census, "coro::debug::dump");
    Ok(())
}
