//! Hooks for the calls that move data without a user buffer (`splice`, `tee`, `sendfile`,
//! `sendfile64`, `copy_file_range`) and for the batched socket calls (`sendmmsg`, `recvmmsg`).
//!
//! std's `io::copy` between a socket and a pipe or a file takes the kernel's short cut: it calls
//! `splice` and `sendfile64` from libc, and `copy_file_range` looked up by name. On a socket the
//! hooks made non-blocking behind the user's back, an unhooked call would say `EAGAIN` where the
//! user's blocking socket would have waited; these hooks wait instead, the way `read` and
//! `write` do in `io.rs`: on the event loop inside a coroutine, in libc's `poll` outside one.
//!
//! **Two fds, one of which may block.** Each zero-copy call has a source and a sink; the hooks
//! manage at most the socket among them (a pipe or a file is never theirs). An `EAGAIN` alone
//! does not say which end blocked, so a zero-timeout `poll` of both ends decides: the ends that
//! are not ready are the ones to wait for. A pipe end that blocks waits as libc's call would
//! (on the loop, inside a coroutine, for `splice`: there the hooks add `SPLICE_F_NONBLOCK`, so
//! that a full or empty pipe parks the coroutine and not the thread), unless the user made that
//! pipe non-blocking, in which case the `EAGAIN` is theirs and goes back to them.
//!
//! **Partial transfers, as on a blocking socket.** A call that reads from a socket returns as
//! soon as it moved something. A call that writes to a socket (`sendfile` from a file, `splice`
//! from a pipe) goes on until it moved everything, as the kernel does when the socket blocks,
//! but stops, with the count so far, when its source runs dry. An error or a timeout after some
//! progress returns the count so far; the next call sees the error, as with libc.
//!
//! **Batches.** `sendmmsg` sends every message, waiting in between, as on a blocking socket; on
//! a stream socket it sends one message at a time, so that a message cut short by a full buffer
//! is finished before the next one starts. `recvmmsg` waits until all `vlen` messages came (or,
//! with `MSG_WAITFORONE`, one), as on a blocking socket; its `timeout` is checked after each
//! batch, as the kernel does, and also ends a wait for further messages once one came.
//!
//! The user's own non-blocking wishes pass straight through: `O_NONBLOCK` on either end,
//! `SPLICE_F_NONBLOCK`, and `MSG_DONTWAIT`. `tee` only ever takes two pipes, which the hooks
//! never manage, so its hook adds nothing to libc's call: it is there to keep the family whole.

use std::time::{Duration, Instant};

use libc::{
    c_int, c_uint, iovec, loff_t, mmsghdr, msghdr, off_t, off64_t, size_t, ssize_t, timespec,
};

use super::fd::{self, FdState, Timeout};
use super::wait::{self, Dir};
use super::{active, errno, real, set_errno};
use crate::runtime::fd_wait;

/// The kernel's cap on the messages of one `sendmmsg`/`recvmmsg` (`UIO_MAXIOV`): a larger
/// `vlen` is cut to it, so a blocking call never moves more.
const MMSG_MAX: c_uint = 1024;

/// The pause before retrying a call that said `EAGAIN` while `poll` found both of its ends
/// ready (a socket that is writable for `poll` but short of memory for the call, say).
const AMBIGUOUS_RETRY: Duration = Duration::from_millis(1);

/// Where a hooked call waits: on the event loop (inside a task), or in libc's `poll`
/// (outside one, on a socket the hooks made non-blocking).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Task,
    Thread,
}

/// One end of a two-fd transfer.
#[derive(Clone, Copy, Debug)]
struct End {
    fd: c_int,
    /// Read for the source, Write for the sink.
    dir: Dir,
    /// The hook state of a socket whose blocking the hooks emulate; None for a pipe, a file, or
    /// a socket the user made non-blocking (libc's behaviour is then the right one).
    managed: Option<&'static FdState>,
}

