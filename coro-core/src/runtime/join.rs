//! [`JoinHandle`]: waits for a spawned coroutine and takes its result.

use std::fmt;
use std::marker::PhantomData;
use std::rc::Rc;
use std::thread;

use super::census::Wait;
use super::park::{self, Unparker};
use super::scheduler::SCHED;
use super::task::{Task, TaskState};

/// An owned permission to wait for a coroutine and take its result, returned by
/// [`spawn`](crate::spawn) and [`Builder::spawn`](crate::Builder::spawn).
///
/// Dropping the handle detaches the coroutine: it keeps running. Like the coroutine itself,
/// the handle stays on the thread that spawned it (it is neither `Send` nor `Sync`).
pub struct JoinHandle<T> {
    /// The task, whose result slot holds what the body ended with, boxed as the `T` below.
    task: Rc<Task>,
    _result: PhantomData<fn() -> T>,
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
    /// The handle of `task`, whose body returns a `T`.
    pub(crate) fn new(task: Rc<Task>) -> Self {
        JoinHandle {
            task,
            _result: PhantomData,
        }
    }

    /// The coroutine's id (as [`crate::current`] reports it inside the coroutine).
    pub fn id(&self) -> u64 {
        self.task.id
    }

    /// Whether the coroutine has finished (returned, panicked or been cancelled).
    pub fn is_finished(&self) -> bool {
        self.task.has_result() || self.task.state.get() == TaskState::Done
    }

    /// Waits for the coroutine to finish and returns its value, or the payload of its panic as
    /// `Err`, like [`std::thread::JoinHandle::join`]; a coroutine that a cancel ended gives a
    /// [`Cancelled`](crate::Cancelled) payload.
    ///
    /// A wait of coro's own: a cancel of the *caller*, or the expiry of a deadline scope it is
    /// in, unwinds from here (the coroutine joined goes on running).
    ///
    /// Inside a coroutine this parks the caller and lets others run. Outside one (the task has
    /// then already finished, since coroutines only run inside [`crate::run`]) it returns at once.
    ///
    /// # Panics
    ///
    /// Called outside a coroutine while the coroutine has not finished: the thread could only
    /// wait forever, since the scheduler that would run it is not running. Called after a
    /// [`select!`](crate::select!) join arm on this handle took the result.
    pub fn join(self) -> thread::Result<T>
    where
        T: 'static,
    {
        while !self.is_finished() {
            if !park::in_task() {
                panic!(
                    "JoinHandle::join: coroutine {} has not finished and this code is not a coroutine of the runtime that could wait for it (it runs outside `coro::run`, or inside a generator or a hand-made `Coroutine`, which cannot park the task that drives them); join it from the task itself, or check `is_finished()` first",
                    self.task.id
                );
            }
            self.task.joiner.set(Some(park::current_unparker()));
            park::park(Wait::Join { id: self.task.id });
        }
        self.take()
    }

    /// Parks the caller once until the coroutine finishes (or a spurious wake-up): for loops
    /// that re-check `is_finished`. A wait of coro's own (an interrupt unwinds from it).
    pub(crate) fn wait_once(&self) {
        if !self.is_finished() {
            self.task.joiner.set(Some(park::current_unparker()));
            park::park(Wait::Join { id: self.task.id });
        }
    }

    /// The task, for the scheduler's cancel.
    pub(crate) fn task_rc(&self) -> Rc<Task> {
        Rc::clone(&self.task)
    }

    /// Registers `u` to be woken when the coroutine finishes.
    pub(crate) fn set_waiter(&self, u: Unparker) {
        self.task.joiner.set(Some(u));
    }

    /// Forgets the party [`set_waiter`](Self::set_waiter) registered (a `select!` that took
    /// another arm).
    pub(crate) fn clear_waiter(&self) {
        self.task.joiner.take();
    }

    /// For a `select!` join arm, once the coroutine has finished: its result, which this
    /// handle then no longer has (a later `join` or join arm panics).
    ///
    /// # Panics
    ///
    /// If an earlier join arm took it.
    pub(crate) fn take_selected(&mut self) -> thread::Result<T>
    where
        T: 'static,
    {
        self.take()
    }

    /// Panics if a `select!` join arm took the result.
    pub(crate) fn check_not_taken(&self) {
        if self.task.result_taken() {
            panic!(
                "the result of coroutine {} was already taken by a `select!` join arm; a handle gives its result once",
                self.task.id
            );
        }
    }

    /// Cancels the coroutine, wherever it waits: its waits end with `ECANCELED` (hooked
    /// calls, `coro::net`) or unwind (coro's own waits), from now on, so that it ends soon by
    /// its own error paths and destructors. Returns at once; [`join`](Self::join) waits for
    /// the end and returns `Err` with a [`Cancelled`](crate::Cancelled) payload if the cancel
    /// unwound the coroutine (or it never started), or what it returned if it finished anyway.
    ///
    /// Does nothing if the coroutine has finished, or is cancelled already. A coroutine that
    /// cancels itself sees the cancel at its next wait. See the module
    /// [`coro::cancel`](crate::cancel) for what each kind of wait does.
    ///
    /// ```
    /// use std::net::TcpListener;
    /// coro::run(|| {
    ///     let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    ///     let server = coro::spawn(move || -> std::io::Result<()> {
    ///         loop {
    ///             let (conn, _) = listener.accept()?; // the hooked accept waits on the loop
    ///             drop(conn);
    ///         }
    ///     });
    ///     coro::yield_now(); // the server starts, and waits for a connection
    ///     server.cancel(); // its accept fails with ECANCELED, and `?` ends it
    ///     let err = server.join().unwrap().unwrap_err();
    ///     assert_eq!(err.raw_os_error(), Some(libc::ECANCELED));
    /// });
    /// ```
    pub fn cancel(&self) {
        if SCHED.is_set() {
            SCHED.with(|s| s.cancel(&self.task));
        }
    }

    fn take(&self) -> thread::Result<T>
    where
        T: 'static,
    {
        self.check_not_taken();
        self.task.take_result()
    }
}
