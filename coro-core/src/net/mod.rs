//! Coroutine-aware sockets with std's names: [`TcpListener`], [`TcpStream`], [`UdpSocket`],
//! [`UnixListener`], [`UnixStream`].
//!
//! Write plain blocking code; inside a coroutine a call that would block parks the coroutine
//! on the scheduler's epoll and the others run. Outside a coroutine the same calls block the
//! thread (in `poll(2)`), so the types work anywhere. Every socket is non-blocking and
//! close-on-exec, registered once (edge-triggered) with the epoll of the thread that uses it.

pub(crate) mod socket;
mod split;
mod tcp;
mod udp;
mod unix;

pub use split::{ReadHalf, Splittable, WriteHalf};
pub use tcp::{TcpListener, TcpStream};
pub use udp::UdpSocket;
pub use unix::{UnixListener, UnixStream};
