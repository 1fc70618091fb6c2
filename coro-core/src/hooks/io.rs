//! Hooks for the fd calls: `read`, `write`, `readv`, `writev`, `recv*`, `send*`, `close`,
//! `fcntl` and `ioctl`.
//!
//! Each starts with the same outside path: one thread-local check ([`active`]) and one call
//! to libc's function; only a failure (-1) or a short write looks any further.

use libc::{c_int, c_ulong, c_void, iovec, msghdr, size_t, sockaddr, socklen_t, ssize_t};

use super::fd::{self, FdState, Timeout};
use super::wait::{self, Dir};
use super::{active, errno, real, set_errno};
use crate::runtime::fd_wait;
use crate::runtime::park;

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

/// The iovecs of a call as a slice (empty for a null pointer or a bad count).
///
/// # Safety
///
/// `iov` must point to `cnt` iovecs when it is not null and `cnt > 0`.
unsafe fn iov_slice<'a>(iov: *const iovec, cnt: c_int) -> &'a [iovec] {
    match usize::try_from(cnt) {
        // SAFETY: the caller's contract.
        Ok(n) if n > 0 && !iov.is_null() => unsafe { std::slice::from_raw_parts(iov, n) },
        _ => &[],
    }
}

/// What a receive asks for, for the drained-socket rule of [`wait::in_task`] (0 for a peek,
/// which drains nothing).
fn read_want(len: usize, flags: c_int) -> usize {
    if flags & libc::MSG_PEEK != 0 { 0 } else { len }
}

/// A blocking receive with `MSG_WAITALL` inside a task: waits until `len` bytes came, the
/// peer closed, or an error or timeout ended it (then the bytes so far, if any, as libc).
/// `op(done)` receives into the buffer from offset `done`, without `MSG_WAITALL`.
fn recv_all(fd: c_int, len: usize, mut op: impl FnMut(usize) -> isize) -> isize {
    let mut done = 0usize;
    loop {
        let r = wait::in_task("recv", fd, Dir::Read, Timeout::Recv, 0, || op(done));
        if r > 0 {
            done += r as usize;
            if done < len {
                continue;
            }
        }
        if r == -1 && done == 0 {
            return -1; // errno set by the call
        }
        return done as isize;
    }
}

fn iov_total(iov: &[iovec]) -> usize {
    iov.iter().fold(0usize, |t, v| t.saturating_add(v.iov_len))
}

/// A receive that does not wait on the event loop: outside a coroutine (or with the hooks
/// off), or asked not to wait (`MSG_DONTWAIT`). One call, retried only where libc's blocking
/// socket would have waited. `None`: the caller waits in its task instead.
#[inline(always)]
fn recv_without_loop(
    fd: c_int,
    flags: c_int,
    mut op: impl FnMut() -> isize + Copy,
) -> Option<isize> {
    if active() && flags & libc::MSG_DONTWAIT == 0 {
        return None;
    }
    let r = op();
    Some(if r == -1 && flags & libc::MSG_DONTWAIT == 0 {
        wait::outside_retry(fd, Dir::Read, Timeout::Recv, r, op)
    } else {
        r
    })
}

/// A send of `len` bytes that writes them all before it returns, as on a blocking socket:
/// `op(done)` sends from offset `done`. Inside a coroutine it waits on the loop; outside (or
/// with `MSG_DONTWAIT`) it makes one call, finished as libc would only if the socket is
/// blocking for the user.
#[inline(always)]
fn send_all(
    call: &'static str,
    fd: c_int,
    len: usize,
    flags: c_int,
    mut op: impl FnMut(usize) -> isize + Copy,
) -> isize {
    if active() && flags & libc::MSG_DONTWAIT == 0 {
        return wait::write_all_in_task(call, fd, len, op);
    }
    let r = op(0);
    if (r == -1 || (r as usize) < len) && flags & libc::MSG_DONTWAIT == 0 {
        wait::outside_write_all(fd, len, r, op)
    } else {
        r
    }
}

