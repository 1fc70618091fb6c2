//! Parking: the runtime's internal contract for `sync/`, `net/`, `hooks/` and `time`. The
//! running party (a task of this thread's scheduler, or a plain thread) parks until something
//! unparks it, a deadline passes, or (for a task) an interrupt ends the wait.
//!
//! Every function works both inside a task and on a plain thread, so a primitive built on it
//! works in both. A park may return spuriously: callers re-check their condition in a loop.
//! Two flavours: [`park`]/[`park_deadline`] for coro's own waits, where an interrupt unwinds
//! (see `runtime/cancel.rs`), and [`park_wait`] for waits that report it as an error.

use std::io;
use std::rc::Rc;
use std::sync::Arc;
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

use super::cancel;
pub(crate) use super::cancel::Interrupt;
use super::census::{self, Wait};
use super::driver::remote::Remote;
use super::scheduler::{SCHED, Scheduler};
use super::task::{Task, TaskState};

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

impl Scheduler {
    /// Suspends the running task `t` until it is unparked, `deadline` passes, or (when
    /// `interruptible`) an interrupt ends the wait: a cancel, or the expiry of the deadline
    /// scope in force, whose timer is armed with the wait's own. Returns at once if a wake-up is
    /// pending or an interrupt already is. May return `Woken` spuriously: callers re-check
    /// their condition. Never unwinds. The caller has set `t.wait` to what it waits for (for
    /// the census): set there, before the call, the value is not carried down through the
    /// frames that stay on the stack while the task is parked.
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
                t.state.set(TaskState::Parked);
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
                let key = self.driver.borrow_mut().add_timer(at, now, t.clone());
                t.state.set(TaskState::Parked);
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
    pub(super) fn redeliver(&self) {
        if self.deferred.borrow().is_empty() || std::thread::panicking() {
            return;
        }
        let deferred = std::mem::take(&mut *self.deferred.borrow_mut());
        for t in &deferred {
            self.unpark(t);
        }
    }

    /// Puts the running task at the back of the ready queue and switches away.
    pub(crate) fn yield_now(&self, t: &Rc<Task>) {
        t.state.set(TaskState::Yielded);
        self.ready.borrow_mut().push_back(t.clone());
        suspend(t);
    }
}

/// Parks the running task `t`, which the caller queued where a wake-up will find it, until it
/// is unparked (perhaps spuriously): for the short wait paths that handle no deadline and no
/// interrupt (see `fd_wait::wait_fd`), inlined so that the switch adds no frame of its own.
#[inline(always)]
pub(super) fn park_here(t: &Task) {
    t.state.set(TaskState::Parked);
    suspend(t);
}

/// Switches from the running task back to the loop. This is the park point a census's
/// backtrace is taken at: the loop may resume the task in capture mode, and it then takes its
/// backtrace and switches back at once (see `runtime/census.rs`).
#[inline(always)]
fn suspend(t: &Task) {
    t.suspend_mode.set(census::SUSPENDED);
    loop {
        // Found again each time round: nothing but `t` stays live across the switch, which
        // keeps the frame a parked task leaves on its stack as small as without the loop.
        // SAFETY: the caller runs inside this task (checked through `current_id`), so the
        // innermost running coroutine is the task's `Coroutine<(), (), ()>`.
        let y = unsafe { crate::coroutine::current_yielder::<(), ()>() };
        debug_assert!(!y.is_null(), "a task suspended outside its coroutine");
        // SAFETY: the yielder of the running coroutine, alive while it runs; suspending the
        // task is what it is for. (One call site of the switch: it stays inlined, and the
        // parked frames small.)
        unsafe { (*y).suspend(()) };
        if t.suspend_mode.get() != census::CAPTURE {
            break;
        }
        census::capture_here();
        t.suspend_mode.set(census::SUSPENDED);
    }
    t.suspend_mode.set(census::NOT_SUSPENDED);
}

/// The running task of this thread's scheduler, if the innermost coroutine is one.
#[inline]
pub(super) fn current_task() -> Option<Rc<Task>> {
    if !SCHED.is_set() {
        return None;
    }
    SCHED.with(|s| {
        if s.inherited() {
            s.after_fork();
        }
        s.current_task()
    })
}

/// True when running inside a scheduler task of this thread's runtime (and not inside a
/// coroutine that such a task resumed by hand).
#[inline]
pub(crate) fn in_task() -> bool {
    SCHED.is_set()
        && SCHED.with(|s| {
            if s.inherited() {
                s.after_fork();
            }
            s.in_task()
        })
}

#[cfg(feature = "hooks")]
/// As [`in_task`], for the hooks: false in a fork child whose runtime is still the parent's
/// copy, which the hooks leave alone (they then call libc as is; see `Scheduler::inherited`),
/// and false while the loop's driver is busy, which only a signal handler that interrupted the
/// runtime's own code can see: its hooked calls act as libc's.
#[inline]
pub(crate) fn hooks_may_wait() -> bool {
    SCHED.is_set()
        && SCHED.with(|s| !s.inherited() && s.driver.try_borrow_mut().is_ok() && s.in_task())
}

/// Makes a parked party of this thread runnable again.
#[derive(Clone, Debug)]
pub(crate) enum Unparker {
    /// A task of this thread's scheduler.
    Task(Rc<Task>),
    /// A plain thread (outside any task).
    Thread(Thread),
}

impl Unparker {
    /// Wakes the party: idempotent, and harmless if it has finished.
    pub(crate) fn unpark(&self) {
        match self {
            Unparker::Task(t) => {
                if t.state.get() != TaskState::Done && SCHED.is_set() {
                    SCHED.with(|s| s.unpark(t));
                }
            }
            Unparker::Thread(th) => th.unpark(),
        }
    }
}

