//! The per-thread scheduler: a FIFO ready queue of tasks, and the driver (epoll + timing wheel +
//! cross-thread wake-ups) that refills it.
//!
//! One scheduler per thread, reached through `scoped-tls` while [`crate::run`] runs. Each task is
//! a `Coroutine<(), (), ()>` resumed from the loop below; a task gives the thread back by parking
//! ([`Scheduler::park`]) or yielding. The loop runs every task that is ready, then asks epoll
//! for events — without blocking if tasks are still ready, else for as long as the nearest timer
//! allows (forever when there is none), so an idle runtime burns no CPU.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::panic::{self, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::coroutine::{Coroutine, CoroutineResult, Yielder};
use crate::error::{Error, Result};
use crate::stack::SharedStack;
use crate::sys;
use crate::time::wheel::Wheel;

use super::builder::Builder;
use super::epoll::Poller;
use super::join::{Completion, JoinHandle, JoinInner};
use super::registration::{FdTable, WAKE_TOKEN};
use super::remote::Remote;
use super::task::{State, Task};

scoped_tls::scoped_thread_local!(pub(crate) static SCHED: Scheduler);

/// How many tasks run between two looks at epoll while tasks stay ready.
const EVENT_INTERVAL: usize = 61;

/// Shared stacks kept per stack size; `shared` tasks are spread over them round-robin.
const SHARED_STACKS: usize = 4;

/// What blocks: epoll, the fd readiness table and the timers.
#[derive(Debug)]
pub(crate) struct Driver {
    pub(crate) poller: Poller,
    pub(crate) fds: FdTable,
    /// Timers of parked tasks, in milliseconds since `start`.
    pub(crate) wheel: Wheel<Rc<Task>>,
    start: Instant,
}

impl Driver {
    /// The wheel tick of a deadline, rounded up so a timer never fires early.
    pub(crate) fn deadline_tick(&self, deadline: Instant) -> u64 {
        let d = deadline.saturating_duration_since(self.start);
        d.as_nanos().div_ceil(1_000_000) as u64
    }

    /// The wheel tick of `now`, rounded down.
    fn now_tick(&self, now: Instant) -> u64 {
        now.saturating_duration_since(self.start).as_millis() as u64
    }
}

/// The tasks that are alive, by slab key (the key travels to other threads for wake-ups).
#[derive(Debug, Default)]
struct TaskSlab {
    slots: Vec<(u32, Option<Rc<Task>>)>,
    free: Vec<u32>,
    live: usize,
}

impl TaskSlab {
    fn insert(&mut self, task: Rc<Task>) -> (u32, u32) {
        self.live += 1;
        if let Some(i) = self.free.pop() {
            let slot = &mut self.slots[i as usize];
            slot.0 = slot.0.wrapping_add(1);
            slot.1 = Some(task);
            (i, slot.0)
        } else {
            let i = self.slots.len() as u32;
            self.slots.push((0, Some(task)));
            (i, 0)
        }
    }

    fn get(&self, (i, generation): (u32, u32)) -> Option<&Rc<Task>> {
        match self.slots.get(i as usize) {
            Some((g, Some(t))) if *g == generation => Some(t),
            _ => None,
        }
    }

    fn remove(&mut self, (i, generation): (u32, u32)) -> Option<Rc<Task>> {
        let slot = self.slots.get_mut(i as usize)?;
        if slot.0 != generation || slot.1.is_none() {
            return None;
        }
        self.free.push(i);
        self.live -= 1;
        slot.1.take()
    }
}

