//! How a hooked call waits: on the event loop inside a task, and in a real `poll` outside one
//! (only for sockets the hooks made non-blocking behind the user's back); the direction it
//! waits in ([`Dir`]); and what it reports for an interrupt (a cancel, an expired deadline
//! scope) in errno terms, since a hook returns errors and never unwinds.

use std::io;
use std::time::{Duration, Instant};

use libc::c_int;

use crate::runtime::fd_wait::{self, Interest};
use crate::runtime::park;

use super::fd::{self, FdState, Timeout};
use super::{errno, real, set_errno};

/// The fd's state if a blocking call on it must be emulated inside a task: it is a socket
/// this process made through the hooks, the user did not ask for `O_NONBLOCK`, and the hooks
/// could make it non-blocking. None: call libc as is (it blocks the thread).
#[inline]
pub(super) fn prepare(fd: c_int) -> Option<&'static FdState> {
    let st = fd::get(fd)?;
    let flags = st.flags();
    if flags & FdState::SOCKET == 0 || flags & FdState::USER_NONBLOCK != 0 {
        return None;
    }
    st.make_nonblocking(fd).then_some(st)
}

/// The deadline of the user's timeout of `kind`, from now.
fn deadline(st: &FdState, kind: Timeout) -> Option<Instant> {
    st.timeout(kind).and_then(|d| Instant::now().checked_add(d))
}

/// What a wait on the loop came to.
enum Waited {
    /// Ready (or an error is pending): retry the call.
    Retry,
    /// Return -1 with this errno.
    Fail(c_int),
}

/// Waits on the loop for `dir`. `clear`: the call returned EAGAIN, so the cached readiness
/// is forgotten first.
fn wait_loop(
    fd: c_int,
    st: &FdState,
    generation: u32,
    dir: Dir,
    deadline: Option<Instant>,
    clear: bool,
    call: &'static str,
) -> Waited {
    if st.first_wait_here() {
        fd_wait::close_fd(fd);
    } else if clear {
        fd_wait::clear_ready(fd, dir.interest());
    }
    match fd_wait::wait_fd(fd, dir.interest(), deadline, call) {
        Ok(true) if st.generation() != generation => Waited::Fail(libc::EBADF),
        Ok(true) => Waited::Retry,
        Ok(false) => Waited::Fail(libc::EAGAIN),
        Err(e) if e.raw_os_error() == Some(libc::EBADF) || is_interrupt(&e) => {
            Waited::Fail(e.raw_os_error().unwrap_or(libc::EBADF))
        }
        // The loop cannot watch this fd: block in a real poll instead.
        Err(_) => match poll_one(fd, dir, deadline) {
            Ok(true) => Waited::Retry,
            Ok(false) => Waited::Fail(libc::EAGAIN),
            Err(e) => Waited::Fail(e),
        },
    }
}

/// Inside a task: runs the non-blocking attempt `op` of the hooked `call` until it does not fail with EAGAIN,
/// waiting on the loop in between, within the user's timeout of `kind`. A pending interrupt
/// (a cancel, an expired deadline scope) fails the call before it starts, and ends a wait.
///
/// `want` is what a read asks for (0 for calls that are not plain reads): on a stream socket,
/// a read that returns less has drained the socket, so the readiness cache is cleared and the
/// next read waits for epoll's word instead of spending a syscall on `EAGAIN`.
pub(super) fn in_task(
    call: &'static str,
    fd: c_int,
    dir: Dir,
    kind: Timeout,
    want: usize,
    mut op: impl FnMut() -> isize,
) -> isize {
    let Some(st) = prepare(fd) else {
        return op();
    };
    if let Some(e) = interrupted() {
        set_errno(e);
        return -1;
    }
    let generation = st.generation();
    let deadline = deadline(st, kind);
    let stream_read = want > 0 && st.flags() & FdState::STREAM != 0;
    if stream_read && !fd_wait::is_ready(fd, dir.interest()) {
        match wait_loop(fd, st, generation, dir, deadline, false, call) {
            Waited::Retry => {}
            Waited::Fail(e) => {
                set_errno(e);
                return -1;
            }
        }
    }
    loop {
        let r = op();
        if r != -1 {
            if stream_read && r > 0 && (r as usize) < want {
                fd_wait::clear_ready(fd, dir.interest());
            }
            return r;
        }
        let e = errno();
        if e != libc::EAGAIN {
            set_errno(e);
            return -1;
        }
        match wait_loop(fd, st, generation, dir, deadline, true, call) {
            Waited::Retry => {}
            Waited::Fail(e) => {
                set_errno(e);
                return -1;
            }
        }
    }
}

/// Inside a task: writes all `total` bytes as a blocking socket would. `op(done)` writes
/// from offset `done` and returns what the syscall returned. A timeout or an error after
/// some bytes went out returns the count written so far, as libc does.
pub(super) fn write_all_in_task(
    call: &'static str,
    fd: c_int,
    total: usize,
    mut op: impl FnMut(usize) -> isize,
) -> isize {
    let Some(st) = prepare(fd) else {
        return op(0);
    };
    if let Some(e) = interrupted() {
        set_errno(e);
        return -1;
    }
    let generation = st.generation();
    let deadline = deadline(st, Timeout::Send);
    let mut done = 0usize;
    loop {
        let r = op(done);
        if r >= 0 {
            done += r as usize;
            if done >= total || r == 0 {
                return done as isize;
            }
            continue;
        }
        let e = errno();
        let fail = if e == libc::EAGAIN {
            match wait_loop(fd, st, generation, Dir::Write, deadline, true, call) {
                Waited::Retry => continue,
                Waited::Fail(e) => e,
            }
        } else {
            e
        };
        if done > 0 {
            return done as isize;
        }
        set_errno(fail);
        return -1;
    }
}

