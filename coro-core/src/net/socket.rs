//! [`Socket`]: the owned, non-blocking fd under every net type, and the I/O loop they share.
//!
//! The loop is where the event loop's promises are kept: a call is tried only when the
//! readiness cache says it may succeed (or does not know); `EAGAIN`, or a short read or write
//! on a stream, clears the cache; and only then does the coroutine park on epoll. So a busy
//! stream costs exactly one `read` and one `write` syscall per request, with no wasted
//! `EAGAIN` read, and a wait allocates nothing.

use std::cell::Cell;
use std::io;
use std::marker::PhantomData;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use crate::runtime::fd_wait::{self, Interest};
use crate::runtime::park;
use crate::sys;

/// An owned non-blocking socket fd of this thread's runtime. Dropping it deregisters the fd
/// from the scheduler's epoll (waking any waiter) and closes it.
///
/// Not `Send`: its readiness lives in the registering thread's scheduler.
#[derive(Debug)]
pub(crate) struct Socket {
    fd: RawFd,
    _not_send: PhantomData<*const ()>,
}

impl Socket {
    /// A new non-blocking, close-on-exec socket.
    pub(crate) fn new(domain: i32, ty: i32) -> io::Result<Socket> {
        Ok(Socket::from_owned(sys::socket::socket(domain, ty)?))
    }

    /// Takes ownership of an fd (which must be non-blocking already).
    pub(crate) fn from_owned(fd: OwnedFd) -> Socket {
        let fd = fd.into_raw_fd();
        // The fd number may have been used before by an fd that was closed behind the
        // runtime's back (not through `close_fd` or the `close` hook): drop any stale cache.
        fd_wait::forget_fd(fd);
        Socket {
            fd,
            _not_send: PhantomData,
        }
    }

    /// Takes a std socket, making it non-blocking.
    pub(crate) fn from_std(fd: OwnedFd) -> io::Result<Socket> {
        sys::set_nonblocking(fd.as_raw_fd(), true)?;
        Ok(Socket::from_owned(fd))
    }

    /// A second socket for the same open file (a `dup`), non-blocking like this one: another
    /// coroutine of this thread can wait on it while this one waits on the original.
    pub(crate) fn try_clone(&self) -> io::Result<Socket> {
        Ok(Socket::from_owned(sys::dup_cloexec(self.fd)?))
    }

    /// Gives the fd back as a blocking std fd, deregistered from the runtime.
    pub(crate) fn into_std(self) -> io::Result<OwnedFd> {
        let fd = self.fd;
        std::mem::forget(self);
        fd_wait::close_fd(fd);
        // SAFETY: we owned `fd` and have forgotten ourselves, so ownership moves to the OwnedFd.
        let owned = unsafe { OwnedFd::from_raw_fd(fd) };
        sys::set_nonblocking(fd, false)?;
        Ok(owned)
    }

    /// The fd.
    #[inline]
    pub(crate) fn fd(&self) -> RawFd {
        self.fd
    }

    /// Runs `op` until it does not say `EAGAIN`, parking on epoll in between (or blocking the
    /// thread in `poll(2)` outside a coroutine); `drained(&result)` tells whether a successful
    /// call emptied the socket (a short read or write on a stream), which clears the readiness
    /// cache so the next call waits instead of trying. `timeout` gives `ErrorKind::TimedOut`.
    /// A pending interrupt fails the call before it starts, and ends a wait: `ECANCELED` for a
    /// cancel, `ETIMEDOUT` (`ErrorKind::TimedOut`) for an expired deadline scope.
    #[inline]
    pub(crate) fn io<T>(
        &self,
        interest: Interest,
        timeout: Option<Duration>,
        mut op: impl FnMut(RawFd) -> io::Result<T>,
        drained: impl Fn(&T) -> bool,
    ) -> io::Result<T> {
        let fd = self.fd;
        park::check_interrupt()?;
        if let Some(timeout) = timeout {
            return io_timed(fd, interest, timeout, op, drained);
        }
        // No timeout: only `fd`, `interest` and the closures stay live across the wait, which
        // is inlined here (and this loop into the caller, whose frame a parked read keeps).
        loop {
            if let Some(r) = attempt(fd, interest, &mut op, &drained) {
                return r;
            }
            wait(fd, interest, None)?;
        }
    }

    /// Marks the fd writable in the readiness cache (a fresh connected or accepted stream).
    pub(crate) fn register_connected(&self) {
        fd_wait::register_writable(self.fd);
    }

    /// `shutdown(2)`.
    pub(crate) fn shutdown(&self, how: std::net::Shutdown) -> io::Result<()> {
        sys::socket::shutdown(self.fd, how)
    }

    /// The pending socket error, cleared by reading it.
    pub(crate) fn take_error(&self) -> io::Result<Option<io::Error>> {
        sys::socket::take_error(self.fd)
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        fd_wait::close_fd(self.fd);
        sys::close(self.fd);
    }
}

impl AsRawFd for Socket {
    fn as_raw_fd(&self) -> RawFd {
        self.fd
    }
}

