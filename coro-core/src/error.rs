//! [`Error`]: the one error type of coro.

use std::fmt;
use std::io;

/// Every fallible call in coro returns this error.
///
/// Each variant's message says what went wrong and what to do about it.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// `resume` was called on a coroutine that has already returned or panicked.
    Finished,
    /// `resume` was called on a coroutine that is running (it is somewhere up the resume chain).
    Running,
    /// A shared-stack coroutine was resumed while its shared stack holds the live frames of a
    /// coroutine that is running or waiting in the current resume chain.
    SharedStackBusy {
        /// The coroutine that could not be resumed.
        id: u64,
        /// The coroutine whose frames occupy the shared stack.
        occupant: u64,
    },
    /// A stack could not be mapped: the kernel refused, or making it would have left the rest
    /// of the program fewer than 1,024 of the process's `vm.max_map_count` memory mappings.
    StackAlloc {
        /// The stack size asked for, in bytes.
        size: usize,
        /// What mmap or mprotect reported, or why coro kept the mappings back (both of kind
        /// `OutOfMemory`).
        source: io::Error,
    },
    /// A stack size is too small to run anything.
    StackTooSmall {
        /// The size asked for, in bytes.
        size: usize,
        /// The smallest size accepted, in bytes.
        min: usize,
    },
    /// A stack size is larger than coro makes stacks ([`crate::OwnedStack::MAX_SIZE`], 4 GiB).
    StackTooLarge {
        /// The size asked for, in bytes.
        size: usize,
        /// The largest size accepted, in bytes.
        max: usize,
    },
    /// The call needs a coroutine runtime on this thread (inside `coro::run`) and there is none.
    NoRuntime,
    /// The call must be made from inside a coroutine.
    NotInCoroutine,
    /// `coro::run` was called while this thread already runs a runtime.
    NestedRun,
    /// The operation did not complete in time.
    TimedOut,
    /// The other side of a channel is gone.
    Disconnected,
    /// An I/O error from the operating system.
    Io(io::Error),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Finished => f.write_str(
                "the coroutine has already finished; check `is_finished()` before resuming it",
            ),
            Error::Running => f.write_str(
                "the coroutine is already running further up the resume chain; a coroutine cannot resume itself or an ancestor",
            ),
            Error::SharedStackBusy { id, occupant } => write!(
                f,
                "coroutine {id} cannot be resumed: its shared stack holds the live frames of coroutine {occupant}, which is running or waiting in the current resume chain; give nested coroutines a different shared stack or an owned stack"
            ),
            Error::StackAlloc { size, source } => {
                write!(f, "could not map a {size}-byte coroutine stack: {source}")?;
                // ENOMEM from the kernel, or coro's own refusal that keeps mappings for the
                // rest of the program (see `stack::budget`): both are OutOfMemory.
                if source.kind() == io::ErrorKind::OutOfMemory {
                    f.write_str(
                        "; every guarded stack costs two memory mappings and the kernel allows vm.max_map_count of them (65530 by default): raise it with `sysctl vm.max_map_count=N`, or run the coroutines on shared stacks (`SharedStack`), which need no mapping each (under an address-space limit, `ulimit -v`, each owned stack also takes 16 MiB of it)",
                    )?;
                }
                Ok(())
            }
            Error::StackTooSmall { size, min } => {
                write!(f, "a stack of {size} bytes is too small; use at least {min} bytes")
            }
            Error::StackTooLarge { size, max } => write!(
                f,
                "a stack of {size} bytes is larger than coro makes stacks (at most {max} bytes, `OwnedStack::MAX_SIZE`); ask for less: a stack is committed only as the coroutine touches it, so a generous size costs address space, not memory, and the default of 128 KiB suits ordinary code"
            ),
            Error::NoRuntime => f.write_str(
                "there is no coro runtime on this thread; call this inside `coro::run(..)` or `#[coro::main]`",
            ),
            Error::NotInCoroutine => {
                f.write_str("this call must be made from inside a coroutine")
            }
            Error::NestedRun => f.write_str(
                "`coro::run` was called inside a running coro runtime; spawn a coroutine with `coro::spawn` instead",
            ),
            Error::TimedOut => f.write_str("the operation timed out"),
            Error::Disconnected => f.write_str("the other side of the channel is gone"),
            Error::Io(e) => write!(f, "I/O error: {e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::StackAlloc { source, .. } => Some(source),
            Error::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error::Io(e)
    }
}

impl From<Error> for io::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::Io(e) => e,
            Error::TimedOut => io::Error::new(io::ErrorKind::TimedOut, e),
            other => io::Error::other(other),
        }
    }
}

/// `Result<T, coro::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;