impl End {
    /// The end as seen from a task: a socket of the hooks is made non-blocking for them here.
    fn in_task(fd: c_int, dir: Dir) -> End {
        End {
            fd,
            dir,
            managed: wait::prepare(fd),
        }
    }

    /// The end as seen outside a task: managed only if the hooks already made it non-blocking.
    fn outside(fd: c_int, dir: Dir) -> End {
        End {
            fd,
            dir,
            managed: fd::get(fd).filter(|st| st.emulates_blocking()),
        }
    }

    /// The user's timeout for this end, from now (a managed socket's `SO_RCVTIMEO` or
    /// `SO_SNDTIMEO`; none for anything else, as libc waits on a pipe without one).
    fn deadline(&self) -> Option<Instant> {
        let kind = match self.dir {
            Dir::Write => Timeout::Send,
            _ => Timeout::Recv,
        };
        let st = self.managed?;
        st.timeout(kind).and_then(|d| Instant::now().checked_add(d))
    }

    fn events(&self) -> i16 {
        match self.dir {
            Dir::Read => libc::POLLIN,
            Dir::Write => libc::POLLOUT,
            Dir::Both => libc::POLLIN | libc::POLLOUT,
        }
    }

    /// True when the user set `O_NONBLOCK` on this unmanaged end: its `EAGAIN` is theirs.
    fn user_nonblocking(&self) -> bool {
        if self.managed.is_some() {
            return false;
        }
        // SAFETY: F_GETFL takes no argument; fcntl here is libc's.
        let fl = unsafe { real::fcntl(self.fd, libc::F_GETFL, 0) };
        fl != -1 && fl & libc::O_NONBLOCK != 0
    }
}

/// The earlier of two optional deadlines.
fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The result of a call that failed with `e` after `done` bytes or messages: the count so far
/// if there is one (libc reports the error on the next call), else -1 with errno set.
fn fail(done: usize, e: c_int) -> isize {
    if done > 0 {
        return done as isize;
    }
    set_errno(e);
    -1
}

/// Which of `ends` are not ready, from one zero-timeout `poll` (Err: poll's errno). An end
/// with an error or a hang-up counts as ready: the retried call reports it.
fn not_ready(ends: &[End; 2]) -> Result<[bool; 2], c_int> {
    let mut pfds = ends.map(|e| libc::pollfd {
        fd: e.fd,
        events: e.events(),
        revents: 0,
    });
    // SAFETY: two valid pollfds; poll here is libc's.
    if unsafe { real::poll(pfds.as_mut_ptr(), 2, 0) } == -1 {
        return Err(errno());
    }
    Ok(pfds.map(|p| p.revents == 0))
}

/// Waits until one of `ends` is ready (Ok), `deadline` passes (Err(EAGAIN)), or the wait
/// fails: an interrupt (`ECANCELED`, `ETIMEDOUT`), or an fd closed meanwhile (`EBADF`).
fn wait_ends(
    mode: Mode,
    ends: &[End],
    deadline: Option<Instant>,
    call: &'static str,
) -> Result<(), c_int> {
    if mode == Mode::Thread {
        return poll_ends(ends, deadline);
    }
    // Each end's entry and generation, to tell a close during the wait. Before the first wait
    // of this incarnation on this thread, a stale registration of the number is dropped (as
    // `wait.rs` does for sockets; a pipe gets an entry here for the same reason).
    let mut entries = [None, None];
    for (slot, end) in entries.iter_mut().zip(ends) {
        let st = end.managed.or_else(|| fd::get_or_create(end.fd));
        if let Some(st) = st
            && st.first_wait_here()
        {
            fd_wait::close_fd(end.fd);
        } else {
            fd_wait::clear_ready(end.fd, end.dir.interest());
        }
        *slot = st.map(|st| (st, st.generation()));
    }
    let waited = match ends {
        [one] => fd_wait::wait_fd(one.fd, one.dir.interest(), deadline, call),
        _ => {
            let list: Vec<_> = ends.iter().map(|e| (e.fd, e.dir.interest())).collect();
            fd_wait::wait_any(&list, deadline, call)
        }
    };
    match waited {
        Ok(true) => {
            let closed = entries
                .iter()
                .flatten()
                .any(|&(st, g)| st.generation() != g);
            if closed { Err(libc::EBADF) } else { Ok(()) }
        }
        Ok(false) => Err(libc::EAGAIN),
        Err(e) if e.raw_os_error() == Some(libc::EBADF) || wait::is_interrupt(&e) => {
            Err(e.raw_os_error().unwrap_or(libc::EBADF))
        }
        // The loop cannot watch one of the fds: block in a real poll instead.
        Err(_) => poll_ends(ends, deadline),
    }
}