impl AsFd for Socket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        // SAFETY: the fd is open for as long as `self` lives.
        unsafe { BorrowedFd::borrow_raw(self.fd) }
    }
}

/// [`Socket::io`] with a timeout, which starts at the first wait. Out of line, so that the
/// deadline takes no room in the frames of the common calls, which have none.
#[inline(never)]
fn io_timed<T>(
    fd: RawFd,
    interest: Interest,
    timeout: Duration,
    mut op: impl FnMut(RawFd) -> io::Result<T>,
    drained: impl Fn(&T) -> bool,
) -> io::Result<T> {
    let mut deadline = None;
    loop {
        if let Some(r) = attempt(fd, interest, &mut op, &drained) {
            return r;
        }
        let at = *deadline.get_or_insert_with(|| Instant::now() + timeout);
        wait(fd, interest, Some(at))?;
    }
}

/// One try of [`Socket::io`]'s call, if the readiness cache says the fd may be ready: `None`
/// when the caller must wait (the cache said not ready, or the call said `EAGAIN`), else the
/// call's result.
#[inline(always)]
fn attempt<T>(
    fd: RawFd,
    interest: Interest,
    op: &mut impl FnMut(RawFd) -> io::Result<T>,
    drained: &impl Fn(&T) -> bool,
) -> Option<io::Result<T>> {
    while fd_wait::is_ready(fd, interest) {
        match op(fd) {
            Ok(v) => {
                if drained(&v) {
                    fd_wait::clear_ready(fd, interest);
                }
                return Some(Ok(v));
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                fd_wait::clear_ready(fd, interest);
                return None;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Some(Err(e)),
        }
    }
    None
}

/// After an `accept` that failed: for want of fds or memory (`EMFILE`, `ENFILE`, ...), lets the
/// other coroutines run once before the error is returned, so that an accept loop that retries
/// at once cannot keep the coroutines that would close fds from running.
pub(crate) fn after_accept_failure(e: &io::Error) {
    if e.raw_os_error().is_some_and(fd_wait::is_resource_shortage) {
        park::yield_quietly();
    }
}

/// The error of an I/O call that ran out of time.
#[cold]
#[inline(never)]
pub(crate) fn timed_out() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "the I/O operation timed out")
}

/// Waits until `fd` is ready for `interest`: parks the coroutine on epoll, or blocks the thread
/// in `poll(2)` outside one. `ErrorKind::TimedOut` after `deadline`. Inlined into the I/O loop,
/// so that a read parked on epoll has no frame of this function under its wait.
#[inline(always)]
pub(crate) fn wait(fd: RawFd, interest: Interest, deadline: Option<Instant>) -> io::Result<()> {
    let ready = if park::in_task() {
        fd_wait::wait_fd(fd, interest, deadline, "")?
    } else {
        wait_blocking(fd, interest, deadline)?
    };
    if ready { Ok(()) } else { Err(timed_out()) }
}

/// [`wait`] outside a coroutine: `poll(2)`.
#[cold]
#[inline(never)]
fn wait_blocking(fd: RawFd, interest: Interest, deadline: Option<Instant>) -> io::Result<bool> {
    let events = if interest == Interest::READABLE {
        libc::POLLIN
    } else {
        libc::POLLOUT
    };
    let timeout = deadline.map(|d| d.saturating_duration_since(Instant::now()));
    sys::wait_blocking(fd, events, timeout)
}

/// A read or write timeout as std keeps it: `Some(0)` is refused. Kept as whole nanoseconds in
/// one word, 0 for none (which `Some(0)` being refused leaves free): a socket is moved into
/// every connection's coroutine, and each word of it is a word of that coroutine's control
/// block and frames. A timeout past `u64::MAX` nanoseconds (584 years) is kept as that.
#[derive(Debug, Default)]
pub(crate) struct Timeout(Cell<u64>);

impl Timeout {
    pub(crate) fn get(&self) -> Option<Duration> {
        match self.0.get() {
            0 => None,
            nanos => Some(Duration::from_nanos(nanos)),
        }
    }

    pub(crate) fn set(&self, t: Option<Duration>) -> io::Result<()> {
        if t == Some(Duration::ZERO) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "cannot set a 0 duration timeout",
            ));
        }
        // A `Duration` that is not zero is at least a nanosecond, so `Some` never becomes 0.
        let nanos = t.map_or(0, |t| u64::try_from(t.as_nanos()).unwrap_or(u64::MAX));
        self.0.set(nanos);
        Ok(())
    }
}

/// Total length of a set of buffers.
pub(crate) fn total_len<B: std::ops::Deref<Target = [u8]>>(bufs: &[B]) -> usize {
    bufs.iter().map(|b| b.len()).sum()
}

