//! [`Control`]: the type-erased part of every coroutine's control block (its saved context,
//! state, id, extension word and stack), the switch into a coroutine, and the take-over of a
//! shared stack.
//!
//! Also what the layers around the control block need of it: [`current`] (the innermost
//! running coroutine, found from the stack pointer), [`current_id`], [`current_extension`], and
//! [`describe_owner`], which the stack layer's overflow handler calls to name a control block
//! that owns a stack.

use std::cell::{Cell, UnsafeCell};
use std::ptr;
use std::rc::Rc;

use coro_asm::Context;

use super::extension::Extension;
use super::id::Id;
use super::sanitizer;
use super::save::SaveBuf;
use crate::error::{Error, Result};
use crate::stack::{OwnedStack, SharedInner, Stack, StackOwner};

/// Where a coroutine is in its life.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
pub(crate) enum CoroutineState {
    /// Made, never resumed.
    Fresh,
    /// Stopped in `Yielder::suspend`, waiting to be resumed.
    Suspended,
    /// Running, or waiting in the resume chain for a coroutine it resumed.
    Running,
    /// Returned, panicked, or unwound by a drop.
    Finished,
}

/// What a coroutine's result slot holds.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
pub(crate) enum Ended {
    /// Nothing: the body has not ended, was unwound by a drop, or its outcome was taken.
    Nothing,
    /// The value the body returned.
    Value,
    /// The payload of the body's panic.
    Panic,
}

/// The stack a coroutine runs on.
pub(crate) enum StackSlot {
    /// Its own stack, handed back to the pool when the handle drops.
    Owned(Cell<Option<OwnedStack>>),
    /// A shared stack, with the buffer its frames are copied to while another coroutine runs there.
    Shared {
        stack: Rc<SharedInner>,
        save: SaveBuf,
    },
}

/// The type-erased control block of one coroutine: the first field of its whole block (on the
/// heap, or at the top of its owned stack), so that its address is the coroutine's identity for
/// the asm (`data`) and for its stack (the opaque owner pointer the region table holds).
#[repr(C)]
pub(crate) struct Control {
    /// The saved stack pointer (the child's while it is suspended, the parent's while it
    /// runs). While the coroutine is fresh on a shared stack and has no frame yet, it holds the
    /// entry function instead, until the coroutine first takes the stack over.
    pub(crate) ctx: UnsafeCell<Context>,
    /// Where the coroutine is in its life.
    pub(crate) state: Cell<CoroutineState>,
    /// What the result slot of the coroutine's block holds (see `Body` in the parent module);
    /// kept here, in the padding after `state`, so that the slot needs no tag of its own.
    pub(crate) ended: Cell<Ended>,
    /// The id, in the six bytes after `state` and `ended` (see [`Id`]); read with
    /// [`Control::id`].
    id: Id,
    /// The word the layer above keeps per coroutine (see `extension`).
    pub(crate) ext: Extension,
    /// The stack it runs on.
    pub(crate) stack: StackSlot,
}

/// What `resume` passes into the child, instead of a pointer to an input, to make its `suspend`
/// unwind (drop of a suspended coroutine). Pointers are never null.
pub(crate) const CANCEL: usize = 0;
/// What a child passes back through the switch, instead of a pointer to a yielded value, when
/// its body has ended.
pub(crate) const EXITED: usize = 0;

impl Control {
    /// The coroutine's id, unique in the process and never 0.
    #[inline]
    pub(crate) fn id(&self) -> u64 {
        self.id.get()
    }

    /// A fresh coroutine's control block on `stack`, with this thread's next id.
    #[inline]
    pub(crate) fn new(stack: StackSlot) -> Control {
        Control {
            ctx: UnsafeCell::new(Context::new()),
            state: Cell::new(CoroutineState::Fresh),
            ended: Cell::new(Ended::Nothing),
            id: Id::next(),
            ext: Extension::new(),
            stack,
        }
    }