/// Blocks the thread in libc's `poll` until one of `ends` is ready (Ok), `deadline` passes
/// (Err(EAGAIN)) or poll fails (Err(errno), EINTR included, as a blocking call would).
fn poll_ends(ends: &[End], deadline: Option<Instant>) -> Result<(), c_int> {
    if let [one] = ends {
        return match wait::poll_one(one.fd, one.dir, deadline) {
            Ok(true) => Ok(()),
            Ok(false) => Err(libc::EAGAIN),
            Err(e) => Err(e),
        };
    }
    let mut pfds: Vec<_> = ends
        .iter()
        .map(|e| libc::pollfd {
            fd: e.fd,
            events: e.events(),
            revents: 0,
        })
        .collect();
    let ms = deadline.map_or(-1, |d| {
        let left = d.saturating_duration_since(Instant::now());
        // Round up so that a wait never ends before the deadline.
        c_int::try_from(left.as_micros().div_ceil(1000)).unwrap_or(c_int::MAX)
    });
    // SAFETY: valid pollfds; poll here is libc's.
    match unsafe { real::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, ms) } {
        -1 => Err(errno()),
        0 => Err(libc::EAGAIN),
        _ => Ok(()),
    }
}

/// A short pause before a retry (see [`AMBIGUOUS_RETRY`]); an interrupt ends it with its errno.
fn pause(mode: Mode) -> Result<(), c_int> {
    match mode {
        Mode::Task => wait::sleep(AMBIGUOUS_RETRY),
        Mode::Thread => {
            // SAFETY: no fds: poll only sleeps; poll here is libc's.
            unsafe {
                real::poll(
                    std::ptr::null_mut(),
                    0,
                    AMBIGUOUS_RETRY.as_millis() as c_int,
                )
            };
            Ok(())
        }
    }
}

/// A zero-copy transfer of up to `len` bytes from `fd_in` to `fd_out` with blocking
/// semantics. `op(done, nonblock)` makes one attempt for the `len - done` bytes left;
/// `nonblock` asks it not to wait on a pipe end (`SPLICE_F_NONBLOCK`, where the call has one).
#[inline(always)]
fn transfer(
    call: &'static str,
    fd_in: c_int,
    fd_out: c_int,
    len: usize,
    mut op: impl FnMut(usize, bool) -> isize,
) -> isize {
    if active() {
        let ends = [
            End::in_task(fd_in, Dir::Read),
            End::in_task(fd_out, Dir::Write),
        ];
        if ends.iter().all(|e| e.managed.is_none()) {
            return op(0, false);
        }
        if let Some(e) = wait::interrupted() {
            set_errno(e);
            return -1;
        }
        let r = op(0, true);
        return transfer_rest(call, Mode::Task, ends, len, r, op);
    }
    let r = op(0, false);
    if r == 0 || (r > 0 && r as usize >= len) {
        return r;
    }
    let e = errno();
    if r == -1 && e != libc::EAGAIN {
        return r;
    }
    // EAGAIN or a short count: the hooks have a say only if one end is a socket they made
    // non-blocking (and a short count only matters when that socket is the sink).
    let ends = [
        End::outside(fd_in, Dir::Read),
        End::outside(fd_out, Dir::Write),
    ];
    let wanted = if r == -1 {
        ends.iter().any(|e| e.managed.is_some())
    } else {
        ends[1].managed.is_some()
    };
    if !wanted {
        set_errno(e);
        return r;
    }
    transfer_rest(call, Mode::Thread, ends, len, r, op)
}

