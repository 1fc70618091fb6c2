//! The machinery of [`select!`](crate::select!): waiting for the first of several operations.
//!
//! | file | what it holds |
//! |---|---|
//! | `driver.rs` | [`Op`], the contract every arm keeps; [`Branch`]; [`run`], the loop that polls, registers and parks |
//! | `macros.rs` | `select!` itself: it parses the arms and expands to one [`run`] and a chain of `if let`s |
//! | `time.rs` | `sleep(d)` and `sleep_until(t)` arms |
//! | `fd.rs` | `readable(fd)` and `writable(fd)` arms |
//! | `join.rs` | `join(handle)` arms |
//!
//! The channel arms (`recv`, `send`, `changed`) live beside the channels, in
//! `channel/select.rs`, since they use the channels' private state.
//!
//! Nothing here is public API: the macro names it through `coro::__private::select`.

mod driver;
mod fd;
mod join;
mod macros;
mod time;

pub use driver::{Arm, Branch, Op, SelectChanged, SelectJoin, SelectRecv, SelectSend, run};
pub use fd::SelectFd;
pub use time::{sleep, sleep_until};

/// The `else` of a `select!` without a `default` arm: [`run`] returns only once an arm won.
#[cold]
pub fn no_winner() -> ! {
    unreachable!("select! returned with no arm complete and no default arm")
}
