//! TEMPORARY stand-in for `crate::runtime::park` (the runtime's park/unpark contract) until the
//! runtime lands: same signatures, plain-thread behaviour only (`in_task()` is always false).

use std::thread::{self, Thread};
use std::time::Instant;

/// Always false here: there is no scheduler yet.
pub(crate) fn in_task() -> bool {
    false
}

/// Wakes a parked party of this thread.
#[derive(Clone, Debug)]
pub(crate) struct Unparker(Thread);

impl Unparker {
    pub(crate) fn unpark(&self) {
        self.0.unpark();
    }
}

pub(crate) fn current_unparker() -> Unparker {
    Unparker(thread::current())
}

pub(crate) fn park() {
    thread::park();
}

pub(crate) fn park_until(deadline: Instant) -> bool {
    let now = Instant::now();
    if now >= deadline {
        return false;
    }
    thread::park_timeout(deadline - now);
    Instant::now() < deadline
}

/// Wakes a parked party from any thread.
#[derive(Clone, Debug)]
pub(crate) struct RemoteUnparker(Thread);

impl RemoteUnparker {
    pub(crate) fn unpark(&self) {
        self.0.unpark();
    }
}

pub(crate) fn current_remote_unparker() -> RemoteUnparker {
    RemoteUnparker(thread::current())
}
