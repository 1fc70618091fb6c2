//! [`TcpListener`] and [`TcpStream`]: std's TCP types, suspending the coroutine instead of
//! the thread.

use std::io;
use std::net::{Shutdown, SocketAddr, ToSocketAddrs};
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use crate::runtime::fd_wait::Interest;
use crate::sys::socket::{self as sock, RawAddr};

use super::socket::{Socket, Timeout, impl_read_write, stream_io, timeout_methods, wait};

/// How many pending connections a listener queues (the kernel caps it at `somaxconn`).
const BACKLOG: i32 = 1024;

/// Tries `f` on every address `addr` resolves to; the last error if none works.
fn each_addr<T>(
    addr: impl ToSocketAddrs,
    mut f: impl FnMut(&SocketAddr) -> io::Result<T>,
) -> io::Result<T> {
    let mut last = None;
    for a in addr.to_socket_addrs()? {
        match f(&a) {
            Ok(v) => return Ok(v),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "could not resolve to any addresses",
        )
    }))
}

/// A TCP socket server, listening for connections; `accept` suspends the coroutine.
///
/// ```
/// use std::io::{Read, Write};
/// coro::run(|| {
///     let listener = coro::net::TcpListener::bind("127.0.0.1:0").unwrap();
///     let addr = listener.local_addr().unwrap();
///     let client = coro::spawn(move || {
///         let mut s = coro::net::TcpStream::connect(addr).unwrap();
///         s.write_all(b"ping").unwrap();
///     });
///     let (mut conn, _) = listener.accept().unwrap();
///     let mut buf = [0; 4];
///     conn.read_exact(&mut buf).unwrap();
///     assert_eq!(&buf, b"ping");
///     client.join().unwrap();
/// });
/// ```
#[derive(Debug)]
pub struct TcpListener {
    sock: Socket,
}

impl TcpListener {
    /// Binds to `addr` (with `SO_REUSEADDR`) and listens.
    pub fn bind(addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
        each_addr(addr, |a| TcpListener::bind_addr(a, false))
    }

    /// As [`bind`](Self::bind), with `SO_REUSEPORT` too: several listeners (one per thread of
    /// a [`Runtime`](crate::Runtime)) bind the same port and the kernel spreads the incoming
    /// connections over them.
    pub fn bind_reuseport(addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
        each_addr(addr, |a| TcpListener::bind_addr(a, true))
    }

    fn bind_addr(addr: &SocketAddr, reuseport: bool) -> io::Result<TcpListener> {
        let sock = Socket::new(sock::domain_of(addr), libc::SOCK_STREAM)?;
        sock::set_int_opt(sock.fd(), libc::SOL_SOCKET, libc::SO_REUSEADDR, 1)?;
        if reuseport {
            sock::set_int_opt(sock.fd(), libc::SOL_SOCKET, libc::SO_REUSEPORT, 1)?;
        }
        sock::bind(sock.fd(), &RawAddr::from_inet(addr))?;
        sock::listen(sock.fd(), BACKLOG)?;
        Ok(TcpListener { sock })
    }

    /// Waits for a connection and returns it with the peer's address.
    ///
    /// Errors such as `EMFILE` (too many open files) are returned; the listener keeps working
    /// and a later `accept` succeeds once fds are free again.
    pub fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let mut addr = RawAddr::empty();
        let fd = self
            .sock
            .io(
                Interest::READABLE,
                None,
                |fd| {
                    addr = RawAddr::empty();
                    match sock::accept(fd, Some(&mut addr)) {
                        // The peer gave up before we accepted: try the next one.
                        Err(e) if e.raw_os_error() == Some(libc::ECONNABORTED) => {
                            Err(io::Error::from(io::ErrorKind::Interrupted))
                        }
                        other => other,
                    }
                },
                |_| false,
            )
            .inspect_err(crate::net::socket::after_accept_failure)?;
        let stream = TcpStream::from_socket(Socket::from_owned(fd));
        stream.sock.register_connected();
        Ok((stream, addr.to_inet()?))
    }

    /// An endless iterator of [`accept`](Self::accept)ed streams.
    pub fn incoming(&self) -> impl Iterator<Item = io::Result<TcpStream>> + '_ {
        std::iter::repeat_with(move || self.accept().map(|(s, _)| s))
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        sock::local_addr(self.sock.fd())
    }

    /// The pending socket error (`SO_ERROR`), cleared by reading it.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.sock.take_error()
    }

    /// Takes a std listener (made non-blocking).
    pub fn from_std(l: std::net::TcpListener) -> io::Result<TcpListener> {
        Ok(TcpListener {
            sock: Socket::from_std(OwnedFd::from(l))?,
        })
    }

    /// Gives the socket back as a (blocking) std listener.
    pub fn into_std(self) -> io::Result<std::net::TcpListener> {
        Ok(std::net::TcpListener::from(self.sock.into_std()?))
    }
}

