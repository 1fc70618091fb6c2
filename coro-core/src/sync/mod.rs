//! Synchronization for coroutines: [`Cond`], [`Semaphore`], [`Mutex`] and [`WaitGroup`].
//!
//! Each one parks the calling coroutine (not its thread) while it waits, and lets the other
//! coroutines of the thread run meanwhile. They are thread-local (`!Send`, `!Sync`), like the
//! coroutines that use them: share them between the coroutines of a thread with `Rc`. To talk
//! across threads use [`crate::channel::sync`].
//!
//! All of them are FIFO fair: waiters are woken in the order they started waiting, and a
//! released lock or permit is handed straight to the first waiter, so no newcomer overtakes it.
//! Wait nodes live on the heap, so coroutines on shared (copy) stacks may wait on anything here.
//!
//! An untimed wait called outside a coro task (outside `coro::run`) panics with a message
//! instead of blocking the thread forever: nothing else on the thread could wake it. The timed
//! variants sleep the thread until their deadline there.
//!
//! They cannot be sent to another thread:
//!
//! ```compile_fail,E0277
//! fn assert_send<T: Send>(_: T) {}
//! assert_send(coro::sync::Mutex::new(0));
//! ```
//!
//! ```compile_fail,E0277
//! fn assert_sync<T: Sync>(_: &T) {}
//! assert_sync(&coro::sync::Semaphore::new(1));
//! ```

mod cond;
mod mutex;
mod semaphore;
mod wait_group;
pub(crate) mod wait_queue;
pub(crate) mod waiters;

pub(crate) use crate::runtime::park;

pub use cond::Cond;
pub use mutex::{Mutex, MutexGuard};
pub use semaphore::{Semaphore, SemaphorePermit};
pub use wait_group::WaitGroup;
