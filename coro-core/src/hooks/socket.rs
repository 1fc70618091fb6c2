//! Hooks for socket set-up: `socket`, `socketpair`, `connect`, `accept`, `accept4`,
//! `setsockopt` (timeouts) and `getaddrinfo` (on the blocking pool).

use std::ffi::{CStr, CString};
use std::time::{Duration, Instant};

use libc::{addrinfo, c_char, c_int, c_void, sockaddr, socklen_t, timeval};

use super::fd::{self, Timeout};
use super::wait::{self, Dir};
use super::{active, errno, real, set_errno};
use crate::runtime::fd_wait;

/// Hooked `socket(2)`: records the new socket (and whether it was made `SOCK_NONBLOCK`).
///
/// # Safety
///
/// As for libc's `socket` (always safe to call).
#[unsafe(no_mangle)]
pub(crate) unsafe extern "C" fn socket(domain: c_int, ty: c_int, proto: c_int) -> c_int {
    // SAFETY: forwarded from the caller.
    let s = unsafe { real::socket(domain, ty, proto) };
    if s >= 0 {
        let e = errno();
        fd::on_new_socket(s, ty & libc::SOCK_NONBLOCK != 0, fd::is_stream_type(ty));
        set_errno(e);
    }
    s
}

/// Hooked `socketpair(2)`: records both sockets.
///
/// # Safety
///
/// As for libc's `socketpair`: `sv` must point to two ints.
#[unsafe(no_mangle)]
pub(crate) unsafe extern "C" fn socketpair(
    domain: c_int,
    ty: c_int,
    proto: c_int,
    sv: *mut c_int,
) -> c_int {
    // SAFETY: forwarded from the caller.
    let r = unsafe { real::socketpair(domain, ty, proto, sv) };
    if r == 0 {
        let e = errno();
        // SAFETY: on success the kernel wrote two fds to `sv`.
        let (a, b) = unsafe { (*sv, *sv.add(1)) };
        fd::on_new_socket(a, ty & libc::SOCK_NONBLOCK != 0, fd::is_stream_type(ty));
        fd::on_new_socket(b, ty & libc::SOCK_NONBLOCK != 0, fd::is_stream_type(ty));
        set_errno(e);
    }
    r
}

/// Reads `SO_ERROR` (the result of a finished non-blocking connect).
fn so_error(fd: c_int) -> c_int {
    let mut err: c_int = 0;
    let mut len = std::mem::size_of::<c_int>() as socklen_t;
    // SAFETY: getsockopt writes one int; it is not hooked.
    let r = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_ERROR,
            (&raw mut err).cast(),
            &mut len,
        )
    };
    if r == -1 { errno() } else { err }
}

/// True once a connect finished (successfully or not).
fn connect_done(fd: c_int) -> Result<(), c_int> {
    match so_error(fd) {
        0 => {
            let mut addr: libc::sockaddr_storage = unsafe_zeroed();
            let mut len = std::mem::size_of::<libc::sockaddr_storage>() as socklen_t;
            // SAFETY: getpeername writes at most `len` bytes into `addr`; it is not hooked.
            let r = unsafe { libc::getpeername(fd, (&raw mut addr).cast(), &mut len) };
            if r == 0 {
                Ok(())
            } else {
                Err(libc::EINPROGRESS)
            }
        }
        e => Err(e),
    }
}

fn unsafe_zeroed<T: Copy>() -> T {
    // SAFETY: used only for plain C structs (sockaddr_storage) for which all-zero is valid.
    unsafe { std::mem::zeroed() }
}

