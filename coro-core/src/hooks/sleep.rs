//! Hooks for the sleeps: `nanosleep`, `clock_nanosleep`, `usleep` and `sleep`. Inside a
//! coroutine each becomes a timer on the loop; `std::thread::sleep` ends up here. A cancel or
//! an expired deadline scope ends a sleep early, and it returns as if its time had passed.

use std::time::Duration;

use libc::{c_int, c_uint, clockid_t, timespec};

use super::wait;
use super::{active, real, set_errno};

/// A valid relative `timespec` as a Duration; None for a negative or malformed one.
fn duration(ts: &timespec) -> Option<Duration> {
    if ts.tv_sec < 0 || !(0..1_000_000_000).contains(&ts.tv_nsec) {
        return None;
    }
    Some(Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
}

/// Hooked `nanosleep(2)`.
///
/// # Safety
///
/// As for libc's `nanosleep`.
#[unsafe(no_mangle)]
pub(crate) unsafe extern "C" fn nanosleep(req: *const timespec, rem: *mut timespec) -> c_int {
    if !active() || req.is_null() {
        // SAFETY: forwarded from the caller.
        return unsafe { real::nanosleep(req, rem) };
    }
    // SAFETY: `req` is non-null and points to a timespec, as libc requires.
    let Some(d) = duration(unsafe { &*req }) else {
        set_errno(libc::EINVAL);
        return -1;
    };
    // An interrupt ends the sleep early, as if its time had passed: callers such as std's
    // `thread::sleep` accept no error but EINTR, which they would retry. The next hooked call
    // that waits fails with it.
    let _ = wait::sleep(d);
    if !rem.is_null() {
        // SAFETY: a non-null `rem` points to a writable timespec.
        unsafe {
            *rem = timespec {
                tv_sec: 0,
                tv_nsec: 0,
            }
        };
    }
    0
}

/// Hooked `clock_nanosleep(2)` for the realtime, monotonic and boottime clocks, relative or
/// `TIMER_ABSTIME`. Returns the error number, as libc's does.
///
/// # Safety
///
/// As for libc's `clock_nanosleep`.
#[unsafe(no_mangle)]
pub(crate) unsafe extern "C" fn clock_nanosleep(
    clock: clockid_t,
    flags: c_int,
    req: *const timespec,
    rem: *mut timespec,
) -> c_int {
    let known = matches!(
        clock,
        libc::CLOCK_REALTIME | libc::CLOCK_MONOTONIC | libc::CLOCK_BOOTTIME
    );
    if !active() || req.is_null() || !known {
        // SAFETY: forwarded from the caller.
        return unsafe { real::clock_nanosleep(clock, flags, req, rem) };
    }
    // SAFETY: `req` is non-null and points to a timespec, as libc requires.
    let req = unsafe { *req };
    if duration(&req).is_none() {
        return libc::EINVAL;
    }
    let d = if flags & libc::TIMER_ABSTIME != 0 {
        let mut now = timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: clock_gettime writes one timespec; it is not hooked.
        unsafe { libc::clock_gettime(clock, &mut now) };
        let left = (req.tv_sec as i128 - now.tv_sec as i128) * 1_000_000_000
            + (req.tv_nsec as i128 - now.tv_nsec as i128);
        Duration::from_nanos(left.clamp(0, u64::MAX as i128) as u64)
    } else {
        duration(&req).unwrap_or_default()
    };
    let _ = wait::sleep(d); // an interrupt ends it early, as in `nanosleep`

    if !rem.is_null() && flags & libc::TIMER_ABSTIME == 0 {
        // SAFETY: a non-null `rem` points to a writable timespec.
        unsafe {
            *rem = timespec {
                tv_sec: 0,
                tv_nsec: 0,
            }
        };
    }
    0
}

/// Hooked `usleep(3)`.
///
/// # Safety
///
/// Always safe to call; `unsafe` only because it is an exported libc symbol.
#[unsafe(no_mangle)]
pub(crate) unsafe extern "C" fn usleep(usec: libc::useconds_t) -> c_int {
    if !active() {
        // SAFETY: usleep has no preconditions.
        return unsafe { real::usleep(usec) };
    }
    let _ = wait::sleep(Duration::from_micros(u64::from(usec))); // as in `nanosleep`
    0
}

/// Hooked `sleep(3)`.
///
/// # Safety
///
/// Always safe to call; `unsafe` only because it is an exported libc symbol.
#[unsafe(no_mangle)]
pub(crate) unsafe extern "C" fn sleep(secs: c_uint) -> c_uint {
    if !active() {
        // SAFETY: sleep has no preconditions.
        return unsafe { real::sleep(secs) };
    }
    let _ = wait::sleep(Duration::from_secs(u64::from(secs))); // as in `nanosleep`
    0
}
