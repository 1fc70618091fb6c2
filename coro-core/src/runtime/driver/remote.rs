//! Wake-ups from other threads: a queue of task keys and the eventfd that wakes the loop.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::sys;

/// The part of a scheduler that other threads may touch.
#[derive(Debug)]
pub(crate) struct Remote {
    efd: OwnedFd,
    /// Keys (slab index, generation) of tasks to unpark.
    queue: Mutex<Vec<(u32, u32)>>,
    /// The eventfd has been written and not drained yet: further pushes need not write it.
    signalled: AtomicBool,
}

impl Remote {
    /// A new queue with its eventfd.
    pub(crate) fn new() -> io::Result<Arc<Remote>> {
        Ok(Arc::new(Remote {
            efd: sys::eventfd()?,
            queue: Mutex::new(Vec::new()),
            signalled: AtomicBool::new(false),
        }))
    }

    /// The eventfd, for the scheduler's epoll.
    pub(crate) fn fd(&self) -> std::os::fd::RawFd {
        self.efd.as_raw_fd()
    }

    /// Queues a task key and wakes the scheduler's loop (from any thread).
    pub(crate) fn push(&self, key: (u32, u32)) {
        self.queue
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(key);
        if !self.signalled.swap(true, Ordering::AcqRel) {
            sys::eventfd_signal(self.efd.as_raw_fd());
        }
    }

    /// Wakes the scheduler's loop without queueing a task (it has something else to look at).
    pub(crate) fn ring(&self) {
        if !self.signalled.swap(true, Ordering::AcqRel) {
            sys::eventfd_signal(self.efd.as_raw_fd());
        }
    }

    /// Whether wake-ups are queued that the loop has not taken yet.
    pub(crate) fn has_pending(&self) -> bool {
        self.signalled.load(Ordering::Acquire)
            || !self
                .queue
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .is_empty()
    }

    /// Takes every queued key (on the scheduler's thread, after its eventfd fired). The flag is
    /// cleared before the queue is taken, so a push racing with this either lands in this batch
    /// or writes the eventfd again.
    pub(crate) fn drain(&self, into: &mut Vec<(u32, u32)>) {
        sys::eventfd_drain(self.efd.as_raw_fd());
        self.signalled.store(false, Ordering::Release);
        let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        std::mem::swap(&mut *q, into);
    }
}
