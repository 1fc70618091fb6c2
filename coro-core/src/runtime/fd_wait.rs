//! Waiting for file descriptors: the readiness cache and registrations of this thread's
//! driver, as `net/`, `poll`, `select!` and the hooks use them. A task parks until its fd is
//! ready (see `runtime/park.rs`); the driver's epoll unparks it.

use std::io;
use std::os::fd::RawFd;
use std::ptr;
use std::rc::Rc;
use std::time::Instant;

use crate::error::Error;

use super::census::Wait;
use super::driver::Driver;
pub(crate) use super::driver::registration::Interest;
use super::driver::registration::Prepared;
use super::park::{Parked, current_task};
use super::scheduler::{SCHED, Scheduler};
use super::task::Task;

fn not_in_task() -> io::Error {
    io::Error::other(Error::NotInCoroutine)
}

/// The error of a wait that found the event loop busy: a signal handler interrupted the
/// runtime's own code and made a hooked call, which then waits as libc would.
#[cold]
fn busy() -> io::Error {
    io::Error::from_raw_os_error(libc::EBUSY)
}

/// Suspends the running task until `fd` is ready for `interest` (edge-triggered epoll, each fd
/// registered once, readiness cached). `Ok(true)`: ready, or an error or hang-up is pending
/// (retry the syscall, it tells); `Ok(false)`: the deadline passed; `Err`: not in a task, the
/// fd cannot be watched (`EBADF`, also when the fd is closed while waiting), or an interrupt
/// (`ECANCELED` for a cancel, `ETIMEDOUT` for a deadline scope). Never unwinds.
///
/// This function's frame, and the frames of its callers, are what a task parked in a read
/// keeps on its stack (and a shared-stack task in its save buffer) for as long as it waits. So
/// the common wait (no deadline, no cancel scope armed) is this one small frame around the
/// switch: everything before the park is done in [`arm`] and everything after it in
/// [`disarm`], which have returned by the time the task parks; only the fd, the interest, the
/// registration's generation and the task stay live across the switch. Waits with a deadline or
/// an armed cancel scope take [`wait_fd_slow`].
#[inline]
pub(crate) fn wait_fd(
    fd: RawFd,
    interest: Interest,
    deadline: Option<Instant>,
    call: &'static str,
) -> io::Result<bool> {
    if deadline.is_some() {
        return wait_fd_slow(fd, interest, deadline, call);
    }
    match wait_fd_short(fd, interest, call) {
        DISARM_READY => Ok(true),
        code => short_failed(code, fd, interest, call),
    }
}

/// What [`wait_fd`] returns when [`wait_fd_short`] did not end ready: the error, or the wait
/// made by [`wait_fd_slow`]. Out of line, so that the callers of `wait_fd`, into which it is
/// inlined, keep no room in their frames for the slow path's arguments.
#[inline(never)]
fn short_failed(code: i32, fd: RawFd, interest: Interest, call: &'static str) -> io::Result<bool> {
    match code {
        SHORT_SLOW => wait_fd_slow(fd, interest, None, call),
        errno => Err(io::Error::from_raw_os_error(errno)),
    }
}

/// [`wait_fd_short`]: this wait is not one for the short path (see [`ARM_SLOW`]).
const SHORT_SLOW: i32 = i32::MIN;

/// [`wait_fd`] without a deadline: [`DISARM_READY`], an errno, or [`SHORT_SLOW`] (then nothing
/// was done, and [`wait_fd_slow`] makes the wait). Across the park it keeps four values: the
/// task, the fd, the interest and the registration's generation; [`arm`] and [`disarm`] hand
/// their answers back in registers, and so does this function, so that no result takes room
/// in its frame.
#[inline(never)]
fn wait_fd_short(fd: RawFd, interest: Interest, call: &'static str) -> i32 {
    let (t, generation) = arm(fd, interest, call);
    if t.is_null() {
        return if generation == ARM_READY {
            DISARM_READY
        } else {
            SHORT_SLOW
        };
    }
    // SAFETY: `arm` returned the running task, which its scheduler's slab holds until it
    // finishes, and it cannot finish while this function runs on its stack.
    let t = unsafe { &*t };
    loop {
        super::park::park_here(t);
        match disarm(fd, interest, t, generation) {
            DISARM_AGAIN => {}
            code => return code,
        }
    }
}

/// [`arm`]'s second word when it did not queue the task: the fd is ready.
const ARM_READY: u32 = 0;
/// [`arm`]'s second word when it did not queue the task: the wait is not one for the short
/// path (a cancel scope is armed, a wake-up is pending, or an error is to be reported), which
/// [`wait_fd_slow`] then makes, or reports, from the start.
const ARM_SLOW: u32 = 1;

