//! The channel errors. They mirror `std::sync::mpsc`'s: the send errors give the message back.
//! Each converts into [`crate::Error`] (`Disconnected` or `TimedOut`) so `?` works in functions
//! that return `coro::Result`, except the broadcast receive errors: `Lagged` (messages were
//! lost) has no counterpart there, and a receiver usually goes on after it.

use std::fmt;

/// `send` failed: every receiver is gone. Holds the message that could not be sent.
#[derive(PartialEq, Eq, Clone, Copy)]
pub struct SendError<T>(pub T);

/// `try_send` failed: the channel is full, or every receiver is gone.
#[derive(PartialEq, Eq, Clone, Copy)]
pub enum TrySendError<T> {
    /// The bounded channel is at capacity (or senders that came first wait for room).
    Full(T),
    /// Every receiver is gone.
    Disconnected(T),
}

/// `send_timeout` failed: no room in time, or every receiver is gone.
#[derive(PartialEq, Eq, Clone, Copy)]
pub enum SendTimeoutError<T> {
    /// The timeout passed before there was room.
    Timeout(T),
    /// Every receiver is gone.
    Disconnected(T),
}

/// `recv` failed: the channel is empty and every sender is gone. Only reported after every
/// message sent has been received.
#[derive(PartialEq, Eq, Clone, Copy, Debug)]
pub struct RecvError;

/// `try_recv` failed.
#[derive(PartialEq, Eq, Clone, Copy, Debug)]
pub enum TryRecvError {
    /// No message is there now; senders remain.
    Empty,
    /// The channel is empty and every sender is gone.
    Disconnected,
}

/// `recv_timeout` failed.
#[derive(PartialEq, Eq, Clone, Copy, Debug)]
pub enum RecvTimeoutError {
    /// The timeout passed with no message.
    Timeout,
    /// The channel is empty and every sender is gone.
    Disconnected,
}

/// A broadcast receiver's `recv` failed.
#[derive(PartialEq, Eq, Clone, Copy, Debug)]
pub enum BroadcastRecvError {
    /// The receiver fell more than the capacity behind, and this many messages were dropped
    /// before it took them. Its next receive continues with the oldest message kept.
    Lagged(u64),
    /// Every sender is gone and the receiver has taken every message.
    Disconnected,
}

/// A broadcast receiver's `try_recv` failed.
#[derive(PartialEq, Eq, Clone, Copy, Debug)]
pub enum BroadcastTryRecvError {
    /// No new message is there now; senders remain.
    Empty,
    /// The receiver fell behind and this many messages were dropped (see
    /// [`BroadcastRecvError::Lagged`]).
    Lagged(u64),
    /// Every sender is gone and the receiver has taken every message.
    Disconnected,
}

/// A broadcast receiver's `recv_timeout` failed.
#[derive(PartialEq, Eq, Clone, Copy, Debug)]
pub enum BroadcastRecvTimeoutError {
    /// The timeout passed with no new message.
    Timeout,
    /// The receiver fell behind and this many messages were dropped (see
    /// [`BroadcastRecvError::Lagged`]).
    Lagged(u64),
    /// Every sender is gone and the receiver has taken every message.
    Disconnected,
}

/// A watch receiver's `changed` failed: every sender is gone and the receiver has seen the
/// last value.
#[derive(PartialEq, Eq, Clone, Copy, Debug)]
pub struct ChangedError;

/// A watch receiver's `changed_timeout` failed.
#[derive(PartialEq, Eq, Clone, Copy, Debug)]
pub enum ChangedTimeoutError {
    /// The timeout passed with no change.
    Timeout,
    /// Every sender is gone and the receiver has seen the last value.
    Disconnected,
}

impl<T> SendError<T> {
    /// The message that could not be sent.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> TrySendError<T> {
    /// The message that could not be sent.
    pub fn into_inner(self) -> T {
        match self {
            TrySendError::Full(v) | TrySendError::Disconnected(v) => v,
        }
    }

    /// Whether the send failed because the channel was full.
    pub fn is_full(&self) -> bool {
        matches!(self, TrySendError::Full(_))
    }

    /// Whether the send failed because every receiver is gone.
    pub fn is_disconnected(&self) -> bool {
        matches!(self, TrySendError::Disconnected(_))
    }
}

impl<T> SendTimeoutError<T> {
    /// The message that could not be sent.
    pub fn into_inner(self) -> T {
        match self {
            SendTimeoutError::Timeout(v) | SendTimeoutError::Disconnected(v) => v,
        }
    }

    /// Whether the send failed because the timeout passed.
    pub fn is_timeout(&self) -> bool {
        matches!(self, SendTimeoutError::Timeout(_))
    }

    /// Whether the send failed because every receiver is gone.
    pub fn is_disconnected(&self) -> bool {
        matches!(self, SendTimeoutError::Disconnected(_))
    }
}

impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SendError { .. }")
    }
}

impl<T> fmt::Debug for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => f.write_str("Full(..)"),
            TrySendError::Disconnected(_) => f.write_str("Disconnected(..)"),
        }
    }
}

impl<T> fmt::Debug for SendTimeoutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendTimeoutError::Timeout(_) => f.write_str("Timeout(..)"),
            SendTimeoutError::Disconnected(_) => f.write_str("Disconnected(..)"),
        }
    }
}

const SEND_DISCONNECTED: &str = "sending on a channel whose receivers are all gone";
const RECV_DISCONNECTED: &str = "receiving on an empty channel whose senders are all gone";

impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(SEND_DISCONNECTED)
    }
}

