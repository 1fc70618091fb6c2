//! Socket calls: create (one or a connected pair), bind, listen, accept, connect, options, and `sockaddr` conversions.
//!
//! Every socket is made non-blocking and close-on-exec at birth (`SOCK_NONBLOCK |
//! SOCK_CLOEXEC`, `accept4`). Hooked symbols (`socket`, `socketpair`, `connect`, `accept4`,
//! `setsockopt`, `sendto`, `recvfrom`) are reached through raw system calls, see the module above.

use std::io;
use std::mem::{self, ManuallyDrop};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use super::raw_syscall;

/// Runs `f` on a std view of `fd` without taking ownership (std's getters call no hooked symbol).
pub(crate) fn with_std<S: FromRawFd, T>(fd: RawFd, f: impl FnOnce(&S) -> T) -> T {
    // SAFETY: `fd` is a live descriptor owned by the caller for the duration of this call; the
    // view is never dropped (ManuallyDrop), so it never closes what it does not own.
    let view = ManuallyDrop::new(unsafe { S::from_raw_fd(fd) });
    f(&view)
}

/// `socket(domain, ty | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)`.
pub(crate) fn socket(domain: i32, ty: i32) -> io::Result<OwnedFd> {
    let fd = raw_syscall!(
        SYS_socket,
        domain,
        ty | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
        0
    )?;
    // SAFETY: the kernel just returned this new descriptor; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// `socketpair(domain, ty | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)`: two connected sockets.
pub(crate) fn socketpair(domain: i32, ty: i32) -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as libc::c_int; 2];
    let ty = ty | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
    raw_syscall!(SYS_socketpair, domain, ty, 0, fds.as_mut_ptr())?;
    // SAFETY: the kernel just returned these two new descriptors; nothing else owns them.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// A socket address in C form.
pub(crate) struct RawAddr {
    storage: libc::sockaddr_storage,
    len: libc::socklen_t,
}

impl RawAddr {
    /// An empty address buffer for `accept`/`recvfrom` to fill.
    pub(crate) fn empty() -> RawAddr {
        // SAFETY: sockaddr_storage is plain old data; all zeroes is a valid value.
        let storage = unsafe { mem::zeroed() };
        RawAddr {
            storage,
            len: mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t,
        }
    }

    /// The C form of an IP socket address.
    pub(crate) fn from_inet(addr: &SocketAddr) -> RawAddr {
        let mut raw = RawAddr::empty();
        match addr {
            SocketAddr::V4(a) => {
                let sin = libc::sockaddr_in {
                    sin_family: libc::AF_INET as libc::sa_family_t,
                    sin_port: a.port().to_be(),
                    sin_addr: libc::in_addr {
                        s_addr: u32::from_ne_bytes(a.ip().octets()),
                    },
                    sin_zero: [0; 8],
                };
                // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in.
                unsafe {
                    (&raw mut raw.storage)
                        .cast::<libc::sockaddr_in>()
                        .write(sin)
                };
                raw.len = mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
            }
            SocketAddr::V6(a) => {
                let sin6 = libc::sockaddr_in6 {
                    sin6_family: libc::AF_INET6 as libc::sa_family_t,
                    sin6_port: a.port().to_be(),
                    sin6_flowinfo: a.flowinfo(),
                    sin6_addr: libc::in6_addr {
                        s6_addr: a.ip().octets(),
                    },
                    sin6_scope_id: a.scope_id(),
                };
                // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in6.
                unsafe {
                    (&raw mut raw.storage)
                        .cast::<libc::sockaddr_in6>()
                        .write(sin6)
                };
                raw.len = mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t;
            }
        }
        raw
    }

