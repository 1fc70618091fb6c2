//! The real libc functions behind the hooks, resolved once with `dlsym(RTLD_NEXT, ..)`.
//!
//! With the `hooks` feature on, coro-core defines `read`, `write`, `connect`, ... itself, so a
//! plain `libc::read` anywhere in the program (std, C libraries, and coro's own modules) lands
//! in a hook. The functions here are the way around that: each one calls the definition that
//! comes *after* ours in the symbol search order, which is libc's. **The runtime's own I/O (the
//! event loop, eventfds, coro::net) must go through this module**, never through `libc::` for a
//! hooked name.
//!
//! Each symbol has one [`RealFn`]: an `AtomicPtr` filled on first use (or by a constructor in
//! `.init_array` before `main`, so that a signal handler never has to resolve anything), then
//! read with one relaxed load. `dlsym` may itself call `malloc`, and an interposed allocator may
//! call `read` or `close` while it starts; a hook reached while a resolution is in flight does
//! not recurse into `dlsym` but uses the symbol's fallback, a raw system call with the same
//! meaning (made in `sys`). With the `hooks` feature off, every function here is plain `libc::`.

use libc::{
    addrinfo, c_char, c_int, c_uint, c_ulong, c_void, clockid_t, fd_set, loff_t, mmsghdr, msghdr,
    nfds_t, off_t, off64_t, pollfd, size_t, sockaddr, socklen_t, ssize_t, timespec, timeval,
};
#[cfg(feature = "hooks")]
use std::ffi::CStr;
#[cfg(feature = "hooks")]
use std::sync::atomic::{AtomicBool, AtomicPtr, Ordering};

/// One resolved libc symbol: its name, the address found by `dlsym` (null until resolved), and
/// a raw-syscall stand-in for the window in which it cannot be resolved.
#[cfg(feature = "hooks")]
#[derive(Debug)]
pub(crate) struct RealFn {
    ptr: AtomicPtr<c_void>,
    name: &'static CStr,
    fallback: *mut c_void,
}

// SAFETY: `fallback` is the address of a function (immutable code); `ptr` is atomic.
#[cfg(feature = "hooks")]
unsafe impl Sync for RealFn {}

/// Set while some thread is inside `dlsym`: hooks reached meanwhile use the fallbacks.
#[cfg(feature = "hooks")]
static RESOLVING: AtomicBool = AtomicBool::new(false);

#[cfg(feature = "hooks")]
impl RealFn {
    const fn new(name: &'static CStr, fallback: *mut c_void) -> RealFn {
        RealFn {
            ptr: AtomicPtr::new(std::ptr::null_mut()),
            name,
            fallback,
        }
    }

    /// The function's address: one relaxed load once resolved.
    #[inline(always)]
    fn get(&self) -> *mut c_void {
        let p = self.ptr.load(Ordering::Relaxed);
        if p.is_null() { self.resolve() } else { p }
    }

    /// Looks the symbol up. Never recurses: a second resolution that starts while one is in
    /// flight (on any thread) gets the fallback for this one call.
    #[cold]
    #[inline(never)]
    fn resolve(&self) -> *mut c_void {
        if RESOLVING.swap(true, Ordering::Acquire) {
            return self.fallback;
        }
        // SAFETY: `name` is a NUL-terminated C string; RTLD_NEXT asks for the next definition
        // after this object's, which is libc's for every name in this table.
        let mut p = unsafe { libc::dlsym(libc::RTLD_NEXT, self.name.as_ptr()) };
        if p.is_null() {
            // A static link, or a libc without the name: the raw syscall is still right.
            p = self.fallback;
        }
        self.ptr.store(p, Ordering::Relaxed);
        RESOLVING.store(false, Ordering::Release);
        p
    }
}