/// Hooked `read(2)`.
///
/// # Safety
///
/// As for libc's `read`: `buf` must be valid for `count` bytes of writes.
#[unsafe(no_mangle)]
pub(crate) unsafe extern "C" fn read(fd: c_int, buf: *mut c_void, count: size_t) -> ssize_t {
    // SAFETY: forwarded from the caller.
    let op = || unsafe { real::read(fd, buf, count) };
    if let Some(r) = recv_without_loop(fd, 0, op) {
        return r;
    }
    wait::in_task("read", fd, Dir::Read, Timeout::Recv, count, op)
}

/// Hooked `readv(2)`.
///
/// # Safety
///
/// As for libc's `readv`.
#[unsafe(no_mangle)]
pub(crate) unsafe extern "C" fn readv(fd: c_int, iov: *const iovec, cnt: c_int) -> ssize_t {
    // SAFETY: forwarded from the caller.
    let op = || unsafe { real::readv(fd, iov, cnt) };
    if let Some(r) = recv_without_loop(fd, 0, op) {
        return r;
    }
    // SAFETY: the caller passes `cnt` valid iovecs.
    let want = iov_total(unsafe { iov_slice(iov, cnt) });
    wait::in_task("readv", fd, Dir::Read, Timeout::Recv, want, op)
}

/// Hooked `recv(2)`. `MSG_DONTWAIT` passes straight through.
///
/// # Safety
///
/// As for libc's `recv`.
#[unsafe(no_mangle)]
pub(crate) unsafe extern "C" fn recv(
    fd: c_int,
    buf: *mut c_void,
    len: size_t,
    flags: c_int,
) -> ssize_t {
    // SAFETY: forwarded from the caller.
    let op = || unsafe { real::recv(fd, buf, len, flags) };
    if let Some(r) = recv_without_loop(fd, flags, op) {
        return r;
    }
    if flags & libc::MSG_WAITALL != 0 {
        // SAFETY: `done <= len`, so the pointer stays in the caller's buffer.
        return recv_all(fd, len, |done| unsafe {
            real::recv(
                fd,
                buf.cast::<u8>().add(done).cast(),
                len - done,
                flags & !libc::MSG_WAITALL,
            )
        });
    }
    wait::in_task(
        "recv",
        fd,
        Dir::Read,
        Timeout::Recv,
        read_want(len, flags),
        op,
    )
}

/// Hooked `recvfrom(2)`.
///
/// # Safety
///
/// As for libc's `recvfrom`.
#[unsafe(no_mangle)]
pub(crate) unsafe extern "C" fn recvfrom(
    fd: c_int,
    buf: *mut c_void,
    len: size_t,
    flags: c_int,
    addr: *mut sockaddr,
    alen: *mut socklen_t,
) -> ssize_t {
    // SAFETY: forwarded from the caller.
    let op = || unsafe { real::recvfrom(fd, buf, len, flags, addr, alen) };
    if let Some(r) = recv_without_loop(fd, flags, op) {
        return r;
    }
    if flags & libc::MSG_WAITALL != 0 {
        // SAFETY: `done <= len`, so the pointer stays in the caller's buffer.
        return recv_all(fd, len, |done| unsafe {
            let rest = buf.cast::<u8>().add(done).cast();
            real::recvfrom(fd, rest, len - done, flags & !libc::MSG_WAITALL, addr, alen)
        });
    }
    wait::in_task(
        "recvfrom",
        fd,
        Dir::Read,
        Timeout::Recv,
        read_want(len, flags),
        op,
    )
}

/// Hooked `recvmsg(2)`.
///
/// # Safety
///
/// As for libc's `recvmsg`.
#[unsafe(no_mangle)]
pub(crate) unsafe extern "C" fn recvmsg(fd: c_int, msg: *mut msghdr, flags: c_int) -> ssize_t {
    // SAFETY: forwarded from the caller.
    let op = || unsafe { real::recvmsg(fd, msg, flags) };
    if let Some(r) = recv_without_loop(fd, flags, op) {
        return r;
    }
    wait::in_task("recvmsg", fd, Dir::Read, Timeout::Recv, 0, op)
}

