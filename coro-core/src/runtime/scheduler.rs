//! The per-thread scheduler: a FIFO ready queue of tasks, the table of live tasks, and the
//! loop that runs the ready ones and asks the driver (`runtime/driver/`) for more.
//!
//! One scheduler per thread, reached through `scoped-tls` while [`crate::run`] runs. Each task is
//! a `Coroutine<(), (), ()>` resumed from the loop below; a task gives the thread back by parking
//! (`runtime/park.rs`) or yielding. The loop runs every task that is ready, then asks epoll
//! for events — without blocking if tasks are still ready, else for as long as the nearest timer
//! allows (forever when there is none), so an idle runtime burns no CPU.

use std::cell::{Cell, OnceCell, RefCell};
use std::collections::VecDeque;
use std::panic::Location;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use crate::coroutine::{Coroutine, CoroutineResult};
use crate::error::Result;
use crate::stack::{OwnedStack, SharedStack};
use crate::sys;

use super::body::TaskBody;
use super::builder::Builder;
use super::cancel;
use super::census::{Group, Member};
use super::driver::Driver;
use super::driver::remote::Remote;
use super::join::JoinHandle;
use super::task::{Task, TaskState};
use super::tasks::TaskSlab;
use super::watchdog::{self, Slot};

scoped_tls::scoped_thread_local!(pub(crate) static SCHED: Scheduler);

/// How many tasks run between two looks at epoll while tasks stay ready.
const EVENT_INTERVAL: usize = 61;

/// Shared stacks kept per stack size; `shared` tasks are spread over them round-robin.
const SHARED_STACKS: usize = 4;

/// A thread's scheduler.
pub(crate) struct Scheduler {
    pub(super) ready: RefCell<VecDeque<Rc<Task>>>,
    pub(super) tasks: RefCell<TaskSlab>,
    current: RefCell<Option<Rc<Task>>>,
    pub(crate) driver: RefCell<Driver>,
    /// The wake-up queue and eventfd other threads use; replaced in a fork child.
    pub(super) remote: RefCell<Arc<Remote>>,
    /// The fork generation (`sys::fork_generation`) this scheduler belongs to: a different one
    /// means the process is a fork child and this scheduler a copy of its parent's (see
    /// `runtime/fork.rs`).
    pub(super) fork_generation: Cell<u32>,
    /// Set in a fork child once it has made this scheduler its own.
    pub(super) forked: Cell<bool>,
    shared: RefCell<Vec<(usize, Vec<SharedStack>, usize)>>,
    remote_keys: RefCell<Vec<(u32, u32)>>,
    /// Cancelled tasks whose wait could not start an unwind because one was already in flight
    /// on the thread (see `runtime/cancel.rs`): woken again once none is.
    pub(super) deferred: RefCell<Vec<Rc<Task>>>,
    /// Set when the runtime is shutting down (the main task panicked, or a deadlock was
    /// found): every task is cancelled, and so is every task spawned from now on.
    stopping: Cell<bool>,
    /// Why the runtime shut down, when it was not the main task's panic: `run` panics with it.
    fatal: RefCell<Option<String>>,
    /// The stack size of a coroutine spawned without one.
    stack_size: usize,
    /// A coarse clock: milliseconds since the driver started, read once per turn of the loop;
    /// a task notes it when it gives its thread back (for the census's idle times).
    clock: Cell<u32>,
    /// The runtime this scheduler belongs to, and its place there, where census requests
    /// wait (set by `run_main`).
    pub(super) member: RefCell<Option<(Arc<Group>, Arc<Member>)>>,
    /// The `SIGQUIT` count this loop last answered with a dump (see `runtime/dump.rs`).
    pub(super) dump_seen: Cell<u64>,
    /// What the stall watchdog sees of this loop, when it is on (see `runtime/watchdog.rs`).
    pub(super) watch: OnceCell<Arc<Slot>>,
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler")
            .field("ready", &self.ready.borrow().len())
            .field("live", &self.tasks.borrow().live())
            .finish()
    }
}