/// The part of [`wait_fd`] before the park: registers `fd`, and queues the running task on
/// its waiters unless it is ready. Returns the task and the registration's generation when it
/// queued it; else a null task and [`ARM_READY`] or [`ARM_SLOW`].
#[inline(never)]
fn arm(fd: RawFd, interest: Interest, call: &'static str) -> (*const Task, u32) {
    let Some(t) = current_task() else {
        return (ptr::null(), ARM_SLOW);
    };
    if t.cancel.armed() || t.notified.get() {
        return (ptr::null(), ARM_SLOW);
    }
    t.wait.set(Wait::Fd {
        fd,
        write: interest == Interest::WRITABLE,
        call,
    });
    SCHED.with(|s| {
        let Ok(mut d) = s.driver.try_borrow_mut() else {
            return (ptr::null(), ARM_SLOW);
        };
        let d = &mut *d;
        let generation = match d.fds.prepare(&d.poller, fd) {
            Ok(Prepared::Registered(g)) => g,
            Ok(Prepared::AlwaysReady) => return (ptr::null(), ARM_READY),
            Err(_) => return (ptr::null(), ARM_SLOW),
        };
        if d.fds.is_ready(fd, interest) {
            return (ptr::null(), ARM_READY);
        }
        let at = Rc::as_ptr(&t);
        d.fds.add_waiter(fd, interest, t);
        (at, generation)
    })
}

/// [`disarm`]: woken spuriously, and queued on the fd's waiters again.
const DISARM_AGAIN: i32 = 0;
/// [`disarm`]: the fd is ready (or an error or hang-up is pending).
const DISARM_READY: i32 = -1;

/// The part of [`wait_fd`] after the park: takes the task off the fd's waiters and says how the
/// wait ended: [`DISARM_READY`], an errno (`ECANCELED` for a cancel, `EBADF` for an fd closed
/// while it waited), or [`DISARM_AGAIN`] after a spurious wake-up, when it has queued the task
/// again.
#[inline(never)]
fn disarm(fd: RawFd, interest: Interest, t: &Task, generation: u32) -> i32 {
    SCHED.with(|s| {
        let mut d = s.driver.borrow_mut();
        let queued = d.fds.remove_waiter(fd, t);
        if t.cancel.is_cancelled() {
            return libc::ECANCELED;
        }
        if d.fds.generation(fd) != Some(generation) {
            return libc::EBADF;
        }
        if d.fds.is_ready(fd, interest) {
            return DISARM_READY;
        }
        // Still waiting: queued again, with the reference the waiter list held, or a new one.
        match queued.or_else(|| s.with_current(Rc::clone)) {
            Some(rc) => d.fds.add_waiter(fd, interest, rc),
            None => return libc::EBADF,
        }
        DISARM_AGAIN
    })
}

/// [`wait_fd`] with a deadline or an armed cancel scope, whose timer and interrupts
/// `Scheduler::park_wait` handles.
#[inline(never)]
fn wait_fd_slow(
    fd: RawFd,
    interest: Interest,
    deadline: Option<Instant>,
    call: &'static str,
) -> io::Result<bool> {
    let Some(t) = current_task() else {
        return Err(not_in_task());
    };
    t.wait.set(Wait::Fd {
        fd,
        write: interest == Interest::WRITABLE,
        call,
    });
    SCHED.with(|s| {
        let generation = {
            let mut d = s.driver.try_borrow_mut().map_err(|_| busy())?;
            let d = &mut *d;
            match d.fds.prepare(&d.poller, fd)? {
                Prepared::AlwaysReady => return Ok(true),
                Prepared::Registered(g) => g,
            }
        };
        loop {
            {
                let mut d = s.driver.borrow_mut();
                if d.fds.generation(fd) != Some(generation) {
                    return Err(io::Error::from_raw_os_error(libc::EBADF));
                }
                if d.fds.is_ready(fd, interest) {
                    return Ok(true);
                }
                d.fds.add_waiter(fd, interest, t.clone());
            }
            let parked = s.park_wait(&t, deadline, true);
            let mut d = s.driver.borrow_mut();
            d.fds.remove_waiter(fd, &t);
            match parked {
                Parked::Interrupted(i) => return Err(i.io_error()),
                Parked::TimedOut
                    if d.fds.generation(fd) == Some(generation)
                        && !d.fds.is_ready(fd, interest) =>
                {
                    return Ok(false);
                }
                _ => {}
            }
        }
    })
}

