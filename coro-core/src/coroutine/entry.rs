//! The code that runs first and last on a coroutine's stack: [`entry`], which the asm
//! trampoline calls on a fresh stack, runs the body, writes what it returned into the control
//! block, records a panic, ends what the layer above keeps per coroutine (the extension word,
//! see `extension`) and leaves with `coro_asm::exit`; and [`ForcedUnwind`], the payload a
//! dropped coroutine's body unwinds with.
//!
//! The body runs inside [`run`], inlined into `entry`, so that the frame under the body holds
//! as little as possible: for a shared-stack coroutine every byte of it is saved and copied
//! back on each switch of occupant.

use std::mem::ManuallyDrop;
use std::panic::{self, AssertUnwindSafe};
use std::ptr;

use super::control::{EXITED, Ended};
use super::extension;
use super::sanitizer;
use super::{Body, Head, Inner, Outcome, Yielder};

/// A coroutine's body as [`entry`] starts it: from its place in the control block, which it
/// gives up. Every `FnOnce(&Yielder, I) -> R` closure is one (it is moved out and called). A
/// layer above may give its own type instead, which reads its fields from the block as it
/// needs them: what it moves onto the stack stays in the frame under the body for as long as
/// the body runs, and in a shared-stack coroutine's save buffer while it waits.
pub(crate) trait Start<I, Y, R> {
    /// Runs the body.
    ///
    /// # Safety
    ///
    /// `this` points at a live value that the caller gives up: it is read (moved out) or
    /// dropped here, and never used or dropped by the caller again.
    unsafe fn start(this: *mut Self, yielder: &Yielder<I, Y>, input: I) -> R;
}

impl<I, Y, R, F> Start<I, Y, R> for F
where
    F: FnOnce(&Yielder<I, Y>, I) -> R,
{
    #[inline(always)]
    unsafe fn start(this: *mut Self, yielder: &Yielder<I, Y>, input: I) -> R {
        // SAFETY: the caller gives the closure up.
        let f = unsafe { this.read() };
        f(yielder, input)
    }
}

/// The payload a dropped coroutine's `suspend` unwinds with, so that every destructor on its
/// stack runs. It never escapes the coroutine.
pub(super) struct ForcedUnwind;

/// The first Rust code on a fresh coroutine stack, called by the asm trampoline.
///
/// The body runs inside [`run`], which writes its return value straight into the control block:
/// across the body this frame holds only `inner` and `arg`, and the suspended coroutine's live
/// frames are that much smaller. Every byte counts twice for a shared stack: in the coroutine's
/// save buffer, and in the copy made on each switch of occupant.
///
/// # Safety
///
/// `data` must be the control block of a `Coroutine<I, Y, R>` made with closure type `F`, fresh,
/// and switched into by `Control::switch_in`.
pub(super) unsafe extern "C" fn entry<I, Y, R, F>(arg: usize, data: *mut u8) -> !
where
    F: Start<I, Y, R>,
{
    sanitizer::started();
    let inner = data.cast::<Inner<I, Y, R, F>>();
    // SAFETY: see the function's contract.
    let caught = panic::catch_unwind(AssertUnwindSafe(|| unsafe { run(inner, arg) }));
    // SAFETY: see the function's contract; the block outlives the coroutine.
    unsafe { body_ended((*inner).body(), caught) };
    sanitizer::leaving(true);
    // SAFETY: every value on this stack has been moved out or dropped; the resumer is waiting in
    // `switch_in` on this context, and marks us finished when it sees EXITED.
    unsafe { coro_asm::exit((*inner).head.control.ctx.get(), EXITED) }
}

/// What [`entry`] does after the body: records a panic in the result slot, ends the extension
/// word (the coroutine-local values). Kept out of `entry`, so that `entry` (whose frame stays
/// under the body while it runs) holds as few registers and locals as possible.
///
/// # Safety
///
/// `body` must be the running coroutine's block, whose body has just ended with `caught`.
#[inline(never)]
unsafe fn body_ended<I, Y, R>(body: &Body<I, Y, R>, caught: std::thread::Result<()>) {
    // The result slot holds the return value if the body returned, and stays empty if a drop
    // unwound the body (the coroutine was cancelled).
    if let Err(payload) = caught
        && !payload.is::<ForcedUnwind>()
    {
        // SAFETY: the slot is ours while we run.
        unsafe { body.store_result(Err(payload)) };
    }
    // What the layer above keeps per coroutine (coroutine-local values) ends here, on the
    // coroutine's own stack, whatever ended the body.
    if let Err(payload) = extension::end(&body.head.control.ext)
        && body.head.control.ended.get() != Ended::Panic
    {
        // SAFETY: as above.
        unsafe { body.store_result(Err(payload)) };
    }
}

/// Runs the body of a fresh coroutine and stores what it returns in the control block.
///
/// # Safety
///
/// As for [`entry`].
#[inline(always)]
unsafe fn run<I, Y, R, F>(inner: *mut Inner<I, Y, R, F>, arg: usize)
where
    F: Start<I, Y, R>,
{
    // SAFETY: the caller's contract; the block outlives the coroutine.
    let inner = unsafe { &*inner };
    // SAFETY: `arg` points at the first input, given up by `resume` (see there).
    let input = unsafe { ptr::read(arg as *const I) };
    // SAFETY: Yielder is repr(transparent) over Head.
    let yielder = unsafe { &*(&inner.head as *const Head<I, Y>).cast::<Yielder<I, Y>>() };
    // SAFETY: the closure is there while the coroutine is fresh, and this is its first run;
    // the state is no longer `Fresh` (see `Control::switch_in`), so nothing drops it again.
    let r = unsafe { F::start(inner.f(), yielder, input) };
    // SAFETY: the result slot is ours while we run, and still empty: a plain write, with no
    // drop of an old value, keeps drop code (and the registers it needs) out of `entry`.
    unsafe {
        (*inner.body().result.get()).write(Outcome {
            value: ManuallyDrop::new(r),
        });
    }
    inner.head.control.ended.set(Ended::Value);
}