/// Defines, per symbol, a `RealFn`, its raw-syscall fallback, and a `pub(crate) unsafe fn` with
/// libc's signature that calls the real function (or plain `libc::name` without the feature).
macro_rules! real_fns {
    ($(
        $slot:ident: fn $name:ident($($arg:ident: $ty:ty),* $(,)?) -> $ret:ty => $fallback:block
    )*) => {
        $(
            #[cfg(feature = "hooks")]
            static $slot: RealFn = {
                /// The raw-syscall stand-in used while the symbol cannot be resolved.
                unsafe extern "C" fn fallback($($arg: $ty),*) -> $ret {
                    // SAFETY: the caller passes what libc's function would accept; the
                    // syscall has the same contract.
                    unsafe { $fallback }
                }
                RealFn::new(
                    // SAFETY: the name has no interior NUL.
                    unsafe { CStr::from_bytes_with_nul_unchecked(concat!(stringify!($name), "\0").as_bytes()) },
                    fallback as *mut c_void,
                )
            };

            #[doc = concat!("libc's `", stringify!($name), "`, never the hook.")]
            ///
            /// # Safety
            ///
            /// As for the libc function of the same name.
            #[inline(always)]
            pub(crate) unsafe fn $name($($arg: $ty),*) -> $ret {
                #[cfg(feature = "hooks")]
                {
                    // SAFETY: the slot holds the address of libc's function of this name (or
                    // its fallback), which has exactly this signature.
                    let f = unsafe {
                        std::mem::transmute::<*mut c_void, unsafe extern "C" fn($($ty),*) -> $ret>(
                            $slot.get(),
                        )
                    };
                    // SAFETY: forwarded from the caller.
                    unsafe { f($($arg),*) }
                }
                #[cfg(not(feature = "hooks"))]
                {
                    // SAFETY: forwarded from the caller.
                    unsafe { libc::$name($($arg),*) }
                }
            }
        )*

        /// Every slot, for the eager resolution before `main`.
        #[cfg(feature = "hooks")]
        static ALL: &[&RealFn] = &[$(&$slot),*];
    };
}

/// A raw system call with libc's `-1`/`errno` convention (see `sys::syscall_errno`), its
/// result cast to the libc function's return type.
#[cfg(feature = "hooks")]
macro_rules! sys {
    ($nr:ident $(, $a:expr)*) => { crate::sys::syscall_errno(libc::$nr, &[$($a as usize),*]) as _ };
}

/// Converts a millisecond poll timeout to a `timespec` pointer for ppoll (null: infinite).
#[cfg(feature = "hooks")]
fn ms_to_ts(ms: c_int, ts: &mut timespec) -> *const timespec {
    if ms < 0 {
        return std::ptr::null();
    }
    ts.tv_sec = (ms / 1000) as _;
    ts.tv_nsec = ((ms % 1000) as i64 * 1_000_000) as _;
    ts
}

