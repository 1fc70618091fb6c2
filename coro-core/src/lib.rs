//! The core of coro: stacks, coroutines, and the runtime built on them.
//!
//! Use it through the facade crate `coro`, which re-exports everything here.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

mod error;

pub use error::{Error, Result};

#[doc(hidden)]
pub mod __private {}