/// Hooked `write(2)`: inside a coroutine, writes everything before it returns, as a
/// blocking socket does.
///
/// # Safety
///
/// As for libc's `write`: `buf` must be valid for `count` bytes of reads.
#[unsafe(no_mangle)]
pub(crate) unsafe extern "C" fn write(fd: c_int, buf: *const c_void, count: size_t) -> ssize_t {
    // SAFETY: `done <= count`, so the pointer stays in the caller's buffer.
    let op =
        |done: usize| unsafe { real::write(fd, buf.cast::<u8>().add(done).cast(), count - done) };
    send_all("write", fd, count, 0, op)
}

/// Hooked `writev(2)`: writes every iovec before it returns.
///
/// # Safety
///
/// As for libc's `writev`.
#[unsafe(no_mangle)]
pub(crate) unsafe extern "C" fn writev(fd: c_int, iov: *const iovec, cnt: c_int) -> ssize_t {
    if !active() {
        // SAFETY: forwarded from the caller.
        let r = unsafe { real::writev(fd, iov, cnt) };
        if r != -1 && fd::get(fd).is_none_or(|st| !st.emulates_blocking()) {
            return r;
        }
        // SAFETY: the caller passes `cnt` valid iovecs.
        let all = unsafe { iov_slice(iov, cnt) };
        let total = iov_total(all);
        if r != -1 && r as usize >= total {
            return r;
        }
        let mut part = Vec::new();
        return wait::outside_write_all(fd, total, r, |done| {
            iov_from(all, done, &mut part);
            // SAFETY: `part` holds sub-ranges of the caller's iovecs.
            unsafe { real::writev(fd, part.as_ptr(), part.len() as c_int) }
        });
    }
    // SAFETY: the caller passes `cnt` valid iovecs.
    let all = unsafe { iov_slice(iov, cnt) };
    let total = iov_total(all);
    let mut part = Vec::new();
    wait::write_all_in_task("writev", fd, total, |done| {
        if done == 0 {
            // SAFETY: forwarded from the caller.
            return unsafe { real::writev(fd, iov, cnt) };
        }
        iov_from(all, done, &mut part);
        // SAFETY: `part` holds sub-ranges of the caller's iovecs.
        unsafe { real::writev(fd, part.as_ptr(), part.len() as c_int) }
    })
}

/// Hooked `send(2)`: writes everything on a blocking socket. `MSG_DONTWAIT` passes through.
///
/// # Safety
///
/// As for libc's `send`.
#[unsafe(no_mangle)]
pub(crate) unsafe extern "C" fn send(
    fd: c_int,
    buf: *const c_void,
    len: size_t,
    flags: c_int,
) -> ssize_t {
    // SAFETY: `done <= len`, so the pointer stays in the caller's buffer.
    let op = |done: usize| unsafe {
        real::send(fd, buf.cast::<u8>().add(done).cast(), len - done, flags)
    };
    send_all("send", fd, len, flags, op)
}

/// Hooked `sendto(2)`.
///
/// # Safety
///
/// As for libc's `sendto`.
#[unsafe(no_mangle)]
pub(crate) unsafe extern "C" fn sendto(
    fd: c_int,
    buf: *const c_void,
    len: size_t,
    flags: c_int,
    addr: *const sockaddr,
    alen: socklen_t,
) -> ssize_t {
    // SAFETY: `done <= len`, so the pointer stays in the caller's buffer.
    let op = |done: usize| unsafe {
        real::sendto(
            fd,
            buf.cast::<u8>().add(done).cast(),
            len - done,
            flags,
            addr,
            alen,
        )
    };
    send_all("sendto", fd, len, flags, op)
}

