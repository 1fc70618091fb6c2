//! The runtime calls the hooks make, in one place: whether the caller is a scheduler task,
//! waiting for fd readiness, sleeping, and running blocking work on the pool.

use std::io;
use std::os::fd::RawFd;
use std::time::{Duration, Instant};

/// The direction a hook waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dir {
    /// Readable (or a pending connection, or hang-up).
    Read,
    /// Writable (or a finished connect).
    Write,
    /// Either.
    Both,
}

/// True when the caller runs inside a scheduler task of this thread's runtime.
#[inline(always)]
pub(crate) fn in_task() -> bool {
    false
}

/// Waits until `fd` is ready for `dir` or `deadline` passes (Ok(false)).
pub(crate) fn wait_fd(_fd: RawFd, _dir: Dir, _deadline: Option<Instant>) -> io::Result<bool> {
    Err(io::Error::from_raw_os_error(libc::ENOSYS))
}

/// The caller's syscall saw EAGAIN: forget the cached readiness.
pub(crate) fn clear_ready(_fd: RawFd, _dir: Dir) {}

/// Deregisters `fd` and wakes every waiter on it.
pub(crate) fn close_fd(_fd: RawFd) {}

/// Sleeps the current task.
pub(crate) fn sleep(d: Duration) {
    std::thread::sleep(d)
}

/// Runs `f` on the blocking pool and waits for it (parking the task).
pub(crate) fn run_blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    f()
}

/// The id of the coroutine running on this thread, if any.
#[inline]
pub(crate) fn current_id() -> Option<u64> {
    crate::coroutine::current_id()
}