/// A thread's scheduler.
pub(crate) struct Scheduler {
    ready: RefCell<VecDeque<Rc<Task>>>,
    tasks: RefCell<TaskSlab>,
    current: RefCell<Option<Rc<Task>>>,
    pub(crate) driver: RefCell<Driver>,
    pub(crate) remote: Arc<Remote>,
    shared: RefCell<Vec<(usize, Vec<SharedStack>, usize)>>,
    /// Tasks to cancel once the loop is back on its own stack.
    cancel: RefCell<Vec<Rc<Task>>>,
    /// A task's coroutine is being dropped: its body must let the unwind through.
    cancelling: Cell<bool>,
    remote_keys: RefCell<Vec<(u32, u32)>>,
    /// Set when the main task panicked: the loop stops, the other tasks are cancelled by the
    /// teardown, and `run` raises the panic (as `block_on` does: nothing waits on tasks that
    /// may never end once `main` is gone).
    stop: Cell<bool>,
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler")
            .field("ready", &self.ready.borrow().len())
            .field("live", &self.tasks.borrow().live)
            .finish()
    }
}

impl Scheduler {
    /// A scheduler with its epoll instance and wake-up eventfd.
    pub(crate) fn new() -> Result<Scheduler> {
        let poller = Poller::new()?;
        let remote = Remote::new()?;
        poller.add(remote.fd(), WAKE_TOKEN)?;
        Ok(Scheduler {
            ready: RefCell::new(VecDeque::new()),
            tasks: RefCell::new(TaskSlab::default()),
            current: RefCell::new(None),
            driver: RefCell::new(Driver {
                poller,
                fds: FdTable::default(),
                wheel: Wheel::new(),
                start: Instant::now(),
            }),
            remote,
            shared: RefCell::new(Vec::new()),
            cancel: RefCell::new(Vec::new()),
            cancelling: Cell::new(false),
            stop: Cell::new(false),
            remote_keys: RefCell::new(Vec::new()),
        })
    }

    /// The running task, if the innermost coroutine on this thread is one of ours.
    #[inline]
    pub(crate) fn current_task(&self) -> Option<Rc<Task>> {
        let cur = self.current.borrow();
        let t = cur.as_ref()?;
        (crate::coroutine::current_id() == Some(t.id)).then(|| t.clone())
    }

    /// Runs `f` with the running task, if any.
    #[inline]
    pub(crate) fn with_current<R>(&self, f: impl FnOnce(&Rc<Task>) -> R) -> Option<R> {
        let cur = self.current.borrow();
        let t = cur.as_ref()?;
        (crate::coroutine::current_id() == Some(t.id)).then(|| f(t))
    }

    /// Whether a task of this scheduler is running (and is the innermost coroutine).
    #[inline]
    pub(crate) fn in_task(&self) -> bool {
        self.with_current(|_| ()).is_some()
    }

    /// Whether a task body must re-raise what it caught (its coroutine is being dropped).
    pub(crate) fn is_cancelling(&self) -> bool {
        self.cancelling.get()
    }

    /// Creates a task running `f` and queues it.
    pub(crate) fn spawn<T, F>(&self, opts: &Builder, f: F) -> Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + 'static,
        T: 'static,
    {
        let inner = Rc::new(JoinInner::new());
        let done = Completion(inner.clone());
        let body = move |y: &Yielder<(), ()>, ()| {
            let done = done;
            SCHED.with(|s| {
                if let Some(t) = s.current.borrow().as_ref() {
                    t.yielder.set(y);
                }
            });
            match panic::catch_unwind(AssertUnwindSafe(f)) {
                Ok(v) => done.0.set(Ok(v)),
                Err(p) => {
                    if SCHED.is_set() && SCHED.with(|s| s.is_cancelling()) {
                        panic::resume_unwind(p);
                    }
                    done.0.set(Err(p));
                }
            }
        };
        let co = if opts.shared {
            let stack = self.shared_stack(opts.stack_size.unwrap_or(crate::DEFAULT_STACK_SIZE))?;
            // SAFETY: whoever set `shared` promised, through the unsafe `Builder::shared`, that
            // `f` lends no reference into its stack while suspended; the wrapper around it
            // keeps only its own locals, which nothing else sees.
            unsafe { Coroutine::with_shared_stack(&stack, body) }
        } else {
            match opts.stack_size {
                Some(size) => Coroutine::with_stack_size(size, body)?,
                None => Coroutine::try_new(body)?,
            }
        };
        let task = Rc::new(Task::new(co, opts.name.clone()));
        let key = self.tasks.borrow_mut().insert(task.clone());
        task.key.set(key);
        self.ready.borrow_mut().push_back(task.clone());
        Ok(JoinHandle::new(inner, task))
    }

