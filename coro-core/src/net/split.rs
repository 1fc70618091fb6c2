//! The halves of a stream that two coroutines can own: [`ReadHalf`] and [`WriteHalf`], from
//! [`TcpStream::into_split`](super::TcpStream::into_split) and
//! [`UnixStream::into_split`](super::UnixStream::into_split).
//!
//! A stream is read and written through `&self` (`&TcpStream` is `Read` and `Write`), and its
//! fd can have a reader and a writer waiting at once: each waits for its own direction on the
//! scheduler's epoll. The halves are that, owned: both hold the stream (reference counted,
//! since coroutines of one thread share it), one can only read, the other only write, so that
//! one coroutine can sit in `read` while another writes. Dropping the write half shuts the
//! stream's writing side down, so the peer sees the end of the stream; the socket closes when
//! both halves are gone.

use std::fmt;
use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::net::Shutdown;
use std::rc::Rc;

/// A stream whose halves [`ReadHalf`] and [`WriteHalf`] can be.
pub trait Splittable: fmt::Debug
where
    for<'a> &'a Self: Read + Write,
{
    /// Shuts down the read, write or both halves (the stream's own `shutdown`).
    fn shutdown_half(&self, how: Shutdown) -> io::Result<()>;
}

/// The reading half of a stream, from `into_split`.
#[derive(Debug)]
pub struct ReadHalf<S: Splittable>
where
    for<'a> &'a S: Read + Write,
{
    stream: Rc<S>,
}

/// The writing half of a stream, from `into_split`. Dropping it shuts the stream's writing
/// side down (the peer reads the end of the stream).
#[derive(Debug)]
pub struct WriteHalf<S: Splittable>
where
    for<'a> &'a S: Read + Write,
{
    /// None once `reunite` took it back (nothing is shut down then).
    stream: Option<Rc<S>>,
}

/// Splits `stream` into its halves.
pub(crate) fn split<S: Splittable>(stream: S) -> (ReadHalf<S>, WriteHalf<S>)
where
    for<'a> &'a S: Read + Write,
{
    let stream = Rc::new(stream);
    (
        ReadHalf {
            stream: Rc::clone(&stream),
        },
        WriteHalf {
            stream: Some(stream),
        },
    )
}

impl<S: Splittable> ReadHalf<S>
where
    for<'a> &'a S: Read + Write,
{
    /// The stream both halves share (for its addresses, timeouts and options).
    pub fn stream(&self) -> &S {
        &self.stream
    }

    /// Puts the halves back together. Err (with both halves) if they are not of one stream.
    pub fn reunite(self, mut write: WriteHalf<S>) -> Result<S, (ReadHalf<S>, WriteHalf<S>)> {
        if !Rc::ptr_eq(&self.stream, write.shared()) {
            return Err((self, write));
        }
        // The write half goes without shutting anything down.
        drop(write.stream.take());
        match Rc::try_unwrap(self.stream) {
            Ok(s) => Ok(s),
            Err(_) => unreachable!("the two halves held the only references"),
        }
    }
}

impl<S: Splittable> WriteHalf<S>
where
    for<'a> &'a S: Read + Write,
{
    /// The stream both halves share (for its addresses, timeouts and options).
    pub fn stream(&self) -> &S {
        self.shared()
    }

    fn shared(&self) -> &Rc<S> {
        match &self.stream {
            Some(s) => s,
            None => unreachable!("a write half is emptied only as it is consumed"),
        }
    }
}

impl<S: Splittable> Read for ReadHalf<S>
where
    for<'a> &'a S: Read + Write,
{
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self.stream).read(buf)
    }

    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        (&*self.stream).read_vectored(bufs)
    }
}

impl<S: Splittable> Write for WriteHalf<S>
where
    for<'a> &'a S: Read + Write,
{
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&**self.shared()).write(buf)
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        (&**self.shared()).write_vectored(bufs)
    }

    fn flush(&mut self) -> io::Result<()> {
        (&**self.shared()).flush()
    }
}

impl<S: Splittable> Drop for WriteHalf<S>
where
    for<'a> &'a S: Read + Write,
{
    fn drop(&mut self) {
        if let Some(stream) = &self.stream {
            // The peer may be gone already: nothing to do about an error here.
            let _ = stream.shutdown_half(Shutdown::Write);
        }
    }
}