/// The unparker of the running party: the task, or `std::thread::current()` outside one.
pub(crate) fn current_unparker() -> Unparker {
    match current_task() {
        Some(t) => Unparker::Task(t),
        None => Unparker::Thread(thread::current()),
    }
}

/// Parks the running party until it is unparked. May return spuriously. Inside a task this is
/// one of coro's own waits: a cancel or an expired deadline scope unwinds from here (see
/// `runtime/cancel.rs`). `wait` says what it waits for, for the census.
pub(crate) fn park(wait: Wait) {
    park_deadline(None, wait);
}

/// As [`park`], until `deadline` at the latest: false if the deadline passed first.
pub(crate) fn park_deadline(deadline: Option<Instant>, wait: Wait) -> bool {
    match current_task() {
        Some(t) => {
            t.wait.set(wait);
            SCHED.with(|s| s.park_raising(&t, deadline))
        }
        None => park_thread(deadline),
    }
}

/// As [`park_deadline`], but an interrupt ends the wait with `Parked::Interrupted` instead of
/// unwinding: for waits that report it as an error (hooks, `coro::net`, `coro::poll`).
pub(crate) fn park_wait(deadline: Option<Instant>, wait: Wait) -> Parked {
    match current_task() {
        Some(t) => {
            t.wait.set(wait);
            SCHED.with(|s| s.park_wait(&t, deadline, true))
        }
        None if park_thread(deadline) => Parked::Woken,
        None => Parked::TimedOut,
    }
}

/// Parks a plain thread: false if the deadline passed.
fn park_thread(deadline: Option<Instant>) -> bool {
    match deadline {
        None => {
            thread::park();
            true
        }
        Some(deadline) => {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            thread::park_timeout(deadline - now);
            Instant::now() < deadline
        }
    }
}

/// The interrupt pending for the running task, if any (a cancel, or an expired deadline
/// scope): a call that reports interrupts as errors checks it before it starts, so that every
/// call after the first interrupted one fails the same way. One thread-local load when the
/// running task has neither.
#[inline]
pub(crate) fn pending_interrupt() -> Option<Interrupt> {
    if super::cancel::running_armed() {
        pending_interrupt_slow()
    } else {
        None
    }
}

#[cold]
#[inline(never)]
fn pending_interrupt_slow() -> Option<Interrupt> {
    if !SCHED.is_set() {
        return None;
    }
    SCHED.with(|s| s.with_current(|t| t.cancel.pending(Instant::now)).flatten())
}

/// As [`pending_interrupt`], as the `io::Error` a call returns (`ECANCELED` or `ETIMEDOUT`).
#[inline]
pub(crate) fn check_interrupt() -> io::Result<()> {
    match pending_interrupt() {
        None => Ok(()),
        Some(i) => Err(interrupted(i)),
    }
}

#[cold]
#[inline(never)]
fn interrupted(i: Interrupt) -> io::Error {
    i.io_error()
}

/// Unparks a task (through its scheduler's eventfd) or a plain thread, from any thread.
#[derive(Clone, Debug)]
pub(crate) struct RemoteUnparker(RemoteInner);

#[derive(Clone, Debug)]
enum RemoteInner {
    Task {
        remote: Arc<Remote>,
        key: (u32, u32),
    },
    Thread(Thread),
}

impl RemoteUnparker {
    /// Wakes the party from any thread; harmless if it has finished.
    pub(crate) fn unpark(&self) {
        match &self.0 {
            RemoteInner::Task { remote, key } => remote.push(*key),
            RemoteInner::Thread(th) => th.unpark(),
        }
    }
}

/// A [`RemoteUnparker`] for the running party.
pub(crate) fn current_remote_unparker() -> RemoteUnparker {
    match current_task() {
        Some(t) => RemoteUnparker(RemoteInner::Task {
            remote: SCHED.with(|s| s.remote()),
            key: t.key.get(),
        }),
        None => RemoteUnparker(RemoteInner::Thread(thread::current())),
    }
}

/// Lets the other ready tasks run once, without raising a pending interrupt (for the hooks and
/// the error paths of `coro::net`); nothing outside a task.
pub(crate) fn yield_quietly() {
    if let Some(t) = current_task() {
        SCHED.with(|s| s.yield_now(&t));
    }
}

/// Sleeps for `d`: inside a task, a timer and a park (other tasks run); outside,
/// `std::thread::sleep`. One of coro's own waits: an interrupt unwinds from here.
pub(crate) fn sleep(d: Duration) {
    sleep_until_opt(Instant::now().checked_add(d));
}

/// Sleeps until `deadline` (see [`sleep`]).
pub(crate) fn sleep_until(deadline: Instant) {
    sleep_until_opt(Some(deadline));
}

fn sleep_until_opt(deadline: Option<Instant>) {
    match current_task() {
        Some(t) => {
            t.wait.set(Wait::Sleep {
                call: "coro::sleep",
            });
            SCHED.with(|s| while s.park_raising(&t, deadline) {})
        }
        None => match deadline {
            Some(deadline) => {
                let now = Instant::now();
                if deadline > now {
                    thread::sleep(deadline - now);
                }
            }
            None => loop {
                thread::park();
            },
        },
    }
}

#[cfg(feature = "hooks")]
/// The sleep of the hooks: as [`sleep`] inside a task, but an interrupt ends it early with
/// `Err` instead of unwinding (the hook then returns as if the time had passed).
pub(crate) fn sleep_interruptible(d: Duration) -> Result<(), Interrupt> {
    let deadline = Instant::now().checked_add(d);
    loop {
        match park_wait(deadline, Wait::Sleep { call: "sleep" }) {
            Parked::TimedOut => return Ok(()),
            Parked::Woken => {}
            Parked::Interrupted(i) => return Err(i),
        }
    }
}