impl<T> fmt::Display for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => f.write_str("sending on a full channel"),
            TrySendError::Disconnected(_) => f.write_str(SEND_DISCONNECTED),
        }
    }
}

impl<T> fmt::Display for SendTimeoutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendTimeoutError::Timeout(_) => f.write_str("timed out waiting for room in a channel"),
            SendTimeoutError::Disconnected(_) => f.write_str(SEND_DISCONNECTED),
        }
    }
}

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(RECV_DISCONNECTED)
    }
}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryRecvError::Empty => f.write_str("receiving on an empty channel"),
            TryRecvError::Disconnected => f.write_str(RECV_DISCONNECTED),
        }
    }
}

impl fmt::Display for RecvTimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvTimeoutError::Timeout => f.write_str("timed out waiting on a channel"),
            RecvTimeoutError::Disconnected => f.write_str(RECV_DISCONNECTED),
        }
    }
}

fn lagged(f: &mut fmt::Formatter<'_>, n: u64) -> fmt::Result {
    write!(
        f,
        "the receiver fell behind a broadcast channel and {n} messages were dropped before it took them"
    )
}

impl fmt::Display for BroadcastRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BroadcastRecvError::Lagged(n) => lagged(f, *n),
            BroadcastRecvError::Disconnected => f.write_str(RECV_DISCONNECTED),
        }
    }
}

impl fmt::Display for BroadcastTryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BroadcastTryRecvError::Empty => f.write_str("receiving on an empty channel"),
            BroadcastTryRecvError::Lagged(n) => lagged(f, *n),
            BroadcastTryRecvError::Disconnected => f.write_str(RECV_DISCONNECTED),
        }
    }
}

impl fmt::Display for BroadcastRecvTimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BroadcastRecvTimeoutError::Timeout => f.write_str("timed out waiting on a channel"),
            BroadcastRecvTimeoutError::Lagged(n) => lagged(f, *n),
            BroadcastRecvTimeoutError::Disconnected => f.write_str(RECV_DISCONNECTED),
        }
    }
}

const CHANGED_DISCONNECTED: &str =
    "waiting for a change of a watch channel whose senders are all gone";

impl fmt::Display for ChangedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(CHANGED_DISCONNECTED)
    }
}

impl fmt::Display for ChangedTimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChangedTimeoutError::Timeout => {
                f.write_str("timed out waiting for a change of a watch channel")
            }
            ChangedTimeoutError::Disconnected => f.write_str(CHANGED_DISCONNECTED),
        }
    }
}

impl<T> std::error::Error for SendError<T> {}
impl<T> std::error::Error for TrySendError<T> {}
impl<T> std::error::Error for SendTimeoutError<T> {}
impl std::error::Error for RecvError {}
impl std::error::Error for TryRecvError {}
impl std::error::Error for RecvTimeoutError {}
impl std::error::Error for BroadcastRecvError {}
impl std::error::Error for BroadcastTryRecvError {}
impl std::error::Error for BroadcastRecvTimeoutError {}
impl std::error::Error for ChangedError {}
impl std::error::Error for ChangedTimeoutError {}

impl From<ChangedError> for ChangedTimeoutError {
    fn from(_: ChangedError) -> Self {
        ChangedTimeoutError::Disconnected
    }
}

impl From<ChangedError> for crate::Error {
    fn from(_: ChangedError) -> Self {
        crate::Error::Disconnected
    }
}

impl From<ChangedTimeoutError> for crate::Error {
    fn from(e: ChangedTimeoutError) -> Self {
        match e {
            ChangedTimeoutError::Timeout => crate::Error::TimedOut,
            ChangedTimeoutError::Disconnected => crate::Error::Disconnected,
        }
    }
}

impl From<BroadcastRecvError> for BroadcastTryRecvError {
    fn from(e: BroadcastRecvError) -> Self {
        match e {
            BroadcastRecvError::Lagged(n) => BroadcastTryRecvError::Lagged(n),
            BroadcastRecvError::Disconnected => BroadcastTryRecvError::Disconnected,
        }
    }
}

impl From<BroadcastRecvError> for BroadcastRecvTimeoutError {
    fn from(e: BroadcastRecvError) -> Self {
        match e {
            BroadcastRecvError::Lagged(n) => BroadcastRecvTimeoutError::Lagged(n),
            BroadcastRecvError::Disconnected => BroadcastRecvTimeoutError::Disconnected,
        }
    }
}

impl From<RecvError> for RecvTimeoutError {
    fn from(_: RecvError) -> Self {
        RecvTimeoutError::Disconnected
    }
}

impl<T> From<SendError<T>> for TrySendError<T> {
    fn from(e: SendError<T>) -> Self {
        TrySendError::Disconnected(e.0)
    }
}

impl<T> From<SendError<T>> for crate::Error {
    fn from(_: SendError<T>) -> Self {
        crate::Error::Disconnected
    }
}

impl<T> From<SendTimeoutError<T>> for crate::Error {
    fn from(e: SendTimeoutError<T>) -> Self {
        match e {
            SendTimeoutError::Timeout(_) => crate::Error::TimedOut,
            SendTimeoutError::Disconnected(_) => crate::Error::Disconnected,
        }
    }
}

impl From<RecvError> for crate::Error {
    fn from(_: RecvError) -> Self {
        crate::Error::Disconnected
    }
}

impl From<RecvTimeoutError> for crate::Error {
    fn from(e: RecvTimeoutError) -> Self {
        match e {
            RecvTimeoutError::Timeout => crate::Error::TimedOut,
            RecvTimeoutError::Disconnected => crate::Error::Disconnected,
        }
    }
}