/// Hooked `sendmsg(2)`: writes every iovec; ancillary data goes with the first part only.
///
/// # Safety
///
/// As for libc's `sendmsg`.
#[unsafe(no_mangle)]
pub(crate) unsafe extern "C" fn sendmsg(fd: c_int, msg: *const msghdr, flags: c_int) -> ssize_t {
    let outside = !active();
    if outside || flags & libc::MSG_DONTWAIT != 0 || msg.is_null() {
        // SAFETY: forwarded from the caller.
        let r = unsafe { real::sendmsg(fd, msg, flags) };
        if !outside || flags & libc::MSG_DONTWAIT != 0 || msg.is_null() {
            return r;
        }
        if r != -1 && fd::get(fd).is_none_or(|st| !st.emulates_blocking()) {
            return r;
        }
        // A failure or short write on a socket the hooks made non-blocking: finish it.
        // SAFETY: the caller passes a valid msghdr with `msg_iovlen` iovecs.
        let (hdr, all) = unsafe { (*msg, iov_slice((*msg).msg_iov, (*msg).msg_iovlen as c_int)) };
        let total = iov_total(all);
        if r != -1 && r as usize >= total {
            return r;
        }
        let mut part = Vec::new();
        // SAFETY: `msg` is the caller's valid header.
        return wait::outside_write_all(fd, total, r, |done| unsafe {
            sendmsg_from(fd, msg, &hdr, all, done, flags, &mut part)
        });
    }
    // SAFETY: the caller passes a valid msghdr with `msg_iovlen` iovecs.
    let (hdr, all) = unsafe { (*msg, iov_slice((*msg).msg_iov, (*msg).msg_iovlen as c_int)) };
    let total = iov_total(all);
    let mut part = Vec::new();
    // SAFETY: `msg` is the caller's valid header.
    wait::write_all_in_task("sendmsg", fd, total, |done| unsafe {
        sendmsg_from(fd, msg, &hdr, all, done, flags, &mut part)
    })
}

/// `sendmsg` of what is left after `done` bytes: the caller's header as is for the first
/// attempt, then the remaining iovecs without the ancillary data (it went with the first part).
///
/// # Safety
///
/// `msg` is the caller's valid header, `hdr` a copy of it and `all` its iovecs.
unsafe fn sendmsg_from(
    fd: c_int,
    msg: *const msghdr,
    hdr: &msghdr,
    all: &[iovec],
    done: usize,
    flags: c_int,
    part: &mut Vec<iovec>,
) -> isize {
    if done == 0 {
        // SAFETY: forwarded from the caller.
        return unsafe { real::sendmsg(fd, msg, flags) };
    }
    iov_from(all, done, part);
    let mut h = *hdr;
    h.msg_iov = part.as_mut_ptr();
    h.msg_iovlen = part.len() as _;
    h.msg_control = std::ptr::null_mut();
    h.msg_controllen = 0;
    // SAFETY: `h` is the caller's header with the remaining iovecs and no ancillary data.
    unsafe { real::sendmsg(fd, &h, flags) }
}

/// Hooked `close(2)`: forgets the fd's hook state and, inside a coroutine, wakes every
/// coroutine waiting on the fd (their calls fail with EBADF).
///
/// # Safety
///
/// As for libc's `close`.
#[unsafe(no_mangle)]
pub(crate) unsafe extern "C" fn close(fd: c_int) -> c_int {
    fd::on_close(fd);
    if park::hooks_may_wait() {
        fd_wait::close_fd(fd);
    }
    // SAFETY: forwarded from the caller.
    unsafe { real::close(fd) }
}

/// Hooked `fcntl(2)`: `F_GETFL`/`F_SETFL` show and set the user's `O_NONBLOCK`, not the one
/// the hooks put on the kernel's description; `F_DUPFD*` copy the hook state to the new fd.
///
/// # Safety
///
/// As for libc's `fcntl`: `arg` must be what `cmd` expects.
#[unsafe(no_mangle)]
pub(crate) unsafe extern "C" fn fcntl(fd: c_int, cmd: c_int, arg: c_ulong) -> c_int {
    match cmd {
        libc::F_GETFL => {
            // SAFETY: F_GETFL takes no argument.
            let r = unsafe { real::fcntl(fd, cmd, arg) };
            match fd::get(fd) {
                Some(st) if r != -1 && st.emulates_blocking() => r & !libc::O_NONBLOCK,
                _ => r,
            }
        }
        libc::F_SETFL => {
            let want_nb = arg as c_int & libc::O_NONBLOCK != 0;
            let st = fd::get(fd).filter(|st| st.flags() & FdState::KNOWN != 0);
            let hook_nb = st.is_some_and(|st| st.flags() & FdState::HOOK_NONBLOCK != 0);
            let arg = if hook_nb {
                arg | libc::O_NONBLOCK as c_ulong
            } else {
                arg
            };
            // SAFETY: F_SETFL takes an integer.
            let r = unsafe { real::fcntl(fd, cmd, arg) };
            if r != -1
                && let Some(st) = st
            {
                st.set_user_nonblock(want_nb);
            }
            r
        }
        libc::F_DUPFD | libc::F_DUPFD_CLOEXEC => {
            // SAFETY: forwarded from the caller.
            let r = unsafe { real::fcntl(fd, cmd, arg) };
            copy_state(fd, r);
            r
        }
        // SAFETY: forwarded from the caller.
        _ => unsafe { real::fcntl(fd, cmd, arg) },
    }
}

