//! Per-fd state of the hooks, libco's `rpchook_t`: what the *user* asked of each fd, as
//! opposed to what the hooks did to the kernel's file description.
//!
//! The hooks turn a socket non-blocking in the kernel the first time a coroutine blocks on it
//! ([`FdState::HOOK_NONBLOCK`]); the user's own view stays blocking unless they asked for
//! `O_NONBLOCK` themselves ([`FdState::USER_NONBLOCK`]), in which case the hooks step aside and
//! `EAGAIN` reaches the user as they expect. The user's `SO_RCVTIMEO`/`SO_SNDTIMEO` become the
//! deadlines of the waits. `close` resets the entry and bumps its generation, so a waiter woken
//! by the close sees that its fd number no longer names the same socket.
//!
//! Only sockets this process made through the hooks are tracked (see [`FdState::KNOWN`]).
//!
//! The table is indexed by fd number: 256 chunks of 4096 entries, each chunk mapped with `mmap`
//! on first use and never freed, so that a lookup is two loads and never allocates through
//! `malloc` (a hook may run in a signal handler or inside the allocator's own start-up).

use std::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use libc::c_int;

use super::real;

/// Entries per chunk.
const CHUNK: usize = 4096;
/// Chunks: fds `0..CHUNK * CHUNKS` (about a million) are tracked; larger ones pass straight
/// through to libc (they block the thread inside a coroutine).
const CHUNKS: usize = 256;

/// The state of one fd number. All zero means "not looked at yet".
#[derive(Debug)]
pub(crate) struct FdState {
    flags: AtomicU32,
    generation: AtomicU32,
    /// `SO_RCVTIMEO` in microseconds, 0 for none.
    recv_timeout_us: AtomicU64,
    /// `SO_SNDTIMEO` in microseconds, 0 for none.
    send_timeout_us: AtomicU64,
    /// `(generation + 1) << 32 | thread tag` of the last event loop that waited on this fd:
    /// see [`FdState::first_wait_here`].
    waited: AtomicU64,
}

/// Which of the user's socket timeouts applies to a wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Timeout {
    /// `SO_RCVTIMEO`: reads, receives, accept.
    Recv,
    /// `SO_SNDTIMEO`: writes, sends, connect.
    Send,
}

impl FdState {
    /// The fd was made by this process through a hooked `socket`, `accept`, `accept4`,
    /// `socketpair` or `fcntl(F_DUPFD)`. Only such fds are ever waited on: an inherited
    /// socket (stdout under systemd, say) is shared with other processes, and turning it
    /// non-blocking would change it for them too.
    pub(crate) const KNOWN: u32 = 1;
    /// The fd is a socket: the hooks may make it non-blocking and wait on it.
    pub(crate) const SOCKET: u32 = 2;
    /// The user set `O_NONBLOCK` (socket flag, fcntl or FIONBIO): hooks pass calls through.
    pub(crate) const USER_NONBLOCK: u32 = 4;
    /// The hooks set `O_NONBLOCK` on the kernel's file description.
    pub(crate) const HOOK_NONBLOCK: u32 = 8;
    /// A stream socket: a read that returns less than asked for has drained it.
    pub(crate) const STREAM: u32 = 16;

    /// The current flags.
    #[inline]
    pub(crate) fn flags(&self) -> u32 {
        self.flags.load(Ordering::Acquire)
    }

    /// The generation: bumped by every close of this fd number.
    #[inline]
    pub(crate) fn generation(&self) -> u32 {
        self.generation.load(Ordering::Acquire)
    }

    /// True when a blocking call on this fd must be emulated by the hooks (the kernel
    /// description is non-blocking only because the hooks made it so).
    #[inline]
    pub(crate) fn emulates_blocking(&self) -> bool {
        self.flags() & (Self::HOOK_NONBLOCK | Self::USER_NONBLOCK) == Self::HOOK_NONBLOCK
    }