/// Waits (outside the runtime's own bookkeeping) until any of `fds` is ready for its interest
/// or the deadline passes; returns false on timeout, an `ECANCELED`/`ETIMEDOUT` error on an
/// interrupt. The cached readiness of these fds is cleared first: the caller has just seen
/// (with a real `poll`) that none is ready. Used by `poll`, whose fds may be any (not only the
/// sockets the hooks made), so each registration is checked before the wait: one closed
/// behind the table's back and reused would otherwise never be reported.
pub(crate) fn wait_any(
    fds: &[(RawFd, Interest)],
    deadline: Option<Instant>,
    call: &'static str,
) -> io::Result<bool> {
    let Some(t) = current_task() else {
        return Err(not_in_task());
    };
    t.wait.set(match fds {
        [(fd, interest)] => Wait::Fd {
            fd: *fd,
            write: *interest == Interest::WRITABLE,
            call,
        },
        _ => Wait::Fds {
            count: u32::try_from(fds.len()).unwrap_or(u32::MAX),
            call,
        },
    });
    SCHED.with(|s| {
        {
            let mut d = s.driver.try_borrow_mut().map_err(|_| busy())?;
            let d = &mut *d;
            for &(fd, interest) in fds {
                if let Prepared::AlwaysReady = d.fds.revalidate(&d.poller, fd)? {
                    return Ok(true);
                }
                d.fds.clear(&d.poller, fd, interest);
                d.fds.add_waiter(fd, interest, t.clone());
            }
        }
        let parked = s.park_wait(&t, deadline, true);
        let mut d = s.driver.borrow_mut();
        for &(fd, _) in fds {
            d.fds.remove_waiter(fd, &t);
        }
        match parked {
            Parked::Interrupted(i) => Err(i.io_error()),
            Parked::TimedOut => Ok(false),
            Parked::Woken => Ok(true),
        }
    })
}

/// For a `select!` fd arm: queues the running task on `fd`'s waiters for `interest`, after
/// the caller saw with a real `poll` that it is not ready, so the cached readiness is cleared
/// and the registration checked first, as in [`wait_any`]. `Ok(false)`: epoll cannot watch
/// the fd (a regular file), which is always ready. Undone by [`unwatch`], or by the wake-up.
pub(crate) fn watch(fd: RawFd, interest: Interest) -> io::Result<bool> {
    let Some(t) = current_task() else {
        return Err(not_in_task());
    };
    SCHED.with(|s| {
        let mut d = s.driver.try_borrow_mut().map_err(|_| busy())?;
        let d = &mut *d;
        if let Prepared::AlwaysReady = d.fds.revalidate(&d.poller, fd)? {
            return Ok(false);
        }
        d.fds.clear(&d.poller, fd, interest);
        d.fds.add_waiter(fd, interest, t);
        Ok(true)
    })
}

/// Takes the running task off `fd`'s waiters once (a [`watch`] that was not woken).
pub(crate) fn unwatch(fd: RawFd) {
    if let Some(t) = current_task() {
        with_driver(|_, d| d.fds.remove_waiter(fd, &t));
    }
}

/// Runs `f` on this thread's driver, if there is a runtime and its driver is free: it is
/// busy only when a signal handler interrupted the runtime's own code, and the caller then
/// acts as if there were no runtime (a hook calls libc as is).
#[inline]
fn with_driver<R>(f: impl FnOnce(&Scheduler, &mut Driver) -> R) -> Option<R> {
    if !SCHED.is_set() {
        return None;
    }
    SCHED.with(|s| {
        if s.inherited() {
            s.after_fork();
        }
        let mut d = s.driver.try_borrow_mut().ok()?;
        Some(f(s, &mut d))
    })
}

/// Whether an I/O call on `fd` should be tried now: the cache says ready, the fd is not known
/// yet, or there is no runtime (the call then blocks or says `EAGAIN`).
#[inline]
pub(crate) fn is_ready(fd: RawFd, interest: Interest) -> bool {
    with_driver(|_, d| d.fds.is_ready(fd, interest)).unwrap_or(true)
}

/// Forgets cached readiness of `fd` for `interest`: the caller's syscall returned `EAGAIN` (or
/// a short read or write drained a stream).
pub(crate) fn clear_ready(fd: RawFd, interest: Interest) {
    with_driver(|_, d| d.fds.clear(&d.poller, fd, interest));
}

/// Registers a freshly connected or accepted socket as writable, so its first write need not
/// wait for epoll to say so.
pub(crate) fn register_writable(fd: RawFd) {
    with_driver(|_, d| d.fds.set_writable(&d.poller, fd));
}

/// Deregisters `fd` (it is about to be closed) and wakes every task waiting on it; their
/// retried syscall (or `wait_fd`) then sees `EBADF`.
pub(crate) fn close_fd(fd: RawFd) {
    with_driver(|s, d| d.fds.close(&d.poller, fd, |t| s.unpark(&t)));
}

/// Drops stale cached state of `fd` (a new fd just got this number). Costs a table lookup,
/// plus an `epoll_ctl` only if a previous fd with this number was never deregistered.
#[inline]
pub(crate) fn forget_fd(fd: RawFd) {
    with_driver(|s, d| {
        if d.fds.is_known(fd) {
            d.fds.close(&d.poller, fd, |t| s.unpark(&t));
        }
    });
}

/// Whether an `accept` failed for want of a resource that other coroutines may give back (file
/// descriptors, kernel memory): the caller yields before it returns the error, so that a loop
/// that retries at once lets the coroutines that would close fds run (instead of spinning).
pub(crate) fn is_resource_shortage(errno: i32) -> bool {
    matches!(
        errno,
        libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM
    )
}