/// Hooked `ioctl(2)`: `FIONBIO` records the user's non-blocking wish (and keeps the kernel's
/// description non-blocking when the hooks need it so). Every other request passes through.
///
/// # Safety
///
/// As for libc's `ioctl`: `arg` must be what `req` expects.
#[unsafe(no_mangle)]
pub(crate) unsafe extern "C" fn ioctl(fd: c_int, req: c_ulong, arg: c_ulong) -> c_int {
    if req == libc::FIONBIO as c_ulong && arg != 0 {
        // SAFETY: FIONBIO takes a pointer to an int, checked for null above.
        let on = unsafe { *(arg as *const c_int) } != 0;
        let st = fd::get(fd).filter(|st| st.flags() & FdState::KNOWN != 0);
        if let Some(st) = st
            && !on
            && st.flags() & FdState::HOOK_NONBLOCK != 0
        {
            // The kernel stays non-blocking for the hooks; the user sees a blocking fd.
            st.set_user_nonblock(false);
            return 0;
        }
        // SAFETY: forwarded from the caller.
        let r = unsafe { real::ioctl(fd, req, arg) };
        if r != -1
            && let Some(st) = st
        {
            st.set_user_nonblock(on);
        }
        return r;
    }
    // SAFETY: forwarded from the caller.
    unsafe { real::ioctl(fd, req, arg) }
}

/// Hooked `dup(2)`: the new fd shares the socket, so it gets the same hook state.
///
/// # Safety
///
/// As for libc's `dup` (always safe to call).
#[unsafe(no_mangle)]
pub(crate) unsafe extern "C" fn dup(fd: c_int) -> c_int {
    // SAFETY: forwarded from the caller.
    let r = unsafe { real::dup(fd) };
    copy_state(fd, r);
    r
}

/// Hooked `dup2(2)`: the target fd number is closed (its state forgotten) and then shares
/// the source's socket and hook state.
///
/// # Safety
///
/// As for libc's `dup2`.
#[unsafe(no_mangle)]
pub(crate) unsafe extern "C" fn dup2(fd: c_int, to: c_int) -> c_int {
    // SAFETY: forwarded from the caller.
    let r = unsafe { real::dup2(fd, to) };
    if fd != to {
        copy_state(fd, r);
    }
    r
}

/// Hooked `dup3(2)`, as `dup2`.
///
/// # Safety
///
/// As for libc's `dup3`.
#[unsafe(no_mangle)]
pub(crate) unsafe extern "C" fn dup3(fd: c_int, to: c_int, flags: c_int) -> c_int {
    // SAFETY: forwarded from the caller.
    let r = unsafe { real::dup3(fd, to, flags) };
    copy_state(fd, r);
    r
}

/// After a successful dup of `from` to `to` (`to == -1`: it failed): `to` starts a new
/// incarnation with `from`'s state. Keeps errno. Async-signal-safe (no allocation), as the
/// child of a fork calls dup2 before exec.
fn copy_state(from: c_int, to: c_int) {
    if to < 0 {
        return;
    }
    let e = errno();
    fd::on_close(to);
    if let Some(old) = fd::get(from).filter(|st| st.flags() & FdState::KNOWN != 0)
        && let Some(new) = fd::get_or_create(to)
    {
        new.copy_from(old);
    }
    set_errno(e);
}