/// Hooked `connect(2)`: inside a coroutine a blocking socket's connect waits on the loop
/// (within `SO_SNDTIMEO`, as Linux does, then EINPROGRESS).
///
/// # Safety
///
/// As for libc's `connect`.
#[unsafe(no_mangle)]
pub(crate) unsafe extern "C" fn connect(fd: c_int, addr: *const sockaddr, len: socklen_t) -> c_int {
    if !active() {
        // SAFETY: forwarded from the caller.
        let r = unsafe { real::connect(fd, addr, len) };
        if r == -1 && errno() == libc::EINPROGRESS {
            return connect_outside(fd);
        }
        return r;
    }
    let Some(st) = wait::prepare(fd) else {
        // SAFETY: forwarded from the caller.
        return unsafe { real::connect(fd, addr, len) };
    };
    if let Some(e) = wait::interrupted() {
        set_errno(e);
        return -1;
    }
    // SAFETY: forwarded from the caller.
    let r = unsafe { real::connect(fd, addr, len) };
    if r == 0 {
        return 0;
    }
    let e = errno();
    if e != libc::EINPROGRESS {
        set_errno(e);
        return -1;
    }
    let generation = st.generation();
    let deadline = st
        .timeout(Timeout::Send)
        .and_then(|d| Instant::now().checked_add(d));
    if st.first_wait_here() {
        fd_wait::close_fd(fd);
    }
    loop {
        let waited = match fd_wait::wait_fd(fd, Dir::Write.interest(), deadline, "connect") {
            Ok(true) if st.generation() != generation => Err(libc::EBADF),
            Ok(true) => Ok(()),
            Ok(false) => Err(libc::EINPROGRESS),
            Err(e) if e.raw_os_error() == Some(libc::EBADF) || wait::is_interrupt(&e) => {
                Err(e.raw_os_error().unwrap_or(libc::EBADF))
            }
            Err(_) => match wait::poll_one(fd, Dir::Write, deadline) {
                Ok(true) => Ok(()),
                Ok(false) => Err(libc::EINPROGRESS),
                Err(e) => Err(e),
            },
        };
        let fail = match waited.and_then(|()| connect_done(fd)) {
            Ok(()) => return 0,
            Err(libc::EINPROGRESS) if deadline.is_none_or(|d| Instant::now() < d) => {
                // Not finished yet (a stale readiness): wait for the next edge.
                fd_wait::clear_ready(fd, Dir::Write.interest());
                continue;
            }
            Err(e) => e,
        };
        set_errno(fail);
        return -1;
    }
}

/// Outside a coroutine, connect returned EINPROGRESS: if the socket is blocking for the user
/// and non-blocking only for the hooks, finish the connect in a real poll.
#[cold]
fn connect_outside(fd: c_int) -> c_int {
    let Some(st) = fd::get(fd).filter(|st| st.emulates_blocking()) else {
        set_errno(libc::EINPROGRESS);
        return -1;
    };
    let deadline = st
        .timeout(Timeout::Send)
        .and_then(|d| Instant::now().checked_add(d));
    loop {
        let fail = match wait::poll_one(fd, Dir::Write, deadline) {
            Ok(true) => match connect_done(fd) {
                Ok(()) => return 0,
                Err(libc::EINPROGRESS) => continue,
                Err(e) => e,
            },
            Ok(false) => libc::EINPROGRESS,
            Err(e) => e,
        };
        set_errno(fail);
        return -1;
    }
}

/// The shared body of `accept` and `accept4`.
///
/// # Safety
///
/// As for libc's `accept4`.
unsafe fn accept_common(
    fd: c_int,
    addr: *mut sockaddr,
    len: *mut socklen_t,
    flags: c_int,
) -> c_int {
    // SAFETY: forwarded from the caller.
    let op = || unsafe { real::accept4(fd, addr, len, flags) as isize };
    let r = if !active() {
        let r = op();
        if r == -1 {
            wait::outside_retry(fd, Dir::Read, Timeout::Recv, r, op)
        } else {
            r
        }
    } else {
        let r = wait::in_task("accept", fd, Dir::Read, Timeout::Recv, 0, op);
        if r == -1 {
            let e = errno();
            wait::after_accept_failure(e);
            set_errno(e);
        }
        r
    };
    if r >= 0 {
        let e = errno();
        let stream = fd::get(fd).is_some_and(|st| st.flags() & fd::FdState::STREAM != 0);
        fd::on_new_socket(r as c_int, flags & libc::SOCK_NONBLOCK != 0, stream);
        set_errno(e);
    }
    r as c_int
}

/// Hooked `accept(2)` (libco leaves it out; here it waits on the loop like the others).
///
/// # Safety
///
/// As for libc's `accept`.
#[unsafe(no_mangle)]
pub(crate) unsafe extern "C" fn accept(
    fd: c_int,
    addr: *mut sockaddr,
    len: *mut socklen_t,
) -> c_int {
    // SAFETY: forwarded from the caller; accept is accept4 without flags.
    unsafe { accept_common(fd, addr, len, 0) }
}

/// Hooked `accept4(2)`.
///
/// # Safety
///
/// As for libc's `accept4`.
#[unsafe(no_mangle)]
pub(crate) unsafe extern "C" fn accept4(
    fd: c_int,
    addr: *mut sockaddr,
    len: *mut socklen_t,
    flags: c_int,
) -> c_int {
    // SAFETY: forwarded from the caller.
    unsafe { accept_common(fd, addr, len, flags) }
}

