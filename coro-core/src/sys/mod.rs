//! The one place where the runtime calls libc.
//!
//! Every wrapper turns the C convention (`-1` and `errno`) into [`io::Result`] through
//! [`syscall!`] (after mio's `sys/unix/mod.rs`). File descriptors come back as [`OwnedFd`], opened
//! with `*_CLOEXEC`.
//!
//! # Real calls, never the hooks
//!
//! With the `hooks` feature coro defines libc's blocking symbols (`read`, `write`, `accept4`,
//! `connect`, `poll`, `close`, ...) in the program itself, so a plain `libc::read` from here
//! would land in the hook. The runtime must reach the kernel, so every wrapper for a hooked
//! symbol makes the system call itself with [`raw_syscall!`]: the architecture's system call
//! instruction in inline asm (`coro_asm::syscall`, one per architecture), with the call numbers
//! of `libc::SYS_*`, which are per architecture too. No symbol is looked up, so nothing can
//! intercept it. Symbols that are never hooked (`epoll_*`, `eventfd`, `pipe2`, `mmap`) are
//! called through libc. This module is the only caller of `coro_asm::syscall`: the rest of the
//! crate uses its wrappers (the hooks' stand-ins for libc use [`syscall_errno`]). Why not
//! rustix: see the design chapter of the book, "Raw system calls".

use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

pub(crate) mod socket;

/// Calls a libc function and turns a `-1` result into the `errno` as an [`io::Error`].
///
/// `syscall!(epoll_create1(libc::EPOLL_CLOEXEC))` is `libc::epoll_create1(..)` checked.
/// Only used inside `sys/`, by wrappers whose own contract makes the arguments valid.
macro_rules! syscall {
    ($fn:ident ( $($arg:expr),* $(,)? )) => {{
        // SAFETY: every wrapper in `sys/` passes arguments that satisfy the C function's
        // contract (valid fds or errors from the kernel, pointers to live buffers of the given
        // length); see each wrapper.
        let res = unsafe { libc::$fn($($arg),*) };
        $crate::sys::cvt(res)
    }};
}

/// Makes a raw system call by number (bypassing any hook of the libc symbol), checked like
/// [`syscall!`]: the architecture's system call instruction itself (see `coro_asm::syscall`),
/// the arguments widened to machine words as the kernel reads them.
macro_rules! raw_syscall {
    ($nr:ident $(, $arg:expr)* $(,)?) => {{
        let given: &[usize] = &[$($arg as usize),*];
        let mut args = [0usize; 6];
        args[..given.len()].copy_from_slice(given);
        // SAFETY: as for `syscall!`: the wrapper guarantees the arguments' validity; the
        // kernel only reads the registers it needs for this call number.
        let res = unsafe { coro_asm::syscall(libc::$nr as usize, args) };
        $crate::sys::cvt_raw(res)
    }};
}

/// A raw system call's result: a negated errno becomes `Err`, anything else passes through.
#[inline]
pub(crate) fn cvt_raw(res: isize) -> io::Result<libc::c_long> {
    if (-4095..0).contains(&res) {
        Err(io::Error::from_raw_os_error(-res as i32))
    } else {
        Ok(res as libc::c_long)
    }
}

pub(crate) use raw_syscall;

/// A raw system call with libc's convention: `-1` with `errno` set on failure, else the result.
/// For the hooks' stand-ins for libc functions (`hooks/real.rs`), which must behave as the
/// functions they replace; `args` are the call's arguments widened to machine words (at most
/// six).
///
/// # Safety
///
/// The arguments must be what system call `nr` expects, as for `coro_asm::syscall`.
#[inline(always)]
pub(crate) unsafe fn syscall_errno(nr: libc::c_long, args: &[usize]) -> libc::c_long {
    let mut all = [0usize; 6];
    all[..args.len()].copy_from_slice(args);
    // SAFETY: the caller's contract.
    let res = unsafe { coro_asm::syscall(nr as usize, all) };
    match cvt_raw(res) {
        Ok(v) => v,
        Err(e) => {
            // SAFETY: `__errno_location` is this thread's errno, always valid to write.
            unsafe { *libc::__errno_location() = e.raw_os_error().unwrap_or(libc::EIO) };
            -1
        }
    }
}

