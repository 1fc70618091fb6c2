//! The blocking send and receive, written once for both channel flavours.
//!
//! A [`Flavor`] is the lock around a [`Chan`] plus the kind of wait node its parties use. The
//! operations take the lock only for a [`Chan`] transition, park without it, and unpark the
//! parties a transition returned after releasing it.

use std::time::Instant;

use super::chan::{Chan, Wake};
use super::error::{RecvTimeoutError, SendTimeoutError, TryRecvError, TrySendError};
use crate::sync::waiters::{self, Node};

/// The lock around a channel's state, and how its parties wait.
pub(crate) trait Flavor<T> {
    /// The wait node of this flavour.
    type Node: Node;
    /// Runs `f` under the lock.
    fn with<R>(&self, f: impl FnOnce(&mut Chan<T, Self::Node>) -> R) -> R;
    /// A fresh node for the calling coroutine (or thread).
    fn node() -> Self::Node;
    /// Whether an untimed wait may block the caller (see `waiters::can_block`).
    fn can_block() -> bool;
}

fn wake_one<W: Node>(w: Option<W>) {
    if let Some(w) = w {
        w.unpark();
    }
}

/// Queues `v` without waiting.
pub(crate) fn try_send<T, F: Flavor<T>>(f: &F, v: T) -> Result<(), TrySendError<T>> {
    let woken = f.with(|c| c.try_send(v))?;
    wake_one(woken);
    Ok(())
}

/// Queues `v`, parking while the channel is full, until `deadline` if there is one.
pub(crate) fn send<T, F: Flavor<T>>(
    f: &F,
    v: T,
    deadline: Option<Instant>,
    what: &str,
) -> Result<(), SendTimeoutError<T>> {
    let v = match try_send(f, v) {
        Ok(()) => return Ok(()),
        Err(TrySendError::Disconnected(v)) => return Err(SendTimeoutError::Disconnected(v)),
        Err(TrySendError::Full(v)) => v,
    };
    if deadline.is_none() && !F::can_block() {
        waiters::cannot_block(what);
    }
    // Full: try again with a node ready to enqueue.
    let node = F::node();
    let v = match f.with(|c| {
        c.try_send(v).map_err(|e| {
            if let TrySendError::Full(_) = e {
                c.wait_send(node.clone());
            }
            e
        })
    }) {
        Ok(woken) => {
            wake_one(woken);
            return Ok(());
        }
        Err(TrySendError::Full(v)) => v,
        Err(TrySendError::Disconnected(v)) => return Err(SendTimeoutError::Disconnected(v)),
    };
    let cancel = |abandon: bool| {
        let (waiting, next) = f.with(|c| c.cancel_send(&node, abandon));
        wake_one(next);
        waiting
    };
    if !waiters::park_on(&node, deadline, &cancel) {
        return Err(SendTimeoutError::Timeout(v));
    }
    // Notified: a slot is reserved for us, or every receiver is gone.
    match f.with(|c| c.send_reserved(v)) {
        Ok(woken) => {
            wake_one(woken);
            Ok(())
        }
        Err(v) => Err(SendTimeoutError::Disconnected(v)),
    }
}

/// Takes a message without waiting.
pub(crate) fn try_recv<T, F: Flavor<T>>(f: &F) -> Result<T, TryRecvError> {
    match f.with(|c| c.try_recv()) {
        Ok((v, wake)) => {
            wake.unpark();
            Ok(v)
        }
        Err(true) => Err(TryRecvError::Disconnected),
        Err(false) => Err(TryRecvError::Empty),
    }
}

/// Takes a message, parking while the channel is empty and senders remain, until `deadline`
/// if there is one.
pub(crate) fn recv<T, F: Flavor<T>>(
    f: &F,
    deadline: Option<Instant>,
    what: &str,
) -> Result<T, RecvTimeoutError> {
    loop {
        match try_recv(f) {
            Ok(v) => return Ok(v),
            Err(TryRecvError::Disconnected) => return Err(RecvTimeoutError::Disconnected),
            Err(TryRecvError::Empty) => {}
        }
        if deadline.is_none() && !F::can_block() {
            waiters::cannot_block(what);
        }
        // Empty: try again with a node ready to enqueue.
        let node = F::node();
        let got: Result<(T, Wake<F::Node>), bool> = f.with(|c| {
            let r = c.try_recv();
            if let Err(false) = r {
                c.wait_recv(node.clone());
            }
            r
        });
        match got {
            Ok((v, wake)) => {
                wake.unpark();
                return Ok(v);
            }
            Err(true) => return Err(RecvTimeoutError::Disconnected),
            Err(false) => {}
        }
        let cancel = |abandon: bool| {
            let (waiting, next) = f.with(|c| c.cancel_recv(&node, abandon));
            wake_one(next);
            waiting
        };
        if !waiters::park_on(&node, deadline, &cancel) {
            return Err(RecvTimeoutError::Timeout);
        }
    }
}
