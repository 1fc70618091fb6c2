//! The core of coro: stacks, coroutines, and (in later layers) the runtime.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

#[doc(hidden)]
pub mod __private {}