/// Integer results of C calls, where `-1` means "look at errno".
pub(crate) trait IsMinusOne: Copy {
    /// True for the `-1` error marker.
    fn is_minus_one(self) -> bool;
}

macro_rules! impl_is_minus_one {
    ($($t:ty)*) => {$(
        impl IsMinusOne for $t {
            fn is_minus_one(self) -> bool {
                self == -1
            }
        }
    )*};
}
impl_is_minus_one!(i32 i64 isize);

/// `-1` becomes `Err(errno)`, anything else passes through.
pub(crate) fn cvt<T: IsMinusOne>(t: T) -> io::Result<T> {
    if t.is_minus_one() {
        Err(io::Error::last_os_error())
    } else {
        Ok(t)
    }
}

/// Retries a call while it fails with `EINTR`.
pub(crate) fn retry_eintr<T>(mut f: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    loop {
        match f() {
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => {}
            other => return other,
        }
    }
}

/// Wraps a freshly returned descriptor.
fn owned(fd: i64) -> OwnedFd {
    // SAFETY: `fd` was just returned by the kernel as a new descriptor that nothing else owns.
    unsafe { OwnedFd::from_raw_fd(fd as RawFd) }
}

/// Maps `len` bytes of fresh anonymous private memory (zeroed) with protection `prot`;
/// `extra_flags` adds to `MAP_PRIVATE | MAP_ANONYMOUS` (`MAP_NORESERVE`, `MAP_STACK`).
pub(crate) fn map_anonymous(len: usize, prot: i32, extra_flags: i32) -> io::Result<*mut u8> {
    // SAFETY: an anonymous mapping at an address the kernel picks touches no existing memory.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            prot,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | extra_flags,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        Err(io::Error::last_os_error())
    } else {
        Ok(p.cast())
    }
}

/// Changes the protection of `len` bytes at `addr` (both page-aligned).
///
/// # Safety
///
/// `addr .. addr + len` must lie in a mapping the caller owns, and no live reference may
/// depend on the old protection.
pub(crate) unsafe fn protect(addr: *mut u8, len: usize, prot: i32) -> io::Result<()> {
    // SAFETY: the caller's contract.
    cvt(unsafe { libc::mprotect(addr.cast(), len, prot) }).map(drop)
}

/// Unmaps `len` bytes at `addr`.
///
/// # Safety
///
/// `addr .. addr + len` must be a mapping (or the whole of one) that the caller owns, and
/// nothing may use it afterwards.
pub(crate) unsafe fn unmap(addr: *mut u8, len: usize) {
    // SAFETY: the caller's contract.
    unsafe { libc::munmap(addr.cast(), len) };
}

/// `read(2)`, the real one.
pub(crate) fn read(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    raw_syscall!(SYS_read, fd, buf.as_mut_ptr(), buf.len()).map(|n| n as usize)
}

/// `write(2)`, the real one.
pub(crate) fn write(fd: RawFd, buf: &[u8]) -> io::Result<usize> {
    raw_syscall!(SYS_write, fd, buf.as_ptr(), buf.len()).map(|n| n as usize)
}

/// `readv(2)`, the real one.
pub(crate) fn readv(fd: RawFd, bufs: &mut [io::IoSliceMut<'_>]) -> io::Result<usize> {
    // IoSliceMut is ABI-compatible with `struct iovec`.
    let cnt = bufs.len().min(libc::UIO_MAXIOV as usize);
    raw_syscall!(SYS_readv, fd, bufs.as_mut_ptr(), cnt).map(|n| n as usize)
}

/// `close(2)`, the real one. Errors are ignored: the descriptor is gone either way on Linux.
pub(crate) fn close(fd: RawFd) {
    let _ = raw_syscall!(SYS_close, fd);
}

/// `fcntl(fd, F_DUPFD_CLOEXEC, 0)`, the real one: a new descriptor for the same open file.
pub(crate) fn dup_cloexec(fd: RawFd) -> io::Result<OwnedFd> {
    raw_syscall!(SYS_fcntl, fd, libc::F_DUPFD_CLOEXEC, 0).map(owned)
}

/// `fcntl(fd, F_GETFL)`, the real one.
pub(crate) fn get_flags(fd: RawFd) -> io::Result<i32> {
    raw_syscall!(SYS_fcntl, fd, libc::F_GETFL).map(|f| f as i32)
}

/// Sets or clears `O_NONBLOCK`, the real `fcntl`.
pub(crate) fn set_nonblocking(fd: RawFd, on: bool) -> io::Result<()> {
    let flags = get_flags(fd)?;
    let new = if on {
        flags | libc::O_NONBLOCK
    } else {
        flags & !libc::O_NONBLOCK
    };
    if new != flags {
        raw_syscall!(SYS_fcntl, fd, libc::F_SETFL, new)?;
    }
    Ok(())
}

/// `pipe2(O_CLOEXEC | O_NONBLOCK)`: (read end, write end).
#[cfg(test)]
pub(crate) fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as libc::c_int; 2];
    syscall!(pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK))?;
    Ok((owned(fds[0] as i64), owned(fds[1] as i64)))
}

