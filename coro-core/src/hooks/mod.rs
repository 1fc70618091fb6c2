//! Syscall hooks: blocking libc calls made inside a coroutine yield to the scheduler.
//!
//! With the cargo feature `hooks` (on by default), coro-core defines `read`, `write`,
//! `readv`, `writev`, `recv`, `recvfrom`, `recvmsg`, `recvmmsg`, `send`, `sendto`, `sendmsg`,
//! `sendmmsg`, `splice`, `tee`, `sendfile`, `sendfile64`, `copy_file_range`, `connect`,
//! `accept`, `accept4`, `poll`, `select`, `nanosleep`, `clock_nanosleep`, `usleep`, `sleep`,
//! `close`, `fcntl`, `ioctl` (FIONBIO), `setsockopt` (SO_RCVTIMEO/SO_SNDTIMEO), `socket`,
//! `socketpair`, `dup`, `dup2`, `dup3` and `getaddrinfo`. A Rust executable exports these
//! definitions, so std's `libc::read` (and the `splice`/`sendfile64` of its `io::copy`) and a
//! C library linked into the program all reach them.
//!
//! - **Outside a coroutine** (or in one that called [`disable`]) each hook checks one
//!   thread-local and calls libc's function, resolved once with `dlsym(RTLD_NEXT, ..)`.
//! - **Inside a coroutine**, a call on a socket that would block waits on the event loop
//!   instead, so that other coroutines run meanwhile; sleeps become timers; `getaddrinfo`
//!   runs on the blocking pool. The user's `O_NONBLOCK` and socket timeouts keep their meaning.
//!
//! ```
//! use std::cell::Cell;
//! use std::rc::Rc;
//! use std::time::Duration;
//!
//! coro::run(|| {
//!     // Plain std code: each sleep suspends only its own coroutine, so all 100 sleep at once.
//!     let asleep = Rc::new(Cell::new(0));
//!     let sleepers: Vec<_> = (0..100)
//!         .map(|_| {
//!             let asleep = asleep.clone();
//!             coro::spawn(move || {
//!                 asleep.set(asleep.get() + 1);
//!                 std::thread::sleep(Duration::from_millis(50));
//!                 asleep.get()
//!             })
//!         })
//!         .collect();
//!     let woke_with: Vec<_> = sleepers.into_iter().map(|s| s.join().unwrap()).collect();
//!     assert_eq!(woke_with[0], 100); // the first to wake saw every one asleep
//! });
//! ```
//!
//! See the book chapter "Hooks: porting blocking code" for the details.

pub(crate) mod real;

#[cfg(feature = "hooks")]
mod fd;
#[cfg(feature = "hooks")]
mod io;
#[cfg(feature = "hooks")]
mod poll;
#[cfg(feature = "hooks")]
mod sleep;
#[cfg(feature = "hooks")]
mod socket;
#[cfg(feature = "hooks")]
mod wait;
#[cfg(feature = "hooks")]
mod zerocopy;
#[cfg(feature = "hooks")]
use std::cell::RefCell;

#[cfg(feature = "hooks")]
thread_local! {
    /// Ids of the coroutines of this thread that turned their hooks off (usually empty, so
    /// that the check costs one load).
    static DISABLED: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
}

/// Held in the coroutine-local storage of a coroutine that turned its hooks off: when the
/// coroutine ends (its locals are dropped) or calls [`enable`], its id leaves [`DISABLED`].
#[cfg(feature = "hooks")]
struct ReenableAtEnd(u64);

#[cfg(feature = "hooks")]
impl Drop for ReenableAtEnd {
    fn drop(&mut self) {
        let id = self.0;
        let _ = DISABLED.try_with(|d| d.borrow_mut().retain(|&x| x != id));
    }
}

#[cfg(feature = "hooks")]
fn no_guard() -> RefCell<Option<ReenableAtEnd>> {
    RefCell::new(None)
}

/// The [`ReenableAtEnd`] of the current coroutine, if it turned its hooks off.
#[cfg(feature = "hooks")]
static DISABLED_GUARD: crate::local::LocalKey<RefCell<Option<ReenableAtEnd>>> =
    crate::local::LocalKey::new(no_guard);

/// True when the caller is a scheduler task whose hooks are on: the hooks then wait on the
/// event loop instead of blocking. Outside a task this is one thread-local check.
#[cfg(feature = "hooks")]
#[inline(always)]
pub(crate) fn active() -> bool {
    crate::runtime::park::hooks_may_wait() && enabled_here()
}

