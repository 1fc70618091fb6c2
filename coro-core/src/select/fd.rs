//! The fd arms of `select!`: `readable(fd)` and `writable(fd)`, for anything that is `AsFd`
//! (a socket of `coro::net` or `std::net`, a pipe, an `OwnedFd` or `BorrowedFd`, or a
//! reference to one).
//!
//! Readiness is asked of the kernel with a non-blocking `poll(2)` each time the arm is polled,
//! so a winning arm means the fd is ready now (or has an error or a hang-up pending: the next
//! call on it tells), not that the runtime's readiness cache says it was. While the select
//! waits, the task waits on the fd's epoll registration as `coro::poll` does (see
//! `fd_wait::watch`). The arm gives `io::Result<()>`: `Err` for an fd that is not open
//! (`EBADF`), or one the runtime cannot wait on (outside a coro task, an fd that is not
//! ready is `Err` with [`Error::NotInCoroutine`](crate::Error::NotInCoroutine)).

use std::io;
use std::marker::PhantomData;
use std::os::fd::{AsFd, AsRawFd, RawFd};

use super::driver::Op;
use crate::runtime::fd_wait::{self, Interest};
use crate::sys;

/// An fd arm. It borrows the fd's owner for `'a`, so the fd stays open while the select runs.
struct Fd<'a> {
    fd: RawFd,
    interest: Interest,
    /// The `poll(2)` events that answer the interest.
    events: i16,
    /// Queued on the fd's waiters.
    watching: bool,
    /// The registration failed: the arm is complete with this error.
    error: Option<io::Error>,
    _owner: PhantomData<&'a ()>,
}

impl Op for Fd<'_> {
    type Output = io::Result<()>;
    fn poll(&mut self) -> Option<io::Result<()>> {
        self.unregister();
        if let Some(e) = self.error.take() {
            return Some(Err(e));
        }
        let mut p = [libc::pollfd {
            fd: self.fd,
            events: self.events,
            revents: 0,
        }];
        match sys::retry_eintr(|| sys::poll(&mut p, 0)) {
            Err(e) => Some(Err(e)),
            Ok(0) => None,
            Ok(_) if p[0].revents & libc::POLLNVAL != 0 => {
                Some(Err(io::Error::from_raw_os_error(libc::EBADF)))
            }
            Ok(_) => Some(Ok(())),
        }
    }
    fn register(&mut self) -> bool {
        match fd_wait::watch(self.fd, self.interest) {
            Ok(true) => {
                self.watching = true;
                true
            }
            // Not pollable by epoll (a regular file): poll(2) says ready.
            Ok(false) => false,
            Err(e) => {
                self.error = Some(e);
                false
            }
        }
    }
    fn unregister(&mut self) {
        if self.watching {
            fd_wait::unwatch(self.fd);
            self.watching = false;
        }
    }
}

fn fd_op<F: AsFd + ?Sized>(fd: &F, interest: Interest, events: i16) -> Fd<'_> {
    Fd {
        fd: fd.as_fd().as_raw_fd(),
        interest,
        events,
        watching: false,
        error: None,
        _owner: PhantomData,
    }
}

/// What `readable(fd)` and `writable(fd)` accept: anything `AsFd`, borrowed (the macro calls
/// the method, so auto-referencing borrows `fd`, and `&fd` works too).
pub trait SelectFd {
    /// `readable(fd)`: complete once `fd` has data to read (or a connection to accept, an end
    /// of stream, an error).
    fn select_readable(&self) -> impl Op<Output = io::Result<()>> + '_;
    /// `writable(fd)`: complete once `fd` has room to write (or an error).
    fn select_writable(&self) -> impl Op<Output = io::Result<()>> + '_;
}

impl<F: AsFd + ?Sized> SelectFd for F {
    fn select_readable(&self) -> impl Op<Output = io::Result<()>> + '_ {
        fd_op(self, Interest::READABLE, libc::POLLIN)
    }
    fn select_writable(&self) -> impl Op<Output = io::Result<()>> + '_ {
        fd_op(self, Interest::WRITABLE, libc::POLLOUT)
    }
}