/// The rest of [`transfer`], after the first attempt returned `r` (inside a task, always;
/// outside, only after an `EAGAIN` or a short count on a socket of the hooks).
#[inline(never)]
fn transfer_rest(
    call: &'static str,
    mode: Mode,
    ends: [End; 2],
    len: usize,
    mut r: isize,
    mut op: impl FnMut(usize, bool) -> isize,
) -> isize {
    let deadline = earliest(ends[0].deadline(), ends[1].deadline());
    // A socket sink blocks until everything went out; a socket source returns what came.
    let write_all = ends[1].managed.is_some();
    let mut done = 0usize;
    loop {
        if r > 0 {
            done += r as usize;
            if !write_all || done >= len {
                return done as isize;
            }
        } else if r == 0 {
            // End of the source (or nothing asked for).
            return done as isize;
        } else {
            let e = errno();
            if e != libc::EAGAIN {
                return fail(done, e);
            }
            let blocked = match not_ready(&ends) {
                Ok(b) => b,
                Err(e) => return fail(done, e),
            };
            if done > 0 && blocked[0] {
                // The source ran dry after some progress: a blocking call returns here.
                return done as isize;
            }
            let waiting: Vec<End> = ends
                .iter()
                .zip(blocked)
                .filter_map(|(e, b)| b.then_some(*e))
                .collect();
            if waiting.iter().any(End::user_nonblocking) {
                return fail(done, libc::EAGAIN);
            }
            let waited = if waiting.is_empty() {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    Err(libc::EAGAIN)
                } else {
                    pause(mode)
                }
            } else {
                // A socket's timeout bounds a wait for it; a pipe is waited for as libc does.
                let d = if waiting.iter().any(|e| e.managed.is_some()) {
                    deadline
                } else {
                    None
                };
                wait_ends(mode, &waiting, d, call)
            };
            if let Err(e) = waited {
                return fail(done, e);
            }
        }
        // Inside a task a pipe end never blocks the thread; outside, only a continuation
        // asks so (a blocking call that moved something returns rather than wait on a pipe).
        r = op(done, mode == Mode::Task || done > 0);
    }
}

/// `SPLICE_F_NONBLOCK` when asked for.
fn splice_flags(flags: c_uint, nonblock: bool) -> c_uint {
    if nonblock {
        flags | libc::SPLICE_F_NONBLOCK
    } else {
        flags
    }
}

/// Hooked `splice(2)`: either end may be a socket of the hooks; the other is a pipe.
/// `SPLICE_F_NONBLOCK` passes straight through.
///
/// # Safety
///
/// As for libc's `splice`: `off_in` and `off_out` are null or point to an offset.
#[unsafe(no_mangle)]
pub(crate) unsafe extern "C" fn splice(
    fd_in: c_int,
    off_in: *mut loff_t,
    fd_out: c_int,
    off_out: *mut loff_t,
    len: size_t,
    flags: c_uint,
) -> ssize_t {
    if flags & libc::SPLICE_F_NONBLOCK != 0 {
        // SAFETY: forwarded from the caller.
        return unsafe { real::splice(fd_in, off_in, fd_out, off_out, len, flags) };
    }
    transfer("splice", fd_in, fd_out, len, |done, nonblock| {
        let flags = splice_flags(flags, nonblock);
        // SAFETY: forwarded from the caller; the kernel advances the offsets it was given.
        unsafe { real::splice(fd_in, off_in, fd_out, off_out, len - done, flags) }
    })
}

/// Hooked `tee(2)`: both ends are pipes, which the hooks never manage, so this is libc's call.
///
/// # Safety
///
/// As for libc's `tee` (always safe to call).
#[unsafe(no_mangle)]
pub(crate) unsafe extern "C" fn tee(
    fd_in: c_int,
    fd_out: c_int,
    len: size_t,
    flags: c_uint,
) -> ssize_t {
    // SAFETY: forwarded from the caller.
    unsafe { real::tee(fd_in, fd_out, len, flags) }
}

