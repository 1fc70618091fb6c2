//! [`Task`]: a coroutine as the scheduler sees it.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::fmt;
use std::panic::Location;
use std::thread;

use crate::coroutine::Coroutine;

use super::cancel::{CancelState, Cancelled};
use super::census::{NOT_SUSPENDED, Wait};
use super::park::Unparker;

/// Where a task is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TaskState {
    /// In the ready queue because something unparked it.
    Queued,
    /// In the ready queue because it yielded.
    Yielded,
    /// Running now.
    Running,
    /// Suspended until unparked.
    Parked,
    /// Returned, panicked or cancelled; its coroutine is gone.
    Done,
}

/// The scheduler's record of one coroutine.
pub(crate) struct Task {
    /// The coroutine's id (never 0).
    pub(crate) id: u64,
    /// The name given through `Builder::name`, boxed once more so that the field is one word
    /// (few tasks have a name; every task has the field). Read it with [`Task::name`].
    #[allow(clippy::redundant_allocation)]
    pub(crate) name: Option<Box<Box<str>>>,
    /// Index and generation in the scheduler's task slab (for remote unparking).
    pub(crate) key: Cell<(u32, u32)>,
    /// The coroutine; taken out when the task ends.
    pub(crate) co: RefCell<Option<Coroutine<(), (), ()>>>,
    pub(crate) state: Cell<TaskState>,
    /// An unpark arrived while the task was running or queued by a yield: its next park
    /// returns at once (as `std::thread::park`'s token).
    pub(crate) notified: Cell<bool>,
    /// Whether it was cancelled, and the deadline scopes it is in.
    pub(crate) cancel: CancelState,
    /// Whether it runs on a shared stack (its frames move while it waits).
    pub(crate) shared: bool,
    /// Whether it is suspended at a park point, where the census may take its backtrace (see
    /// `census::SUSPENDED`).
    pub(crate) suspend_mode: Cell<u8>,
    /// The loop's coarse clock (see `Scheduler::clock`) when it last gave its thread back.
    pub(crate) ran_at: Cell<u32>,
    /// What its last park waits for (for the census; meaningful while it is parked).
    pub(crate) wait: Cell<Wait>,
    /// Where it was spawned.
    pub(crate) site: &'static Location<'static>,
    /// What the body ended with, for the join handle (see [`Task::complete`]): nothing yet,
    /// the value (boxed: a `JoinHandle<T>` knows `T`, the task does not), a [`Panicked`], or
    /// [`Taken`]. A value of a zero-sized type (a body that returns `()`) allocates nothing.
    result: Cell<Option<Box<dyn Any>>>,
    /// Who waits for the body to end: a `join`, or a `select!` join arm.
    pub(crate) joiner: Cell<Option<Unparker>>,
}

/// What a task's result slot holds when its body panicked, or ended by a cancel: the payload.
struct Panicked(Box<dyn Any + Send>);

/// What a task's result slot holds once a `select!` join arm took the result.
struct Taken;

impl Task {
    /// A task record around a coroutine that has not started.
    pub(crate) fn new(
        co: Coroutine<(), (), ()>,
        name: Option<Box<str>>,
        shared: bool,
        site: &'static Location<'static>,
        clock: u32,
    ) -> Task {
        Task {
            id: co.id(),
            name: name.map(Box::new),
            key: Cell::new((u32::MAX, 0)),
            co: RefCell::new(Some(co)),
            state: Cell::new(TaskState::Queued),
            notified: Cell::new(false),
            cancel: CancelState::default(),
            shared,
            suspend_mode: Cell::new(NOT_SUSPENDED),
            ran_at: Cell::new(clock),
            wait: Cell::new(Wait::Other),
            site,
            result: Cell::new(None),
            joiner: Cell::new(None),
        }
    }
}

impl Task {
    /// The name given through `Builder::name`, if any.
    pub(crate) fn name(&self) -> Option<&str> {
        self.name.as_deref().map(|n| &**n)
    }

    /// Stores what the body ended with (`Err`: the payload of its panic, or of the cancel
    /// that ended it) and wakes the joiner.
    pub(crate) fn complete<T: 'static>(&self, r: thread::Result<T>) {
        let stored: Box<dyn Any> = match r {
            Ok(v) => Box::new(v),
            Err(payload) => Box::new(Panicked(payload)),
        };
        self.result.set(Some(stored));
        self.wake_joiner();
    }

    /// Wakes whoever waits for the body to end.
    pub(crate) fn wake_joiner(&self) {
        if let Some(w) = self.joiner.take() {
            w.unpark();
        }
    }

    /// Whether the body has ended and stored its result (taken or not).
    pub(crate) fn has_result(&self) -> bool {
        let r = self.result.take();
        let has = r.is_some();
        self.result.set(r);
        has
    }

    /// Whether a `select!` join arm took the result.
    pub(crate) fn result_taken(&self) -> bool {
        let r = self.result.take();
        let taken = r.as_ref().is_some_and(|r| r.is::<Taken>());
        self.result.set(r);
        taken
    }

    /// Takes the result out, leaving [`Taken`]: the value, or the payload of a panic; a task
    /// that ended with no result (it never ran) gives a [`Cancelled`]
    /// payload.
    ///
    /// # Panics
    ///
    /// If `T` is not the type the body returned (the caller's `JoinHandle<T>` guarantees it).
    pub(crate) fn take_result<T: 'static>(&self) -> thread::Result<T> {
        match self.result.replace(Some(Box::new(Taken))) {
            None => Err(Box::new(Cancelled)),
            Some(r) => match r.downcast::<Panicked>() {
                Ok(p) => Err(p.0),
                Err(r) => match r.downcast::<T>() {
                    Ok(v) => Ok(*v),
                    Err(_) => unreachable!("a task's result has the type its handle names"),
                },
            },
        }
    }
}

impl fmt::Debug for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Task")
            .field("id", &self.id)
            .field("name", &self.name())
            .field("state", &self.state.get())
            .finish()
    }
}

// Every task costs this record in its `Rc` (and each idle connection of a server one task): at
// 104 bytes the allocation is 120, one malloc size class below 136.
const _: () = assert!(size_of::<Task>() == 136);