#[cfg(feature = "hooks")]
#[inline]
fn enabled_here() -> bool {
    DISABLED
        .try_with(|d| {
            // Busy only under a signal handler that interrupted `enable`/`disable`.
            let Ok(d) = d.try_borrow() else {
                return false;
            };
            d.is_empty() || crate::coroutine::current_id().is_none_or(|id| !d.contains(&id))
        })
        .unwrap_or(false)
}

/// Turns the hooks on for the current coroutine (they are on by default).
///
/// Outside a coroutine this does nothing: hooks never act there.
pub fn enable() {
    #[cfg(feature = "hooks")]
    if let Some(id) = crate::coroutine::current_id() {
        let guard = DISABLED_GUARD.try_with(|g| g.borrow_mut().take());
        drop(guard);
        let _ = DISABLED.try_with(|d| d.borrow_mut().retain(|&x| x != id));
    }
}

/// Turns the hooks off for the current coroutine: its blocking calls then block the whole
/// thread, as plain libc's do. Until [`enable`] is called or the coroutine ends.
///
/// Outside a coroutine this does nothing.
///
/// ```
/// coro::run(|| {
///     assert!(coro::hooks::is_enabled());
///     coro::hooks::disable();
///     assert!(!coro::hooks::is_enabled());
///     // This sleep blocks the thread: no other coroutine runs meanwhile.
///     std::thread::sleep(std::time::Duration::from_millis(1));
///     coro::hooks::enable();
///     assert!(coro::hooks::is_enabled());
/// });
/// ```
pub fn disable() {
    #[cfg(feature = "hooks")]
    if let Some(id) = crate::coroutine::current_id() {
        let _ = DISABLED.try_with(|d| {
            let mut d = d.borrow_mut();
            if !d.contains(&id) {
                d.push(id);
            }
        });
        // Take the id off the list again when the coroutine ends.
        let _ =
            DISABLED_GUARD.try_with(|g| g.borrow_mut().get_or_insert_with(|| ReenableAtEnd(id)).0);
    }
}

/// True when blocking libc calls made here yield to the scheduler: the `hooks` feature is on,
/// the caller is a coroutine task of a runtime, and it did not call [`disable`].
///
/// ```
/// assert!(!coro::hooks::is_enabled()); // not in a coroutine
/// coro::run(|| assert!(coro::hooks::is_enabled())); // in a task, with the default features
/// ```
pub fn is_enabled() -> bool {
    #[cfg(feature = "hooks")]
    {
        active()
    }
    #[cfg(not(feature = "hooks"))]
    {
        false
    }
}

/// True when this process's `read` is coro's hook (the `hooks` feature is on and the linker
/// kept coro's definitions ahead of libc's). False when a C library was loaded in a way that
/// bypasses them, or with the feature off.
pub fn installed() -> bool {
    #[cfg(feature = "hooks")]
    {
        real::resolve_now();
        // SAFETY: dlsym with a NUL-terminated name; RTLD_DEFAULT searches the global scope in
        // load order, where the executable comes first.
        let global = unsafe { libc::dlsym(libc::RTLD_DEFAULT, c"read".as_ptr()) };
        std::ptr::eq(global.cast_const().cast::<()>(), io::read as *const ())
    }
    #[cfg(not(feature = "hooks"))]
    {
        false
    }
}

/// Reads errno.
#[cfg(feature = "hooks")]
#[inline(always)]
fn errno() -> libc::c_int {
    // SAFETY: __errno_location returns this thread's errno slot.
    unsafe { *libc::__errno_location() }
}

/// Sets errno (right before a hook returns: a switch in between could change it).
#[cfg(feature = "hooks")]
#[inline(always)]
fn set_errno(e: libc::c_int) {
    // SAFETY: __errno_location returns this thread's errno slot.
    unsafe { *libc::__errno_location() = e };
}

#[cfg(all(test, feature = "hooks"))]
mod tests {
    use super::*;

    fn disabled_count() -> usize {
        DISABLED.with(|d| d.borrow().len())
    }

    #[test]
    fn a_coroutine_that_ends_with_hooks_off_leaves_nothing_behind() {
        crate::runtime::run(|| {
            let h = crate::runtime::spawn(|| {
                disable();
                assert!(!is_enabled());
                assert_eq!(disabled_count(), 1);
            });
            h.join().unwrap();
            assert_eq!(disabled_count(), 0);
            assert!(is_enabled());
            disable();
            disable();
            assert_eq!(disabled_count(), 1);
            enable();
            assert_eq!(disabled_count(), 0);
            assert!(is_enabled());
        });
    }
}