/// Hooked `sendfile(2)`: to a socket of the hooks, sends all `count` bytes (or up to the end of
/// the source) as on a blocking socket.
///
/// # Safety
///
/// As for libc's `sendfile`: `offset` is null or points to an offset.
#[unsafe(no_mangle)]
pub(crate) unsafe extern "C" fn sendfile(
    out_fd: c_int,
    in_fd: c_int,
    offset: *mut off_t,
    count: size_t,
) -> ssize_t {
    transfer("sendfile", in_fd, out_fd, count, |done, _| {
        // SAFETY: forwarded from the caller; the kernel advances the offset it was given.
        unsafe { real::sendfile(out_fd, in_fd, offset, count - done) }
    })
}

/// Hooked `sendfile64`: glibc exports it beside `sendfile` (std calls this one), as
/// [`sendfile`].
///
/// # Safety
///
/// As for libc's `sendfile64`: `offset` is null or points to an offset.
#[unsafe(no_mangle)]
pub(crate) unsafe extern "C" fn sendfile64(
    out_fd: c_int,
    in_fd: c_int,
    offset: *mut off64_t,
    count: size_t,
) -> ssize_t {
    transfer("sendfile64", in_fd, out_fd, count, |done, _| {
        // SAFETY: forwarded from the caller; the kernel advances the offset it was given.
        unsafe { real::sendfile64(out_fd, in_fd, offset, count - done) }
    })
}

/// Hooked `copy_file_range(2)`. The kernel takes only regular files here (a socket or a pipe
/// gets `EINVAL`, and std then falls back), so in practice this is libc's call; should a kernel
/// accept a socket, it waits as [`sendfile`] does.
///
/// # Safety
///
/// As for libc's `copy_file_range`: `off_in` and `off_out` are null or point to an offset.
#[unsafe(no_mangle)]
pub(crate) unsafe extern "C" fn copy_file_range(
    fd_in: c_int,
    off_in: *mut loff_t,
    fd_out: c_int,
    off_out: *mut loff_t,
    len: size_t,
    flags: c_uint,
) -> ssize_t {
    transfer("copy_file_range", fd_in, fd_out, len, |done, _| {
        // SAFETY: forwarded from the caller; the kernel advances the offsets it was given.
        unsafe { real::copy_file_range(fd_in, off_in, fd_out, off_out, len - done, flags) }
    })
}

/// Where a batched call on `fd` waits, and the socket's state; None: libc's call as is (no
/// socket of the hooks, or one the user made non-blocking).
#[inline]
fn batch_mode(fd: c_int) -> Option<(Mode, &'static FdState)> {
    if active() {
        wait::prepare(fd).map(|st| (Mode::Task, st))
    } else {
        fd::get(fd)
            .filter(|st| st.emulates_blocking())
            .map(|st| (Mode::Thread, st))
    }
}

/// Waits for the socket `fd` (state `st`) in direction `dir`, within `deadline`.
fn wait_socket(
    mode: Mode,
    fd: c_int,
    st: &'static FdState,
    dir: Dir,
    deadline: Option<Instant>,
) -> Result<(), c_int> {
    let end = End {
        fd,
        dir,
        managed: Some(st),
    };
    let call = match dir {
        Dir::Read => "recvmmsg",
        _ => "sendmmsg",
    };
    wait_ends(mode, &[end], deadline, call)
}

/// The iovecs of a header as a slice (empty for a null pointer or no iovecs).
///
/// # Safety
///
/// `hdr.msg_iov` must point to `hdr.msg_iovlen` iovecs when it is not null.
unsafe fn iovecs(hdr: &msghdr) -> &[iovec] {
    if hdr.msg_iov.is_null() || hdr.msg_iovlen == 0 {
        return &[];
    }
    // `msg_iovlen` is a `size_t` on glibc and an `int` on musl.
    #[allow(clippy::unnecessary_cast)]
    let n = hdr.msg_iovlen as usize;
    // SAFETY: the caller's contract.
    unsafe { std::slice::from_raw_parts(hdr.msg_iov, n) }
}