impl Scheduler {
    /// A scheduler with its epoll instance and wake-up eventfd.
    pub(crate) fn new(stack_size: usize) -> Result<Scheduler> {
        sys::watch_forks();
        let (driver, remote) = Driver::new()?;
        Ok(Scheduler {
            ready: RefCell::new(VecDeque::new()),
            tasks: RefCell::new(TaskSlab::default()),
            current: RefCell::new(None),
            driver: RefCell::new(driver),
            remote: RefCell::new(remote),
            fork_generation: Cell::new(sys::fork_generation()),
            forked: Cell::new(false),
            shared: RefCell::new(Vec::new()),
            remote_keys: RefCell::new(Vec::new()),
            deferred: RefCell::new(Vec::new()),
            stopping: Cell::new(false),
            fatal: RefCell::new(None),
            stack_size,
            clock: Cell::new(0),
            member: RefCell::new(None),
            dump_seen: Cell::new(super::dump::seq()),
            watch: OnceCell::new(),
        })
    }

    /// The wake-up handle other threads use to reach this scheduler.
    pub(crate) fn remote(&self) -> Arc<Remote> {
        self.after_fork();
        self.remote.borrow().clone()
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
        (self.tasks.borrow().live(), d.fds.waiters(), d.wheel.len())
    }

