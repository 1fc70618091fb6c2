//! [`JoinHandle`]: waits for a spawned coroutine and takes its result.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::fmt;
use std::rc::Rc;
use std::thread;

use super::park::{self, Unparker};
use super::task::{State, Task};

/// The result slot a task's body fills and its handle reads.
pub(crate) struct JoinInner<T> {
    result: RefCell<Option<thread::Result<T>>>,
    done: Cell<bool>,
    waiter: RefCell<Option<Unparker>>,
}

impl<T> JoinInner<T> {
    pub(crate) fn new() -> Self {
        JoinInner {
            result: RefCell::new(None),
            done: Cell::new(false),
            waiter: RefCell::new(None),
        }
    }

    /// Stores the body's result.
    pub(crate) fn set(&self, r: thread::Result<T>) {
        *self.result.borrow_mut() = Some(r);
    }
}

/// Owned by the task's body: when the body ends (returns, panics or is unwound by a cancel),
/// dropping it marks the task done and wakes the joiner.
pub(crate) struct Completion<T>(pub(crate) Rc<JoinInner<T>>);

impl<T> Drop for Completion<T> {
    fn drop(&mut self) {
        self.0.done.set(true);
        let waiter = self.0.waiter.borrow_mut().take();
        if let Some(w) = waiter {
            w.unpark();
        }
    }
}

/// An owned permission to wait for a coroutine and take its result, returned by
/// [`spawn`](crate::spawn) and [`Builder::spawn`](crate::Builder::spawn).
///
/// Dropping the handle detaches the coroutine: it keeps running. Like the coroutine itself,
/// the handle stays on the thread that spawned it (it is neither `Send` nor `Sync`).
pub struct JoinHandle<T> {
    inner: Rc<JoinInner<T>>,
    task: Rc<Task>,
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("id", &self.task.id)
            .field("finished", &self.is_finished())
            .finish()
    }
}

impl<T> JoinHandle<T> {
    pub(crate) fn new(inner: Rc<JoinInner<T>>, task: Rc<Task>) -> Self {
        JoinHandle { inner, task }
    }

    /// The coroutine's id (as [`crate::current`] reports it inside the coroutine).
    pub fn id(&self) -> u64 {
        self.task.id
    }

    /// Whether the coroutine has finished (returned, panicked or been cancelled).
    pub fn is_finished(&self) -> bool {
        self.inner.done.get() || self.task.state.get() == State::Done
    }

    /// Waits for the coroutine to finish and returns its value, or the payload of its panic as
    /// `Err`, like [`std::thread::JoinHandle::join`].
    ///
    /// Inside a coroutine this parks the caller and lets others run. Outside one (the task has
    /// then already finished, since coroutines only run inside [`crate::run`]) it returns at once.
    ///
    /// # Panics
    ///
    /// Called outside a coroutine while the coroutine has not finished: the thread could only
    /// wait forever, since the scheduler that would run it is not running.
    pub fn join(self) -> thread::Result<T> {
        while !self.is_finished() {
            if !park::in_task() {
                panic!(
                    "JoinHandle::join: coroutine {} has not finished and this code is not a coroutine of the runtime that could wait for it (it runs outside `coro::run`, or inside a generator or a hand-made `Coroutine`, which cannot park the task that drives them); join it from the task itself, or check `is_finished()` first",
                    self.task.id
                );
            }
            *self.inner.waiter.borrow_mut() = Some(park::current_unparker());
            park::park();
        }
        self.take()
    }

    /// The result, once finished.
    pub(crate) fn try_take(&self) -> Option<thread::Result<T>> {
        self.is_finished().then(|| self.take())
    }

    /// Registers `u` to be woken when the coroutine finishes.
    pub(crate) fn set_waiter(&self, u: Unparker) {
        *self.inner.waiter.borrow_mut() = Some(u);
    }

    /// The task, for cancellation.
    pub(crate) fn task(&self) -> &Rc<Task> {
        &self.task
    }

    fn take(&self) -> thread::Result<T> {
        self.inner.result.borrow_mut().take().unwrap_or_else(|| {
            let msg: Box<dyn Any + Send> =
                Box::new("the coroutine was cancelled before it finished (its runtime shut down)");
            Err(msg)
        })
    }
}