/// A non-blocking, close-on-exec `eventfd`.
pub(crate) fn eventfd() -> io::Result<OwnedFd> {
    let fd = syscall!(eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK))?;
    Ok(owned(fd as i64))
}

/// Adds one to an eventfd counter (wakes its epoll).
pub(crate) fn eventfd_signal(fd: RawFd) {
    let one: u64 = 1;
    // EAGAIN means the counter is saturated, which still wakes the reader.
    let _ = write(fd, &one.to_ne_bytes());
}

/// Resets an eventfd counter to zero.
pub(crate) fn eventfd_drain(fd: RawFd) {
    let mut buf = [0u8; 8];
    let _ = read(fd, &mut buf);
}

/// `epoll_create1(EPOLL_CLOEXEC)`.
pub(crate) fn epoll_create() -> io::Result<OwnedFd> {
    let fd = syscall!(epoll_create1(libc::EPOLL_CLOEXEC))?;
    Ok(owned(fd as i64))
}

/// `epoll_ctl(epfd, op, fd, {events, data})`.
pub(crate) fn epoll_ctl(epfd: RawFd, op: i32, fd: RawFd, events: u32, data: u64) -> io::Result<()> {
    let mut ev = libc::epoll_event { events, u64: data };
    syscall!(epoll_ctl(epfd, op, fd, &mut ev)).map(drop)
}

/// `epoll_wait` into `events`; `timeout_ms` -1 blocks. Returns how many entries were filled.
/// `EINTR` reads as zero events.
pub(crate) fn epoll_wait(
    epfd: RawFd,
    events: &mut [libc::epoll_event],
    timeout_ms: i32,
) -> io::Result<usize> {
    let max = events.len().min(i32::MAX as usize) as i32;
    // A raw system call: its error comes back in a register, where a signal handler that runs
    // meanwhile and sets errno (one whose `write` said EAGAIN, say) cannot change it. With no
    // signal mask, `epoll_pwait` is `epoll_wait`, on every architecture.
    match raw_syscall!(
        SYS_epoll_pwait,
        epfd,
        events.as_mut_ptr(),
        max,
        timeout_ms,
        0usize,
        8usize
    ) {
        Ok(n) => Ok(n as usize),
        Err(e) if e.raw_os_error() == Some(libc::EINTR) => Ok(0),
        Err(e) => Err(e),
    }
}

/// `poll(2)`, the real one; `timeout_ms` -1 blocks. Returns how many entries have revents.
/// Made as `ppoll`, which every architecture has (aarch64 and riscv64 have no `poll`).
pub(crate) fn poll(fds: &mut [libc::pollfd], timeout_ms: i32) -> io::Result<usize> {
    let ts = (timeout_ms >= 0).then(|| libc::timespec {
        tv_sec: (timeout_ms / 1000) as libc::time_t,
        tv_nsec: (timeout_ms % 1000) as libc::c_long * 1_000_000,
    });
    let tsp = ts
        .as_ref()
        .map_or(std::ptr::null(), |t| t as *const libc::timespec);
    raw_syscall!(SYS_ppoll, fds.as_mut_ptr(), fds.len(), tsp, 0usize, 8usize).map(|n| n as usize)
}