/// Builds, into `out`, the part of `iov` that starts `skip` bytes in.
fn iov_from(iov: &[iovec], mut skip: usize, out: &mut Vec<iovec>) {
    out.clear();
    for v in iov {
        if skip >= v.iov_len {
            skip -= v.iov_len;
            continue;
        }
        // SAFETY: `skip < iov_len`, so the offset stays inside the caller's buffer.
        let base = unsafe { v.iov_base.cast::<u8>().add(skip) };
        out.push(iovec {
            iov_base: base.cast(),
            iov_len: v.iov_len - skip,
        });
        skip = 0;
    }
}

/// Finishes a message of a stream socket that `sendmmsg` sent only in part (`msg_len` bytes):
/// sends the rest, without the ancillary data (it went with the first part), and counts it in
/// `msg_len`. Err(errno) if that failed; `msg_len` then says how much went out.
///
/// # Safety
///
/// `m` is the caller's valid message.
unsafe fn finish_message(
    mode: Mode,
    fd: c_int,
    st: &'static FdState,
    m: &mut mmsghdr,
    flags: c_int,
    deadline: Option<Instant>,
) -> Result<(), c_int> {
    // SAFETY: the caller's valid message.
    let all = unsafe { iovecs(&m.msg_hdr) };
    let total = all.iter().fold(0usize, |t, v| t.saturating_add(v.iov_len));
    let mut part = Vec::new();
    while (m.msg_len as usize) < total {
        iov_from(all, m.msg_len as usize, &mut part);
        let mut h = m.msg_hdr;
        h.msg_iov = part.as_mut_ptr();
        h.msg_iovlen = part.len() as _;
        h.msg_control = std::ptr::null_mut();
        h.msg_controllen = 0;
        // SAFETY: `h` is the caller's header with the iovecs left and no ancillary data.
        let r = unsafe { real::sendmsg(fd, &h, flags) };
        if r > 0 {
            m.msg_len = m.msg_len.saturating_add(r as c_uint);
            continue;
        }
        let e = if r == 0 { libc::EPIPE } else { errno() };
        if e != libc::EAGAIN {
            return Err(e);
        }
        wait_socket(mode, fd, st, Dir::Write, deadline)?;
    }
    Ok(())
}

/// Hooked `sendmmsg(2)`: on a blocking socket, sends all `vlen` messages (at most the kernel's
/// 1024), waiting in between. An error after some messages went out returns their count.
/// `MSG_DONTWAIT` passes straight through.
///
/// # Safety
///
/// As for libc's `sendmmsg`: `msgvec` points to `vlen` valid messages.
#[unsafe(no_mangle)]
pub(crate) unsafe extern "C" fn sendmmsg(
    fd: c_int,
    msgvec: *mut mmsghdr,
    vlen: c_uint,
    flags: c_int,
) -> c_int {
    let pass = flags & libc::MSG_DONTWAIT != 0 || vlen == 0 || msgvec.is_null();
    let Some((mode, st)) = (if pass { None } else { batch_mode(fd) }) else {
        // SAFETY: forwarded from the caller.
        return unsafe { real::sendmmsg(fd, msgvec, vlen, flags) };
    };
    if mode == Mode::Task
        && let Some(e) = wait::interrupted()
    {
        set_errno(e);
        return -1;
    }
    let vlen = vlen.min(MMSG_MAX) as usize;
    // On a stream, one message at a time: one cut short is finished before the next starts.
    let stream = st.flags() & FdState::STREAM != 0;
    let deadline = st
        .timeout(Timeout::Send)
        .and_then(|d| Instant::now().checked_add(d));
    let mut done = 0usize;
    while done < vlen {
        let batch = if stream { 1 } else { vlen - done };
        // SAFETY: `done < vlen`: the messages from `done` on are the caller's.
        let r = unsafe { real::sendmmsg(fd, msgvec.add(done), batch as c_uint, flags) };
        if r > 0 {
            if stream {
                // SAFETY: message `done` is the caller's and was just sent (in part, maybe).
                let m = unsafe { &mut *msgvec.add(done) };
                // SAFETY: `m` is the caller's valid message.
                if unsafe { finish_message(mode, fd, st, m, flags, deadline) }.is_err() {
                    // The message went out in part: it counts, as the kernel counts it, and
                    // the error comes back on the next call.
                    return (done + 1) as c_int;
                }
            }
            done += r as usize;
            continue;
        }
        if r == 0 {
            break;
        }
        let e = errno();
        if e != libc::EAGAIN {
            return fail(done, e) as c_int;
        }
        if let Err(e) = wait_socket(mode, fd, st, Dir::Write, deadline) {
            return fail(done, e) as c_int;
        }
    }
    done as c_int
}

