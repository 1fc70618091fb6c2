//! Hooks for `poll(2)` and `select(2)`: inside a coroutine a poll that would block waits on
//! the loop for the readiness of its fds (libco's co_poll), then polls again to fill in
//! `revents` exactly as the kernel reports them.

use std::time::{Duration, Instant};

use libc::{c_int, fd_set, nfds_t, pollfd, timeval};

use super::fd;
use super::wait::{self, Dir};
use super::{active, errno, real, set_errno};
use crate::runtime::fd_wait;

/// Re-poll interval when some fd of a poll cannot be watched by the loop.
const MULTI_FD_TICK: Duration = Duration::from_millis(1);

/// The direction that a pollfd's events ask for.
fn dir_of(events: i16) -> Dir {
    let read = events & (libc::POLLIN | libc::POLLPRI | libc::POLLRDHUP) != 0;
    let write = events & libc::POLLOUT != 0;
    match (read, write) {
        (true, true) => Dir::Both,
        (false, true) => Dir::Write,
        _ => Dir::Read,
    }
}

/// Before a socket the hooks know is waited on here for the first time, drops any stale
/// registration of its fd number (see `FdState::first_wait_here`).
fn fresh_registration(fd: c_int) {
    if let Some(st) = fd::get(fd)
        && st.flags() & fd::FdState::KNOWN != 0
        && st.first_wait_here()
    {
        fd_wait::close_fd(fd);
    }
}

/// A poll that waits on the loop. `fds` may be empty (then it is a sleep). A pending interrupt
/// (a cancel, an expired deadline scope) fails it with -1 and `ECANCELED`/`ETIMEDOUT`, before
/// it starts or while it waits.
fn poll_in_task(fds: &mut [pollfd], timeout_ms: c_int, call: &'static str) -> c_int {
    let deadline =
        (timeout_ms >= 0).then(|| Instant::now() + Duration::from_millis(timeout_ms as u64));
    loop {
        if let Some(e) = wait::interrupted() {
            set_errno(e);
            return -1;
        }
        // SAFETY: `fds` is a valid slice of pollfds; poll here is libc's.
        let r = unsafe { real::poll(fds.as_mut_ptr(), fds.len() as nfds_t, 0) };
        if r != 0 {
            return r;
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return 0;
        }
        match fds {
            [one] if one.fd >= 0 => {
                let dir = dir_of(one.events);
                fresh_registration(one.fd);
                // `wait_any` forgets the cached readiness and checks the registration first.
                match fd_wait::wait_any(&[(one.fd, dir.interest())], deadline, call) {
                    Ok(_) => {}
                    // An interrupt: the loop's next turn fails the call.
                    Err(e) if wait::is_interrupt(&e) => {}
                    // The loop cannot watch this fd: block in libc's poll.
                    Err(_) => {
                        let ms = deadline.map_or(-1, |d| {
                            let left = d.saturating_duration_since(Instant::now());
                            c_int::try_from(left.as_micros().div_ceil(1000)).unwrap_or(c_int::MAX)
                        });
                        // SAFETY: as above.
                        return unsafe { real::poll(fds.as_mut_ptr(), 1, ms) };
                    }
                }
            }
            _ if fds.iter().all(|p| p.fd < 0) => {
                let left = deadline.map_or(Duration::MAX, |d| {
                    d.saturating_duration_since(Instant::now())
                });
                // An interrupt: the loop's next turn fails the call.
                let _ = wait::sleep(left);
            }
            _ => {
                fds.iter().for_each(|p| fresh_registration(p.fd));
                let list: Vec<_> = fds
                    .iter()
                    .filter(|p| p.fd >= 0)
                    .map(|p| (p.fd, dir_of(p.events).interest()))
                    .collect();
                match fd_wait::wait_any(&list, deadline, call) {
                    Ok(_) => {}
                    Err(e) if wait::is_interrupt(&e) => {}
                    Err(_) => {
                        // Some fd cannot be watched: re-poll on a short timer instead.
                        let left = deadline.map_or(MULTI_FD_TICK, |d| {
                            d.saturating_duration_since(Instant::now())
                        });
                        let _ = wait::sleep(left.min(MULTI_FD_TICK));
                    }
                }
            }
        }
    }
}