/// Milliseconds for a poll-style timeout: rounded up so nothing wakes early, capped at `i32::MAX`.
pub(crate) fn timeout_ms(d: Duration) -> i32 {
    let ms = d.as_nanos().div_ceil(1_000_000);
    ms.min(i32::MAX as u128) as i32
}

/// Blocks until `fd` is ready for `events` (POLLIN/POLLOUT) or the timeout passes, with the
/// real `poll`. Returns false on timeout. Used when there is no coroutine to suspend.
pub(crate) fn wait_blocking(fd: RawFd, events: i16, timeout: Option<Duration>) -> io::Result<bool> {
    let mut pfd = [libc::pollfd {
        fd,
        events,
        revents: 0,
    }];
    let ms = timeout.map_or(-1, timeout_ms);
    retry_eintr(|| poll(&mut pfd, ms)).map(|n| n > 0)
}

/// How many times this process is a `fork` child of a process that ran coro: 0 in the
/// original process, one more in each child (an `pthread_atfork` child handler counts it). A
/// runtime, and the blocking pool, remember the count they were made under: a different one
/// means they are the parent's, copied into this child (see `Scheduler::after_fork`).
static FORK_GENERATION: AtomicU32 = AtomicU32::new(0);

/// The child handler: one store, as a handler that runs between `fork` and `exec` must be.
unsafe extern "C" fn on_fork_child() {
    FORK_GENERATION.fetch_add(1, Ordering::Relaxed);
}

/// Registers the fork handler, once per process (before `main` with the `hooks` feature, else
/// when the first runtime starts).
pub(crate) fn watch_forks() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: registers a child handler that only increments an atomic.
        unsafe { pthread_atfork(None, None, Some(on_fork_child)) };
    });
}

/// See [`FORK_GENERATION`].
#[inline]
pub(crate) fn fork_generation() -> u32 {
    FORK_GENERATION.load(Ordering::Relaxed)
}

unsafe extern "C" {
    fn pthread_atfork(
        prepare: Option<unsafe extern "C" fn()>,
        parent: Option<unsafe extern "C" fn()>,
        child: Option<unsafe extern "C" fn()>,
    ) -> libc::c_int;
}

/// Installs `handler` for `sig` (with `SA_RESTART`: interrupted system calls resume), in
/// place of whatever was there. The handler must do only async-signal-safe things.
pub(crate) fn on_signal(sig: libc::c_int, handler: extern "C" fn(libc::c_int)) -> io::Result<()> {
    // SAFETY: a zeroed sigaction is a valid empty one (no flags, empty mask); we set the
    // handler, which is a plain `extern "C" fn(c_int)` as `sa_handler` expects.
    let action = unsafe {
        let mut a: libc::sigaction = std::mem::zeroed();
        a.sa_sigaction = handler as *const () as usize;
        a.sa_flags = libc::SA_RESTART;
        a
    };
    // SAFETY: a valid action; the old one is not asked for.
    cvt(unsafe { libc::sigaction(sig, &action, std::ptr::null_mut()) }).map(drop)
}

/// The calling thread's kernel id (its LWP id, as debuggers show it).
pub(crate) fn gettid() -> i32 {
    raw_syscall!(SYS_gettid).map_or(0, |tid| tid as i32)
}

/// How many threads this process has (`num_threads` in `/proc/self/stat`), if it can be read.
/// A count of 0 is no count: Linux always says at least 1, but qemu-user's emulated file
/// fills the field with 0.
pub(crate) fn thread_count() -> Option<usize> {
    let fd = syscall!(open(
        c"/proc/self/stat".as_ptr(),
        libc::O_RDONLY | libc::O_CLOEXEC
    ))
    .ok()?;
    let mut buf = [0u8; 1024];
    let n = read(fd, &mut buf);
    close(fd);
    let stat = std::str::from_utf8(&buf[..n.ok()?]).ok()?;
    // The command name (field 2) may hold spaces and parentheses: count from its end.
    let rest = &stat[stat.rfind(')')? + 1..];
    // Fields 3.. follow; num_threads is field 20, the 18th after the name.
    rest.split_whitespace()
        .nth(17)?
        .parse()
        .ok()
        .filter(|&n: &usize| n > 0)
}