real_fns! {
    READ: fn read(fd: c_int, buf: *mut c_void, count: size_t) -> ssize_t => { sys!(SYS_read, fd, buf, count) }
    WRITE: fn write(fd: c_int, buf: *const c_void, count: size_t) -> ssize_t => { sys!(SYS_write, fd, buf, count) }
    READV: fn readv(fd: c_int, iov: *const libc::iovec, cnt: c_int) -> ssize_t => { sys!(SYS_readv, fd, iov, cnt) }
    WRITEV: fn writev(fd: c_int, iov: *const libc::iovec, cnt: c_int) -> ssize_t => { sys!(SYS_writev, fd, iov, cnt) }
    RECV: fn recv(fd: c_int, buf: *mut c_void, len: size_t, flags: c_int) -> ssize_t => {
        sys!(SYS_recvfrom, fd, buf, len, flags, std::ptr::null_mut::<sockaddr>(), std::ptr::null_mut::<socklen_t>())
    }
    RECVFROM: fn recvfrom(fd: c_int, buf: *mut c_void, len: size_t, flags: c_int, addr: *mut sockaddr, alen: *mut socklen_t) -> ssize_t => {
        sys!(SYS_recvfrom, fd, buf, len, flags, addr, alen)
    }
    RECVMSG: fn recvmsg(fd: c_int, msg: *mut msghdr, flags: c_int) -> ssize_t => { sys!(SYS_recvmsg, fd, msg, flags) }
    SEND: fn send(fd: c_int, buf: *const c_void, len: size_t, flags: c_int) -> ssize_t => {
        sys!(SYS_sendto, fd, buf, len, flags, std::ptr::null::<sockaddr>(), 0 as socklen_t)
    }
    SENDTO: fn sendto(fd: c_int, buf: *const c_void, len: size_t, flags: c_int, addr: *const sockaddr, alen: socklen_t) -> ssize_t => {
        sys!(SYS_sendto, fd, buf, len, flags, addr, alen)
    }
    SENDMSG: fn sendmsg(fd: c_int, msg: *const msghdr, flags: c_int) -> ssize_t => { sys!(SYS_sendmsg, fd, msg, flags) }
    CONNECT: fn connect(fd: c_int, addr: *const sockaddr, len: socklen_t) -> c_int => { sys!(SYS_connect, fd, addr, len) }
    ACCEPT4: fn accept4(fd: c_int, addr: *mut sockaddr, len: *mut socklen_t, flags: c_int) -> c_int => {
        sys!(SYS_accept4, fd, addr, len, flags)
    }
    POLL: fn poll(fds: *mut pollfd, nfds: nfds_t, timeout: c_int) -> c_int => {
        let mut ts = std::mem::zeroed();
        sys!(SYS_ppoll, fds, nfds, ms_to_ts(timeout, &mut ts), std::ptr::null::<libc::sigset_t>(), 0 as size_t)
    }
    SELECT: fn select(n: c_int, r: *mut fd_set, w: *mut fd_set, e: *mut fd_set, tv: *mut timeval) -> c_int => {
        let mut ts: timespec = std::mem::zeroed();
        let tsp = if tv.is_null() {
            std::ptr::null_mut()
        } else {
            ts.tv_sec = (*tv).tv_sec;
            ts.tv_nsec = ((*tv).tv_usec * 1000) as _;
            &mut ts as *mut timespec
        };
        sys!(SYS_pselect6, n, r, w, e, tsp, std::ptr::null::<c_void>())
    }
    NANOSLEEP: fn nanosleep(req: *const timespec, rem: *mut timespec) -> c_int => { sys!(SYS_nanosleep, req, rem) }
    CLOCK_NANOSLEEP: fn clock_nanosleep(clock: clockid_t, flags: c_int, req: *const timespec, rem: *mut timespec) -> c_int => {
        // clock_nanosleep returns the error number instead of setting errno.
        let r: c_int = sys!(SYS_clock_nanosleep, clock, flags, req, rem);
        if r == -1 { *libc::__errno_location() } else { 0 }
    }
    USLEEP: fn usleep(usec: libc::useconds_t) -> c_int => {
        let ts = timespec { tv_sec: (usec / 1_000_000) as _, tv_nsec: ((usec % 1_000_000) * 1000) as _ };
        sys!(SYS_nanosleep, &ts as *const timespec, std::ptr::null_mut::<timespec>())
    }
    SLEEP: fn sleep(secs: c_uint) -> c_uint => {
        let ts = timespec { tv_sec: secs as _, tv_nsec: 0 };
        let mut rem: timespec = std::mem::zeroed();
        let r: c_int = sys!(SYS_nanosleep, &ts as *const timespec, &mut rem as *mut timespec);
        if r == 0 { 0 } else { rem.tv_sec as c_uint }
    }
    CLOSE: fn close(fd: c_int) -> c_int => { sys!(SYS_close, fd) }
    SETSOCKOPT: fn setsockopt(fd: c_int, level: c_int, name: c_int, val: *const c_void, len: socklen_t) -> c_int => {
        sys!(SYS_setsockopt, fd, level, name, val, len)
    }
    SOCKET: fn socket(domain: c_int, ty: c_int, proto: c_int) -> c_int => { sys!(SYS_socket, domain, ty, proto) }
    DUP: fn dup(fd: c_int) -> c_int => { sys!(SYS_dup, fd) }
    DUP2: fn dup2(fd: c_int, to: c_int) -> c_int => {
        // dup2 of an fd onto itself only checks that it is open; dup3 refuses that case.
        if fd == to {
            let r: c_int = sys!(SYS_fcntl, fd, libc::F_GETFD);
            if r == -1 { -1 } else { fd }
        } else {
            sys!(SYS_dup3, fd, to, 0 as c_int)
        }
    }
    DUP3: fn dup3(fd: c_int, to: c_int, flags: c_int) -> c_int => { sys!(SYS_dup3, fd, to, flags) }
    SOCKETPAIR: fn socketpair(domain: c_int, ty: c_int, proto: c_int, sv: *mut c_int) -> c_int => {
        sys!(SYS_socketpair, domain, ty, proto, sv)
    }
    SPLICE: fn splice(fd_in: c_int, off_in: *mut loff_t, fd_out: c_int, off_out: *mut loff_t, len: size_t, flags: c_uint) -> ssize_t => {
        sys!(SYS_splice, fd_in, off_in, fd_out, off_out, len, flags)
    }
    TEE: fn tee(fd_in: c_int, fd_out: c_int, len: size_t, flags: c_uint) -> ssize_t => { sys!(SYS_tee, fd_in, fd_out, len, flags) }
    SENDFILE: fn sendfile(out_fd: c_int, in_fd: c_int, offset: *mut off_t, count: size_t) -> ssize_t => {
        sys!(SYS_sendfile, out_fd, in_fd, offset, count)
    }
    SENDFILE64: fn sendfile64(out_fd: c_int, in_fd: c_int, offset: *mut off64_t, count: size_t) -> ssize_t => {
        sys!(SYS_sendfile, out_fd, in_fd, offset, count)
    }
    COPY_FILE_RANGE: fn copy_file_range(fd_in: c_int, off_in: *mut loff_t, fd_out: c_int, off_out: *mut loff_t, len: size_t, flags: c_uint) -> ssize_t => {
        sys!(SYS_copy_file_range, fd_in, off_in, fd_out, off_out, len, flags)
    }
    SENDMMSG: fn sendmmsg(fd: c_int, msgvec: *mut mmsghdr, vlen: c_uint, flags: c_int) -> c_int => {
        sys!(SYS_sendmmsg, fd, msgvec, vlen, flags)
    }
    RECVMMSG: fn recvmmsg(fd: c_int, msgvec: *mut mmsghdr, vlen: c_uint, flags: c_int, timeout: *mut timespec) -> c_int => {
        sys!(SYS_recvmmsg, fd, msgvec, vlen, flags, timeout)
    }
    GETADDRINFO: fn getaddrinfo(node: *const c_char, service: *const c_char, hints: *const addrinfo, res: *mut *mut addrinfo) -> c_int => {
        // No syscall does this; a caller reached during resolution gets a system error.
        let _ = (node, service, hints, res);
        *libc::__errno_location() = libc::EAGAIN;
        libc::EAI_SYSTEM
    }
}

