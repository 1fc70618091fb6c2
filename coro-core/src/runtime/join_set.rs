//! [`JoinSet`]: a set of coroutines whose results come back as they finish (wait for any).
//!
//! Each member's closure reports its result to the set's own queue when it ends, and wakes the
//! set's waiter, so [`JoinSet::join_next`] takes the next result in the order the coroutines
//! finished, without looking at every member. Dropping the set cancels the coroutines still
//! running (as tokio's does): a set is the owner of its coroutines.

use std::any::Any;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::rc::Rc;
use std::thread;

use crate::error::Result;

use super::builder::Builder;
use super::cancel::{self, Cancelled};
use super::census::Wait;
use super::park::{self, Unparker};
use super::scheduler::SCHED;
use super::task::{Task, TaskState};

/// What the members share with the set: finished results, and who waits for them.
struct Queue<T> {
    done: RefCell<VecDeque<(u64, thread::Result<T>)>>,
    waiter: RefCell<Option<Unparker>>,
}

/// Reports a member's result to its set when its closure ends: the value, the panic, or (if
/// the closure never ran, or a cancel unwound it) a [`Cancelled`] payload.
struct Report<T> {
    /// The member's key in its set.
    id: u64,
    queue: Rc<Queue<T>>,
    result: Option<thread::Result<T>>,
}

impl<T> Report<T> {
    /// Reports `r` (the drop sends it).
    fn finish(mut self, r: thread::Result<T>) {
        self.result = Some(r);
    }
}

impl<T> Drop for Report<T> {
    fn drop(&mut self) {
        let r = self.result.take().unwrap_or_else(|| {
            let cancelled: Box<dyn Any + Send> = Box::new(Cancelled);
            Err(cancelled)
        });
        self.queue.done.borrow_mut().push_back((self.id, r));
        if let Some(w) = self.queue.waiter.borrow_mut().take() {
            w.unpark();
        }
    }
}

/// A set of coroutines spawned on this thread's runtime, whose results
/// [`join_next`](Self::join_next) returns in the order they finish.
///
/// ```
/// use std::time::Duration;
/// coro::run(|| {
///     let mut set = coro::JoinSet::new();
///     for ms in [30u64, 10, 20] {
///         set.spawn(move || {
///             coro::sleep(Duration::from_millis(ms));
///             ms
///         });
///     }
///     let mut order = Vec::new();
///     while let Some(r) = set.join_next() {
///         order.push(r.unwrap());
///     }
///     assert_eq!(order, [10, 20, 30]); // as they finished
/// });
/// ```
pub struct JoinSet<T> {
    queue: Rc<Queue<T>>,
    /// The members still running or not yet taken, by their key in this set.
    members: Vec<(u64, Rc<Task>)>,
    next_key: u64,
}

impl<T> fmt::Debug for JoinSet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinSet")
            .field("len", &self.members.len())
            .finish()
    }
}

impl<T: 'static> Default for JoinSet<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: 'static> JoinSet<T> {
    /// An empty set.
    pub fn new() -> Self {
        JoinSet {
            queue: Rc::new(Queue {
                done: RefCell::new(VecDeque::new()),
                waiter: RefCell::new(None),
            }),
            members: Vec::new(),
            next_key: 0,
        }
    }

    /// Spawns `f` as a member of the set; returns its coroutine's id (as
    /// [`crate::current`] reports it inside).
    ///
    /// # Panics
    ///
    /// As [`crate::spawn`]; [`spawn_with`](Self::spawn_with) returns the error instead.
    #[track_caller]
    pub fn spawn<F>(&mut self, f: F) -> u64
    where
        F: FnOnce() -> T + 'static,
    {
        match self.spawn_with(Builder::new(), f) {
            Ok(id) => id,
            Err(e) => panic!("coro::JoinSet::spawn: {e}"),
        }
    }

    /// Spawns `f` with the options of `builder`.
    #[track_caller]
    pub fn spawn_with<F>(&mut self, builder: Builder, f: F) -> Result<u64>
    where
        F: FnOnce() -> T + 'static,
    {
        let key = self.next_key;
        self.next_key += 1;
        let report = Report {
            id: key,
            queue: Rc::clone(&self.queue),
            result: None,
        };
        let handle = builder.spawn(move || {
            report.finish(match panic::catch_unwind(AssertUnwindSafe(f)) {
                Err(p) if cancel::is_interrupt(&*p) => {
                    let cancelled: Box<dyn Any + Send> = Box::new(Cancelled);
                    Err(cancelled)
                }
                r => r,
            });
        })?;
        self.members.push((key, handle.task_rc()));
        Ok(handle.id())
    }

    /// How many members have not been taken out by `join_next` yet.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether the set has no member left.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Waits for the next member to finish and returns its result: its value, or the payload
    /// of its panic as `Err` (a [`Cancelled`] payload if a cancel ended it). `None` once the
    /// set is empty. A wait of coro's own (a cancel of the caller unwinds from it).
    pub fn join_next(&mut self) -> Option<thread::Result<T>> {
        loop {
            if let Some(r) = self.try_join_next() {
                return Some(r);
            }
            if self.members.is_empty() {
                return None;
            }
            *self.queue.waiter.borrow_mut() = Some(park::current_unparker());
            park::park(Wait::JoinSet);
        }
    }

    /// The result of a member that has finished, if one has, without waiting.
    pub fn try_join_next(&mut self) -> Option<thread::Result<T>> {
        let (id, r) = self.queue.done.borrow_mut().pop_front()?;
        self.members.retain(|(m, _)| *m != id);
        Some(r)
    }

    /// Waits for every member and returns their results in the order they finished.
    pub fn join_all(mut self) -> Vec<thread::Result<T>> {
        let mut out = Vec::with_capacity(self.members.len());
        while let Some(r) = self.join_next() {
            out.push(r);
        }
        out
    }

    /// Cancels every member still running; their results (mostly [`Cancelled`] payloads)
    /// still come back from `join_next`.
    pub fn cancel_all(&self) {
        if !SCHED.is_set() {
            return;
        }
        SCHED.with(|s| {
            for (_, t) in &self.members {
                s.cancel(t);
            }
        });
    }
}

impl<T> Drop for JoinSet<T> {
    /// Cancels the members still running: the set owns them.
    fn drop(&mut self) {
        if SCHED.is_set() {
            SCHED.with(|s| {
                for (_, t) in &self.members {
                    if t.state.get() != TaskState::Done {
                        s.cancel(t);
                    }
                }
            });
        }
    }
}
