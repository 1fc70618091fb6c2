//! The runtime's internal contract for `sync/`, `net/` and `hooks/`: park and unpark the
//! running party (a task of this thread's scheduler, or a plain thread), and wait for fds.
//!
//! Every function works both inside a task and on a plain thread, so a primitive built on it
//! works in both. `park` may return spuriously: callers re-check their condition in a loop.

use std::io;
use std::os::fd::RawFd;
use std::rc::Rc;
use std::sync::Arc;
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

use crate::error::Error;

pub(crate) use super::cancel::Interrupt;
pub(crate) use super::registration::Interest;
use super::registration::Prepared;
use super::remote::Remote;
pub(crate) use super::scheduler::Parked;
use super::scheduler::{Driver, SCHED, Scheduler};
use super::task::{State, Task};

/// The running task of this thread's scheduler, if the innermost coroutine is one.
#[inline]
fn current_task() -> Option<Rc<Task>> {
    if !SCHED.is_set() {
        return None;
    }
    SCHED.with(|s| {
        if s.inherited() {
            s.after_fork();
        }
        s.current_task()
    })
}

/// True when running inside a scheduler task of this thread's runtime (and not inside a
/// coroutine that such a task resumed by hand).
#[inline]
pub(crate) fn in_task() -> bool {
    SCHED.is_set()
        && SCHED.with(|s| {
            if s.inherited() {
                s.after_fork();
            }
            s.in_task()
        })
}

/// As [`in_task`], for the hooks: false in a fork child whose runtime is still the parent's
/// copy, which the hooks leave alone (they then call libc as is; see `Scheduler::inherited`),
/// and false while the loop's driver is busy, which only a signal handler that interrupted the
/// runtime's own code can see: its hooked calls act as libc's.
#[inline]
pub(crate) fn hooks_may_wait() -> bool {
    SCHED.is_set()
        && SCHED.with(|s| !s.inherited() && s.driver.try_borrow_mut().is_ok() && s.in_task())
}

/// Makes a parked party of this thread runnable again.
#[derive(Clone, Debug)]
pub(crate) enum Unparker {
    /// A task of this thread's scheduler.
    Task(Rc<Task>),
    /// A plain thread (outside any task).
    Thread(Thread),
}

impl Unparker {
    /// Wakes the party: idempotent, and harmless if it has finished.
    pub(crate) fn unpark(&self) {
        match self {
            Unparker::Task(t) => {
                if t.state.get() != State::Done && SCHED.is_set() {
                    SCHED.with(|s| s.unpark(t));
                }
            }
            Unparker::Thread(th) => th.unpark(),
        }
    }

    /// Whether both wake the same party.
    #[allow(dead_code)] // for sync/ wait queues
    pub(crate) fn same(&self, other: &Unparker) -> bool {
        match (self, other) {
            (Unparker::Task(a), Unparker::Task(b)) => Rc::ptr_eq(a, b),
            (Unparker::Thread(a), Unparker::Thread(b)) => a.id() == b.id(),
            _ => false,
        }
    }
}

/// The unparker of the running party: the task, or `std::thread::current()` outside one.
pub(crate) fn current_unparker() -> Unparker {
    match current_task() {
        Some(t) => Unparker::Task(t),
        None => Unparker::Thread(thread::current()),
    }
}

/// Parks the running party until it is unparked. May return spuriously. Inside a task this is
/// one of coro's own waits: a cancel or an expired deadline scope unwinds from here (see
/// `runtime/cancel.rs`).
pub(crate) fn park() {
    park_deadline(None);
}

/// As [`park`], until `deadline` at the latest: false if the deadline passed first.
pub(crate) fn park_deadline(deadline: Option<Instant>) -> bool {
    match current_task() {
        Some(t) => SCHED.with(|s| s.park_raising(&t, deadline)),
        None => park_thread(deadline),
    }
}

/// As [`park_deadline`], but an interrupt ends the wait with `Parked::Interrupted` instead of
/// unwinding: for waits that report it as an error (hooks, `coro::net`, `coro::poll`).
pub(crate) fn park_wait(deadline: Option<Instant>) -> Parked {
    match current_task() {
        Some(t) => SCHED.with(|s| s.park_wait(&t, deadline, true)),
        None if park_thread(deadline) => Parked::Woken,
        None => Parked::TimedOut,
    }
}

/// Parks a plain thread: false if the deadline passed.
fn park_thread(deadline: Option<Instant>) -> bool {
    match deadline {
        None => {
            thread::park();
            true
        }
        Some(deadline) => {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            thread::park_timeout(deadline - now);
            Instant::now() < deadline
        }
    }
}