    /// The user's timeout of the given kind, if any.
    pub(crate) fn timeout(&self, kind: Timeout) -> Option<Duration> {
        let us = match kind {
            Timeout::Recv => self.recv_timeout_us.load(Ordering::Relaxed),
            Timeout::Send => self.send_timeout_us.load(Ordering::Relaxed),
        };
        (us != 0).then(|| Duration::from_micros(us))
    }

    /// Records the user's timeout (`None` or zero: no timeout).
    pub(crate) fn set_timeout(&self, kind: Timeout, d: Option<Duration>) {
        let us = d.map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
        match kind {
            Timeout::Recv => self.recv_timeout_us.store(us, Ordering::Relaxed),
            Timeout::Send => self.send_timeout_us.store(us, Ordering::Relaxed),
        }
    }

    /// Sets or clears the user's non-blocking flag (of a known fd).
    pub(crate) fn set_user_nonblock(&self, on: bool) {
        if on {
            self.flags.fetch_or(Self::USER_NONBLOCK, Ordering::AcqRel);
        } else {
            self.flags.fetch_and(!Self::USER_NONBLOCK, Ordering::AcqRel);
        }
    }

    /// Marks the entry as a fresh socket (from `socket`, `accept`, `socketpair`).
    pub(crate) fn reset_socket(&self, user_nonblock: bool, stream: bool) {
        self.recv_timeout_us.store(0, Ordering::Relaxed);
        self.send_timeout_us.store(0, Ordering::Relaxed);
        let mut flags = Self::KNOWN | Self::SOCKET;
        if user_nonblock {
            flags |= Self::USER_NONBLOCK;
        }
        if stream {
            flags |= Self::STREAM;
        }
        self.flags.store(flags, Ordering::Release);
        // A new incarnation of the number, even if its last close bypassed the hooks.
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// Copies `other`'s flags and timeouts (a `dup` shares the file description). The two
    /// entries are independent from then on: if the hooks later turn the shared description
    /// non-blocking through one copy, the other learns it only when a coroutine uses it.
    pub(crate) fn copy_from(&self, other: &FdState) {
        self.recv_timeout_us.store(
            other.recv_timeout_us.load(Ordering::Relaxed),
            Ordering::Relaxed,
        );
        self.send_timeout_us.store(
            other.send_timeout_us.load(Ordering::Relaxed),
            Ordering::Relaxed,
        );
        self.flags.store(other.flags(), Ordering::Release);
    }

    /// True the first time this incarnation of the fd is waited on by the event loop of this
    /// thread. The loop may then still hold a registration of an earlier socket with the same
    /// number, closed where no hook could tell it (on another thread, say): the caller drops
    /// that registration first, so that epoll watches the socket the number names now.
    pub(crate) fn first_wait_here(&self) -> bool {
        let key = (u64::from(self.generation()) + 1) << 32 | u64::from(thread_tag());
        self.waited.load(Ordering::Relaxed) != key
            && self.waited.swap(key, Ordering::Relaxed) != key
    }

    /// Forgets everything (the fd number was closed) and bumps the generation.
    pub(crate) fn reset_closed(&self) {
        self.flags.store(0, Ordering::Release);
        self.recv_timeout_us.store(0, Ordering::Relaxed);
        self.send_timeout_us.store(0, Ordering::Relaxed);
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// Makes the kernel's description non-blocking for the hooks (once), unless the user
    /// already made it so. Returns false when that failed (the caller then passes through).
    pub(crate) fn make_nonblocking(&self, fd: c_int) -> bool {
        let flags = self.flags();
        if flags & (Self::HOOK_NONBLOCK | Self::USER_NONBLOCK) != 0 {
            return true;
        }
        // SAFETY: F_GETFL/F_SETFL with an integer argument; fcntl here is libc's.
        let ok = unsafe {
            let fl = real::fcntl(fd, libc::F_GETFL, 0);
            fl != -1
                && (fl & libc::O_NONBLOCK != 0
                    || real::fcntl(fd, libc::F_SETFL, (fl | libc::O_NONBLOCK) as libc::c_ulong)
                        != -1)
        };
        if ok {
            self.flags.fetch_or(Self::HOOK_NONBLOCK, Ordering::AcqRel);
        }
        ok
    }
}

/// A small number naming the calling thread (never 0).
fn thread_tag() -> u32 {
    use std::cell::Cell;
    use std::sync::atomic::AtomicU32;
    static NEXT: AtomicU32 = AtomicU32::new(1);
    thread_local! {
        static TAG: Cell<u32> = const { Cell::new(0) };
    }
    TAG.try_with(|t| {
        if t.get() == 0 {
            t.set(NEXT.fetch_add(1, Ordering::Relaxed).max(1));
        }
        t.get()
    })
    .unwrap_or(u32::MAX)
}

static TABLE: [AtomicPtr<FdState>; CHUNKS] =
    [const { AtomicPtr::new(std::ptr::null_mut()) }; CHUNKS];

/// The entry of `fd` if its chunk exists (never allocates).
#[inline]
pub(crate) fn get(fd: c_int) -> Option<&'static FdState> {
    let i = usize::try_from(fd).ok()?;
    let chunk = TABLE.get(i / CHUNK)?.load(Ordering::Acquire);
    if chunk.is_null() {
        return None;
    }
    // SAFETY: a non-null chunk points to CHUNK entries that live forever.
    Some(unsafe { &*chunk.add(i % CHUNK) })
}

/// The entry of `fd`, mapping its chunk if needed. None for negative or untracked fds, or if
/// the kernel refused the mapping.
pub(crate) fn get_or_create(fd: c_int) -> Option<&'static FdState> {
    if let Some(st) = get(fd) {
        return Some(st);
    }
    let i = usize::try_from(fd).ok()?;
    let slot = TABLE.get(i / CHUNK)?;
    let bytes = CHUNK * std::mem::size_of::<FdState>();
    // Zeroed memory is a valid array of FdState (all atomics at 0).
    let p = crate::sys::map_anonymous(bytes, libc::PROT_READ | libc::PROT_WRITE, 0).ok()?;
    let p = p.cast::<FdState>();
    if let Err(_winner) =
        slot.compare_exchange(std::ptr::null_mut(), p, Ordering::AcqRel, Ordering::Acquire)
    {
        // SAFETY: our mapping lost the race and was never shared.
        unsafe { crate::sys::unmap(p.cast(), bytes) };
    }
    get(fd)
}