    /// A shared stack of `size` bytes for a new task, round-robin over a few per size.
    fn shared_stack(&self, size: usize) -> Result<SharedStack> {
        let mut shared = self.shared.borrow_mut();
        let i = match shared.iter().position(|(s, _, _)| *s == size) {
            Some(i) => i,
            None => {
                shared.push((size, Vec::new(), 0));
                shared.len() - 1
            }
        };
        let (_, stacks, next) = &mut shared[i];
        if stacks.len() < SHARED_STACKS {
            stacks.push(SharedStack::new(size)?);
            return Ok(stacks[stacks.len() - 1].clone());
        }
        *next = (*next + 1) % stacks.len();
        Ok(stacks[*next].clone())
    }

    /// Makes a parked task runnable; remembers the wake-up if it is running or yielding.
    #[inline]
    pub(crate) fn unpark(&self, t: &Rc<Task>) {
        match t.state.get() {
            State::Parked => {
                t.state.set(State::Queued);
                self.ready.borrow_mut().push_back(t.clone());
            }
            State::Running | State::Yielded => t.notified.set(true),
            State::Queued | State::Done => {}
        }
    }

    /// Unparks the task with slab key `key`, if it still lives.
    fn unpark_key(&self, key: (u32, u32)) {
        let t = self.tasks.borrow().get(key).cloned();
        if let Some(t) = t {
            self.unpark(&t);
        }
    }

    /// Suspends the running task until it is unparked (returns at once if a wake-up is
    /// pending). The caller has checked that a task runs.
    pub(crate) fn park(&self, t: &Task) {
        if t.notified.replace(false) {
            return;
        }
        t.state.set(State::Parked);
        suspend(t);
    }

    /// [`park`](Self::park) without a deadline, [`park_until`](Self::park_until) with one:
    /// false if the deadline passed first.
    pub(crate) fn park_deadline(&self, t: &Rc<Task>, deadline: Option<Instant>) -> bool {
        match deadline {
            Some(dl) => self.park_until(t, dl),
            None => {
                self.park(t);
                true
            }
        }
    }

    /// As [`park`](Self::park), with a timer: false if `deadline` passed first.
    pub(crate) fn park_until(&self, t: &Rc<Task>, deadline: Instant) -> bool {
        if t.notified.replace(false) {
            return true;
        }
        let now = Instant::now();
        if now >= deadline {
            return false;
        }
        let key = {
            let mut d = self.driver.borrow_mut();
            if d.wheel.is_empty() {
                // The wheel is only advanced while it holds timers; bring an idle one up to
                // date so the new timer is filed relative to now (no early cascade wake-ups).
                let tick = d.now_tick(now);
                d.wheel.advance(tick, |_| {});
            }
            let tick = d.deadline_tick(deadline);
            d.wheel.insert(tick, t.clone())
        };
        t.state.set(State::Parked);
        suspend(t);
        // If the timer is gone it fired: the deadline has passed.
        self.driver.borrow_mut().wheel.remove(key).is_some()
    }

    /// Puts the running task at the back of the ready queue and switches away.
    pub(crate) fn yield_now(&self, t: &Rc<Task>) {
        t.state.set(State::Yielded);
        self.ready.borrow_mut().push_back(t.clone());
        suspend(t);
    }

    /// Cancels a task once the loop is back on its own stack: its coroutine is dropped, which
    /// unwinds its stack.
    pub(crate) fn cancel_later(&self, t: Rc<Task>) {
        self.cancel.borrow_mut().push(t);
    }

    fn run_cancels(&self) {
        let cancels = std::mem::take(&mut *self.cancel.borrow_mut());
        for t in &cancels {
            self.cancel_now(t);
        }
    }

    fn cancel_now(&self, t: &Rc<Task>) {
        if t.state.get() == State::Done {
            return;
        }
        t.state.set(State::Done);
        self.tasks.borrow_mut().remove(t.key.get());
        let co = t.co.borrow_mut().take();
        let was = self.cancelling.replace(true);
        drop(co);
        self.cancelling.set(was);
    }

