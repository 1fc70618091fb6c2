//! A task's cancellation state: whether it was cancelled, its deadline scopes, its shields,
//! and how an interrupt reaches a wait.
//!
//! The one rule (the book's chapter "Cancellation and deadlines"): nothing ever unwinds through
//! a frame that is not Rust's. An interrupt (a cancel, or the expiry of a deadline scope)
//! reaches a wait in one of two ways:
//!
//! - **as an error return**, where the wait can return one: a hooked libc call returns -1 with
//!   `ECANCELED` or `ETIMEDOUT` (a sleep returns early instead), `coro::net` and `coro::poll`
//!   return that `io::Error`. The interrupt stays pending, so every later wait fails the same
//!   way and foreign code leaves by its own error path;
//! - **as an unwind**, from coro's own waits that have no error to return (sleep, yield, join,
//!   channels, sync): [`raise`] unwinds with a private payload that the deadline scope or the
//!   task's root catches. Those waits are Rust frames all the way up to the user's code.
//!
//! A wait never starts an unwind while the thread is already unwinding (a destructor that waits
//! during a panic or a cancellation): it waits normally instead, shielded, and the scheduler
//! wakes it again once no unwind is in flight (see `Scheduler::redeliver`).
//!
//! The state lives in the task and is only touched by the task itself, except `cancelled`,
//! which its `JoinHandle` sets. Deadline scopes nest as a stack kept partly here (the effective
//! deadline and which scope owns it) and partly in each scope's guard on the coroutine's own
//! stack (what to restore on exit), so that entering a scope allocates nothing.

use std::any::Any;
use std::cell::Cell;
use std::fmt;
use std::time::Instant;

use super::scheduler::SCHED;
use super::task::Task;

/// Why a wait ended before what it waited for happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Interrupt {
    /// The coroutine was cancelled (`JoinHandle::cancel`, or its runtime shutting down).
    Cancelled,
    /// The deadline of the scope with this id passed.
    Deadline(u32),
}

impl Interrupt {
    /// The errno a hooked call reports it with.
    pub(crate) fn errno(self) -> i32 {
        match self {
            Interrupt::Cancelled => libc::ECANCELED,
            Interrupt::Deadline(_) => libc::ETIMEDOUT,
        }
    }

    /// The `io::Error` a call that returns `io::Result` reports it with.
    pub(crate) fn io_error(self) -> std::io::Error {
        std::io::Error::from_raw_os_error(self.errno())
    }
}

/// The payload a coroutine unwinds with when a cancel reaches one of coro's own waits, and the
/// panic payload that [`JoinHandle::join`](crate::JoinHandle::join) returns for a coroutine
/// that a cancel ended.
///
/// ```
/// coro::run(|| {
///     let h = coro::spawn(|| coro::sleep(std::time::Duration::from_secs(3600)));
///     coro::yield_now(); // it starts, and parks in its sleep
///     h.cancel();
///     let payload = h.join().unwrap_err();
///     assert!(payload.is::<coro::Cancelled>());
/// });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Cancelled;

impl fmt::Display for Cancelled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the coroutine was cancelled")
    }
}

impl std::error::Error for Cancelled {}

/// The payload of the unwind that an expired deadline starts in one of coro's own waits; the
/// scope with this id catches it.
#[derive(Debug)]
pub(crate) struct DeadlineUnwind(pub(crate) u32);

/// Starts the unwind for `i` (no panic hook runs, nothing is printed).
#[cold]
pub(crate) fn raise(i: Interrupt) -> ! {
    let payload: Box<dyn Any + Send> = match i {
        Interrupt::Cancelled => Box::new(Cancelled),
        Interrupt::Deadline(scope) => Box::new(DeadlineUnwind(scope)),
    };
    std::panic::resume_unwind(payload)
}

/// Whether a wait may start an unwind now: not while one is in flight on this thread (a
/// destructor that waits would then unwind out of a destructor, which aborts).
#[inline]
pub(crate) fn can_raise() -> bool {
    !std::thread::panicking()
}