/// The timeout and socket-error methods of a socket type `$t` with `sock: Socket` and
/// `read_timeout`/`write_timeout: Timeout` fields, with std's names and meaning.
macro_rules! timeout_methods {
    ($t:ty) => {
        impl $t {
            /// Sets the read timeout (`None`: wait forever); `Some(0)` is an error, as in std.
            pub fn set_read_timeout(&self, t: Option<std::time::Duration>) -> std::io::Result<()> {
                self.read_timeout.set(t)
            }

            /// Sets the write timeout (`None`: wait forever); `Some(0)` is an error, as in std.
            pub fn set_write_timeout(&self, t: Option<std::time::Duration>) -> std::io::Result<()> {
                self.write_timeout.set(t)
            }

            /// The read timeout.
            pub fn read_timeout(&self) -> std::io::Result<Option<std::time::Duration>> {
                Ok(self.read_timeout.get())
            }

            /// The write timeout.
            pub fn write_timeout(&self) -> std::io::Result<Option<std::time::Duration>> {
                Ok(self.write_timeout.get())
            }

            /// The pending socket error (`SO_ERROR`), cleared by reading it.
            pub fn take_error(&self) -> std::io::Result<Option<std::io::Error>> {
                self.sock.take_error()
            }
        }
    };
}
pub(crate) use timeout_methods;

/// Implements `Read` and `Write` for `$t` and `&$t` from its inherent `read_impl`,
/// `read_vectored_impl`, `write_impl` and `write_vectored_impl`.
macro_rules! impl_read_write {
    ($t:ty) => {
        impl_read_write!(@for $t);
        impl_read_write!(@for &$t);
    };
    (@for $t:ty) => {
        impl std::io::Read for $t {
            #[inline]
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                self.read_impl(buf)
            }
            fn read_vectored(
                &mut self,
                bufs: &mut [std::io::IoSliceMut<'_>],
            ) -> std::io::Result<usize> {
                self.read_vectored_impl(bufs)
            }
        }
        impl std::io::Write for $t {
            #[inline]
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.write_impl(buf)
            }
            fn write_vectored(&mut self, bufs: &[std::io::IoSlice<'_>]) -> std::io::Result<usize> {
                self.write_vectored_impl(bufs)
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
    };
}
pub(crate) use impl_read_write;

/// Stream reads and writes shared by `TcpStream` and `UnixStream`.
macro_rules! stream_io {
    () => {
        #[inline]
        fn read_impl(&self, buf: &mut [u8]) -> std::io::Result<usize> {
            if buf.is_empty() {
                return Ok(0);
            }
            let len = buf.len();
            self.sock.io(
                crate::runtime::fd_wait::Interest::READABLE,
                self.read_timeout.get(),
                |fd| crate::sys::socket::recv_from(fd, buf, 0, None),
                // A short read drained the socket; edge-triggered epoll reports the next data.
                |&n| n > 0 && n < len,
            )
        }

        fn read_vectored_impl(
            &self,
            bufs: &mut [std::io::IoSliceMut<'_>],
        ) -> std::io::Result<usize> {
            let len = crate::net::socket::total_len(bufs);
            if len == 0 {
                return Ok(0);
            }
            self.sock.io(
                crate::runtime::fd_wait::Interest::READABLE,
                self.read_timeout.get(),
                |fd| crate::sys::readv(fd, bufs),
                |&n| n > 0 && n < len,
            )
        }

        #[inline]
        fn write_impl(&self, buf: &[u8]) -> std::io::Result<usize> {
            if buf.is_empty() {
                return Ok(0);
            }
            let len = buf.len();
            self.sock.io(
                crate::runtime::fd_wait::Interest::WRITABLE,
                self.write_timeout.get(),
                |fd| crate::sys::socket::send(fd, buf),
                // A short write filled the send buffer.
                |&n| n < len,
            )
        }

        fn write_vectored_impl(&self, bufs: &[std::io::IoSlice<'_>]) -> std::io::Result<usize> {
            let len = crate::net::socket::total_len(bufs);
            if len == 0 {
                return Ok(0);
            }
            self.sock.io(
                crate::runtime::fd_wait::Interest::WRITABLE,
                self.write_timeout.get(),
                |fd| crate::sys::socket::send_vectored(fd, bufs),
                |&n| n < len,
            )
        }
    };
}
pub(crate) use stream_io;

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::Timeout;

    #[test]
    fn timeouts_keep_what_std_keeps() {
        let t = Timeout::default();
        assert_eq!(t.get(), None);
        t.set(Some(Duration::from_nanos(1))).unwrap();
        assert_eq!(t.get(), Some(Duration::from_nanos(1)));
        t.set(Some(Duration::from_millis(1500))).unwrap();
        assert_eq!(t.get(), Some(Duration::from_millis(1500)));
        let err = t.set(Some(Duration::ZERO)).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
        assert_eq!(
            t.get(),
            Some(Duration::from_millis(1500)),
            "a refused timeout changes nothing"
        );
        t.set(Some(Duration::MAX)).unwrap();
        assert_eq!(t.get(), Some(Duration::from_nanos(u64::MAX)));
        t.set(None).unwrap();
        assert_eq!(t.get(), None);
    }
}