/// The variadic `fcntl`/`ioctl` are typed by hand: their third argument travels in the same
/// register as a fixed `unsigned long` would.
#[cfg(feature = "hooks")]
mod variadic {
    use super::*;

    unsafe extern "C" fn fcntl_fallback(fd: c_int, cmd: c_int, arg: c_ulong) -> c_int {
        // SAFETY: same contract as fcntl(2).
        unsafe { sys!(SYS_fcntl, fd, cmd, arg) }
    }
    unsafe extern "C" fn ioctl_fallback(fd: c_int, req: c_ulong, arg: c_ulong) -> c_int {
        // SAFETY: same contract as ioctl(2).
        unsafe { sys!(SYS_ioctl, fd, req, arg) }
    }

    pub(super) static FCNTL: RealFn = RealFn::new(c"fcntl", fcntl_fallback as *mut c_void);
    pub(super) static IOCTL: RealFn = RealFn::new(c"ioctl", ioctl_fallback as *mut c_void);
}

/// libc's `fcntl`, never the hook; `arg` is the optional third argument (0 when unused).
///
/// # Safety
///
/// As for `fcntl(2)`: `arg` must be what `cmd` expects (an integer or a valid pointer).
#[inline(always)]
pub(crate) unsafe fn fcntl(fd: c_int, cmd: c_int, arg: c_ulong) -> c_int {
    #[cfg(feature = "hooks")]
    {
        // SAFETY: the slot holds libc's `fcntl` (variadic) or the fallback, which reads its
        // third argument from the same register.
        let f: unsafe extern "C" fn(c_int, c_int, ...) -> c_int =
            unsafe { std::mem::transmute::<*mut c_void, _>(variadic::FCNTL.get()) };
        // SAFETY: forwarded from the caller.
        unsafe { f(fd, cmd, arg) }
    }
    #[cfg(not(feature = "hooks"))]
    // SAFETY: forwarded from the caller.
    unsafe {
        libc::fcntl(fd, cmd, arg)
    }
}