/// A TCP stream: std's method names and `Read`/`Write`, suspending the coroutine while it
/// waits (or blocking the thread outside a coroutine).
///
/// Read and write timeouts give `ErrorKind::TimedOut`. Not `Send`: an fd's readiness lives in
/// the thread that uses it; move one across threads with [`into_std`](Self::into_std) and
/// [`from_std`](Self::from_std).
#[derive(Debug)]
pub struct TcpStream {
    sock: Socket,
    read_timeout: Timeout,
    write_timeout: Timeout,
}

// A connection's coroutine holds its stream in its control block until it starts and in its
// frames after: the fd and the two timeouts, three words (see the book's "A parked connection").
const _: () = assert!(size_of::<TcpStream>() == 24);

impl TcpStream {
    fn from_socket(sock: Socket) -> TcpStream {
        TcpStream {
            sock,
            read_timeout: Timeout::default(),
            write_timeout: Timeout::default(),
        }
    }

    /// Connects to `addr`, trying each address it resolves to.
    pub fn connect(addr: impl ToSocketAddrs) -> io::Result<TcpStream> {
        each_addr(addr, |a| TcpStream::connect_addr(a, None))
    }

    /// Connects to `addr`, giving up with `ErrorKind::TimedOut` after `timeout`.
    pub fn connect_timeout(addr: &SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
        if timeout.is_zero() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "cannot set a 0 duration timeout",
            ));
        }
        TcpStream::connect_addr(addr, Some(Instant::now() + timeout))
    }

    fn connect_addr(addr: &SocketAddr, deadline: Option<Instant>) -> io::Result<TcpStream> {
        let sock = Socket::new(sock::domain_of(addr), libc::SOCK_STREAM)?;
        connect_socket(&sock, &RawAddr::from_inet(addr), deadline)?;
        Ok(TcpStream::from_socket(sock))
    }

    stream_io!();

    /// Reads without removing the data from the socket's queue.
    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.sock.io(
            Interest::READABLE,
            self.read_timeout.get(),
            |fd| sock::recv_from(fd, buf, libc::MSG_PEEK, None),
            |_| false,
        )
    }

    /// A second handle on the same socket (a `dup` of its fd), for another coroutine of this
    /// thread: one can read while the other writes. Timeouts are per handle.
    pub fn try_clone(&self) -> io::Result<TcpStream> {
        Ok(TcpStream::from_socket(self.sock.try_clone()?))
    }

    /// Splits the stream into a read half and a write half that two coroutines of this thread
    /// can own, one waiting in `read` while the other writes; see [`crate::net::ReadHalf`].
    /// Dropping the write half shuts down the writing side.
    pub fn into_split(
        self,
    ) -> (
        crate::net::ReadHalf<TcpStream>,
        crate::net::WriteHalf<TcpStream>,
    ) {
        crate::net::split::split(self)
    }

    /// Shuts down the read, write or both halves.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.sock.shutdown(how)
    }

    /// The remote address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        sock::peer_addr(self.sock.fd())
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        sock::local_addr(self.sock.fd())
    }

    /// Sets `TCP_NODELAY` (no Nagle delay for small writes).
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        sock::set_int_opt(
            self.sock.fd(),
            libc::IPPROTO_TCP,
            libc::TCP_NODELAY,
            nodelay as i32,
        )
    }

    /// Whether `TCP_NODELAY` is set.
    pub fn nodelay(&self) -> io::Result<bool> {
        Ok(sock::get_int_opt(self.sock.fd(), libc::IPPROTO_TCP, libc::TCP_NODELAY)? != 0)
    }

    /// Takes a std stream (made non-blocking).
    pub fn from_std(s: std::net::TcpStream) -> io::Result<TcpStream> {
        Ok(TcpStream::from_socket(Socket::from_std(OwnedFd::from(s))?))
    }

    /// Gives the socket back as a (blocking) std stream.
    pub fn into_std(self) -> io::Result<std::net::TcpStream> {
        Ok(std::net::TcpStream::from(self.sock.into_std()?))
    }
}

/// Starts a non-blocking connect and waits for it to complete.
pub(crate) fn connect_socket(
    sock: &Socket,
    addr: &RawAddr,
    deadline: Option<Instant>,
) -> io::Result<()> {
    match sock::connect(sock.fd(), addr) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {
            wait(sock.fd(), Interest::WRITABLE, deadline)?;
            if let Some(e) = sock.take_error()? {
                return Err(e);
            }
        }
        Err(e) => return Err(e),
    }
    sock.register_connected();
    Ok(())
}

timeout_methods!(TcpStream);
impl_read_write!(TcpStream);

macro_rules! impl_fd {
    ($($t:ty),*) => {$(
        impl std::os::fd::AsRawFd for $t {
            fn as_raw_fd(&self) -> std::os::fd::RawFd {
                self.sock.fd()
            }
        }
        impl std::os::fd::AsFd for $t {
            fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
                std::os::fd::AsFd::as_fd(&self.sock)
            }
        }
    )*};
}
impl_fd!(TcpListener, TcpStream);
pub(crate) use impl_fd;

impl crate::net::Splittable for TcpStream {
    fn shutdown_half(&self, how: Shutdown) -> io::Result<()> {
        self.shutdown(how)
    }
}