/// Hooked `poll(2)`.
///
/// # Safety
///
/// As for libc's `poll`: `fds` points to `nfds` pollfds.
#[unsafe(no_mangle)]
pub(crate) unsafe extern "C" fn poll(fds: *mut pollfd, nfds: nfds_t, timeout: c_int) -> c_int {
    if timeout == 0 || !active() || (fds.is_null() && nfds > 0) {
        // SAFETY: forwarded from the caller.
        return unsafe { real::poll(fds, nfds, timeout) };
    }
    let slice: &mut [pollfd] = if nfds == 0 {
        &mut []
    } else {
        // SAFETY: the caller passes `nfds` valid pollfds.
        unsafe { std::slice::from_raw_parts_mut(fds, nfds as usize) }
    };
    let r = poll_in_task(slice, timeout, "poll");
    if r == -1 {
        let e = errno();
        set_errno(e);
    }
    r
}

/// Whether `fd` is in the set (a null set holds nothing).
///
/// # Safety
///
/// `set` is null or a valid fd_set.
unsafe fn in_set(set: *mut fd_set, fd: c_int) -> bool {
    // SAFETY: the caller's contract; FD_ISSET reads the set.
    !set.is_null() && unsafe { libc::FD_ISSET(fd, set) }
}

/// Hooked `select(2)`: turned into a poll over the same fds.
///
/// # Safety
///
/// As for libc's `select`.
#[unsafe(no_mangle)]
pub(crate) unsafe extern "C" fn select(
    n: c_int,
    rd: *mut fd_set,
    wr: *mut fd_set,
    ex: *mut fd_set,
    tv: *mut timeval,
) -> c_int {
    // SAFETY: a non-null timeout points to a timeval.
    let zero = !tv.is_null() && unsafe { (*tv).tv_sec == 0 && (*tv).tv_usec == 0 };
    if zero || !active() || !(0..=libc::FD_SETSIZE as c_int).contains(&n) {
        // SAFETY: forwarded from the caller.
        return unsafe { real::select(n, rd, wr, ex, tv) };
    }
    let mut fds = Vec::new();
    for fd in 0..n {
        // SAFETY: the sets are null or valid, as libc requires.
        let (r, w, e) = unsafe { (in_set(rd, fd), in_set(wr, fd), in_set(ex, fd)) };
        let mut events = 0;
        if r {
            events |= libc::POLLIN;
        }
        if w {
            events |= libc::POLLOUT;
        }
        if e {
            events |= libc::POLLPRI;
        }
        if events != 0 {
            fds.push(pollfd {
                fd,
                events,
                revents: 0,
            });
        }
    }
    let start = Instant::now();
    let timeout_ms = if tv.is_null() {
        -1
    } else {
        // SAFETY: non-null, checked above.
        let t = unsafe { *tv };
        let us = (t.tv_sec.max(0) as u128) * 1_000_000 + t.tv_usec.max(0) as u128;
        c_int::try_from(us.div_ceil(1000)).unwrap_or(c_int::MAX)
    };
    let r = poll_in_task(&mut fds, timeout_ms, "select");
    if r == -1 {
        let e = errno();
        set_errno(e);
        return -1;
    }
    if fds.iter().any(|p| p.revents & libc::POLLNVAL != 0) {
        set_errno(libc::EBADF);
        return -1;
    }
    // SAFETY: the sets are null or valid; FD_ZERO/FD_SET write them.
    unsafe {
        for set in [rd, wr, ex] {
            if !set.is_null() {
                libc::FD_ZERO(set);
            }
        }
    }
    let mut count = 0;
    for p in &fds {
        let ready = [
            (
                rd,
                p.events & libc::POLLIN != 0
                    && p.revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0,
            ),
            (
                wr,
                p.events & libc::POLLOUT != 0 && p.revents & (libc::POLLOUT | libc::POLLERR) != 0,
            ),
            (
                ex,
                p.events & libc::POLLPRI != 0 && p.revents & libc::POLLPRI != 0,
            ),
        ];
        for (set, on) in ready {
            if on {
                // SAFETY: the set is non-null (its fd asked for these events) and valid.
                unsafe { libc::FD_SET(p.fd, set) };
                count += 1;
            }
        }
    }
    if !tv.is_null() {
        let left = Duration::from_millis(timeout_ms.max(0) as u64).saturating_sub(start.elapsed());
        // SAFETY: non-null; Linux reports the time left, and so do we.
        unsafe {
            (*tv).tv_sec = left.as_secs() as _;
            (*tv).tv_usec = left.subsec_micros() as _;
        }
    }
    count
}