/// Hooked `setsockopt(2)`: `SO_RCVTIMEO`/`SO_SNDTIMEO` are also recorded as the deadlines of
/// the hooks' waits. Everything goes to the kernel as well.
///
/// # Safety
///
/// As for libc's `setsockopt`.
#[unsafe(no_mangle)]
pub(crate) unsafe extern "C" fn setsockopt(
    fd: c_int,
    level: c_int,
    name: c_int,
    val: *const c_void,
    len: socklen_t,
) -> c_int {
    // SAFETY: forwarded from the caller.
    let r = unsafe { real::setsockopt(fd, level, name, val, len) };
    if r == 0
        && level == libc::SOL_SOCKET
        && (name == libc::SO_RCVTIMEO || name == libc::SO_SNDTIMEO)
        && !val.is_null()
        && len as usize >= std::mem::size_of::<timeval>()
    {
        // SAFETY: the kernel accepted `val` as a timeval.
        let tv = unsafe { val.cast::<timeval>().read_unaligned() };
        let d = Duration::from_secs(tv.tv_sec.max(0) as u64)
            + Duration::from_micros(tv.tv_usec.max(0) as u64);
        let kind = if name == libc::SO_RCVTIMEO {
            Timeout::Recv
        } else {
            Timeout::Send
        };
        let e = errno();
        if let Some(st) = fd::get_or_create(fd) {
            st.set_timeout(kind, Some(d));
        }
        set_errno(e);
    }
    r
}

/// A `getaddrinfo` request carried to the blocking pool.
struct Request {
    node: Option<CString>,
    service: Option<CString>,
    hints: Option<(c_int, c_int, c_int, c_int)>,
}

/// Hooked `getaddrinfo(3)`: inside a coroutine it runs on the blocking pool, so that a slow
/// DNS answer does not stop the thread's other coroutines.
///
/// # Safety
///
/// As for libc's `getaddrinfo`.
#[unsafe(no_mangle)]
pub(crate) unsafe extern "C" fn getaddrinfo(
    node: *const c_char,
    service: *const c_char,
    hints: *const addrinfo,
    res: *mut *mut addrinfo,
) -> c_int {
    if !active() || res.is_null() {
        // SAFETY: forwarded from the caller.
        return unsafe { real::getaddrinfo(node, service, hints, res) };
    }
    // SAFETY: non-null strings are NUL-terminated and `hints` is valid, as libc requires.
    let req = unsafe {
        Request {
            node: (!node.is_null()).then(|| CStr::from_ptr(node).to_owned()),
            service: (!service.is_null()).then(|| CStr::from_ptr(service).to_owned()),
            hints: (!hints.is_null()).then(|| {
                let h = &*hints;
                (h.ai_flags, h.ai_family, h.ai_socktype, h.ai_protocol)
            }),
        }
    };
    if let Some(e) = wait::interrupted() {
        set_errno(e);
        return libc::EAI_SYSTEM;
    }
    let job = wait::run_blocking("getaddrinfo", move || {
        let hints = req.hints.map(|(flags, family, socktype, protocol)| {
            let mut h: addrinfo = unsafe_zeroed_addrinfo();
            h.ai_flags = flags;
            h.ai_family = family;
            h.ai_socktype = socktype;
            h.ai_protocol = protocol;
            h
        });
        let mut list: *mut addrinfo = std::ptr::null_mut();
        // SAFETY: owned C strings, a local hints struct and a local out-pointer.
        let rc = unsafe {
            real::getaddrinfo(
                req.node.as_ref().map_or(std::ptr::null(), |s| s.as_ptr()),
                req.service
                    .as_ref()
                    .map_or(std::ptr::null(), |s| s.as_ptr()),
                hints
                    .as_ref()
                    .map_or(std::ptr::null(), |h| h as *const addrinfo),
                &mut list,
            )
        };
        (rc, AddrList(list), errno())
    });
    let (rc, list, e) = match job {
        Ok(done) => done,
        // Interrupted: the lookup finishes on the pool, and its list is freed there when the
        // result, which nobody takes, is dropped.
        Err(e) => {
            set_errno(e);
            return libc::EAI_SYSTEM;
        }
    };
    // SAFETY: `res` is the caller's out-pointer; the list (malloc'd by libc) is now theirs to
    // free with freeaddrinfo, from any thread.
    unsafe { *res = list.into_raw() };
    set_errno(e);
    rc
}

/// A list from libc's `getaddrinfo`, freed on drop unless handed to the caller.
struct AddrList(*mut addrinfo);

// SAFETY: the list is plain malloc'd memory that no one else points to; libc's freeaddrinfo may
// free it from any thread.
unsafe impl Send for AddrList {}

impl AddrList {
    fn into_raw(self) -> *mut addrinfo {
        std::mem::ManuallyDrop::new(self).0
    }
}

impl Drop for AddrList {
    fn drop(&mut self) {
        if !self.0.is_null() {
            // SAFETY: a list getaddrinfo returned, owned by this value; freeaddrinfo is not
            // hooked.
            unsafe { libc::freeaddrinfo(self.0) };
        }
    }
}

fn unsafe_zeroed_addrinfo() -> addrinfo {
    // SAFETY: all-zero is a valid addrinfo (null pointers, zero integers).
    unsafe { std::mem::zeroed() }
}