    /// Creates a task running `f`, spawned at `site`, and queues it.
    pub(crate) fn spawn<T, F>(
        &self,
        opts: &Builder,
        site: &'static Location<'static>,
        f: F,
    ) -> Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + 'static,
        T: 'static,
    {
        self.after_fork();
        let body = TaskBody::new(f);
        let size = opts.stack_size.unwrap_or(self.stack_size);
        let co = if opts.shared {
            let stack = self.shared_stack(size)?;
            // SAFETY: whoever set `shared` promised, through the unsafe `Builder::shared`, that
            // `f` lends no reference into its stack while suspended; the body around it keeps
            // only its own locals, which nothing else sees.
            unsafe { Coroutine::on_shared_stack(&stack, body) }
        } else {
            Coroutine::on_owned_stack(OwnedStack::new(size)?, body)
        };
        // Inherited co_local values are cloned here, in the spawner (one load if none is used).
        crate::local::inherit_into(co.extension());
        let task = Rc::new(Task::new(
            co,
            opts.name.clone(),
            opts.shared,
            site,
            self.clock.get(),
        ));
        if self.stopping.get() {
            task.cancel.cancel();
        }
        let key = self.tasks.borrow_mut().insert(task.clone());
        task.key.set(key);
        super::debugger::spawned(self, &task);
        self.ready.borrow_mut().push_back(task.clone());
        Ok(JoinHandle::new(task))
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
            TaskState::Parked => {
                t.state.set(TaskState::Queued);
                self.ready.borrow_mut().push_back(t.clone());
            }
            TaskState::Running | TaskState::Yielded => t.notified.set(true),
            TaskState::Queued | TaskState::Done => {}
        }
    }

    /// Unparks the task with slab key `key`, if it still lives.
    fn unpark_key(&self, key: (u32, u32)) {
        let t = self.tasks.borrow().get(key).cloned();
        if let Some(t) = t {
            self.unpark(&t);
        }
    }

    /// Cancels `t`: marks it and wakes it if it waits. Its next wait (or the one it is in)
    /// sees the cancel; a task that has not started never runs its body.
    pub(crate) fn cancel(&self, t: &Rc<Task>) {
        if t.state.get() != TaskState::Done && t.cancel.cancel() {
            if t.state.get() == TaskState::Running {
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
        let live = self.tasks.borrow().all();
        for t in &live {
            self.cancel(t);
        }
    }

    fn finish(&self, t: &Rc<Task>) {
        t.state.set(TaskState::Done);
        // A body that did not end delivered nothing: its joiner learns of the end here.
        super::join::ended(t.id);
        super::debugger::finished(self, t);
        self.tasks.borrow_mut().remove(t.key.get());
        let co = t.co.borrow_mut().take();
        drop(co);
    }

    fn run_task(&self, t: Rc<Task>) {
        // In a fork child, the copies of the parent's coroutines never run (see `after_fork`).
        self.after_fork();
        match t.state.get() {
            TaskState::Queued | TaskState::Yielded => {}
            _ => return,
        }
        t.state.set(TaskState::Running);
        *self.current.borrow_mut() = Some(t.clone());
        cancel::set_running_armed(t.cancel.armed());
        let watch = self.watch.get();
        if let Some(w) = watch {
            w.enter(&t);
        }
        let res = match t.co.borrow_mut().as_mut() {
            Some(co) => co.resume(()),
            None => return,
        };
        cancel::set_running_armed(false);
        self.current.borrow_mut().take();
        if let Some(w) = watch
            && w.leave()
        {
            // A long turn: the coarse clock is far behind.
            self.clock.set(self.clock_now(Instant::now()));
            self.stall_ended(w, &t);
        }
        t.ran_at.set(self.clock.get());
        match res {
            Ok(CoroutineResult::Yield(())) => {
                if t.state.get() == TaskState::Running {
                    // Suspended through its yielder directly: treat it as a yield.
                    t.state.set(TaskState::Yielded);
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
            if self.tasks.borrow().live() == 0 {
                return;
            }
            self.serve();
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
                let live = self.tasks.borrow().live();
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
        if no_remote_handles {
            return true;
        }
        // A pool thread may have queued its wake-up after the look above and then gone idle
        // before the count: a wake-up pushed before the idle count read is visible now.
        !other_threads_could_wake() && !remote.has_pending()
    }

    /// Gives up on the tasks left after a shutdown that can never finish: their coroutines
    /// are leaked (their stacks stay mapped), since unwinding them from outside could cross a
    /// foreign frame. Says so on stderr.
    pub(super) fn abandon(&self, why: &str) {
        let left = self.tasks.borrow_mut().take_where(|_| true);
        for t in &left {
            t.state.set(TaskState::Done);
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
        let remote = self.driver.borrow_mut().wait(block, |t| self.unpark(&t));
        self.clock.set(self.clock_now(Instant::now()));
        if remote {
            let mut keys = self.remote_keys.borrow_mut();
            self.remote.borrow().drain(&mut keys);
            for key in keys.drain(..) {
                self.unpark_key(key);
            }
        }
    }

    /// The coarse clock's reading for `now` (see `clock`).
    pub(super) fn clock_now(&self, now: Instant) -> u32 {
        self.driver.borrow().now_tick(now) as u32
    }

    /// Answers what waits for the loop between tasks: census requests, a `SIGQUIT` dump.
    #[inline]
    fn serve(&self) {
        if super::dump::seq() != self.dump_seen.get() {
            self.dump_if_asked();
        }
        let member = self.member.borrow();
        if let Some((_, m)) = member.as_ref()
            && m.has_requests()
        {
            let m = m.clone();
            drop(member);
            self.answer_requests(&m);
        }
    }

    /// The runtime this scheduler belongs to, and its place there (a group of its own if
    /// `run_main` gave it none).
    pub(super) fn census_group(&self) -> (Arc<Group>, Arc<Member>) {
        let mut member = self.member.borrow_mut();
        member
            .get_or_insert_with(|| {
                let group = Arc::new(Group::default());
                let m = group.join(0, &self.remote.borrow());
                (group, m)
            })
            .clone()
    }

    /// The message `run` panics with when the loop ended for a reason other than `main`.
    pub(super) fn take_fatal(&self) -> Option<String> {
        self.fatal.borrow_mut().take()
    }

    /// Forgets who runs (for the teardown after a failure of the loop itself).
    pub(super) fn clear_current(&self) {
        self.current.borrow_mut().take();
    }
}

/// Whether a thread other than this one exists that could wake a task: any thread of the
/// process except this one, the blocking pool's idle threads and the watchdog's (which hold
/// nothing). Counted
/// from `/proc/self/stat`; only asked when the loop is about to wait for ever.
#[cold]
fn other_threads_could_wake() -> bool {
    match sys::thread_count() {
        Some(n) => n > 1 + super::pool::idle_threads() + usize::from(watchdog::running()),
        None => true,
    }
}
