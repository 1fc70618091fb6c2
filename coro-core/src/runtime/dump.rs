//! Dumps on `SIGQUIT`: with the opt-in, the signal makes every runtime's loop print the census
//! of its thread with backtraces to stderr, and the program goes on (as Go does for its
//! goroutines; the default action of `SIGQUIT` would end the process with a core dump).
//!
//! The handler does what a handler may: it bumps a counter and writes to an eventfd that
//! every loop's epoll watches (the process keeps it open for good, so the handler never
//! writes to an fd that was closed and reused). Each loop wakes, sees the counter moved, and
//! prints its part between two coroutines. A loop busy in a coroutine that never gives its
//! thread back prints nothing until it does; the watchdog is the tool for that case.

use std::os::fd::{IntoRawFd, RawFd};
use std::sync::Mutex;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};

use crate::sys;

use super::scheduler::Scheduler;

/// Counts the `SIGQUIT`s received since the dump was switched on.
static SEQ: AtomicU64 = AtomicU64::new(0);
/// The eventfd the handler writes; -1 until the dump is switched on.
static EFD: AtomicI32 = AtomicI32::new(-1);

/// Whether the dump was asked for through the environment (`CORO_DUMP_ON_SIGQUIT=1`).
pub(crate) fn wanted_by_env() -> bool {
    std::env::var_os("CORO_DUMP_ON_SIGQUIT").is_some_and(|v| v != "0" && !v.is_empty())
}

/// Switches the dump on for the process (once; later calls do nothing): makes the eventfd and
/// installs the handler. Runtimes started from now on watch the eventfd.
pub(crate) fn enable() -> std::io::Result<()> {
    static ON: Mutex<bool> = Mutex::new(false);
    let mut on = ON.lock().unwrap_or_else(|e| e.into_inner());
    if *on {
        return Ok(());
    }
    let efd = sys::eventfd()?.into_raw_fd();
    EFD.store(efd, Ordering::Release);
    sys::on_signal(libc::SIGQUIT, on_sigquit)?;
    *on = true;
    Ok(())
}

/// The eventfd a loop adds to its epoll, if the dump is on.
pub(crate) fn eventfd() -> Option<RawFd> {
    let fd = EFD.load(Ordering::Acquire);
    (fd >= 0).then_some(fd)
}

/// The number of `SIGQUIT`s so far (a loop compares it with the last it answered).
#[inline]
pub(crate) fn seq() -> u64 {
    SEQ.load(Ordering::Relaxed)
}

extern "C" fn on_sigquit(_: libc::c_int) {
    // SAFETY: errno is thread-local; the handler saves and restores it around its one call.
    let errno = unsafe { *libc::__errno_location() };
    SEQ.fetch_add(1, Ordering::Relaxed);
    let fd = EFD.load(Ordering::Acquire);
    if fd >= 0 {
        // write(2) is async-signal-safe; the eventfd is never closed.
        sys::eventfd_signal(fd);
    }
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = errno };
}

/// Keeps the parts of different threads from interleaving on stderr.
static PRINTING: Mutex<()> = Mutex::new(());

impl Scheduler {
    /// Prints this thread's census with backtraces if a `SIGQUIT` came since the last (from
    /// the loop, between two coroutines).
    pub(super) fn dump_if_asked(&self) {
        let now = seq();
        if now == self.dump_seen.get() {
            return;
        }
        self.dump_seen.set(now);
        let census = super::census::Census {
            coroutines: self.census_part(true),
        };
        let thread = std::thread::current()
            .name()
            .unwrap_or("unnamed")
            .to_string();
        let _guard = PRINTING.lock().unwrap_or_else(|e| e.into_inner());
        super::census::print_dump(&census, &format!("SIGQUIT, thread '{thread}'"));
    }
}
