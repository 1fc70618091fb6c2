//! The core of coro: stacks, coroutines, and the runtime built on them.
//!
//! Use it through the facade crate `coro`, which re-exports everything here.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

pub mod blocking;
pub mod cancel;
pub mod channel;
mod coroutine;
pub mod debug;
mod error;
mod generator;
pub mod hooks;
mod join_macro;
mod local;
pub mod net;
pub mod poll;
pub mod runtime;
mod select;
pub mod stack;
pub mod sync;
pub(crate) mod sys;
pub mod time;

pub use blocking::spawn_blocking;
pub use cancel::{Cancelled, shield, with_deadline, with_io_timeout, with_timeout};
pub use coroutine::{Coroutine, CoroutineResult, Yielder, current_id};
pub use error::{Error, Result};
pub use generator::Generator;
pub use local::{AccessError, LocalKey};
pub use poll::{PollFd, poll};
pub use runtime::{
    Builder, CoroutineInfo, JoinHandle, JoinSet, MAIN_STACK_SIZE, Runtime, RuntimeBuilder, Scope,
    ScopedJoinHandle, current, run, scope, spawn, try_run, yield_now,
};
pub use stack::{DEFAULT_STACK_SIZE, OwnedStack, SharedStack, Stack};
pub use time::{sleep, sleep_until, timeout};

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;
