//! The runtime: the per-thread scheduler, its event loop, and the contract that `sync`, `net`
//! and `hooks` build on (see [`park`]).

mod builder;
#[allow(dead_code)]
pub(crate) mod epoll;
mod join;
mod multi;
#[allow(dead_code)] // the contract of sync/, net/ and hooks/, which land separately
pub(crate) mod park;
#[allow(dead_code)]
pub(crate) mod registration;
mod remote;
pub(crate) mod scheduler;
pub(crate) mod task;
#[cfg(test)]
mod tests;

pub use builder::{Builder, CoroutineInfo, current, run, spawn, try_run, yield_now};
pub use join::JoinHandle;
pub use multi::{Runtime, RuntimeBuilder};
