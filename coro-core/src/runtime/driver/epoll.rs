//! The epoll driver: one epoll instance per scheduler, edge-triggered, each fd added once.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use crate::sys;

/// Every fd is watched for both directions and peer hang-up, edge-triggered: the kernel
/// reports each *change* once, and the readiness cache in `registration.rs` remembers it until
/// a syscall says `EAGAIN` (or a short read drains a stream).
pub(crate) const EVENTS: u32 =
    (libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLRDHUP | libc::EPOLLET) as u32;

/// How many events one `epoll_wait` collects at most.
const BATCH: usize = 1024;

/// An epoll instance and its event buffer.
pub(crate) struct Poller {
    epfd: OwnedFd,
    events: Vec<libc::epoll_event>,
}

impl std::fmt::Debug for Poller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Poller").field("epfd", &self.epfd).finish()
    }
}

impl Poller {
    /// A new epoll instance (close-on-exec).
    pub(crate) fn new() -> io::Result<Poller> {
        Ok(Poller {
            epfd: sys::epoll_create()?,
            events: vec![libc::epoll_event { events: 0, u64: 0 }; BATCH],
        })
    }

    /// Watches `fd` with [`EVENTS`]; `token` comes back with each of its events.
    pub(crate) fn add(&self, fd: RawFd, token: u64) -> io::Result<()> {
        sys::epoll_ctl(
            self.epfd.as_raw_fd(),
            libc::EPOLL_CTL_ADD,
            fd,
            EVENTS,
            token,
        )
    }

    /// Changes the token of an fd that is already watched.
    pub(crate) fn modify(&self, fd: RawFd, token: u64) -> io::Result<()> {
        sys::epoll_ctl(
            self.epfd.as_raw_fd(),
            libc::EPOLL_CTL_MOD,
            fd,
            EVENTS,
            token,
        )
    }

    /// Stops watching `fd` (errors ignored: a closed fd has left the set on its own).
    pub(crate) fn delete(&self, fd: RawFd) {
        let _ = sys::epoll_ctl(self.epfd.as_raw_fd(), libc::EPOLL_CTL_DEL, fd, 0, 0);
    }

    /// Waits up to `timeout_ms` (-1: no limit) and returns the events that arrived as
    /// `(token, epoll event bits)`.
    pub(crate) fn wait(
        &mut self,
        timeout_ms: i32,
    ) -> io::Result<impl Iterator<Item = (u64, u32)> + '_> {
        let n = sys::epoll_wait(self.epfd.as_raw_fd(), &mut self.events, timeout_ms)?;
        Ok(self.events[..n].iter().map(|e| {
            let token = e.u64;
            let bits = e.events;
            (token, bits)
        }))
    }
}