/// libc's `ioctl`, never the hook.
///
/// # Safety
///
/// As for `ioctl(2)`: `arg` must be what `req` expects.
#[inline(always)]
pub(crate) unsafe fn ioctl(fd: c_int, req: c_ulong, arg: c_ulong) -> c_int {
    #[cfg(feature = "hooks")]
    {
        // SAFETY: as in `fcntl`.
        let f: unsafe extern "C" fn(c_int, c_ulong, ...) -> c_int =
            unsafe { std::mem::transmute::<*mut c_void, _>(variadic::IOCTL.get()) };
        // SAFETY: forwarded from the caller.
        unsafe { f(fd, req, arg) }
    }
    #[cfg(not(feature = "hooks"))]
    // SAFETY: forwarded from the caller.
    unsafe {
        libc::ioctl(fd, req as _, arg)
    }
}

/// Resolves every symbol before `main` (and before any signal handler could need one).
#[cfg(feature = "hooks")]
extern "C" fn resolve_all() {
    for slot in ALL
        .iter()
        .copied()
        .chain([&variadic::FCNTL, &variadic::IOCTL])
    {
        slot.get();
    }
}

/// The constructor run before `main`: resolve every symbol, and count fork children (so that a
/// child knows a runtime it inherited is its parent's; see `Scheduler::after_fork`).
#[cfg(feature = "hooks")]
extern "C" fn init() {
    resolve_all();
    crate::sys::watch_forks();
}

#[cfg(all(feature = "hooks", target_os = "linux"))]
#[used]
#[unsafe(link_section = ".init_array")]
static RESOLVE_BEFORE_MAIN: extern "C" fn() = init;

/// Makes sure every symbol is resolved (the constructor normally did it already).
#[cfg(feature = "hooks")]
pub(crate) fn resolve_now() {
    resolve_all();
}

#[cfg(all(test, feature = "hooks"))]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    /// The stand-ins used while `dlsym` is in flight keep libc's conventions on every
    /// architecture: a result, or -1 with errno (and clock_nanosleep's error number).
    #[test]
    fn fallbacks_return_what_libc_returns() {
        type ReadFn = unsafe extern "C" fn(c_int, *mut c_void, size_t) -> ssize_t;
        type WriteFn = unsafe extern "C" fn(c_int, *const c_void, size_t) -> ssize_t;
        type CloseFn = unsafe extern "C" fn(c_int) -> c_int;
        type SleepFn =
            unsafe extern "C" fn(clockid_t, c_int, *const timespec, *mut timespec) -> c_int;
        type FcntlFn = unsafe extern "C" fn(c_int, c_int, c_ulong) -> c_int;
        // SAFETY: each slot's fallback is a function with its libc function's signature.
        let (read, write, close, sleep, fcntl) = unsafe {
            (
                std::mem::transmute::<*mut c_void, ReadFn>(READ.fallback),
                std::mem::transmute::<*mut c_void, WriteFn>(WRITE.fallback),
                std::mem::transmute::<*mut c_void, CloseFn>(CLOSE.fallback),
                std::mem::transmute::<*mut c_void, SleepFn>(CLOCK_NANOSLEEP.fallback),
                std::mem::transmute::<*mut c_void, FcntlFn>(variadic::FCNTL.fallback),
            )
        };
        let (r, w) = crate::sys::pipe().unwrap();
        let (r, w) = (r.as_raw_fd(), w.as_raw_fd());
        let mut buf = [0u8; 4];
        let bad = timespec {
            tv_sec: 0,
            tv_nsec: 2_000_000_000,
        };
        // SAFETY: live descriptors and buffers; errno is this thread's.
        unsafe {
            assert_eq!(write(w, b"hi".as_ptr().cast(), 2), 2);
            assert_eq!(read(r, buf.as_mut_ptr().cast(), buf.len()), 2);
            assert_eq!(&buf[..2], b"hi");
            assert_eq!(
                read(r, buf.as_mut_ptr().cast(), buf.len()),
                -1,
                "empty pipe"
            );
            assert_eq!(*libc::__errno_location(), libc::EAGAIN);
            assert_ne!(fcntl(r, libc::F_GETFL, 0) & libc::O_NONBLOCK, 0);
            assert_eq!(close(-1), -1);
            assert_eq!(*libc::__errno_location(), libc::EBADF);
            let slept = sleep(libc::CLOCK_MONOTONIC, 0, &bad, std::ptr::null_mut());
            assert_eq!(slept, libc::EINVAL, "clock_nanosleep returns the error");
        }
    }
}
