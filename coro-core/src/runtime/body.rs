//! [`TaskBody`]: what a spawned task's coroutine runs, around the closure given to `spawn`.
//!
//! The body starts from its place in the coroutine's control block (see
//! `coroutine::Start`): the closure moves onto the stack only as its call takes it. The frame
//! under the user's code stays small, and it is saved with every parked shared-stack task.

use std::panic::{self, AssertUnwindSafe};
use std::ptr;

use crate::coroutine::{Start, Yielder};

use super::cancel::{self, Cancelled};
use super::join;
use super::scheduler::SCHED;

/// A task's body: the closure `f`, whose result goes to the task's join handle (see
/// `join::deliver`).
pub(crate) struct TaskBody<F>(F);

impl<F> TaskBody<F> {
    /// The body that runs `f`.
    pub(crate) fn new(f: F) -> Self {
        TaskBody(f)
    }
}

impl<T, F> Start<(), (), ()> for TaskBody<F>
where
    F: FnOnce() -> T,
    T: 'static,
{
    #[inline(always)]
    unsafe fn start(this: *mut Self, _: &Yielder<(), ()>, (): ()) {
        // SAFETY: the caller gives the body up; the closure is read (moved out) once, where
        // it is called or dropped.
        let f = move || unsafe { ptr::read(&raw const (*this).0) };
        if body_starts() {
            let r = panic::catch_unwind(AssertUnwindSafe(|| f()()));
            body_ended(r);
        } else {
            // Cancelled before it ever ran: the body never starts.
            drop(f());
            complete::<T>(Err(Box::new(Cancelled)));
        }
    }
}

/// Hands the body's result to the running task's join handle.
fn complete<T: 'static>(r: std::thread::Result<T>) {
    // The id is read, and the scheduler's borrow ended, first: with no handle left, `deliver`
    // drops the result here, and its destructor may do anything a coroutine may, park included.
    match SCHED.with(|s| s.with_current(|t| t.id)) {
        Some(id) => join::deliver(id, r),
        None => drop(r),
    }
}

/// What a task's body does first, out of line (this code's frame is gone by the time the body
/// runs, so a parked task does not keep it): whether the body may start (false if the task was
/// cancelled before it ever ran).
#[inline(never)]
fn body_starts() -> bool {
    SCHED.with(|s| s.with_current(|t| !t.cancel.is_cancelled()).unwrap_or(true))
}

/// What a task's body does last, out of line: drops the coroutine's co_local values, inside
/// the task (a destructor that panics ends this coroutine, and its join gets the panic, never
/// the runtime), and hands the result to the join handle.
#[inline(never)]
fn body_ended<T: 'static>(r: std::thread::Result<T>) {
    let locals = panic::catch_unwind(crate::local::drop_current_locals);
    complete(match (r, locals) {
        (Ok(v), Ok(())) => Ok(v),
        (Ok(_), Err(p)) => Err(p),
        // An interrupt no scope caught (a cancel): the coroutine ends cancelled.
        (Err(p), _) if cancel::is_interrupt(&*p) => Err(Box::new(Cancelled)),
        (Err(p), _) => Err(p),
    });
}
