//! [`UdpSocket`]: std's UDP socket, suspending the coroutine instead of the thread.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::fd::OwnedFd;

use crate::runtime::fd_wait::Interest;
use crate::sys::socket::{self as sock, RawAddr};

use super::socket::{Socket, Timeout, timeout_methods};
use super::tcp::impl_fd;

/// A UDP socket: std's method names, suspending the coroutine while it waits.
///
/// ```
/// coro::run(|| {
///     let a = coro::net::UdpSocket::bind("127.0.0.1:0").unwrap();
///     let b = coro::net::UdpSocket::bind("127.0.0.1:0").unwrap();
///     a.send_to(b"hi", b.local_addr().unwrap()).unwrap();
///     let mut buf = [0; 8];
///     let (n, from) = b.recv_from(&mut buf).unwrap();
///     assert_eq!((&buf[..n], from), (&b"hi"[..], a.local_addr().unwrap()));
/// });
/// ```
#[derive(Debug)]
pub struct UdpSocket {
    sock: Socket,
    read_timeout: Timeout,
    write_timeout: Timeout,
}

impl UdpSocket {
    fn from_socket(sock: Socket) -> UdpSocket {
        UdpSocket {
            sock,
            read_timeout: Timeout::default(),
            write_timeout: Timeout::default(),
        }
    }

    /// Binds to `addr`.
    pub fn bind(addr: impl ToSocketAddrs) -> io::Result<UdpSocket> {
        let mut last = None;
        for a in addr.to_socket_addrs()? {
            let s = Socket::new(sock::domain_of(&a), libc::SOCK_DGRAM)?;
            match sock::bind(s.fd(), &RawAddr::from_inet(&a)) {
                Ok(()) => return Ok(UdpSocket::from_socket(s)),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no addresses")))
    }

    /// Sets the default peer for [`send`](Self::send) and the only source for
    /// [`recv`](Self::recv).
    pub fn connect(&self, addr: impl ToSocketAddrs) -> io::Result<()> {
        let mut last = None;
        for a in addr.to_socket_addrs()? {
            match sock::connect(self.sock.fd(), &RawAddr::from_inet(&a)) {
                Ok(()) => return Ok(()),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no addresses")))
    }

    /// Sends a datagram to `addr`.
    pub fn send_to(&self, buf: &[u8], addr: impl ToSocketAddrs) -> io::Result<usize> {
        let a = addr.to_socket_addrs()?.next().ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "no addresses to send data to")
        })?;
        let raw = RawAddr::from_inet(&a);
        self.sock.io(
            Interest::WRITABLE,
            self.write_timeout.get(),
            |fd| sock::send_to(fd, buf, Some(&raw)),
            |_| false,
        )
    }

    /// Receives a datagram and its sender's address.
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.recv_from_with(buf, 0)
    }

    /// As [`recv_from`](Self::recv_from), leaving the datagram queued.
    pub fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.recv_from_with(buf, libc::MSG_PEEK)
    }

    /// `recvfrom(2)` with `flags`, waiting for a datagram.
    fn recv_from_with(&self, buf: &mut [u8], flags: i32) -> io::Result<(usize, SocketAddr)> {
        let mut addr = RawAddr::empty();
        let n = self.sock.io(
            Interest::READABLE,
            self.read_timeout.get(),
            |fd| {
                addr = RawAddr::empty();
                sock::recv_from(fd, buf, flags, Some(&mut addr))
            },
            |_| false,
        )?;
        Ok((n, addr.to_inet()?))
    }

    /// Sends a datagram to the connected peer.
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.sock.io(
            Interest::WRITABLE,
            self.write_timeout.get(),
            |fd| sock::send(fd, buf),
            |_| false,
        )
    }

    /// Receives a datagram from the connected peer.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.sock.io(
            Interest::READABLE,
            self.read_timeout.get(),
            |fd| sock::recv_from(fd, buf, 0, None),
            |_| false,
        )
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        sock::local_addr(self.sock.fd())
    }

    /// The connected peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        sock::peer_addr(self.sock.fd())
    }

    /// Sets `SO_BROADCAST`.
    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        sock::set_int_opt(
            self.sock.fd(),
            libc::SOL_SOCKET,
            libc::SO_BROADCAST,
            on as i32,
        )
    }

    /// Takes a std socket (made non-blocking).
    pub fn from_std(s: std::net::UdpSocket) -> io::Result<UdpSocket> {
        Ok(UdpSocket::from_socket(Socket::from_std(OwnedFd::from(s))?))
    }

    /// Gives the socket back as a (blocking) std socket.
    pub fn into_std(self) -> io::Result<std::net::UdpSocket> {
        Ok(std::net::UdpSocket::from(self.sock.into_std()?))
    }
}

timeout_methods!(UdpSocket);
impl_fd!(UdpSocket);