    /// Runs the coroutine until it suspends or finishes. `arg` is a pointer to the input, or
    /// [`CANCEL`]. Returns what the child passed back: a pointer to its yielded value when it
    /// suspended, or [`EXITED`] when its body ended; the state is updated to match.
    ///
    /// # Safety
    ///
    /// The coroutine must be fresh or suspended, with its frames in place on its stack (see
    /// [`Control::prepare`]), and `self` must not move or be freed until this returns.
    #[inline(always)]
    pub(crate) unsafe fn switch_in(&self, arg: usize) -> usize {
        // Marked running on every stack while it runs or waits in the resume chain: a resume
        // from up the chain is then `Error::Running`, and a shared stack's take-over sees that
        // its occupant is busy.
        self.state.set(CoroutineState::Running);
        // Nothing records that the child runs now: `current()` finds it by the stack pointer.
        let fake = sanitizer::resume_start(self);
        // SAFETY: the caller guarantees a valid fresh or suspended context; the child returns
        // only through `suspend` or `exit` on this same context.
        let got = unsafe { coro_asm::resume(self.ctx.get(), arg) };
        sanitizer::resume_finish(fake);
        if got == EXITED {
            self.exited();
        } else {
            self.state.set(CoroutineState::Suspended);
        }
        got
    }

    /// Marks the coroutine finished. Out of line and cold, so that the compiler keeps the two
    /// arms of `switch_in` apart: merged, they become one store of a computed state, on the path
    /// of every suspend.
    #[cold]
    #[inline(never)]
    fn exited(&self) {
        self.state.set(CoroutineState::Finished);
    }

    /// Makes sure the coroutine's frames are on its stack, so that it can be switched into.
    /// Free for owned stacks; for a shared stack it evicts the occupant and copies this
    /// coroutine's frames back, unless they are already there.
    #[inline]
    pub(crate) fn prepare(&self) -> Result<()> {
        match &self.stack {
            StackSlot::Owned(_) => Ok(()),
            StackSlot::Shared { stack, save } => {
                if stack.occupant() == self.as_owner() || self.take_over(stack, save) {
                    Ok(())
                } else {
                    Err(self.busy(stack))
                }
            }
        }
    }

    /// The error for a shared stack whose occupant is in the resume chain.
    #[cold]
    fn busy(&self, stack: &SharedInner) -> Error {
        // SAFETY: as in `take_over`, which just found the occupant live and not suspended.
        let occupant = unsafe { &*stack.occupant().cast::<Control>() };
        Error::SharedStackBusy {
            id: self.id(),
            occupant: occupant.id(),
        }
    }

