//! The runtime calls the hooks make, in one place (`crate::runtime::park`): whether the
//! caller is a scheduler task, waiting for fd readiness, sleeping, and running blocking work
//! on the pool.

use std::io;
use std::os::fd::RawFd;
use std::time::{Duration, Instant};

use libc::c_int;

use crate::runtime::fd_wait::{self, Interest};
use crate::runtime::park;

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

impl Dir {
    fn interest(self) -> Interest {
        match self {
            Dir::Read => Interest::READABLE,
            Dir::Write => Interest::WRITABLE,
            Dir::Both => Interest::READABLE | Interest::WRITABLE,
        }
    }
}

/// True when the caller runs inside a scheduler task of this thread's runtime.
#[inline(always)]
pub(crate) fn in_task() -> bool {
    park::hooks_may_wait()
}

/// Waits until `fd` is ready for `dir` (Ok(true)) or `deadline` passes (Ok(false)). Err when
/// the loop cannot watch the fd (EBADF once it is closed).
pub(crate) fn wait_fd(fd: RawFd, dir: Dir, deadline: Option<Instant>) -> io::Result<bool> {
    fd_wait::wait_fd(fd, dir.interest(), deadline)
}

/// Waits until any of `fds` is ready or `deadline` passes (Ok(false)).
pub(crate) fn wait_any(fds: &[(RawFd, Dir)], deadline: Option<Instant>) -> io::Result<bool> {
    let fds: Vec<(RawFd, Interest)> = fds.iter().map(|&(fd, d)| (fd, d.interest())).collect();
    fd_wait::wait_any(&fds, deadline)
}

/// Whether the readiness cache says `fd` may be ready for `dir` (true when unknown).
#[inline]
pub(crate) fn is_ready(fd: RawFd, dir: Dir) -> bool {
    fd_wait::is_ready(fd, dir.interest())
}

/// The caller's syscall saw EAGAIN: forget the cached readiness.
pub(crate) fn clear_ready(fd: RawFd, dir: Dir) {
    fd_wait::clear_ready(fd, dir.interest())
}

/// Deregisters `fd` and wakes every waiter on it.
pub(crate) fn close_fd(fd: RawFd) {
    fd_wait::close_fd(fd)
}

/// Sleeps the current task; an interrupt ends the sleep early with its errno.
pub(crate) fn sleep(d: Duration) -> Result<(), c_int> {
    park::sleep_interruptible(d).map_err(|i| i.errno())
}

/// The errno of the interrupt pending for the current task (a cancel: `ECANCELED`, an expired
/// deadline scope: `ETIMEDOUT`), if any. A hooked call that would wait fails with it at once.
#[inline]
pub(crate) fn interrupted() -> Option<c_int> {
    park::pending_interrupt().map(|i| i.errno())
}

/// Whether an error from [`wait_fd`] or [`wait_any`] is an interrupt (the hook fails with it).
pub(crate) fn is_interrupt(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ECANCELED | libc::ETIMEDOUT))
}

/// Runs `f` on the blocking pool and waits for it (parking the task); an interrupt ends the
/// wait with its errno (the job runs on to its end on the pool). A panic in `f` is re-raised.
pub(crate) fn run_blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, c_int> {
    match crate::blocking::run_interruptible(f) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(p)) => std::panic::resume_unwind(p),
        Err(i) => Err(i.errno()),
    }
}

/// The id of the coroutine running on this thread, if any.
#[inline]
pub(crate) fn current_id() -> Option<u64> {
    crate::coroutine::current_id()
}

/// After an `accept` that failed with `errno`: if it was for want of fds or memory, lets the
/// other coroutines run once (they may close fds) before the hook returns. Keeps errno.
pub(crate) fn after_accept_failure(errno: c_int) {
    if fd_wait::is_resource_shortage(errno) {
        park::yield_quietly();
    }
}
