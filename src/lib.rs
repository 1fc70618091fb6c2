//! # coro
//!
//! Stackful coroutines for Rust in the line of Tencent's libco and hnes/libaco: plain
//! blocking-style code runs as hundreds of thousands of coroutines on one thread, switching in a
//! few nanoseconds, on owned or shared (copy) stacks.
//!
//! This crate is the facade: it re-exports `coro-core` (stacks, coroutines, runtime) and
//! `coro-macros` (the macro DSL). See the book in `book/` for the tutorial.

pub use coro_core::*;
pub use coro_macros::*;

/// Paths used by the code the macros generate. Not part of the public API.
#[doc(hidden)]
pub mod __private {
    pub use coro_core::__private::*;
}

/// The README's example, compiled and run as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