    fn finish(&self, t: &Rc<Task>) {
        t.state.set(State::Done);
        self.tasks.borrow_mut().remove(t.key.get());
        let co = t.co.borrow_mut().take();
        drop(co);
    }

    fn run_task(&self, t: Rc<Task>) {
        match t.state.get() {
            State::Queued | State::Yielded => {}
            _ => return,
        }
        t.state.set(State::Running);
        *self.current.borrow_mut() = Some(t.clone());
        let res = match t.co.borrow_mut().as_mut() {
            Some(co) => co.resume(()),
            None => return,
        };
        self.current.borrow_mut().take();
        match res {
            Ok(CoroutineResult::Yield(())) => {
                if t.state.get() == State::Running {
                    // Suspended through its yielder directly: treat it as a yield.
                    t.state.set(State::Yielded);
                    self.ready.borrow_mut().push_back(t);
                }
            }
            Ok(CoroutineResult::Return(())) => self.finish(&t),
            Err(e) => {
                self.finish(&t);
                panic!(
                    "coro: the scheduler could not resume coroutine {}: {e}",
                    t.id
                );
            }
        }
    }

    /// Runs tasks and waits for events until no task is left.
    pub(crate) fn run_loop(&self) {
        loop {
            // Run what is ready, tasks that become ready meanwhile included, but look at epoll
            // again after EVENT_INTERVAL tasks so that new I/O and timers are not starved by a
            // busy queue (tokio does the same, every 61). Counting tasks, not batches: two
            // coroutines that yield to each other make one epoll_wait per 61 switches, not one
            // per switch.
            let mut ran = 0;
            while ran < EVENT_INTERVAL && !self.stop.get() {
                let t = self.ready.borrow_mut().pop_front();
                match t {
                    Some(t) => self.run_task(t),
                    None => break,
                }
                ran += 1;
                // A task asked for another to be cancelled (`timeout`): do it now, on the
                // loop's stack, before anyone who waits for it runs again.
                if !self.cancel.borrow().is_empty() {
                    self.run_cancels();
                }
            }
            self.run_cancels();
            if self.tasks.borrow().live == 0 || self.stop.get() {
                return;
            }
            let block = self.ready.borrow().is_empty();
            if block && self.cancel.borrow().is_empty() {
                self.check_deadlock();
            }
            self.drive(block && self.cancel.borrow().is_empty());
        }
    }

    /// Panics if every task is parked and nothing can ever wake one: no timer, no fd waiter,
    /// and no handle that another thread could unpark with.
    fn check_deadlock(&self) {
        let d = self.driver.borrow();
        let no_remote_handles = Arc::strong_count(&self.remote) == 1;
        // Pairs with the release of the last handle's drop: its wake-up, pushed before the
        // drop, is then visible below.
        std::sync::atomic::fence(std::sync::atomic::Ordering::Acquire);
        if d.wheel.is_empty()
            && !d.fds.has_waiters()
            && no_remote_handles
            && !self.remote.has_pending()
        {
            let live = self.tasks.borrow().live;
            drop(d);
            panic!(
                "coro: deadlock: {live} coroutine(s) are parked and nothing can wake them (no timer, no fd, no handle held by another thread)"
            );
        }
    }

    /// Waits for I/O, timers and remote wake-ups (at most until the nearest timer when
    /// `block`, not at all otherwise) and queues the tasks they wake.
    fn drive(&self, block: bool) {
        let mut guard = self.driver.borrow_mut();
        let d = &mut *guard;
        let timeout = if !block {
            0
        } else {
            match d.wheel.next_deadline() {
                None => -1,
                Some(tick) => {
                    let at = d.start + Duration::from_millis(tick);
                    sys::timeout_ms(at.saturating_duration_since(Instant::now()))
                }
            }
        };
        let mut remote = false;
        match d.poller.wait(timeout) {
            Ok(events) => {
                for (token, bits) in events {
                    if token == WAKE_TOKEN {
                        remote = true;
                    } else {
                        d.fds.on_event(token, bits, |t| self.unpark(&t));
                    }
                }
            }
            Err(e) => panic!("coro: epoll_wait failed: {e}"),
        }
        if !d.wheel.is_empty() {
            let now = d.now_tick(Instant::now());
            d.wheel.advance(now, |t| self.unpark(&t));
        }
        drop(guard);
        if remote {
            let mut keys = self.remote_keys.borrow_mut();
            self.remote.drain(&mut keys);
            for key in keys.drain(..) {
                self.unpark_key(key);
            }
        }
    }

