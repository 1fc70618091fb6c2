//! [`Task`]: a coroutine as the scheduler sees it.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::panic::Location;

use crate::coroutine::Coroutine;

use super::cancel::CancelState;
use super::census::{NOT_SUSPENDED, Wait};

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
}

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
        }
    }
}

impl Task {
    /// The name given through `Builder::name`, if any.
    pub(crate) fn name(&self) -> Option<&str> {
        self.name.as_deref().map(|n| &**n)
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
// 104 bytes the `Rc`'s allocation is 120, a 128-byte malloc chunk; 8 bytes more make it 144.
// What only a joined task needs (its joiner, its result) is kept apart (see `join.rs`).
const _: () = assert!(size_of::<Task>() == 104);
