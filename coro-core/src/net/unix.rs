//! [`UnixListener`] and [`UnixStream`]: std's Unix-domain stream sockets, suspending the
//! coroutine instead of the thread.

use std::io;
use std::net::Shutdown;
use std::os::fd::OwnedFd;
use std::os::unix::net::SocketAddr;
use std::path::Path;

use crate::runtime::fd_wait::Interest;
use crate::sys::socket::{self as sock, RawAddr, with_std};

use super::socket::{Socket, Timeout, impl_read_write, stream_io, timeout_methods};
use super::tcp::{connect_socket, impl_fd};

/// A Unix-domain stream listener; `accept` suspends the coroutine.
#[derive(Debug)]
pub struct UnixListener {
    sock: Socket,
}

impl UnixListener {
    /// Binds to the socket file `path` and listens.
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixListener> {
        let addr = RawAddr::from_path(path.as_ref())?;
        let sock = Socket::new(libc::AF_UNIX, libc::SOCK_STREAM)?;
        sock::bind(sock.fd(), &addr)?;
        sock::listen(sock.fd(), 1024)?;
        Ok(UnixListener { sock })
    }

    /// Waits for a connection and returns it with the peer's address.
    pub fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        let fd = self
            .sock
            .io(
                Interest::READABLE,
                None,
                |fd| sock::accept(fd, None),
                |_| false,
            )
            .inspect_err(crate::net::socket::after_accept_failure)?;
        let stream = UnixStream::from_socket(Socket::from_owned(fd));
        stream.sock.register_connected();
        let addr = with_std(stream.sock.fd(), |s: &std::os::unix::net::UnixStream| {
            s.peer_addr()
        })?;
        Ok((stream, addr))
    }

    /// An endless iterator of [`accept`](Self::accept)ed streams.
    pub fn incoming(&self) -> impl Iterator<Item = io::Result<UnixStream>> + '_ {
        std::iter::repeat_with(move || self.accept().map(|(s, _)| s))
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        with_std(self.sock.fd(), |s: &std::os::unix::net::UnixListener| {
            s.local_addr()
        })
    }

    /// Takes a std listener (made non-blocking).
    pub fn from_std(l: std::os::unix::net::UnixListener) -> io::Result<UnixListener> {
        Ok(UnixListener {
            sock: Socket::from_std(OwnedFd::from(l))?,
        })
    }

    /// Gives the socket back as a (blocking) std listener.
    pub fn into_std(self) -> io::Result<std::os::unix::net::UnixListener> {
        Ok(std::os::unix::net::UnixListener::from(
            self.sock.into_std()?,
        ))
    }
}

/// A Unix-domain stream: std's method names and `Read`/`Write`, suspending the coroutine.
///
/// ```
/// use std::io::{Read, Write};
/// coro::run(|| {
///     let (mut a, mut b) = coro::net::UnixStream::pair().unwrap();
///     a.write_all(b"hello").unwrap();
///     let mut buf = [0; 5];
///     b.read_exact(&mut buf).unwrap();
///     assert_eq!(&buf, b"hello");
/// });
/// ```
#[derive(Debug)]
pub struct UnixStream {
    sock: Socket,
    read_timeout: Timeout,
    write_timeout: Timeout,
}

impl UnixStream {
    fn from_socket(sock: Socket) -> UnixStream {
        UnixStream {
            sock,
            read_timeout: Timeout::default(),
            write_timeout: Timeout::default(),
        }
    }

    /// Connects to the socket file `path`.
    pub fn connect(path: impl AsRef<Path>) -> io::Result<UnixStream> {
        let addr = RawAddr::from_path(path.as_ref())?;
        let sock = Socket::new(libc::AF_UNIX, libc::SOCK_STREAM)?;
        connect_socket(&sock, &addr, None)?;
        Ok(UnixStream::from_socket(sock))
    }

    /// A connected pair of streams.
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = sock::socketpair(libc::AF_UNIX, libc::SOCK_STREAM)?;
        let (a, b) = (Socket::from_owned(a), Socket::from_owned(b));
        a.register_connected();
        b.register_connected();
        Ok((UnixStream::from_socket(a), UnixStream::from_socket(b)))
    }

    stream_io!();

    /// A second handle on the same socket (a `dup` of its fd), for another coroutine of this
    /// thread: one can read while the other writes. Timeouts are per handle.
    pub fn try_clone(&self) -> io::Result<UnixStream> {
        Ok(UnixStream::from_socket(self.sock.try_clone()?))
    }

    /// Splits the stream into a read half and a write half that two coroutines of this thread
    /// can own, one waiting in `read` while the other writes; see [`crate::net::ReadHalf`].
    /// Dropping the write half shuts down the writing side.
    pub fn into_split(
        self,
    ) -> (
        crate::net::ReadHalf<UnixStream>,
        crate::net::WriteHalf<UnixStream>,
    ) {
        crate::net::split::split(self)
    }

    /// Shuts down the read, write or both halves.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.sock.shutdown(how)
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        with_std(self.sock.fd(), |s: &std::os::unix::net::UnixStream| {
            s.peer_addr()
        })
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        with_std(self.sock.fd(), |s: &std::os::unix::net::UnixStream| {
            s.local_addr()
        })
    }

    /// Takes a std stream (made non-blocking).
    pub fn from_std(s: std::os::unix::net::UnixStream) -> io::Result<UnixStream> {
        Ok(UnixStream::from_socket(Socket::from_std(OwnedFd::from(s))?))
    }

    /// Gives the socket back as a (blocking) std stream.
    pub fn into_std(self) -> io::Result<std::os::unix::net::UnixStream> {
        Ok(std::os::unix::net::UnixStream::from(self.sock.into_std()?))
    }
}

timeout_methods!(UnixStream);
impl_read_write!(UnixStream);
impl_fd!(UnixListener, UnixStream);

impl crate::net::Splittable for UnixStream {
    fn shutdown_half(&self, how: Shutdown) -> io::Result<()> {
        self.shutdown(how)
    }
}
