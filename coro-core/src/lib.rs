//! The core of coro: stacks, coroutines, and the runtime built on them.
//!
//! Use it through the facade crate `coro`, which re-exports everything here.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

pub mod channel;
mod coroutine;
mod error;
pub mod hooks;
mod local;
mod overflow;
pub mod stack;
pub mod sync;

pub use coroutine::{Coroutine, CoroutineResult, Yielder, current_id};
pub use error::{Error, Result};
pub use stack::{DEFAULT_STACK_SIZE, OwnedStack, SharedStack, Stack};

#[doc(hidden)]
pub mod __private {}