    /// Evicts the occupant of `stack` (copies its frames to its save buffer) and puts this
    /// coroutine's frames in place. False, and nothing done, if the occupant is not suspended
    /// (it is running, or waiting in the resume chain).
    ///
    /// Out of line, and only a choice between two ways (each a tail call), so that it costs the
    /// caller a call and each way keeps its registers to itself.
    #[inline(never)]
    fn take_over(&self, stack: &SharedInner, save: &SaveBuf) -> bool {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx") {
            // SAFETY: the CPU has AVX.
            return unsafe { self.take_over_avx(stack, save) };
        }
        self.take_over_plain(stack, save)
    }

    /// [`Control::take_over`] with 16-byte moves (or the target's own copy).
    #[inline(never)]
    fn take_over_plain(&self, stack: &SharedInner, save: &SaveBuf) -> bool {
        self.take_over_with::<false>(stack, save)
    }

    /// [`Control::take_over`] compiled for AVX, so that both frame copies inline into it with
    /// 32-byte moves, and the CPU is asked once per take-over.
    ///
    /// # Safety
    ///
    /// The CPU must have AVX.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx")]
    unsafe fn take_over_avx(&self, stack: &SharedInner, save: &SaveBuf) -> bool {
        self.take_over_with::<true>(stack, save)
    }

    /// [`Control::take_over`], copying frames with AVX's 32-byte moves when `AVX` (only ever
    /// set where the CPU has AVX, by `take_over_avx`).
    #[inline(always)]
    fn take_over_with<const AVX: bool>(&self, stack: &SharedInner, save: &SaveBuf) -> bool {
        let (top, limit) = (stack.base(), stack.limit());
        let occupant = stack.occupant().cast::<Control>();
        if !occupant.is_null() {
            // SAFETY: the occupant is null when the shared stack is made (`SharedStack::new`),
            // only coroutines set it, to their own control block (below), and a coroutine
            // clears it (in `release_stack`) before its block is freed: a non-null occupant
            // is a live control block.
            let occupant = unsafe { &*occupant };
            if occupant.state.get() != CoroutineState::Suspended {
                return false;
            }
            // SAFETY: the occupant is suspended, so its context holds its stack pointer and its
            // live frames are exactly `sp .. top` on this stack.
            let sp = unsafe { (*occupant.ctx.get()).sp };
            if let StackSlot::Shared {
                save: occupant_save,
                ..
            } = &occupant.stack
            {
                // SAFETY: `limit .. top` is the shared stack, mapped, and holds the occupant's
                // frames from `sp` up (`save_frame` checks that `sp` lies in it), which nothing
                // runs on while it is suspended; `top` is region-aligned; `AVX` only where the
                // CPU has AVX.
                unsafe { occupant_save.save_frame::<AVX>(top, limit, sp) };
            }
            stack.set_occupant(ptr::null());
        }
        // SAFETY: the context is ours; nothing runs on it while we are fresh or suspended.
        let ctx = unsafe { &mut *self.ctx.get() };
        match self.state.get() {
            CoroutineState::Fresh => {
                // SAFETY: `sp` holds the entry function while the coroutine is fresh (set by
                // `Coroutine::with_shared_stack`); the stack is free now, so the bootstrap frame
                // may be written at its top; `self` is the start of the (heap) block the entry
                // expects.
                ctx.sp = unsafe {
                    let entry: coro_asm::EntryFn = std::mem::transmute(ctx.sp);
                    coro_asm::init_stack(top as *mut u8, entry, self as *const Control as *mut u8)
                };
            }
            // SAFETY: our frames were saved below `top` and go back to the same addresses,
            // which the eviction above made free, inside the stack `limit .. top`; `AVX` only
            // where the CPU has AVX.
            _ => unsafe { save.restore_frame::<AVX>(top, limit) },
        }
        stack.set_occupant(self.as_owner());
        true
    }

    /// Gives a shared stack up after the coroutine finished: it forgets this coroutine, whose
    /// save buffer is freed. An owned stack is kept until the handle drops, since the control
    /// block may live at its top.
    #[inline]
    pub(crate) fn release_stack(&self) {
        match &self.stack {
            StackSlot::Owned(_) => {}
            StackSlot::Shared { stack, save } => {
                if stack.occupant() == self.as_owner() {
                    stack.set_occupant(ptr::null());
                }
                save.free();
            }
        }
    }

    /// The coroutine's stack as a census reports it: whether it is shared, the stack's usable
    /// size, and the bytes its frames take while it is suspended (0 before its first run and
    /// after its end; for a shared stack's coroutine that another has evicted, the bytes its
    /// save buffer holds; 0 while it runs, when its context holds the parent's stack pointer).
    pub(crate) fn stack_use(&self) -> (bool, usize, usize) {
        let suspended = self.state.get() == CoroutineState::Suspended;
        // SAFETY: a suspended coroutine's context holds its own stack pointer (read only).
        let sp = || unsafe { (*self.ctx.get()).sp };
        match &self.stack {
            StackSlot::Owned(cell) => {
                let stack = cell.take();
                let (top, size) = stack.as_ref().map_or((0, 0), |s| (s.base(), s.size()));
                cell.set(stack);
                let used = if suspended && top != 0 {
                    top.saturating_sub(sp())
                } else {
                    0
                };
                (false, size, used)
            }
            StackSlot::Shared { stack, save } => {
                let used = if !suspended {
                    0
                } else if stack.occupant() == self.as_owner() {
                    stack.base().saturating_sub(sp())
                } else {
                    save.used()
                };
                (true, stack.base() - stack.limit(), used)
            }
        }
    }

    /// The block as the stacks know it: the opaque owner pointer of the stack it runs on.
    #[inline(always)]
    pub(crate) fn as_owner(&self) -> *const () {
        ptr::from_ref(self).cast()
    }
}