    /// The C form of a Unix socket path.
    pub(crate) fn from_path(path: &Path) -> io::Result<RawAddr> {
        let bytes = path.as_os_str().as_bytes();
        let mut raw = RawAddr::empty();
        // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_un.
        let sun = unsafe { &mut *(&raw mut raw.storage).cast::<libc::sockaddr_un>() };
        if bytes.len() >= sun.sun_path.len() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "path must be shorter than SUN_LEN (108 bytes)",
            ));
        }
        if bytes.contains(&0) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "path must not contain a NUL byte",
            ));
        }
        sun.sun_family = libc::AF_UNIX as libc::sa_family_t;
        for (dst, src) in sun.sun_path.iter_mut().zip(bytes) {
            *dst = *src as libc::c_char;
        }
        let offset = mem::offset_of!(libc::sockaddr_un, sun_path);
        raw.len = (offset + bytes.len() + 1) as libc::socklen_t;
        Ok(raw)
    }

    /// The family (`AF_INET`, ...) of this address.
    pub(crate) fn family(&self) -> i32 {
        self.storage.ss_family as i32
    }

    /// Back to a std IP address, if it is one.
    pub(crate) fn to_inet(&self) -> io::Result<SocketAddr> {
        match self.family() {
            libc::AF_INET => {
                // SAFETY: the family says the storage holds a sockaddr_in.
                let sin = unsafe { &*(&raw const self.storage).cast::<libc::sockaddr_in>() };
                let ip = Ipv4Addr::from(sin.sin_addr.s_addr.to_ne_bytes());
                Ok(SocketAddr::V4(SocketAddrV4::new(
                    ip,
                    u16::from_be(sin.sin_port),
                )))
            }
            libc::AF_INET6 => {
                // SAFETY: the family says the storage holds a sockaddr_in6.
                let sin6 = unsafe { &*(&raw const self.storage).cast::<libc::sockaddr_in6>() };
                let ip = Ipv6Addr::from(sin6.sin6_addr.s6_addr);
                Ok(SocketAddr::V6(SocketAddrV6::new(
                    ip,
                    u16::from_be(sin6.sin6_port),
                    sin6.sin6_flowinfo,
                    sin6.sin6_scope_id,
                )))
            }
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not an IP socket address",
            )),
        }
    }
}

/// `bind(2)`.
pub(crate) fn bind(fd: RawFd, addr: &RawAddr) -> io::Result<()> {
    raw_syscall!(SYS_bind, fd, &raw const addr.storage, addr.len).map(drop)
}

/// `listen(2)`.
pub(crate) fn listen(fd: RawFd, backlog: i32) -> io::Result<()> {
    raw_syscall!(SYS_listen, fd, backlog).map(drop)
}

/// `connect(2)`, the real one; on a non-blocking socket `EINPROGRESS` is returned as an error.
pub(crate) fn connect(fd: RawFd, addr: &RawAddr) -> io::Result<()> {
    raw_syscall!(SYS_connect, fd, &raw const addr.storage, addr.len).map(drop)
}

