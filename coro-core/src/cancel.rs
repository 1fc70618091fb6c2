//! Cancellation and deadlines: deadline scopes that run a closure in place, shields for cleanup
//! that must finish, and what a cancelled coroutine sees.
//!
//! A **deadline scope** ([`with_timeout`], [`with_deadline`]) runs a closure on the calling
//! coroutine's own stack, with no new coroutine, and gives every wait inside it a deadline, without it
//! being passed down: coro's own waits, `coro::net`, and every hooked libc call that would
//! wait (`std::net`, `std::thread::sleep`, C libraries). When the deadline passes, the wait
//! that sees it ends:
//!
//! | the wait | what it does |
//! |---|---|
//! | a hooked libc call (`read`, `recv`, `send`, `connect`, `accept`, `poll`, `select`, `getaddrinfo`, ...) | returns -1 with `errno` `ETIMEDOUT` (`ECANCELED` for a cancel), never `EINTR` |
//! | a hooked sleep (`nanosleep`, `std::thread::sleep`, ...) | returns early, as if the time had passed |
//! | `coro::net`, [`coro::poll`](crate::poll()) | returns that error as an `io::Error` (`ErrorKind::TimedOut` for a deadline) |
//! | coro's own waits: `sleep`, `yield_now`, `join`, channels, `sync`, `spawn_blocking` | unwinds to the scope, which returns `Err(Error::TimedOut)` |
//!
//! The expiry stays in force until the scope ends: every later wait inside it fails the same way
//! at once, so C code and blocking crates leave by their own error paths. Nothing ever unwinds
//! through a frame that is not Rust's. The scope returns `Err(Error::TimedOut)` whenever its
//! deadline reached a wait inside it, whatever the closure then returned; a closure that never
//! waited after the deadline returns its value.
//!
//! Scopes nest: the earliest deadline in force applies, and an expiry is reported by the scope
//! that set it; the scopes inside it return what their closures returned (which is usually the
//! error), and the expiry goes on to the waits after them.
//!
//! A **cancel** ([`JoinHandle::cancel`](crate::JoinHandle::cancel), or the runtime shutting
//! down when `main` panics) reaches the coroutine's waits the same way, with `ECANCELED`, and
//! stays for the rest of the coroutine's life; an unwind it starts ends the coroutine, whose
//! `join` returns `Err` with a [`Cancelled`] payload. Destructors on the unwound stack run.
//!
//! A **shield** ([`shield`]) holds off the cancel and the enclosing deadlines for cleanup that
//! must finish. And a wait never starts an unwind while one is already in flight: a destructor
//! that waits while its coroutine unwinds waits normally (a hooked call still fails at once).
//!
//! ```
//! use std::io::Read;
//! use std::time::Duration;
//!
//! coro::run(|| {
//!     let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
//!     let mut quiet = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
//!     let (_peer, _) = listener.accept().unwrap(); // connected, and never writes
//!     let r = coro::with_timeout(Duration::from_millis(20), || {
//!         let mut buf = [0; 16];
//!         quiet.read(&mut buf) // plain std::net: the hooked `recv` fails with ETIMEDOUT
//!     });
//!     assert!(matches!(r, Err(coro::Error::TimedOut)));
//! });
//! ```

use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::rc::Rc;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::runtime::cancel::{self, DeadlineUnwind};
use crate::runtime::scheduler::SCHED;
use crate::runtime::task::Task;

pub use crate::runtime::cancel::Cancelled;

/// The running task, or the error that says why there is none.
fn task() -> Result<Rc<Task>> {
    if !SCHED.is_set() {
        return Err(Error::NoRuntime);
    }
    SCHED
        .with(|s| s.current_task())
        .ok_or(Error::NotInCoroutine)
}

/// Runs `f` in place with a deadline `d` from now: `Ok(value)`, or `Err(Error::TimedOut)` if
/// the deadline reached a wait inside `f`. See the [module](self) for what each wait does.
///
/// `f` may borrow anything: it runs on the calling coroutine's stack. Errors, without running
/// `f`: [`Error::NoRuntime`] outside `coro::run`, [`Error::NotInCoroutine`] outside a
/// coroutine of the runtime (a generator's body, or a hand-made `Coroutine`).
///
/// ```
/// use std::time::Duration;
/// coro::run(|| {
///     let mut steps = 0;
///     let r = coro::with_timeout(Duration::from_millis(30), || loop {
///         coro::sleep(Duration::from_millis(10)); // unwinds to the scope at the deadline
///         steps += 1;
///     });
///     assert!(matches!(r, Err(coro::Error::TimedOut)));
///     assert!(steps >= 1);
///     assert_eq!(coro::with_timeout(Duration::from_secs(1), || 5).unwrap(), 5);
/// });
/// ```
///
/// # Panics
///
/// A panic in `f` goes on unwinding past the scope (after it has ended).
pub fn with_timeout<T, F: FnOnce() -> T>(d: Duration, f: F) -> Result<T> {
    let t = task()?;
    match Instant::now().checked_add(d) {
        Some(at) => scope(&t, at, f),
        // No deadline this far away can pass.
        None => Ok(f()),
    }
}

