//! [`Yielder`]: the body's handle on its own coroutine, through which it suspends.
//!
//! A suspend is one switch back to the resumer, with a pointer to the yielded value in the
//! switch's register, after one check: that the call runs on this coroutine's own stack (the
//! region table names the coroutine whose frames are on the stack we run on). A drop of a
//! suspended coroutine resumes it with [`CANCEL`], on which `suspend` unwinds with the
//! [`ForcedUnwind`] payload (see `entry`).

use std::fmt;
use std::mem::ManuallyDrop;
use std::panic;
use std::ptr;

use super::control::{CANCEL, Control, current};
use super::entry::ForcedUnwind;
use super::sanitizer;
use super::{Head, value_ptr};

/// The body's handle on its own coroutine: [`Yielder::suspend`] gives a value to the resumer and
/// waits for the next input.
///
/// It is handed to the body as `&Yielder`, and lives in the coroutine's control block, never in
/// its frames: a pointer to it stays valid while the coroutine lives, even on a shared stack (whose
/// control blocks are always on the heap).
#[repr(transparent)]
pub struct Yielder<I, Y> {
    head: Head<I, Y>,
}

impl<I, Y> Yielder<I, Y> {
    /// Suspends the coroutine, handing `value` to the caller of
    /// [`Coroutine::resume`](super::Coroutine::resume) as
    /// [`CoroutineResult::Yield`](super::CoroutineResult::Yield); returns the input of the next
    /// `resume`.
    ///
    /// If the coroutine is dropped instead of resumed, this unwinds (with a private payload that
    /// `catch_unwind` inside the body must let through) so that every destructor on the
    /// coroutine's stack runs.
    ///
    /// # Panics
    ///
    /// If it is not called from this coroutine's own stack: a `Yielder` suspends only the
    /// coroutine it was handed to, from that coroutine's code. (The borrow checker lets a
    /// body's `&Yielder` into a nested [`crate::run`], whose closure need not be `'static`, but
    /// that closure runs on the stack of a runtime task, which the switch cannot leave.)
    #[inline]
    pub fn suspend(&self, value: Y) -> I {
        let control = &self.head.control;
        // The one check on the hot path: the region table names the coroutine whose frames are
        // on the stack we run on (see `stack::region`), and that must be this one. Suspending
        // from any other stack would save that stack's pointer as this coroutine's, leave a
        // runtime set on the thread, or make a shared stack copy a span that is not its own.
        if crate::stack::region_owner(coro_asm::stack_pointer()) != ptr::from_ref(control).cast() {
            wrong_stack(control);
        }
        let value = ManuallyDrop::new(value);
        let fake = sanitizer::leaving(false);
        // SAFETY: we are the running coroutine of this context (checked just above: we run on
        // its stack, and code runs there only while `resume` has switched into it). The
        // resumer moves `value` out (ptr::read) before anything else runs.
        let arg = unsafe { coro_asm::suspend(self.head.control.ctx.get(), value_ptr(&value)) };
        sanitizer::entered(fake);
        if arg == CANCEL {
            panic::resume_unwind(Box::new(ForcedUnwind));
        }
        // SAFETY: any other `arg` points at the resumer's input, which it gave up (ManuallyDrop)
        // and which stays in place until we return to it; we move it out exactly once.
        unsafe { ptr::read(arg as *const I) }
    }

    /// The id of this coroutine.
    pub fn id(&self) -> u64 {
        self.head.control.id()
    }
}

/// The yielder of the innermost coroutine running on this thread (found from the stack
/// pointer, see [`current`]), or null outside coroutines, so that the layer above need not keep
/// a pointer to it.
///
/// # Safety
///
/// The innermost running coroutine, if any, must be a `Coroutine<I, Y, _>`; the yielder may be
/// used only while it runs.
#[inline]
pub(crate) unsafe fn current_yielder<I, Y>() -> *const Yielder<I, Y> {
    // A Yielder is the Head of its coroutine's block (repr(transparent)), which starts with the
    // Control (repr(C)).
    current().cast()
}

/// The panic of a [`Yielder::suspend`] called off its coroutine's stack.
#[cold]
#[inline(never)]
fn wrong_stack(control: &Control) -> ! {
    let running = current();
    let on = if running.is_null() {
        "a stack that is no coroutine's (a thread's own stack)".to_owned()
    } else {
        // SAFETY: the owner of the stack we run on is the running coroutine, alive while it
        // runs (as in `current_id`).
        format!("the stack of coroutine {}", unsafe { (*running).id() })
    };
    panic!(
        "Yielder::suspend of coroutine {} was called on {on}: a Yielder suspends only its own \
         coroutine, from that coroutine's own code. A body's Yielder used inside a nested \
         `coro::run` (or any code running on another stack) cannot suspend the body; return \
         from the nested `coro::run` first and suspend after it, or, inside the runtime, wait \
         with `coro::yield_now`, a channel or a `Cond` instead",
        control.id()
    )
}

impl<I, Y> fmt::Debug for Yielder<I, Y> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Yielder")
            .field("id", &self.head.control.id())
            .finish()
    }
}