/// Hooked `recvmmsg(2)`: on a blocking socket, waits until `vlen` messages came (at most the
/// kernel's 1024; with `MSG_WAITFORONE`, until one came). `timeout`, if given, is checked after
/// each batch as the kernel does, also ends a wait for further messages once one came, and is
/// updated to the time left. `MSG_DONTWAIT` passes straight through.
///
/// # Safety
///
/// As for libc's `recvmmsg`: `msgvec` points to `vlen` valid messages, `timeout` is null or
/// points to a timespec.
#[unsafe(no_mangle)]
pub(crate) unsafe extern "C" fn recvmmsg(
    fd: c_int,
    msgvec: *mut mmsghdr,
    vlen: c_uint,
    flags: c_int,
    timeout: *mut timespec,
) -> c_int {
    let pass = flags & libc::MSG_DONTWAIT != 0 || vlen == 0 || msgvec.is_null();
    let Some((mode, st)) = (if pass { None } else { batch_mode(fd) }) else {
        // SAFETY: forwarded from the caller.
        return unsafe { real::recvmmsg(fd, msgvec, vlen, flags, timeout) };
    };
    let start = Instant::now();
    let end = if timeout.is_null() {
        None
    } else {
        // SAFETY: a non-null timeout points to a timespec.
        let t = unsafe { *timeout };
        if t.tv_sec < 0 || !(0..1_000_000_000).contains(&t.tv_nsec) {
            set_errno(libc::EINVAL);
            return -1;
        }
        // A timeout too far away to reach is no timeout.
        start.checked_add(Duration::new(t.tv_sec as u64, t.tv_nsec as u32))
    };
    if mode == Mode::Task
        && let Some(e) = wait::interrupted()
    {
        set_errno(e);
        return -1;
    }
    let vlen = vlen.min(MMSG_MAX) as usize;
    let deadline = st.timeout(Timeout::Recv).and_then(|d| start.checked_add(d));
    let mut done = 0usize;
    while done < vlen {
        // SAFETY: `done < vlen`: the messages from `done` on are the caller's.
        let r = unsafe {
            real::recvmmsg(
                fd,
                msgvec.add(done),
                (vlen - done) as c_uint,
                flags,
                std::ptr::null_mut(),
            )
        };
        if r > 0 {
            done += r as usize;
            if flags & libc::MSG_WAITFORONE != 0 || end.is_some_and(|e| Instant::now() >= e) {
                break;
            }
            continue;
        }
        if r == 0 {
            break;
        }
        let e = errno();
        if e != libc::EAGAIN {
            return fail(done, e) as c_int;
        }
        let d = if done > 0 {
            earliest(deadline, end)
        } else {
            deadline
        };
        if let Err(e) = wait_socket(mode, fd, st, Dir::Read, d) {
            if done > 0 {
                break;
            }
            set_errno(e);
            return -1;
        }
    }
    if let Some(end) = end {
        let left = end.saturating_duration_since(Instant::now());
        // SAFETY: a non-null timeout points to a timespec; the kernel writes the time left too.
        unsafe {
            (*timeout).tv_sec = left.as_secs() as _;
            (*timeout).tv_nsec = left.subsec_nanos() as _;
        }
    }
    done as c_int
}
