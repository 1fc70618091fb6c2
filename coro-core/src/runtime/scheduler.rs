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
use super::cancel::{self, Cancelled, Interrupt};
use super::epoll::Poller;
use super::join::{Completion, JoinHandle, JoinInner};
use super::registration::{FdTable, WAKE_TOKEN};
use super::remote::Remote;
use super::task::{State, Task};

/// What a park came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Parked {
    /// Unparked (perhaps spuriously): the caller re-checks what it waits for.
    Woken,
    /// The wait's own deadline passed.
    TimedOut,
    /// A cancel or the expiry of a deadline scope ended the wait.
    Interrupted(Interrupt),
}

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
    /// The wake-up queue and eventfd other threads use; replaced in a fork child.
    remote: RefCell<Arc<Remote>>,
    /// The fork generation (`sys::fork_generation`) this scheduler belongs to: a different one
    /// means the process is a fork child and this scheduler a copy of its parent's.
    fork_generation: Cell<u32>,
    /// Set in a fork child once it has made this scheduler its own (see `after_fork`).
    forked: Cell<bool>,
    shared: RefCell<Vec<(usize, Vec<SharedStack>, usize)>>,
    remote_keys: RefCell<Vec<(u32, u32)>>,
    /// Cancelled tasks whose wait could not start an unwind because one was already in flight
    /// on the thread (see `runtime/cancel.rs`): woken again once none is.
    deferred: RefCell<Vec<Rc<Task>>>,
    /// Set when the runtime is shutting down (the main task panicked, or a deadlock was
    /// found): every task is cancelled, and so is every task spawned from now on.
    stopping: Cell<bool>,
    /// Why the runtime shut down, when it was not the main task's panic: `run` panics with it.
    fatal: RefCell<Option<String>>,
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
        sys::watch_forks();
        let (poller, remote) = Self::new_loop()?;
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
            remote: RefCell::new(remote),
            fork_generation: Cell::new(sys::fork_generation()),
            forked: Cell::new(false),
            shared: RefCell::new(Vec::new()),
            remote_keys: RefCell::new(Vec::new()),
            deferred: RefCell::new(Vec::new()),
            stopping: Cell::new(false),
            fatal: RefCell::new(None),
        })
    }

    /// A new epoll instance with a new wake-up eventfd in it.
    fn new_loop() -> Result<(Poller, Arc<Remote>)> {
        let poller = Poller::new()?;
        let remote = Remote::new()?;
        poller.add(remote.fd(), WAKE_TOKEN)?;
        Ok((poller, remote))
    }

    /// The wake-up handle other threads use to reach this scheduler.
    pub(crate) fn remote(&self) -> Arc<Remote> {
        self.after_fork();
        self.remote.borrow().clone()
    }

    /// Whether this scheduler is a copy of the parent's, in a fork child that has not made it
    /// its own yet. The hooks then act as plain libc calls: they must never touch the
    /// parent's epoll instance, and between `fork` and `exec` they must not allocate.
    #[inline]
    pub(crate) fn inherited(&self) -> bool {
        self.fork_generation.get() != sys::fork_generation()
    }

    /// In a fork child, at the first use of the runtime's own API: makes this copy of the
    /// parent's scheduler the child's own. The epoll instance and the eventfd are the
    /// parent's (shared kernel objects: waiting on that epoll would steal the parent's events),
    /// so the child gets new ones and forgets every registration and timer. Of the coroutines,
    /// only the one that forked exists in the child, as only the forking thread does: the
    /// others are forgotten, never run and never dropped (their destructors are the parent's
    /// to run).
    #[inline]
    pub(crate) fn after_fork(&self) {
        if self.inherited() {
            self.make_own();
        }
    }

    #[cold]
    #[inline(never)]
    fn make_own(&self) {
        self.fork_generation.set(sys::fork_generation());
        self.forked.set(true);
        let (poller, remote) = match Self::new_loop() {
            Ok(l) => l,
            Err(e) => panic!(
                "coro: this process was forked from a running coro runtime and could not make an event loop of its own: {e}"
            ),
        };
        *self.remote.borrow_mut() = remote;
        {
            let mut d = self.driver.borrow_mut();
            d.poller = poller;
            d.fds = FdTable::default();
            d.wheel = Wheel::new();
        }
        let keep = self.current_task();
        let gone: Vec<Rc<Task>> = {
            let mut tasks = self.tasks.borrow_mut();
            let keys: Vec<_> = tasks
                .slots
                .iter()
                .enumerate()
                .filter(|(_, (_, t))| {
                    t.as_ref()
                        .is_some_and(|t| keep.as_ref().is_none_or(|k| !Rc::ptr_eq(t, k)))
                })
                .map(|(i, (g, _))| (i as u32, *g))
                .collect();
            keys.into_iter().filter_map(|k| tasks.remove(k)).collect()
        };
        for t in &gone {
            t.state.set(State::Done);
            std::mem::forget(t.co.borrow_mut().take());
        }
        self.ready.borrow_mut().clear();
        self.deferred.borrow_mut().clear();
    }

    /// The running task, if the innermost coroutine on this thread is one of ours.
    #[inline]
    pub(crate) fn current_task(&self) -> Option<Rc<Task>> {
        self.with_current(Rc::clone)
    }

    /// Runs `f` with the running task, if any. None also while the scheduler itself is
    /// changing which task runs (a signal handler that interrupted it sees no task).
    #[inline]
    pub(crate) fn with_current<R>(&self, f: impl FnOnce(&Rc<Task>) -> R) -> Option<R> {
        let cur = self.current.try_borrow().ok()?;
        let t = cur.as_ref()?;
        (crate::coroutine::current_id() == Some(t.id)).then(|| f(t))
    }

    /// Whether a task of this scheduler is running (and is the innermost coroutine).
    #[inline]
    pub(crate) fn in_task(&self) -> bool {
        self.with_current(|_| ()).is_some()
    }

    /// Live tasks, queued fd waits and armed timers (for tests: what a cancel must not leave).
    pub(crate) fn counts(&self) -> (usize, usize, usize) {
        let d = self.driver.borrow();
        (self.tasks.borrow().live, d.fds.waiters(), d.wheel.len())
    }

    /// Creates a task running `f` and queues it.
    pub(crate) fn spawn<T, F>(&self, opts: &Builder, f: F) -> Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + 'static,
        T: 'static,
    {
        self.after_fork();
        let inner = Rc::new(JoinInner::new());
        let done = Completion(inner.clone());
        let body = move |y: &Yielder<(), ()>, ()| {
            let done = done;
            let cancelled = SCHED.with(|s| match s.current.borrow().as_ref() {
                Some(t) => {
                    t.yielder.set(y);
                    t.cancel.is_cancelled()
                }
                None => false,
            });
            if cancelled {
                // Cancelled before it ever ran: the body never starts.
                drop(f);
                done.0.set(Err(Box::new(Cancelled)));
                return;
            }
            let r = panic::catch_unwind(AssertUnwindSafe(f));
            // The co_local values die here, inside the task: a destructor that panics ends this
            // coroutine (its join gets the panic), never the runtime.
            let locals = panic::catch_unwind(crate::local::drop_current_locals);
            match (r, locals) {
                (Ok(v), Ok(())) => done.0.set(Ok(v)),
                (Ok(_), Err(p)) => done.0.set(Err(p)),
                // An interrupt no scope caught (a cancel): the coroutine ends cancelled.
                (Err(p), _) if cancel::is_interrupt(&*p) => done.0.set(Err(Box::new(Cancelled))),
                (Err(p), _) => done.0.set(Err(p)),
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
        if self.stopping.get() {
            task.cancel.cancel();
        }
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

    /// Suspends the running task `t` until it is unparked, `deadline` passes, or (when
    /// `interruptible`) an interrupt ends the wait: a cancel, or the expiry of the deadline
    /// scope in force, whose timer is armed with the wait's own. Returns at once if a wake-up is
    /// pending or an interrupt already is. May return `Woken` spuriously: callers re-check
    /// their condition. Never unwinds.
    pub(crate) fn park_wait(
        &self,
        t: &Rc<Task>,
        deadline: Option<Instant>,
        interruptible: bool,
    ) -> Parked {
        let scope = if interruptible && t.cancel.armed() {
            if let Some(i) = t.cancel.pending(Instant::now) {
                return Parked::Interrupted(i);
            }
            t.cancel.deadline()
        } else {
            None
        };
        if t.notified.replace(false) {
            return Parked::Woken;
        }
        // The timer: the earlier of the wait's own deadline and the scope's.
        let timer = match (deadline, scope) {
            (None, None) => None,
            (Some(d), None) => Some((d, None)),
            (Some(d), Some((at, _))) if d <= at => Some((d, None)),
            (_, Some((at, id))) => Some((at, Some(id))),
        };
        let fired = match timer {
            None => {
                t.state.set(State::Parked);
                suspend(t);
                None
            }
            Some((at, owner)) => {
                let now = Instant::now();
                if now >= at {
                    return match owner {
                        Some(id) => Parked::Interrupted(t.cancel.deliver(id)),
                        None => Parked::TimedOut,
                    };
                }
                let key = {
                    let mut d = self.driver.borrow_mut();
                    if d.wheel.is_empty() {
                        // The wheel is only advanced while it holds timers; bring an idle one
                        // up to date so the new timer is filed relative to now (no early
                        // cascade wake-ups).
                        let tick = d.now_tick(now);
                        d.wheel.advance(tick, |_| {});
                    }
                    let tick = d.deadline_tick(at);
                    d.wheel.insert(tick, t.clone())
                };
                t.state.set(State::Parked);
                suspend(t);
                // If the timer is gone it fired: its deadline has passed.
                self.driver
                    .borrow_mut()
                    .wheel
                    .remove(key)
                    .is_none()
                    .then_some(owner)
            }
        };
        if interruptible && t.cancel.is_cancelled() {
            return Parked::Interrupted(Interrupt::Cancelled);
        }
        match fired {
            None => Parked::Woken,
            Some(None) => Parked::TimedOut,
            Some(Some(id)) => Parked::Interrupted(t.cancel.deliver(id)),
        }
    }

    /// A park for coro's own waits: as [`park_wait`](Self::park_wait), but an interrupt
    /// unwinds (see `runtime/cancel.rs`). Returns false if `deadline` passed first.
    ///
    /// While an unwind is in flight on the thread the interrupt cannot start another: the wait
    /// then goes on as if shielded, and [`redeliver`](Self::redeliver) wakes it again later.
    pub(crate) fn park_raising(&self, t: &Rc<Task>, deadline: Option<Instant>) -> bool {
        match self.park_wait(t, deadline, true) {
            Parked::Woken => true,
            Parked::TimedOut => false,
            Parked::Interrupted(i) => {
                if cancel::can_raise() {
                    cancel::raise(i);
                }
                self.deferred.borrow_mut().push(t.clone());
                !matches!(self.park_wait(t, deadline, false), Parked::TimedOut)
            }
        }
    }

    /// Wakes the tasks whose interrupts were deferred, once no unwind is in flight on the
    /// thread (this runs on the loop's own stack, where `panicking()` counts the unwinds of
    /// every suspended coroutine): their waits then raise.
    fn redeliver(&self) {
        if self.deferred.borrow().is_empty() || std::thread::panicking() {
            return;
        }
        let deferred = std::mem::take(&mut *self.deferred.borrow_mut());
        for t in &deferred {
            self.unpark(t);
        }
    }

    /// Cancels `t`: marks it and wakes it if it waits. Its next wait (or the one it is in)
    /// sees the cancel; a task that has not started never runs its body.
    pub(crate) fn cancel(&self, t: &Rc<Task>) {
        if t.state.get() != State::Done && t.cancel.cancel() {
            if t.state.get() == State::Running {
                // It cancels itself: its next call sees it.
                cancel::set_running_armed(t.cancel.armed());
            }
            self.unpark(t);
        }
    }

    /// Starts the shutdown: every task is cancelled, and so is every task spawned from now on.
    /// The loop goes on until they have all finished.
    pub(crate) fn shutdown(&self) {
        if self.stopping.replace(true) {
            return;
        }
        let live: Vec<Rc<Task>> = {
            let tasks = self.tasks.borrow();
            tasks.slots.iter().filter_map(|(_, t)| t.clone()).collect()
        };
        for t in &live {
            self.cancel(t);
        }
    }

    /// Puts the running task at the back of the ready queue and switches away.
    pub(crate) fn yield_now(&self, t: &Rc<Task>) {
        t.state.set(State::Yielded);
        self.ready.borrow_mut().push_back(t.clone());
        suspend(t);
    }

    fn finish(&self, t: &Rc<Task>) {
        t.state.set(State::Done);
        self.tasks.borrow_mut().remove(t.key.get());
        let co = t.co.borrow_mut().take();
        drop(co);
    }

    fn run_task(&self, t: Rc<Task>) {
        // In a fork child, the copies of the parent's coroutines never run (see `after_fork`).
        self.after_fork();
        match t.state.get() {
            State::Queued | State::Yielded => {}
            _ => return,
        }
        t.state.set(State::Running);
        *self.current.borrow_mut() = Some(t.clone());
        cancel::set_running_armed(t.cancel.armed());
        let res = match t.co.borrow_mut().as_mut() {
            Some(co) => co.resume(()),
            None => return,
        };
        cancel::set_running_armed(false);
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
            self.after_fork();
            // Run what is ready, tasks that become ready meanwhile included, but look at epoll
            // again after EVENT_INTERVAL tasks so that new I/O and timers are not starved by a
            // busy queue (tokio does the same, every 61). Counting tasks, not batches: two
            // coroutines that yield to each other make one epoll_wait per 61 switches, not one
            // per switch.
            let mut ran = 0;
            while ran < EVENT_INTERVAL {
                let t = self.ready.borrow_mut().pop_front();
                match t {
                    Some(t) => self.run_task(t),
                    None => break,
                }
                ran += 1;
            }
            if self.tasks.borrow().live == 0 {
                return;
            }
            self.redeliver();
            let block = self.ready.borrow().is_empty();
            if block && self.is_deadlocked() {
                if self.stopping.get() {
                    // Cancelled, and still parked with nothing to wake them: shielded waits
                    // that can never end. Nothing else can be done for them.
                    self.abandon(
                        "were cancelled but stay parked in shielded waits that nothing can end",
                    );
                    return;
                }
                let live = self.tasks.borrow().live;
                *self.fatal.borrow_mut() = Some(format!(
                    "coro: deadlock: {live} coroutine(s) are parked and nothing can wake them (no timer, no fd, no handle held by another thread)"
                ));
                self.shutdown();
                continue;
            }
            self.drive(block);
        }
    }

    /// Whether every task is parked and nothing can ever wake one: no timer, no fd waiter,
    /// and no handle that another thread could unpark with. (The caller saw the ready queue
    /// empty.)
    ///
    /// A handle another thread could use (the wait node of a cross-thread channel, a
    /// `spawn_blocking` job) keeps the runtime waiting, unless no other thread exists that
    /// could use it: then both ends of a cross-thread channel live in this runtime, and the
    /// wait is a deadlock too. (Which thread holds a channel's other end cannot be known in
    /// general: a `Sender` moves to a thread without running any code.)
    fn is_deadlocked(&self) -> bool {
        let d = self.driver.borrow();
        if !d.wheel.is_empty() || d.fds.has_waiters() {
            return false;
        }
        let remote = self.remote.borrow();
        let no_remote_handles = Arc::strong_count(&remote) == 1;
        // Pairs with the release of the last handle's drop: its wake-up, pushed before the
        // drop, is then visible below.
        std::sync::atomic::fence(std::sync::atomic::Ordering::Acquire);
        if remote.has_pending() {
            return false;
        }
        no_remote_handles || !other_threads_could_wake()
    }

    /// Gives up on the tasks left after a shutdown that can never finish: their coroutines
    /// are leaked (their stacks stay mapped), since unwinding them from outside could cross a
    /// foreign frame. Says so on stderr.
    fn abandon(&self, why: &str) {
        let left: Vec<Rc<Task>> = {
            let mut tasks = self.tasks.borrow_mut();
            let keys: Vec<_> = tasks
                .slots
                .iter()
                .enumerate()
                .filter(|(_, (_, t))| t.is_some())
                .map(|(i, (g, _))| (i as u32, *g))
                .collect();
            keys.into_iter().filter_map(|k| tasks.remove(k)).collect()
        };
        for t in &left {
            t.state.set(State::Done);
            std::mem::forget(t.co.borrow_mut().take());
        }
        let ids: Vec<String> = left.iter().map(|t| t.id.to_string()).collect();
        eprintln!(
            "coro: {} coroutine(s) ({}) {why}; their stacks are leaked",
            left.len(),
            ids.join(", ")
        );
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
            self.remote.borrow().drain(&mut keys);
            for key in keys.drain(..) {
                self.unpark_key(key);
            }
        }
    }

    /// What is left when `run_loop` ends early because the scheduler itself failed (an
    /// internal panic): the coroutines still alive cannot be run to their end, and unwinding
    /// them from outside could cross a foreign frame, so they are leaked.
    fn teardown_after_failure(&self) {
        self.current.borrow_mut().take();
        if self.tasks.borrow().live > 0 {
            self.abandon("cannot run to their end: the runtime itself failed");
        }
        self.ready.borrow_mut().clear();
        self.deferred.borrow_mut().clear();
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
                // A panic in main shuts the runtime down: the other tasks are cancelled and
                // run until they have unwound, then `run` re-raises it (as `block_on` does:
                // nothing waits on tasks that may never end once `main` is gone).
                // SAFETY: as for `out` below: the slot outlives the main task.
                unsafe { *panic_slot = Some(p) };
                SCHED.with(|s| s.shutdown());
                return;
            }
        };
        // SAFETY: `out` outlives the main task: `run_main` does not return (or unwind past
        // `out`) while the main task lives: the loop runs until every task has finished, and a
        // failure of the loop itself leaks the tasks left, which then never run again.
        unsafe { *slot = Some(v) };
    });
    // SAFETY: see above: the main task never runs after this call, so neither do the borrows in
    // `f` and `out`; the lifetime is only erased for the coroutine's `'static` bound.
    let main: Box<dyn FnOnce() + 'static> = unsafe { std::mem::transmute(main) };

    /// Runs when the loop unwinds (an internal failure): see `teardown_after_failure`.
    struct Teardown<'a>(&'a Scheduler);
    impl Drop for Teardown<'_> {
        fn drop(&mut self) {
            self.0.teardown_after_failure();
        }
    }

    SCHED.set(&sched, || -> Result<()> {
        let teardown = Teardown(&sched);
        sched.spawn(&Builder::new().name("main"), main)?;
        sched.run_loop();
        std::mem::forget(teardown);
        Ok(())
    })?;
    if let Some(msg) = sched.fatal.borrow_mut().take() {
        panic!("{msg}");
    }
    if let Some(p) = main_panic
        && !cancel::is_interrupt(&*p)
    {
        panic::resume_unwind(p);
    }
    match out {
        Some(v) => Ok(v),
        None if sched.forked.get() => panic!(
            "coro::run: this process was forked from inside the runtime, by a coroutine other than the main one: in the child only the forking coroutine exists, so `run` has no value to return; end the child with `std::process::exit` (or `exec`)"
        ),
        // The main task was cancelled by the shutdown, or left in a shielded wait.
        None => panic!("coro::run: the main coroutine did not finish (it was cancelled)"),
    }
}

/// Whether a thread other than this one exists that could wake a task: any thread of the
/// process except this one and the blocking pool's idle threads (which hold nothing). Counted
/// from `/proc/self/stat`; only asked when the loop is about to wait for ever.
#[cold]
fn other_threads_could_wake() -> bool {
    match sys::thread_count() {
        Some(n) => n > 1 + crate::blocking::idle_threads(),
        None => true,
    }
}