/// Outside a task, after a call returned `r` (-1 or a short write): if the fd is one the
/// hooks made non-blocking while the user sees it blocking, finish the call as a blocking
/// one would, waiting in a real `poll`. Otherwise returns `r` with errno untouched.
#[cold]
#[inline(never)]
pub(super) fn outside_retry(
    fd: c_int,
    dir: Dir,
    kind: Timeout,
    r: isize,
    mut op: impl FnMut() -> isize,
) -> isize {
    let e = errno();
    if r != -1 || e != libc::EAGAIN {
        return r;
    }
    let Some(st) = fd::get(fd).filter(|st| st.emulates_blocking()) else {
        return r;
    };
    let deadline = deadline(st, kind);
    loop {
        match poll_one(fd, dir, deadline) {
            Ok(true) => {}
            Ok(false) => {
                set_errno(libc::EAGAIN);
                return -1;
            }
            Err(e) => {
                set_errno(e);
                return -1;
            }
        }
        let r = op();
        if r != -1 || errno() != libc::EAGAIN {
            return r;
        }
    }
}

/// Outside a task: as [`outside_retry`], for writes that must go out whole.
#[cold]
#[inline(never)]
pub(super) fn outside_write_all(
    fd: c_int,
    total: usize,
    r: isize,
    mut op: impl FnMut(usize) -> isize,
) -> isize {
    let e = errno();
    let Some(st) = fd::get(fd).filter(|st| st.emulates_blocking()) else {
        set_errno(e);
        return r;
    };
    if r == -1 && e != libc::EAGAIN {
        set_errno(e);
        return r;
    }
    let deadline = deadline(st, Timeout::Send);
    let mut done = r.max(0) as usize;
    loop {
        if done >= total {
            return done as isize;
        }
        let fail = match poll_one(fd, Dir::Write, deadline) {
            Ok(true) => {
                let r = op(done);
                if r > 0 {
                    done += r as usize;
                    continue;
                }
                if r == 0 {
                    return done as isize;
                }
                let e = errno();
                if e == libc::EAGAIN {
                    continue;
                }
                e
            }
            Ok(false) => libc::EAGAIN,
            Err(e) => e,
        };
        if done > 0 {
            return done as isize;
        }
        set_errno(fail);
        return -1;
    }
}

/// Blocks the thread in libc's `poll` until `fd` is ready for `dir` (Ok(true)), the deadline
/// passes (Ok(false)) or poll fails (Err(errno), EINTR included, as a blocking call would).
pub(super) fn poll_one(fd: c_int, dir: Dir, deadline: Option<Instant>) -> Result<bool, c_int> {
    let events = match dir {
        Dir::Read => libc::POLLIN,
        Dir::Write => libc::POLLOUT,
        Dir::Both => libc::POLLIN | libc::POLLOUT,
    };
    let mut pfd = libc::pollfd {
        fd,
        events,
        revents: 0,
    };
    let ms = match deadline {
        None => -1,
        Some(d) => {
            let left = d.saturating_duration_since(Instant::now());
            // Round up so that a wait never ends before the deadline.
            c_int::try_from(left.as_micros().div_ceil(1000)).unwrap_or(c_int::MAX)
        }
    };
    // SAFETY: one valid pollfd; poll here is libc's.
    match unsafe { real::poll(&mut pfd, 1, ms) } {
        -1 => Err(errno()),
        0 => Ok(false),
        _ => Ok(true),
    }
}

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
    pub(crate) fn interest(self) -> Interest {
        match self {
            Dir::Read => Interest::READABLE,
            Dir::Write => Interest::WRITABLE,
            Dir::Both => Interest::READABLE | Interest::WRITABLE,
        }
    }
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

/// Whether an error from a wait on the loop is an interrupt (the hook fails with it).
pub(crate) fn is_interrupt(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ECANCELED | libc::ETIMEDOUT))
}

/// Runs `f` on the blocking pool and waits for it (parking the task); an interrupt ends the
/// wait with its errno (the job runs on to its end on the pool). A panic in `f` is an `EIO`:
/// nothing may unwind out of a hook.
pub(crate) fn run_blocking<T: Send + 'static>(
    call: &'static str,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, c_int> {
    match crate::blocking::run_interruptible(call, f) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(_panic)) => Err(libc::EIO),
        Err(i) => Err(i.errno()),
    }
}

/// After an `accept` that failed with `errno`: if it was for want of fds or memory, lets the
/// other coroutines run once (they may close fds) before the hook returns. Keeps errno.
pub(crate) fn after_accept_failure(errno: c_int) {
    if fd_wait::is_resource_shortage(errno) {
        park::yield_quietly();
    }
}