/// Whether `payload` is one of the unwinds that [`raise`] starts.
pub(crate) fn is_interrupt(payload: &(dyn Any + Send)) -> bool {
    payload.is::<Cancelled>() || payload.is::<DeadlineUnwind>()
}

thread_local! {
    /// Whether the task running on this thread has a cancel or a deadline scope in force: the
    /// one load that the calls which report interrupts as errors make before they look
    /// further. Set by the scheduler when it resumes a task, and by the task itself when it
    /// enters or leaves a scope or a shield, or cancels itself.
    static ARMED: Cell<bool> = const { Cell::new(false) };
}

/// See [`ARMED`].
#[inline]
pub(crate) fn running_armed() -> bool {
    ARMED.with(Cell::get)
}

/// Records whether the running task has a cancel or a deadline scope in force.
#[inline]
pub(crate) fn set_running_armed(armed: bool) {
    ARMED.with(|a| a.set(armed));
}

/// The cancellation state of one task: two words, since every task carries one.
#[derive(Debug, Default)]
pub(crate) struct CancelState {
    /// The earliest deadline of the scopes in force, as [`Stamp`] nanoseconds; [`NONE`] for
    /// none (and inside a shield, until a scope inside it sets one).
    deadline: Cell<u64>,
    /// The id of the scope that set `deadline`.
    owner: Cell<u16>,
    /// Scopes and shields entered and not left; a scope's id is the depth it was entered at
    /// (from 1).
    depth: Cell<u16>,
    /// The id of the scope whose expiry has reached a wait, 0 for none.
    fired: Cell<u16>,
    /// Set by a cancel, and never cleared: every later wait sees it.
    cancelled: Cell<bool>,
    /// Inside a shield: the cancel is held off.
    shielded: Cell<bool>,
}

/// No deadline.
const NONE: u64 = 0;

/// Deadlines as nanoseconds since a process-wide epoch, so that one fits a word.
struct Stamp;

impl Stamp {
    fn epoch() -> Instant {
        static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
        *EPOCH.get_or_init(Instant::now)
    }

    /// `at` as a stamp: never [`NONE`], and saturated a few centuries out.
    fn of(at: Instant) -> u64 {
        let since = at.saturating_duration_since(Self::epoch()).as_nanos();
        u64::try_from(since).unwrap_or(u64::MAX).max(1)
    }

    fn instant(stamp: u64) -> Instant {
        Self::epoch() + std::time::Duration::from_nanos(stamp)
    }
}

/// What a deadline scope or a shield restores when it ends: kept in its guard, on the stack of
/// the coroutine that entered it.
#[derive(Debug)]
pub(crate) struct Saved {
    deadline: u64,
    owner: u16,
    id: u16,
    fired: u16,
    shielded: bool,
}

impl Saved {
    /// The id of the scope this saved state belongs to.
    pub(crate) fn id(&self) -> u32 {
        u32::from(self.id)
    }
}

impl CancelState {
    /// Marks the task cancelled. Returns false if it already was.
    pub(crate) fn cancel(&self) -> bool {
        !self.cancelled.replace(true)
    }

    /// Whether a cancel is pending and not held off by a shield.
    #[inline]
    pub(crate) fn is_cancelled(&self) -> bool {
        self.cancelled.get() && !self.shielded.get()
    }

    /// The deadline in force, if any, and the id of the scope that set it.
    #[inline]
    pub(crate) fn deadline(&self) -> Option<(Instant, u32)> {
        match self.deadline.get() {
            NONE => None,
            d => Some((Stamp::instant(d), u32::from(self.owner.get()))),
        }
    }

    /// Whether anything could interrupt a wait now (a cancel, or a deadline scope).
    #[inline]
    pub(crate) fn armed(&self) -> bool {
        self.is_cancelled() || self.deadline.get() != NONE
    }

