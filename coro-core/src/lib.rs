//! The core of coro: stacks, coroutines, and the runtime built on them.
//!
//! Use it through the facade crate `coro`, which re-exports everything here.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

pub mod channel;
mod coroutine;
mod error;
mod generator;
pub mod hooks;
mod local;
mod overflow;
pub mod stack;
pub mod sync;

pub use coroutine::{Coroutine, CoroutineResult, Yielder, current_id};
pub use error::{Error, Result};
pub use generator::Generator;
pub use local::{AccessError, LocalKey};
pub use stack::{DEFAULT_STACK_SIZE, OwnedStack, SharedStack, Stack};

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;
