//! The runtime: the per-thread scheduler, its event loop, and the contract that `sync`, `net`
//! and `hooks` build on (see `runtime/park.rs`).

mod builder;
pub(crate) mod cancel;
pub(crate) mod epoll;
mod join;
mod multi;
pub(crate) mod park;
pub(crate) mod registration;
mod remote;
pub(crate) mod scheduler;
pub(crate) mod task;
#[cfg(test)]
mod tests;

pub use builder::{Builder, CoroutineInfo, current, run, spawn, try_run, yield_now};
pub use join::JoinHandle;
pub use multi::{Runtime, RuntimeBuilder};