    /// Cancels every task that is left (the runtime is ending, normally or by a panic), until
    /// none is left: destructors may spawn.
    pub(crate) fn teardown(&self) {
        self.current.borrow_mut().take();
        loop {
            let left: Vec<Rc<Task>> = {
                let tasks = self.tasks.borrow();
                tasks.slots.iter().filter_map(|(_, t)| t.clone()).collect()
            };
            if left.is_empty() {
                break;
            }
            for t in &left {
                self.cancel_now(t);
            }
        }
        self.ready.borrow_mut().clear();
        self.cancel.borrow_mut().clear();
        let mut d = self.driver.borrow_mut();
        d.wheel = Wheel::new();
    }
}

/// Switches from the running task back to the loop.
fn suspend(t: &Task) {
    let y = t.yielder.get();
    debug_assert!(!y.is_null(), "a task suspended before its body started");
    // SAFETY: `yielder` was set by the task's body when it started and points into the
    // coroutine's heap block, alive while the coroutine is; the caller runs inside this task
    // (checked through `current_id`), so suspending it is what the yielder is for.
    unsafe { (*y).suspend(()) };
}

/// Runs `f` as the first task of a new scheduler on this thread and drives the loop until
/// every task has finished. See [`crate::run`].
pub(crate) fn run_main<T, F: FnOnce() -> T>(f: F) -> Result<T> {
    if SCHED.is_set() {
        return Err(Error::NestedRun);
    }
    let sched = Scheduler::new()?;
    let mut out: Option<T> = None;
    let slot: *mut Option<T> = &mut out;
    let mut main_panic: Option<Box<dyn std::any::Any + Send>> = None;
    let panic_slot: *mut Option<Box<dyn std::any::Any + Send>> = &mut main_panic;
    let main: Box<dyn FnOnce() + '_> = Box::new(move || {
        let v = match panic::catch_unwind(AssertUnwindSafe(f)) {
            Ok(v) => v,
            Err(p) => {
                if SCHED.with(|s| s.is_cancelling()) {
                    panic::resume_unwind(p);
                }
                // SAFETY: as for `out` below: the slot outlives the main task.
                unsafe { *panic_slot = Some(p) };
                SCHED.with(|s| s.stop.set(true));
                return;
            }
        };
        // SAFETY: `out` outlives the main task: `run_main` tears the scheduler down (which
        // finishes or drops every task) before it returns or unwinds past `out`.
        unsafe { *slot = Some(v) };
    });
    // SAFETY: see above: the main task never outlives this call, so neither do the borrows in
    // `f` and `out`; the lifetime is only erased for the coroutine's `'static` bound.
    let main: Box<dyn FnOnce() + 'static> = unsafe { std::mem::transmute(main) };

    struct Teardown<'a>(&'a Scheduler);
    impl Drop for Teardown<'_> {
        fn drop(&mut self) {
            self.0.teardown();
        }
    }

    let handle = SCHED.set(&sched, || -> Result<JoinHandle<()>> {
        let _teardown = Teardown(&sched);
        let handle = sched.spawn(&Builder::new().name("main"), main)?;
        sched.run_loop();
        Ok(handle)
    })?;
    if let Some(p) = main_panic {
        panic::resume_unwind(p);
    }
    match handle.try_take() {
        Some(Ok(())) => {}
        Some(Err(p)) => panic::resume_unwind(p),
        None => unreachable!("the main task ended without a result"),
    }
    Ok(out.expect("the main task finished without storing its value"))
}