/// The interrupt pending for the running task, if any (a cancel, or an expired deadline
/// scope): a call that reports interrupts as errors checks it before it starts, so that every
/// call after the first interrupted one fails the same way. One thread-local load when the
/// running task has neither.
#[inline]
pub(crate) fn pending_interrupt() -> Option<Interrupt> {
    if super::cancel::running_armed() {
        pending_interrupt_slow()
    } else {
        None
    }
}

#[cold]
#[inline(never)]
fn pending_interrupt_slow() -> Option<Interrupt> {
    if !SCHED.is_set() {
        return None;
    }
    SCHED.with(|s| s.with_current(|t| t.cancel.pending(Instant::now)).flatten())
}

/// As [`pending_interrupt`], as the `io::Error` a call returns (`ECANCELED` or `ETIMEDOUT`).
#[inline]
pub(crate) fn check_interrupt() -> io::Result<()> {
    match pending_interrupt() {
        None => Ok(()),
        Some(i) => Err(interrupted(i)),
    }
}

#[cold]
#[inline(never)]
fn interrupted(i: Interrupt) -> io::Error {
    i.io_error()
}

/// Unparks a task (through its scheduler's eventfd) or a plain thread, from any thread.
#[derive(Clone, Debug)]
pub(crate) struct RemoteUnparker(RemoteInner);

#[derive(Clone, Debug)]
enum RemoteInner {
    Task {
        remote: Arc<Remote>,
        key: (u32, u32),
    },
    Thread(Thread),
}

impl RemoteUnparker {
    /// Wakes the party from any thread; harmless if it has finished.
    pub(crate) fn unpark(&self) {
        match &self.0 {
            RemoteInner::Task { remote, key } => remote.push(*key),
            RemoteInner::Thread(th) => th.unpark(),
        }
    }
}

/// A [`RemoteUnparker`] for the running party.
pub(crate) fn current_remote_unparker() -> RemoteUnparker {
    match current_task() {
        Some(t) => RemoteUnparker(RemoteInner::Task {
            remote: SCHED.with(|s| s.remote()),
            key: t.key.get(),
        }),
        None => RemoteUnparker(RemoteInner::Thread(thread::current())),
    }
}

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
pub(crate) fn wait_fd(
    fd: RawFd,
    interest: Interest,
    deadline: Option<Instant>,
) -> io::Result<bool> {
    let Some(t) = current_task() else {
        return Err(not_in_task());
    };
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

/// Lets the other ready tasks run once, without raising a pending interrupt (for the hooks and
/// the error paths of `coro::net`); nothing outside a task.
pub(crate) fn yield_quietly() {
    if let Some(t) = current_task() {
        SCHED.with(|s| s.yield_now(&t));
    }
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

/// Waits (outside the runtime's own bookkeeping) until any of `fds` is ready for its interest
/// or the deadline passes; returns false on timeout, an `ECANCELED`/`ETIMEDOUT` error on an
/// interrupt. The cached readiness of these fds is cleared first: the caller has just seen
/// (with a real `poll`) that none is ready. Used by `poll`, whose fds may be any (not only the
/// sockets the hooks made), so each registration is checked before the wait: one closed
/// behind the table's back and reused would otherwise never be reported.
pub(crate) fn wait_any(fds: &[(RawFd, Interest)], deadline: Option<Instant>) -> io::Result<bool> {
    let Some(t) = current_task() else {
        return Err(not_in_task());
    };
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

/// Sleeps for `d`: inside a task, a timer and a park (other tasks run); outside,
/// `std::thread::sleep`. One of coro's own waits: an interrupt unwinds from here.
pub(crate) fn sleep(d: Duration) {
    sleep_until_opt(Instant::now().checked_add(d));
}

/// Sleeps until `deadline` (see [`sleep`]).
pub(crate) fn sleep_until(deadline: Instant) {
    sleep_until_opt(Some(deadline));
}

fn sleep_until_opt(deadline: Option<Instant>) {
    match current_task() {
        Some(t) => SCHED.with(|s| while s.park_raising(&t, deadline) {}),
        None => match deadline {
            Some(deadline) => {
                let now = Instant::now();
                if deadline > now {
                    thread::sleep(deadline - now);
                }
            }
            None => loop {
                thread::park();
            },
        },
    }
}

/// The sleep of the hooks: as [`sleep`] inside a task, but an interrupt ends it early with
/// `Err` instead of unwinding (the hook then returns as if the time had passed).
pub(crate) fn sleep_interruptible(d: Duration) -> Result<(), Interrupt> {
    let deadline = Instant::now().checked_add(d);
    loop {
        match park_wait(deadline) {
            Parked::TimedOut => return Ok(()),
            Parked::Woken => {}
            Parked::Interrupted(i) => return Err(i),
        }
    }
}