/// A new socket `fd` came from `socket`/`accept`/`socketpair`.
pub(crate) fn on_new_socket(fd: c_int, user_nonblock: bool, stream: bool) {
    if let Some(st) = get_or_create(fd) {
        st.reset_socket(user_nonblock, stream);
    }
}

/// Whether a `socket(2)` type (with its `SOCK_NONBLOCK`/`SOCK_CLOEXEC` bits) is a stream.
pub(crate) fn is_stream_type(ty: c_int) -> bool {
    ty & !(libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC) == libc::SOCK_STREAM
}

/// `fd` is being closed: forget its state.
#[inline]
pub(crate) fn on_close(fd: c_int) {
    if let Some(st) = get(fd) {
        st.reset_closed();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_entries_are_unknown_and_close_resets() {
        let st = get_or_create(4000).expect("table");
        st.reset_socket(true, true);
        assert_eq!(
            st.flags(),
            FdState::KNOWN | FdState::SOCKET | FdState::USER_NONBLOCK | FdState::STREAM
        );
        assert!(is_stream_type(libc::SOCK_STREAM | libc::SOCK_CLOEXEC));
        assert!(!is_stream_type(libc::SOCK_DGRAM | libc::SOCK_NONBLOCK));
        st.set_timeout(Timeout::Recv, Some(Duration::from_millis(5)));
        assert_eq!(st.timeout(Timeout::Recv), Some(Duration::from_millis(5)));
        let g = st.generation();
        on_close(4000);
        assert_eq!(st.flags(), 0);
        assert_eq!(st.timeout(Timeout::Recv), None);
        assert_eq!(st.generation(), g + 1);
        assert!(get(-1).is_none());
        assert!(get_or_create(c_int::MAX).is_none());
    }
}