/// As [`with_timeout`] for I/O code: the closure's own `io::Result`, flattened with the
/// scope's outcome, so that `?` takes both. An expired deadline is an `io::Error` of kind
/// [`TimedOut`](io::ErrorKind::TimedOut) (as the failed call inside reported it), and no
/// runtime is an error too.
///
/// ```
/// use std::io::Read;
/// use std::time::Duration;
///
/// fn read_some(s: &mut std::net::TcpStream) -> std::io::Result<usize> {
///     coro::with_io_timeout(Duration::from_millis(20), || s.read(&mut [0; 16]))
/// }
///
/// coro::run(|| {
///     let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
///     let mut quiet = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
///     let _peer = l.accept().unwrap();
///     let err = read_some(&mut quiet).unwrap_err();
///     assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
/// });
/// ```
pub fn with_io_timeout<T, F: FnOnce() -> io::Result<T>>(d: Duration, f: F) -> io::Result<T> {
    match with_timeout(d, f) {
        Ok(r) => r,
        Err(e) => Err(e.into()),
    }
}

/// As [`with_timeout`], with the deadline as an instant.
///
/// ```
/// use std::time::{Duration, Instant};
/// coro::run(|| {
///     let at = Instant::now() + Duration::from_millis(20);
///     let r = coro::with_deadline(at, || std::thread::sleep(Duration::from_secs(5)));
///     assert!(matches!(r, Err(coro::Error::TimedOut))); // the hooked sleep ended early
///     assert!(Instant::now() < at + Duration::from_secs(1));
/// });
/// ```
pub fn with_deadline<T, F: FnOnce() -> T>(deadline: Instant, f: F) -> Result<T> {
    let t = task()?;
    scope(&t, deadline, f)
}

fn scope<T>(t: &Task, at: Instant, f: impl FnOnce() -> T) -> Result<T> {
    let saved = t.cancel.enter_scope(at);
    cancel::set_running_armed(true);
    // Every unwind stops here, so that the scope ends on every path; only this scope's own
    // goes no further. Nothing of `f` is used after its own unwind but its captures, as when a
    // future is dropped half-way by a timeout.
    let r = panic::catch_unwind(AssertUnwindSafe(f));
    let fired = t.cancel.leave_scope(&saved);
    cancel::set_running_armed(t.cancel.armed());
    match r {
        Ok(_) if fired => Err(Error::TimedOut),
        Ok(v) => {
            // Leaving a scope is a wait's equal: an interrupt that reached a call inside as an
            // error (the cancel, an enclosing scope's expiry) goes on from here as an unwind,
            // so that code which handled the error and went on (a retry loop) still ends.
            if let Some(i) = t.cancel.raised_on_exit()
                && cancel::can_raise()
            {
                cancel::raise(i);
            }
            Ok(v)
        }
        Err(p) => match p.downcast_ref::<DeadlineUnwind>() {
            Some(DeadlineUnwind(scope)) if *scope == saved.id() => Err(Error::TimedOut),
            _ => panic::resume_unwind(p),
        },
    }
}

/// Runs `f` with the cancel and the enclosing deadlines held off: the waits inside it wait as
/// if neither had happened (a deadline scope inside the shield still applies). For cleanup that
/// must finish, such as a goodbye written to a peer, or a lock released over the network.
///
/// Outside a coroutine of the runtime, `f` just runs.
///
/// ```
/// use std::time::Duration;
/// coro::run(|| {
///     let h = coro::spawn(|| {
///         let r = std::panic::catch_unwind(|| coro::sleep(Duration::from_secs(3600)));
///         // Cancelled: anything that waits now would fail at once, but inside a shield it
///         // runs to its end.
///         coro::shield(|| coro::sleep(Duration::from_millis(5)));
///         std::panic::resume_unwind(r.unwrap_err());
///     });
///     coro::yield_now();
///     h.cancel();
///     assert!(h.join().unwrap_err().is::<coro::Cancelled>());
/// });
/// ```
pub fn shield<T, F: FnOnce() -> T>(f: F) -> T {
    cancel::shield(f)
}

/// Whether the running coroutine has been cancelled (and is not inside a [`shield`]). False
/// outside a coroutine of the runtime.
///
/// For a long computation between waits, which no cancel reaches: check this now and then, or
/// call [`yield_now`](crate::yield_now), which raises a pending cancel.
pub fn is_cancelled() -> bool {
    task().is_ok_and(|t| t.cancel.is_cancelled())
}
