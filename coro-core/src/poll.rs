//! [`poll`]: libco's `co_poll` — `poll(2)` that suspends the coroutine instead of the thread.

use std::io;
use std::os::fd::RawFd;
use std::time::{Duration, Instant};

use crate::runtime::census::Wait;
use crate::runtime::fd_wait::{self, Interest};
use crate::runtime::park::{self, Parked};
use crate::sys;

/// There is data to read (`POLLIN`).
pub const POLLIN: i16 = libc::POLLIN;
/// There is urgent data to read (`POLLPRI`).
pub const POLLPRI: i16 = libc::POLLPRI;
/// Writing will not block (`POLLOUT`).
pub const POLLOUT: i16 = libc::POLLOUT;
/// An error is pending (`POLLERR`; reported even when not asked for).
pub const POLLERR: i16 = libc::POLLERR;
/// The peer hung up (`POLLHUP`; reported even when not asked for).
pub const POLLHUP: i16 = libc::POLLHUP;
/// The fd is not open (`POLLNVAL`; reported even when not asked for).
pub const POLLNVAL: i16 = libc::POLLNVAL;

/// One fd to watch, laid out as C's `struct pollfd`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PollFd {
    fd: RawFd,
    events: i16,
    revents: i16,
}

// `poll` hands a `&mut [PollFd]` to the kernel as `struct pollfd *`.
const _: () = assert!(std::mem::size_of::<PollFd>() == std::mem::size_of::<libc::pollfd>());
const _: () =
    assert!(std::mem::offset_of!(PollFd, revents) == std::mem::offset_of!(libc::pollfd, revents));

impl PollFd {
    /// Watches `fd` for `events` (`POLLIN | POLLOUT`, ...). A negative fd is ignored.
    pub fn new(fd: RawFd, events: i16) -> PollFd {
        PollFd {
            fd,
            events,
            revents: 0,
        }
    }

    /// The fd.
    pub fn fd(&self) -> RawFd {
        self.fd
    }

    /// The events asked for.
    pub fn events(&self) -> i16 {
        self.events
    }

    /// The events that happened, after [`poll`].
    pub fn revents(&self) -> i16 {
        self.revents
    }
}

/// Waits until one of `fds` is ready or `timeout` passes, and returns how many have
/// `revents` set (0 on timeout), as `poll(2)` does — but inside a coroutine only the
/// coroutine waits: the fds go to the scheduler's epoll and other coroutines run (libco's
/// `co_poll`). `None` waits without limit. Outside a coroutine it is the real `poll(2)`.
///
/// Level-triggered, like `poll(2)`: it reports what is true now, not what changed.
///
/// A cancel or an expired deadline scope fails it with `ECANCELED` or `ETIMEDOUT` (see
/// [`coro::cancel`](crate::cancel)).
///
/// ```
/// use coro::poll::{poll, PollFd, POLLIN};
/// use std::io::Write;
/// use std::os::fd::AsRawFd;
/// use std::time::Duration;
///
/// coro::run(|| {
///     let (r, mut w) = std::io::pipe().unwrap();
///     let mut fds = [PollFd::new(r.as_raw_fd(), POLLIN)];
///     assert_eq!(poll(&mut fds, Some(Duration::from_millis(10))).unwrap(), 0);
///     w.write_all(b"x").unwrap();
///     assert_eq!(poll(&mut fds, None).unwrap(), 1);
///     assert_ne!(fds[0].revents() & POLLIN, 0);
/// });
/// ```
pub fn poll(fds: &mut [PollFd], timeout: Option<Duration>) -> io::Result<usize> {
    let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
    // SAFETY-free view: PollFd is layout-compatible with libc::pollfd (checked above).
    let raw = as_pollfds(fds);
    if !park::in_task() {
        let ms = timeout.map_or(-1, sys::timeout_ms);
        return sys::retry_eintr(|| sys::poll(raw, ms));
    }
    park::check_interrupt()?;
    let mut watch: Vec<(RawFd, Interest)> = Vec::new();
    loop {
        let n = sys::retry_eintr(|| sys::poll(raw, 0))?;
        if n > 0 || timeout == Some(Duration::ZERO) {
            return Ok(n);
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Ok(0);
        }
        watch.clear();
        for p in raw.iter().filter(|p| p.fd >= 0) {
            let mut interest = None;
            if p.events & (POLLIN | POLLPRI) != 0 {
                interest = Some(Interest::READABLE);
            }
            if p.events & POLLOUT != 0 {
                interest = Some(interest.map_or(Interest::WRITABLE, |i| i | Interest::WRITABLE));
            }
            // Errors and hang-ups are always reported; they make an fd "readable" for us.
            watch.push((p.fd, interest.unwrap_or(Interest::READABLE)));
        }
        if watch.is_empty() {
            // Nothing to watch: poll(2) would just sleep.
            loop {
                match park::park_wait(
                    deadline,
                    Wait::Fds {
                        count: 0,
                        call: "coro::poll",
                    },
                ) {
                    Parked::Woken => {}
                    Parked::TimedOut => return Ok(0),
                    Parked::Interrupted(i) => return Err(i.io_error()),
                }
            }
        }
        match fd_wait::wait_any(&watch, deadline, "coro::poll") {
            Ok(_) => {}
            // An fd epoll refuses (closed, or not pollable): let poll(2) report it.
            Err(e) if e.raw_os_error() == Some(libc::EBADF) => {
                return sys::retry_eintr(|| sys::poll(raw, 0));
            }
            Err(e) => return Err(e),
        }
    }
}

fn as_pollfds(fds: &mut [PollFd]) -> &mut [libc::pollfd] {
    // SAFETY: PollFd is repr(C) with the same fields, size and offsets as libc::pollfd
    // (asserted at compile time above), so the slices have the same layout.
    unsafe { std::slice::from_raw_parts_mut(fds.as_mut_ptr().cast::<libc::pollfd>(), fds.len()) }
}