/// `accept4(SOCK_NONBLOCK | SOCK_CLOEXEC)`, the real one; fills `addr` when given.
pub(crate) fn accept(fd: RawFd, addr: Option<&mut RawAddr>) -> io::Result<OwnedFd> {
    let flags = libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
    let (storage, len) = out_addr(addr);
    let fd = raw_syscall!(SYS_accept4, fd, storage, len, flags)?;
    // SAFETY: the kernel just returned this new descriptor; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// `send(2)` with `MSG_NOSIGNAL` (a closed peer gives `EPIPE`, never `SIGPIPE`).
pub(crate) fn send(fd: RawFd, buf: &[u8]) -> io::Result<usize> {
    send_to(fd, buf, None)
}

/// `sendto(2)` with `MSG_NOSIGNAL`, to `addr` when given.
pub(crate) fn send_to(fd: RawFd, buf: &[u8], addr: Option<&RawAddr>) -> io::Result<usize> {
    let (storage, len) = match addr {
        Some(a) => (&raw const a.storage as usize, a.len as usize),
        None => (0, 0),
    };
    raw_syscall!(
        SYS_sendto,
        fd,
        buf.as_ptr(),
        buf.len(),
        libc::MSG_NOSIGNAL,
        storage,
        len
    )
    .map(|n| n as usize)
}

/// `recvfrom(2)` with `flags`, filling `addr` when given.
pub(crate) fn recv_from(
    fd: RawFd,
    buf: &mut [u8],
    flags: i32,
    addr: Option<&mut RawAddr>,
) -> io::Result<usize> {
    let (storage, len) = out_addr(addr);
    raw_syscall!(
        SYS_recvfrom,
        fd,
        buf.as_mut_ptr(),
        buf.len(),
        flags,
        storage,
        len
    )
    .map(|n| n as usize)
}

/// The two pointer arguments through which the kernel fills in an address (`accept4`,
/// `recvfrom`): the storage and its length, or two nulls when the caller wants none.
fn out_addr(addr: Option<&mut RawAddr>) -> (usize, usize) {
    match addr {
        Some(a) => (&raw mut a.storage as usize, &raw mut a.len as usize),
        None => (0, 0),
    }
}

/// `setsockopt(fd, level, name, &int)`, the real one.
pub(crate) fn set_int_opt(fd: RawFd, level: i32, name: i32, value: i32) -> io::Result<()> {
    let len = mem::size_of::<i32>();
    raw_syscall!(SYS_setsockopt, fd, level, name, &raw const value, len).map(drop)
}

/// `getsockopt(fd, level, name)` for an int option.
pub(crate) fn get_int_opt(fd: RawFd, level: i32, name: i32) -> io::Result<i32> {
    let mut value: i32 = 0;
    let mut len = mem::size_of::<i32>() as libc::socklen_t;
    raw_syscall!(
        SYS_getsockopt,
        fd,
        level,
        name,
        &raw mut value,
        &raw mut len
    )?;
    Ok(value)
}

/// The pending error of a socket (`SO_ERROR`), cleared by reading it.
pub(crate) fn take_error(fd: RawFd) -> io::Result<Option<io::Error>> {
    let err = get_int_opt(fd, libc::SOL_SOCKET, libc::SO_ERROR)?;
    Ok((err != 0).then(|| io::Error::from_raw_os_error(err)))
}

/// `shutdown(2)`.
pub(crate) fn shutdown(fd: RawFd, how: std::net::Shutdown) -> io::Result<()> {
    let how = match how {
        std::net::Shutdown::Read => libc::SHUT_RD,
        std::net::Shutdown::Write => libc::SHUT_WR,
        std::net::Shutdown::Both => libc::SHUT_RDWR,
    };
    raw_syscall!(SYS_shutdown, fd, how).map(drop)
}

/// `getsockname(2)` as an IP address.
pub(crate) fn local_addr(fd: RawFd) -> io::Result<SocketAddr> {
    let mut a = RawAddr::empty();
    raw_syscall!(SYS_getsockname, fd, &raw mut a.storage, &raw mut a.len)?;
    a.to_inet()
}

/// `getpeername(2)` as an IP address.
pub(crate) fn peer_addr(fd: RawFd) -> io::Result<SocketAddr> {
    let mut a = RawAddr::empty();
    raw_syscall!(SYS_getpeername, fd, &raw mut a.storage, &raw mut a.len)?;
    a.to_inet()
}

/// The address family for an IP address.
pub(crate) fn domain_of(addr: &SocketAddr) -> i32 {
    if addr.is_ipv4() {
        libc::AF_INET
    } else {
        libc::AF_INET6
    }
}

/// `sendmsg(2)` of several buffers with `MSG_NOSIGNAL` (a `writev` that never raises `SIGPIPE`).
pub(crate) fn send_vectored(fd: RawFd, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
    // SAFETY: msghdr is plain old data; all zeroes is a valid empty header.
    let mut msg: libc::msghdr = unsafe { mem::zeroed() };
    // IoSlice is ABI-compatible with `struct iovec`; sendmsg only reads through the pointer.
    msg.msg_iov = bufs.as_ptr() as *mut libc::iovec;
    msg.msg_iovlen = bufs.len().min(libc::UIO_MAXIOV as usize) as _;
    raw_syscall!(SYS_sendmsg, fd, &raw const msg, libc::MSG_NOSIGNAL).map(|n| n as usize)
}