    /// The interrupt pending now, if any; reading it counts as delivering it (the scope whose
    /// deadline it is will report its expiry). `now` is read only if a deadline is set.
    #[inline]
    pub(crate) fn pending(&self, now: impl FnOnce() -> Instant) -> Option<Interrupt> {
        if self.is_cancelled() {
            return Some(Interrupt::Cancelled);
        }
        match self.deadline.get() {
            NONE => None,
            d => (Stamp::of(now()) >= d).then(|| self.deliver(u32::from(self.owner.get()))),
        }
    }

    /// Records that the expiry of `scope` reached a wait, and returns it as an interrupt.
    pub(crate) fn deliver(&self, scope: u32) -> Interrupt {
        let scope16 = scope as u16;
        if self.fired.get() == 0 || scope16 < self.fired.get() {
            self.fired.set(scope16);
        }
        Interrupt::Deadline(scope)
    }

    /// Saves what a scope or shield entered now restores, and takes the next id.
    fn enter(&self) -> Saved {
        let Some(id) = self.depth.get().checked_add(1) else {
            panic!(
                "coro: deadline scopes and shields nested more than {} deep in one coroutine; end some before entering more",
                u16::MAX
            );
        };
        self.depth.set(id);
        Saved {
            deadline: self.deadline.get(),
            owner: self.owner.get(),
            id,
            fired: self.fired.get(),
            shielded: self.shielded.get(),
        }
    }

    /// Enters a deadline scope ending at `at`; the earliest deadline in force applies.
    pub(crate) fn enter_scope(&self, at: Instant) -> Saved {
        let saved = self.enter();
        let at = Stamp::of(at);
        if saved.deadline == NONE || at < saved.deadline {
            self.deadline.set(at);
            self.owner.set(saved.id);
        }
        saved
    }

    /// Leaves the scope `saved` came from; true if its expiry reached a wait inside it (the
    /// scope then reports that it timed out).
    pub(crate) fn leave_scope(&self, saved: &Saved) -> bool {
        self.deadline.set(saved.deadline);
        self.owner.set(saved.owner);
        self.shielded.set(saved.shielded);
        self.depth.set(saved.id - 1);
        let fired = self.fired.get() == saved.id;
        if fired || self.fired.get() > saved.id {
            // Inner scopes' records end with them.
            self.fired.set(0);
        }
        fired
    }

    /// What a deadline scope that ends normally raises: a cancel, or the expiry of an
    /// enclosing scope that has reached a wait (the scopes are left from the inside out, so
    /// `fired` then names one of them).
    pub(crate) fn raised_on_exit(&self) -> Option<Interrupt> {
        if self.is_cancelled() {
            return Some(Interrupt::Cancelled);
        }
        match self.fired.get() {
            0 => None,
            scope => Some(Interrupt::Deadline(u32::from(scope))),
        }
    }

    /// Enters a shield: no cancel and no enclosing deadline reaches the waits inside, and an
    /// expiry already delivered outside it is not raised by the scopes inside it.
    pub(crate) fn enter_shield(&self) -> Saved {
        let saved = self.enter();
        self.deadline.set(NONE);
        self.shielded.set(true);
        self.fired.set(0);
        saved
    }

    /// Leaves the shield `saved` came from.
    pub(crate) fn leave_shield(&self, saved: &Saved) {
        self.leave_scope(saved);
        self.fired.set(saved.fired);
    }
}

/// Runs `f` with the running task's cancel and enclosing deadlines held off (the public
/// [`shield`](crate::shield)); outside a coroutine of the runtime, `f` just runs. The runtime's
/// own waits that must finish (a scope waiting for its children) use it too.
pub(crate) fn shield<T>(f: impl FnOnce() -> T) -> T {
    let task = if SCHED.is_set() {
        SCHED.with(|s| s.current_task())
    } else {
        None
    };
    let Some(task) = task else {
        return f();
    };
    let _leave = LeaveShield {
        saved: task.cancel.enter_shield(),
        task: &task,
    };
    set_running_armed(task.cancel.armed());
    f()
}

