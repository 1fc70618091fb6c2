//! The runtime: one scheduler per thread, the driver it blocks on, and the contract that
//! `sync/`, `net/`, `hooks/` and `time` build on.
//!
//! | file | what it holds |
//! |---|---|
//! | `api.rs` | the public free functions: `run`, `try_run`, `spawn`, `current`, `yield_now` |
//! | `builder.rs` | `Builder`: the options of one coroutine (name, stack, shared stack) |
//! | `multi.rs` | `Runtime`, `RuntimeBuilder`: one scheduler per thread on several threads |
//! | `join.rs` | `JoinHandle`: waiting for a coroutine, cancelling it |
//! | `join_set.rs` | `JoinSet`: results as the coroutines finish (wait for any) |
//! | `scope.rs` | `scope`: coroutines that borrow from their spawner's stack |
//! | `run.rs` | `run_main`: a runtime's life, from the first task to the teardown |
//! | `scheduler.rs` | `Scheduler`: the ready queue and the loop |
//! | `task.rs`, `tasks.rs` | a task as the scheduler sees it; the table of live tasks |
//! | `park.rs` | parking and unparking, the contract the layers above use |
//! | `pool.rs` | what the runtime reads of the blocking pool above it: its size and idle threads |
//! | `fd_wait.rs` | waiting for fds: the readiness cache and registrations |
//! | `cancel.rs` | a task's cancel and deadline scopes, and how an interrupt reaches a wait |
//! | `census.rs` | what every live coroutine is doing: waits, stacks, backtraces from the loop |
//! | `dump.rs` | the census on stderr at a `SIGQUIT`, when switched on |
//! | `debugger.rs` | the registry of live tasks that coro's gdb script reads |
//! | `fork.rs` | a scheduler inherited by a fork child |
//! | `watchdog.rs` | the stall watchdog: a coroutine that keeps its thread too long |
//! | `driver/` | what the loop blocks on: epoll, registrations, the timing wheel, remote wake-ups |

mod api;
mod body;
mod builder;
pub(crate) mod cancel;
pub(crate) mod census;
mod debugger;
pub(crate) mod driver;
mod dump;
pub(crate) mod fd_wait;
mod fork;
mod join;
mod join_set;
mod multi;
pub(crate) mod park;
pub(crate) mod pool;
mod run;
pub(crate) mod scheduler;
mod scope;
pub(crate) mod task;
mod tasks;
#[cfg(test)]
mod tests;
mod watchdog;

pub(crate) use api::run_with_main_stack;
pub use api::{CoroutineInfo, current, run, spawn, try_run, yield_now};
pub use builder::Builder;
pub use join::JoinHandle;
pub use join_set::JoinSet;
pub use multi::{Runtime, RuntimeBuilder};
pub use run::MAIN_STACK_SIZE;
pub use scope::{Scope, ScopedJoinHandle, scope};