/// Tells the stack layer how to describe the owners that control blocks are (see
/// [`describe_owner`]); the constructors call it before a block can own a stack, so that the
/// overflow handler can always name the coroutine that overflowed.
#[inline]
pub(crate) fn register_as_stack_owners() {
    crate::stack::describe_owners_with(describe_owner);
}

/// Describes a stack's owner, a control block, for the stack layer's overflow handler: the
/// coroutine's id and the stack it runs on. It makes only plain loads, as a signal handler must.
///
/// # Safety
///
/// `owner` must point at a live control block whose coroutine is running on this thread (the
/// contract of `stack::overflow::DescribeOwner`).
unsafe fn describe_owner(owner: *const ()) -> Option<StackOwner> {
    // SAFETY: the caller's contract; only plain loads follow.
    let control = unsafe { &*owner.cast::<Control>() };
    match &control.stack {
        StackSlot::Owned(cell) => {
            // SAFETY: the running coroutine's stack slot is not being written while we look.
            let stack = unsafe { (*cell.as_ptr()).as_ref() }?;
            Some(StackOwner::new(control.id(), stack))
        }
        StackSlot::Shared { stack, .. } => Some(StackOwner::new(control.id(), &stack.stack)),
    }
}

/// The innermost coroutine running on this thread, or null: the owner of the stack region the
/// caller runs on (see `stack::region`). Nested coroutines need no bookkeeping: each runs on its
/// own stack, and when it switches out, the stack pointer is back on its resumer's.
#[inline]
pub(crate) fn current() -> *const Control {
    crate::stack::region_owner(coro_asm::stack_pointer()).cast()
}

/// The id of the innermost coroutine running on this thread, or `None` outside coroutines.
///
/// ```
/// use coro::{Coroutine, CoroutineResult};
/// assert_eq!(coro::current_id(), None);
/// let mut co = Coroutine::<(), (), Option<u64>>::new(|_, ()| coro::current_id());
/// let id = co.id();
/// assert!(matches!(co.resume(()), Ok(CoroutineResult::Return(Some(i))) if i == id));
/// ```
pub fn current_id() -> Option<u64> {
    let control = current();
    // SAFETY: the owner of the stack we run on is the running coroutine, alive while it runs.
    (!control.is_null()).then(|| unsafe { (*control).id() })
}

/// The extension word of the innermost running coroutine (see `extension`); `None` outside
/// coroutines. The reference is valid while that coroutine runs; do not keep it across a switch.
#[inline]
pub(crate) fn current_extension() -> Option<&'static Extension> {
    let control = current();
    // SAFETY: as in `current_id`; the 'static lifetime is a lie the callers are told about above.
    (!control.is_null()).then(|| unsafe { &(*control).ext })
}

// A shared-stack coroutine's control block is most of what a suspended one costs besides its
// frames (see the book's "Stacks" chapter): keep the stack slot at three words (the owned
// stack's non-zero top lends the enum its tag).
const _: () = assert!(size_of::<StackSlot>() == 24);
// And the Control at six words: the context, state, outcome tag and 48-bit id in one word, the
// extension word, the stack slot.
const _: () = assert!(size_of::<Control>() == 48);
