//! [`JoinHandle`]: waits for a spawned coroutine and takes its result.

use std::any::Any;
use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::marker::PhantomData;
use std::rc::Rc;
use std::thread;

use super::cancel::Cancelled;
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
    /// The task; what the handle waits for and takes is in its [`Slot`].
    task: Rc<Task>,
    _result: PhantomData<fn() -> T>,
}

/// What a live handle's task keeps for it: who waits for the end, and what the body ended
/// with. Kept apart from the `Task`, in this thread's [`SLOTS`], while the handle lives: most
/// tasks (a server's connections) are never joined, and their handles are dropped at once, so
/// each of them costs this slot only from its spawn to that drop.
#[derive(Default)]
struct Slot {
    /// Who waits: a `join`, or a `select!` join arm.
    joiner: Option<Unparker>,
    /// Nothing yet, the value (boxed: the handle knows `T`, the slot does not), a [`Panicked`],
    /// or [`Taken`]. A value of a zero-sized type (a body that returns `()`) allocates nothing.
    result: Option<Box<dyn Any>>,
}

/// What a slot holds when the body panicked, or ended by a cancel: the payload.
struct Panicked(Box<dyn Any + Send>);

/// What a slot holds once the result was taken.
struct Taken;

/// Hashes a task id (unique, mostly consecutive) by one multiplication, which spreads
/// consecutive ids over the table's buckets.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }

    fn write_u64(&mut self, id: u64) {
        self.0 = id.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

thread_local! {
    /// The slots of this thread's live join handles, by task id.
    static SLOTS: RefCell<HashMap<u64, Slot, BuildHasherDefault<IdHasher>>> = RefCell::default();
}

/// Runs `f` on the slot of task `id`, if its handle lives. The slots stay borrowed while `f`
/// runs: `f` must not drop a value of the program's (a result, an unparker), only move it out.
fn with_slot<R>(id: u64, f: impl FnOnce(&mut Slot) -> R) -> Option<R> {
    SLOTS
        .try_with(|s| s.borrow_mut().get_mut(&id).map(f))
        .ok()
        .flatten()
}

/// Hands what the body of task `id` ended with (`Err`: the payload of its panic, or of the
/// cancel that ended it) to its handle, and wakes the party waiting on it. With no handle left
/// (most tasks: their handles are dropped at once), the result is dropped here, in the task,
/// without being boxed.
pub(crate) fn deliver<T: 'static>(id: u64, r: thread::Result<T>) {
    let mut r = Some(r);
    let joiner = with_slot(id, |slot| {
        // The slot's result is empty (a body ends once): nothing is dropped here.
        slot.result = r.take().map(|r| -> Box<dyn Any> {
            match r {
                Ok(v) => Box::new(v),
                Err(payload) => Box::new(Panicked(payload)),
            }
        });
        slot.joiner.take()
    })
    .flatten();
    drop(r);
    if let Some(w) = joiner {
        w.unpark();
    }
}

/// Wakes the party waiting on task `id`, which has ended. Its joiner is normally woken by
/// [`deliver`]; this covers a task whose body did not end (its coroutine was dropped before
/// it ran, or could not be resumed), whose handle then finds no result.
pub(crate) fn ended(id: u64) {
    if let Some(w) = with_slot(id, |slot| slot.joiner.take()).flatten() {
        w.unpark();
    }
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
        let _ = SLOTS.try_with(|s| s.borrow_mut().insert(task.id, Slot::default()));
        JoinHandle {
            task,
            _result: PhantomData,
        }
    }

    /// Registers `u` as the party to wake when the body ends (`None`: forgets it).
    fn set_joiner(&self, u: Option<Unparker>) {
        let mut u = u;
        with_slot(self.task.id, |slot| {
            std::mem::swap(&mut slot.joiner, &mut u)
        });
        // The one replaced, dropped after the slots' borrow: the last reference to a task may
        // go with it.
        drop(u);
    }

    /// Whether the body has delivered its result (taken since, or not).
    fn delivered(&self) -> bool {
        with_slot(self.task.id, |slot| slot.result.is_some()).unwrap_or(false)
    }

    /// The coroutine's id (as [`crate::current`] reports it inside the coroutine).
    pub fn id(&self) -> u64 {
        self.task.id
    }

    /// Whether the coroutine has finished (returned, panicked or been cancelled).
    pub fn is_finished(&self) -> bool {
        self.delivered() || self.task.state.get() == TaskState::Done
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
            self.set_joiner(Some(park::current_unparker()));
            park::park(Wait::Join { id: self.task.id });
        }
        self.take()
    }

    /// Parks the caller once until the coroutine finishes (or a spurious wake-up): for loops
    /// that re-check `is_finished`. A wait of coro's own (an interrupt unwinds from it).
    pub(crate) fn wait_once(&self) {
        if !self.is_finished() {
            self.set_joiner(Some(park::current_unparker()));
            park::park(Wait::Join { id: self.task.id });
        }
    }

    /// The task, for the scheduler's cancel.
    pub(crate) fn task_rc(&self) -> Rc<Task> {
        Rc::clone(&self.task)
    }

    /// Registers `u` to be woken when the coroutine finishes.
    pub(crate) fn set_waiter(&self, u: Unparker) {
        self.set_joiner(Some(u));
    }

    /// Forgets the party [`set_waiter`](Self::set_waiter) registered (a `select!` that took
    /// another arm).
    pub(crate) fn clear_waiter(&self) {
        self.set_joiner(None);
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
        let taken = with_slot(self.task.id, |slot| {
            slot.result.as_ref().is_some_and(|r| r.is::<Taken>())
        });
        if taken == Some(true) {
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
        let taken: Box<dyn Any> = Box::new(Taken);
        let r = with_slot(self.task.id, |slot| slot.result.replace(taken)).flatten();
        match r {
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

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        let slot = SLOTS
            .try_with(|s| s.borrow_mut().remove(&self.task.id))
            .ok()
            .flatten();
        // Dropped after the slots' borrow: the result is the program's value.
        drop(slot);
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::rc::Rc;

    use super::SLOTS;

    /// Counts its drops, and parks in its destructor as a coroutine's value may.
    struct Parks(Rc<Cell<u32>>);

    impl Drop for Parks {
        fn drop(&mut self) {
            crate::yield_now();
            self.0.set(self.0.get() + 1);
        }
    }

    fn live_slots() -> usize {
        SLOTS.with(|s| s.borrow().len())
    }

    #[test]
    fn a_handle_keeps_a_slot_only_while_it_lives_and_results_drop_once() {
        let drops = Rc::new(Cell::new(0));
        let d = drops.clone();
        crate::run(move || {
            let before = live_slots();
            // Detached at once: the result is dropped in the task, where its destructor may
            // park, and no slot is left behind.
            for _ in 0..100 {
                let d = d.clone();
                drop(crate::spawn(move || Parks(d)));
            }
            assert_eq!(live_slots(), before);
            // Kept: one slot each until the handle goes, joined or dropped finished.
            let kept: Vec<_> = (0..10)
                .map(|_| {
                    let d = d.clone();
                    crate::spawn(move || Parks(d))
                })
                .collect();
            assert_eq!(live_slots(), before + 10);
            while !kept.iter().all(|h| h.is_finished()) {
                crate::yield_now();
            }
            for (i, h) in kept.into_iter().enumerate() {
                assert!(h.is_finished());
                if i % 2 == 0 {
                    drop(h.join().unwrap());
                } else {
                    drop(h);
                }
            }
            assert_eq!(live_slots(), before);
        });
        assert_eq!(drops.get(), 110);
    }
}
