//! # coro
//!
//! Stackful coroutines for Rust in the line of Tencent's libco and hnes/libaco: plain
//! blocking-style code runs as hundreds of thousands of coroutines on one thread, switching in a
//! few nanoseconds, on owned or shared (copy) stacks.
//!
//! This crate is the facade: it re-exports `coro-core` (stacks, coroutines, runtime) and
//! `coro-macros` (the macro DSL). See the book in `book/` for the tutorial.

pub use coro_core::*;
#[allow(unused_imports, unreachable_pub)] // until the macro crate exports its macros
pub use coro_macros::*;

/// Paths used by the code the macros generate. Not part of the public API.
#[doc(hidden)]
pub mod __private {
    #[allow(unused_imports, unreachable_pub)]
    pub use coro_core::__private::*;
}