/// Ends a shield when it returns or unwinds.
struct LeaveShield<'a> {
    task: &'a Task,
    saved: Saved,
}

impl Drop for LeaveShield<'_> {
    fn drop(&mut self) {
        self.task.cancel.leave_shield(&self.saved);
        set_running_armed(self.task.cancel.armed());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_earliest_deadline_applies_and_its_scope_reports_it() {
        let s = CancelState::default();
        let now = Instant::now();
        let outer = s.enter_scope(now + Duration::from_secs(10));
        let inner = s.enter_scope(now + Duration::from_secs(1));
        assert_eq!(s.deadline().unwrap().1, inner.id());
        assert_eq!(s.pending(|| now), None);
        assert_eq!(
            s.pending(|| now + Duration::from_secs(2)),
            Some(Interrupt::Deadline(inner.id()))
        );
        assert!(s.leave_scope(&inner), "the inner scope timed out");
        assert_eq!(s.deadline().unwrap().1, outer.id());
        assert_eq!(s.pending(|| now + Duration::from_secs(2)), None);
        assert!(!s.leave_scope(&outer), "the outer scope did not");
        assert_eq!(s.deadline(), None);
    }

    #[test]
    fn an_outer_expiry_is_reported_by_the_outer_scope_only() {
        let s = CancelState::default();
        let now = Instant::now();
        let outer = s.enter_scope(now + Duration::from_secs(1));
        let inner = s.enter_scope(now + Duration::from_secs(10));
        assert_eq!(
            s.deadline().unwrap().1,
            outer.id(),
            "the earlier one is in force"
        );
        let late = now + Duration::from_secs(2);
        assert_eq!(s.pending(|| late), Some(Interrupt::Deadline(outer.id())));
        assert!(!s.leave_scope(&inner));
        assert_eq!(
            s.pending(|| late),
            Some(Interrupt::Deadline(outer.id())),
            "sticky"
        );
        assert!(s.leave_scope(&outer));
    }

    #[test]
    fn an_expiry_delivered_outside_a_shield_is_not_raised_inside_it() {
        let s = CancelState::default();
        let now = Instant::now();
        let late = now + Duration::from_secs(2);
        let outer = s.enter_scope(now + Duration::from_secs(1));
        assert!(s.pending(|| late).is_some());
        assert_eq!(s.raised_on_exit(), Some(Interrupt::Deadline(outer.id())));
        let shield = s.enter_shield();
        let inner = s.enter_scope(now + Duration::from_secs(10));
        assert!(!s.leave_scope(&inner));
        assert_eq!(s.raised_on_exit(), None, "the shield holds it off");
        s.leave_shield(&shield);
        assert_eq!(s.raised_on_exit(), Some(Interrupt::Deadline(outer.id())));
        assert!(s.leave_scope(&outer));
        assert_eq!(s.raised_on_exit(), None);
    }

    #[test]
    fn the_state_is_two_words() {
        assert_eq!(size_of::<CancelState>(), 16);
    }

    #[test]
    fn a_shield_holds_off_the_cancel_and_enclosing_deadlines() {
        let s = CancelState::default();
        let now = Instant::now();
        let late = now + Duration::from_secs(2);
        let scope = s.enter_scope(now + Duration::from_secs(1));
        assert!(s.cancel());
        assert!(!s.cancel(), "once");
        let shield = s.enter_shield();
        assert_eq!(s.pending(|| late), None);
        assert!(!s.armed());
        let inner = s.enter_scope(now + Duration::from_secs(1));
        assert_eq!(s.pending(|| late), Some(Interrupt::Deadline(inner.id())));
        assert!(s.leave_scope(&inner));
        s.leave_shield(&shield);
        assert_eq!(s.pending(|| late), Some(Interrupt::Cancelled));
        assert!(!s.leave_scope(&scope), "the cancel came first");
    }
}
