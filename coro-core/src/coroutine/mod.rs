//! The coroutine layer: [`Coroutine`], an asymmetric, typed, stackful coroutine, and its
//! [`Yielder`].
//!
//! It sits on the stack layer (`crate::stack`) and knows nothing of the layers above it: the
//! runtime, co_local storage and the hooks use it; it calls none of them. What a layer above
//! keeps per coroutine goes in the one extension word of the control block (see `extension`),
//! and the stack layer's overflow handler learns what a coroutine is through the describer
//! registered in `control`.
//!
//! - `mod.rs`: the handle [`Coroutine`] (make, resume, drop) and the typed control block it
//!   points to (`Head`, `Body`, `Inner`: the [`Control`], the result, the closure);
//! - `yielder.rs`: [`Yielder`], through which a body suspends;
//! - `entry.rs`: the first and last code on a coroutine's stack;
//! - `control.rs`: [`Control`], the type-erased control block, the switch into a coroutine and
//!   the shared-stack take-over;
//! - `id.rs`: coroutine ids;
//! - `extension.rs`: the extension word and the end hook the layer above registers;
//! - `save.rs`: the buffer a shared-stack coroutine's frames wait in while it is evicted;
//! - `slab.rs`: the per-thread size-class slab those buffers come from;
//! - `debugger.rs`: where a debugger finds a coroutine's saved context, state and stack;
//! - `sanitizer.rs`: AddressSanitizer's fiber annotations around each switch (ASan builds only).
//!
//! (`Coroutine` and `Body` stay in this file: the trybuild test of `!Send`,
//! `tests/ui/fail/coroutine_not_send.stderr`, names them by this path.)

mod control;
pub(crate) mod debugger;
mod entry;
mod extension;
mod id;
mod sanitizer;
mod save;
mod slab;
mod yielder;

use std::alloc::Layout;
use std::any::Any;
use std::cell::{Cell, UnsafeCell};
use std::fmt;
use std::marker::PhantomData;
use std::mem::{ManuallyDrop, MaybeUninit, offset_of};
use std::panic;
use std::ptr::{self, NonNull};

pub(crate) use self::control::current_extension;
pub use self::control::current_id;
use self::control::{CANCEL, Control, CoroutineState, EXITED, Ended, StackSlot};
pub(crate) use self::entry::Start;
use self::entry::entry;
pub(crate) use self::extension::{Extension, set_end_hook};
use self::save::SaveBuf;
pub use self::yielder::Yielder;
pub(crate) use self::yielder::current_yielder;
use crate::error::{Error, Result};
use crate::stack::{DEFAULT_STACK_SIZE, OwnedStack, SharedStack, Stack};

/// What [`Coroutine::resume`] gives back: a value the body yielded, or the value it returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CoroutineResult<Y, R> {
    /// The body called [`Yielder::suspend`] with this value and waits to be resumed.
    Yield(Y),
    /// The body returned this value; the coroutine is finished.
    Return(R),
}

impl<Y, R> CoroutineResult<Y, R> {
    /// The yielded value, if this is a `Yield`.
    pub fn as_yield(self) -> Option<Y> {
        match self {
            CoroutineResult::Yield(y) => Some(y),
            CoroutineResult::Return(_) => None,
        }
    }

    /// The returned value, if this is a `Return`.
    pub fn as_return(self) -> Option<R> {
        match self {
            CoroutineResult::Yield(_) => None,
            CoroutineResult::Return(r) => Some(r),
        }
    }
}

/// The part of a coroutine's control block the [`Yielder`] sees: the `Control`. Inputs and
/// yielded values do not live here: each crosses the switch as a pointer to the sender's
/// variable, passed in the switch's register, and the receiver moves it out at once.
#[repr(C)]
struct Head<I, Y> {
    control: Control,
    _values: PhantomData<fn(Y) -> I>,
}

/// The part the [`Coroutine`] handle sees; `repr(C)` keeps `result` at an offset that does not
/// depend on the closure type.
#[repr(C)]
struct Body<I, Y, R> {
    head: Head<I, Y>,
    /// What the body ended with; which field is live, if any, is `Control::ended`. An
    /// `Option<thread::Result<R>>` would take a word more for its own tag, and a suspended
    /// shared-stack coroutine is little more than its block and its frames.
    result: UnsafeCell<MaybeUninit<Outcome<R>>>,
}

/// The return value of a body, or the payload of its panic.
union Outcome<R> {
    value: ManuallyDrop<R>,
    panic: ManuallyDrop<Box<dyn Any + Send>>,
}

impl<I, Y, R> Body<I, Y, R> {
    /// Takes what the body ended with out of the result slot: `Some(Ok)` for a return value,
    /// `Some(Err)` for a panic, `None` if there is nothing (any more).
    ///
    /// # Safety
    ///
    /// The body must not be running (the slot is written only by the body's own stack).
    unsafe fn take_result(&self) -> Option<std::thread::Result<R>> {
        let ended = self.head.control.ended.replace(Ended::Nothing);
        let slot = self.result.get().cast::<Outcome<R>>();
        // SAFETY: `ended` says which field `store_result` or `run` wrote (the slot is read only
        // then); the tag is now `Nothing`, so the value is moved out once.
        unsafe {
            match ended {
                Ended::Nothing => None,
                Ended::Value => Some(Ok(ManuallyDrop::into_inner(ptr::read(
                    &raw const (*slot).value,
                )))),
                Ended::Panic => Some(Err(ManuallyDrop::into_inner(ptr::read(
                    &raw const (*slot).panic,
                )))),
            }
        }
    }

    /// Stores what the body ended with, dropping what the slot held.
    ///
    /// # Safety
    ///
    /// Only the coroutine's own body, on its stack, may call it.
    unsafe fn store_result(&self, outcome: std::thread::Result<R>) {
        // SAFETY: the caller's contract; the slot is ours.
        drop(unsafe { self.take_result() });
        let (ended, outcome) = match outcome {
            Ok(value) => (
                Ended::Value,
                Outcome {
                    value: ManuallyDrop::new(value),
                },
            ),
            Err(payload) => (
                Ended::Panic,
                Outcome {
                    panic: ManuallyDrop::new(payload),
                },
            ),
        };
        // SAFETY: as above.
        unsafe { (*self.result.get()).write(outcome) };
        self.head.control.ended.set(ended);
    }
}

/// The whole block, closure included: on the heap, or at the top of the coroutine's owned stack.
/// The handle sees it as a [`Body`] (see [`Inner::body`]): the closure and the result share
/// one place, since the body's start moves the closure out before the body can end.
#[repr(C)]
struct Inner<I, Y, R, F> {
    head: Head<I, Y>,
    /// The body's closure while the coroutine is fresh (never resumed): the first resume
    /// moves it out (see [`Start`]), and a fresh coroutine's drop drops it. Then the result
    /// slot of [`Body`].
    slot: UnsafeCell<Slot<R, F>>,
}

/// The closure, then the result, in one place.
#[repr(C)]
union Slot<R, F> {
    f: ManuallyDrop<F>,
    result: ManuallyDrop<MaybeUninit<Outcome<R>>>,
}

impl<I, Y, R, F> Inner<I, Y, R, F> {
    /// Whether the slot lies where [`Body`] has its result, so that the block can be seen as a
    /// `Body`: always, unless `F` is aligned to more than 16 bytes and more than the result
    /// (such a closure is boxed, see [`Boxed`]).
    const FITS: bool = offset_of!(Self, slot) == offset_of!(Body<I, Y, R>, result);

    /// The block as the handle sees it.
    fn body(&self) -> &Body<I, Y, R> {
        debug_assert!(Self::FITS);
        // SAFETY: both are `repr(C)` with the same head, and the slot, which is at least as
        // large as the result and starts with it, lies at the result's offset (`FITS`, which
        // every constructor checks before it makes a block of this type).
        unsafe { &*ptr::from_ref(self).cast::<Body<I, Y, R>>() }
    }

    /// Where the closure is while the coroutine is fresh.
    fn f(&self) -> *mut F {
        self.slot.get().cast()
    }
}

/// A closure aligned to more than its coroutine's block allows (see [`Inner::FITS`]), moved to
/// the heap: the block then holds the box.
struct Boxed<F>(Box<F>);

impl<I, Y, R, F: Start<I, Y, R>> Start<I, Y, R> for Boxed<F> {
    unsafe fn start(this: *mut Self, yielder: &Yielder<I, Y>, input: I) -> R {
        /// Frees the box's memory, whose closure has been moved out, however the body ends.
        struct Free<F>(*mut ManuallyDrop<F>);
        impl<F> Drop for Free<F> {
            fn drop(&mut self) {
                // SAFETY: the memory of a `Box<F>`; `ManuallyDrop` has `F`'s layout and does
                // not drop the closure, which `start` moved out.
                drop(unsafe { Box::from_raw(self.0) });
            }
        }
        // SAFETY: the caller gives the box up.
        let f = Box::into_raw(unsafe { ptr::read(this) }.0);
        let _free = Free(f.cast::<ManuallyDrop<F>>());
        // SAFETY: the closure is live in the box, and given up to `start`.
        unsafe { F::start(f, yielder, input) }
    }
}

/// The word a value crosses the switch as: its address. A zero-sized value (`()`, the common
/// input and yield) needs no place at all, and gets a dangling, aligned, non-null pointer
/// instead of a stack slot, which would cost a saved shared-stack frame 16 bytes.
#[inline(always)]
fn value_ptr<T>(value: &ManuallyDrop<T>) -> usize {
    if size_of::<T>() == 0 {
        NonNull::<T>::dangling().as_ptr() as usize
    } else {
        value as *const ManuallyDrop<T> as usize
    }
}

/// A stackful coroutine: `resume(input)` runs the body on its own (or a shared) stack until it
/// yields a `Y` or returns an `R`.
///
/// ```
/// use coro::{Coroutine, CoroutineResult};
///
/// // Receives numbers, yields their running sum, returns the count.
/// let mut co = Coroutine::new(|y, mut n: u32| {
///     let (mut sum, mut count) = (0, 0);
///     while n != 0 {
///         sum += n;
///         count += 1;
///         n = y.suspend(sum);
///     }
///     count
/// });
/// assert_eq!(co.resume(1).unwrap(), CoroutineResult::Yield(1));
/// assert_eq!(co.resume(2).unwrap(), CoroutineResult::Yield(3));
/// assert_eq!(co.resume(0).unwrap(), CoroutineResult::Return(2));
/// assert!(co.is_finished());
/// assert!(co.resume(5).is_err()); // coro::Error::Finished, never undefined behaviour
/// ```
///
/// A panic in the body is re-raised by `resume` with its payload. Dropping a suspended coroutine
/// unwinds its stack, so every destructor on it runs. Handles are neither `Send` nor `Sync`: a
/// coroutine lives and dies on the thread that made it, which keeps thread-locals sound.
///
/// ```compile_fail
/// fn need_send<T: Send>(_: T) {}
/// need_send(coro::Coroutine::<(), (), ()>::new(|_, ()| {}));
/// ```
pub struct Coroutine<I, Y, R> {
    body: NonNull<Body<I, Y, R>>,
    /// Frees the control block, whose full type (with the closure) only the constructor knows.
    free: FreeFn<I, Y, R>,
    _not_send: PhantomData<*mut ()>,
}

impl<I: 'static, Y: 'static, R: 'static> Coroutine<I, Y, R> {
    /// A coroutine running `f` on a stack of [`DEFAULT_STACK_SIZE`] bytes from the thread's pool.
    ///
    /// # Panics
    ///
    /// If no stack can be mapped (see [`Coroutine::try_new`] for the error instead).
    pub fn new<F>(f: F) -> Self
    where
        F: FnOnce(&Yielder<I, Y>, I) -> R + 'static,
    {
        match Self::try_new(f) {
            Ok(co) => co,
            Err(e) => panic!("{e}"),
        }
    }

    /// As [`Coroutine::new`], returning [`Error::StackAlloc`] when no stack can be mapped.
    pub fn try_new<F>(f: F) -> Result<Self>
    where
        F: FnOnce(&Yielder<I, Y>, I) -> R + 'static,
    {
        Self::with_stack_size(DEFAULT_STACK_SIZE, f)
    }

    /// A coroutine running `f` on an owned stack of at least `size` bytes.
    ///
    /// Errors: [`Error::StackTooLarge`] past [`OwnedStack::MAX_SIZE`] (4 GiB);
    /// [`Error::StackAlloc`] when no stack can be mapped.
    pub fn with_stack_size<F>(size: usize, f: F) -> Result<Self>
    where
        F: FnOnce(&Yielder<I, Y>, I) -> R + 'static,
    {
        Ok(Self::with_stack(OwnedStack::new(size)?, f))
    }

    /// A coroutine running `f` on the given owned stack.
    pub fn with_stack<F>(stack: OwnedStack, f: F) -> Self
    where
        F: FnOnce(&Yielder<I, Y>, I) -> R + 'static,
    {
        Self::on_owned_stack(stack, f)
    }

    /// As [`Coroutine::with_stack`], for any body the entry can start (see [`Start`]).
    pub(crate) fn on_owned_stack<F>(stack: OwnedStack, f: F) -> Self
    where
        F: Start<I, Y, R> + 'static,
    {
        if Inner::<I, Y, R, F>::FITS {
            Self::owned_block(stack, f)
        } else {
            Self::owned_block(stack, Boxed(Box::new(f)))
        }
    }

    /// [`Coroutine::on_owned_stack`] with a closure that fits its block ([`Inner::FITS`]).
    fn owned_block<F>(stack: OwnedStack, f: F) -> Self
    where
        F: Start<I, Y, R> + 'static,
    {
        assert!(Inner::<I, Y, R, F>::FITS);
        control::register_as_stack_owners();
        let base = stack.base();
        let size = stack.size();
        let layout = Layout::new::<Inner<I, Y, R, F>>();
        // The control block goes at the top of the stack itself, unless the closure is big:
        // creating a coroutine then allocates nothing (the stack comes from the pool).
        let on_stack = layout.size() <= (size / 8).min(MAX_BLOCK_ON_STACK);
        let at: *mut Inner<I, Y, R, F> = if on_stack {
            ((base - layout.size()) & !(layout.align() - 1)) as *mut _
        } else {
            Box::into_raw(Box::<MaybeUninit<Inner<I, Y, R, F>>>::new_uninit()).cast()
        };
        let free: FreeFn<I, Y, R> = if on_stack {
            free_on_stack::<I, Y, R, F>
        } else {
            free_boxed::<I, Y, R, F>
        };
        // Code running on this stack belongs to this coroutine, whose Control starts the block.
        stack.set_owner(at.cast_const().cast());
        // SAFETY: `at` is either the top of the stack's writable memory, aligned for the block,
        // with the frames starting below it (see `init_stack` below), or a fresh heap block of
        // the right layout; `free` matches.
        let co = unsafe { Self::place(at, StackSlot::Owned(Cell::new(None)), f, free) };
        // The stack goes in after the block is written, two words stored in place: built into
        // the block's image on our own frame, it would be copied with 16-byte moves that wait
        // for the two 8-byte stores they read (a failed store-forward).
        if let StackSlot::Owned(cell) = &co.control().stack {
            // SAFETY: the slot was made empty just above, so there is nothing to drop (a
            // `Cell::set` would drop the old value, code the compiler cannot always see is
            // dead); no reference into the cell is live.
            unsafe { cell.as_ptr().write(Some(stack)) };
        }
        // The frames start below the block when it sits at the top of the stack, at the top of
        // the stack otherwise. (Not `min(base, block)`: a heap block usually lies *below* the
        // stacks, and the bootstrap frame was then written under it, into the heap.)
        let top = if on_stack {
            at.cast::<u8>()
        } else {
            base as *mut u8
        };
        // SAFETY: the block was just made; nothing else sees its context yet.
        let control = unsafe { &co.body.as_ref().head.control };
        // SAFETY: `top` is the top of the fresh owned stack, or the start of the control block
        // at its top, and nothing else uses the memory below; `entry` never returns and expects
        // the block, which starts with the Control.
        unsafe {
            (*control.ctx.get()).sp =
                coro_asm::init_stack(top, entry::<I, Y, R, F>, co.body.as_ptr().cast());
        }
        co
    }

    /// A coroutine running `f` on a shared stack; see [`SharedStack`].
    ///
    /// # Safety
    ///
    /// While the coroutine is suspended, other coroutines' frames occupy the addresses of its
    /// own (they are copied away and back). So `f` must not let anything use a reference to a
    /// value on its stack while it is suspended: no reference to a local handed to another
    /// thread through a scoped API (`std::thread::scope`, rayon's `scope`) across a suspension,
    /// none installed in a scoped thread-local (`scoped_tls::set`) or any other place another
    /// coroutine of this thread can reach while it waits. Values the body owns, moves, or keeps
    /// on the heap are not affected; a `'static` closure cannot hand out other references. See
    /// the book's chapter "Safety model".
    pub unsafe fn with_shared_stack<F>(stack: &SharedStack, f: F) -> Self
    where
        F: FnOnce(&Yielder<I, Y>, I) -> R + 'static,
    {
        // SAFETY: the caller's contract.
        unsafe { Self::on_shared_stack(stack, f) }
    }

    /// As [`Coroutine::with_shared_stack`], for any body the entry can start (see [`Start`]).
    ///
    /// # Safety
    ///
    /// As for [`Coroutine::with_shared_stack`].
    pub(crate) unsafe fn on_shared_stack<F>(stack: &SharedStack, f: F) -> Self
    where
        F: Start<I, Y, R> + 'static,
    {
        // SAFETY: the caller's contract.
        unsafe {
            if Inner::<I, Y, R, F>::FITS {
                Self::shared_block(stack, f)
            } else {
                Self::shared_block(stack, Boxed(Box::new(f)))
            }
        }
    }

    /// [`Coroutine::on_shared_stack`] with a closure that fits its block ([`Inner::FITS`]).
    ///
    /// # Safety
    ///
    /// As for [`Coroutine::with_shared_stack`].
    unsafe fn shared_block<F>(stack: &SharedStack, f: F) -> Self
    where
        F: Start<I, Y, R> + 'static,
    {
        assert!(Inner::<I, Y, R, F>::FITS);
        control::register_as_stack_owners();
        let slot = StackSlot::Shared {
            stack: stack.inner.clone(),
            save: SaveBuf::new(),
        };
        let co = Self::alloc(slot, f);
        // SAFETY: as in `with_stack`; the bootstrap frame is written when the coroutine first
        // takes the shared stack over, from the entry function kept in `sp` until then.
        unsafe {
            (*co.body.as_ref().head.control.ctx.get()).sp =
                entry::<I, Y, R, F> as *const () as usize;
        }
        co
    }

    fn alloc<F>(stack: StackSlot, f: F) -> Self
    where
        F: Start<I, Y, R> + 'static,
    {
        let at = Box::into_raw(Box::<MaybeUninit<Inner<I, Y, R, F>>>::new_uninit()).cast();
        // SAFETY: a fresh heap block of the right layout.
        unsafe { Self::place(at, stack, f, free_boxed::<I, Y, R, F>) }
    }

    /// Writes the control block at `at` and makes the handle.
    ///
    /// # Safety
    ///
    /// `at` must be valid for writes of an `Inner<I, Y, R, F>`, aligned, and stay valid until
    /// `free` is called on it, which must be the matching free function for where it lives.
    unsafe fn place<F>(
        at: *mut Inner<I, Y, R, F>,
        stack: StackSlot,
        f: F,
        free: FreeFn<I, Y, R>,
    ) -> Self
    where
        F: Start<I, Y, R> + 'static,
    {
        let inner = Inner {
            head: Head {
                control: Control::new(stack),
                _values: PhantomData,
            },
            slot: UnsafeCell::new(Slot {
                f: ManuallyDrop::new(f),
            }),
        };
        // SAFETY: the caller's contract.
        unsafe { at.write(inner) };
        // SAFETY: `at` is non-null (valid for writes).
        let body = unsafe { NonNull::new_unchecked(at) }.cast::<Body<I, Y, R>>();
        Coroutine {
            body,
            free,
            _not_send: PhantomData,
        }
    }
}

impl<I, Y, R> Coroutine<I, Y, R> {
    fn control(&self) -> &Control {
        // SAFETY: the block lives as long as the handle.
        unsafe { &self.body.as_ref().head.control }
    }

    /// Runs the coroutine until it yields or returns, giving it `input` (the body's argument the
    /// first time, the return value of [`Yielder::suspend`] after that).
    ///
    /// Errors: [`Error::Finished`] if the coroutine has finished; [`Error::SharedStackBusy`] if
    /// it runs on a shared stack that holds the frames of a coroutine in the current resume
    /// chain. In both cases `input` is dropped and nothing runs.
    ///
    /// # Panics
    ///
    /// If the body panics, the panic is re-raised here with the body's payload.
    #[inline]
    pub fn resume(&mut self, input: I) -> Result<CoroutineResult<Y, R>> {
        // SAFETY: the block lives as long as the handle; `&mut self` means no one else resumes it.
        let body = unsafe { self.body.as_ref() };
        let control = &body.head.control;
        match control.state.get() {
            CoroutineState::Fresh | CoroutineState::Suspended => {}
            CoroutineState::Finished => return Err(Error::Finished),
            CoroutineState::Running => return Err(Error::Running),
        }
        control.prepare()?;
        let input = ManuallyDrop::new(input);
        // SAFETY: the coroutine is fresh or suspended and `prepare` put its frames in place; the
        // control block does not move. The child moves `input` out before it does anything else.
        let got = unsafe { control.switch_in(value_ptr(&input)) };
        if got != EXITED {
            // SAFETY: a suspending child passes a pointer to its yielded value, which it gave up
            // (ManuallyDrop) and which stays in place until it runs again; we move it out once.
            return Ok(CoroutineResult::Yield(unsafe {
                ptr::read(got as *const Y)
            }));
        }
        self.finish()
    }

    #[inline(never)]
    fn finish(&mut self) -> Result<CoroutineResult<Y, R>> {
        // SAFETY: the block lives as long as the handle.
        let body = unsafe { self.body.as_ref() };
        body.head.control.release_stack();
        // SAFETY: the coroutine finished; the result slot is ours.
        match unsafe { body.take_result() } {
            Some(Ok(r)) => Ok(CoroutineResult::Return(r)),
            Some(Err(payload)) => panic::resume_unwind(payload),
            None => Err(Error::Finished),
        }
    }

    /// Whether the body has returned or panicked (resuming it now is an error).
    pub fn is_finished(&self) -> bool {
        self.control().state.get() == CoroutineState::Finished
    }

    /// Whether the body has started running.
    pub fn is_started(&self) -> bool {
        self.control().state.get() != CoroutineState::Fresh
    }

    /// The coroutine's id, unique in the process and never 0.
    pub fn id(&self) -> u64 {
        self.control().id()
    }

    /// The word the layer above keeps for this coroutine (see `extension`): `co_local`
    /// hangs a child's inherited values there before the child first runs.
    pub(crate) fn extension(&self) -> &Extension {
        &self.control().ext
    }

    /// Whether it runs on a shared stack, the stack's usable size, and the bytes its frames
    /// take while suspended (see `Control::stack_use`), for the runtime's census.
    pub(crate) fn stack_use(&self) -> (bool, usize, usize) {
        self.control().stack_use()
    }
}

impl<I, Y, R> Drop for Coroutine<I, Y, R> {
    fn drop(&mut self) {
        let control = self.control();
        if control.state.get() == CoroutineState::Suspended && control.prepare().is_ok() {
            // Unwind the body: every `suspend` from now on raises ForcedUnwind.
            loop {
                // SAFETY: suspended, frames in place (prepare), the control block does not move.
                let got = unsafe { control.switch_in(CANCEL) };
                if got == EXITED {
                    break;
                }
                // The body caught the unwind and yielded again: drop what it yielded (it was
                // given up to us, see `resume`), and unwind it again.
                // SAFETY: a pointer to a value the child gave up, read once.
                drop(unsafe { ptr::read(got as *const Y) });
            }
        }
        // A coroutine that never ran may hold what the layer above gave it before its start
        // (a child's inherited co_local values): its entry function will not end that, so it
        // is ended here, on the dropper's stack. A panic of a destructor goes on after the free.
        let ended = if control.state.get() == CoroutineState::Fresh {
            extension::end(&control.ext)
        } else {
            Ok(())
        };
        // A suspended coroutine whose shared stack is busy with the resume chain cannot be
        // unwound now: its frames are freed without running their destructors (documented).
        control.release_stack();
        // SAFETY: the coroutine is not running and never will again; `free` matches the type
        // the block was allocated with.
        unsafe { (self.free)(self.body) };
        if let Err(payload) = ended
            && !std::thread::panicking()
        {
            panic::resume_unwind(payload);
        }
    }
}

impl<I, Y, R> fmt::Debug for Coroutine<I, Y, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Coroutine")
            .field("id", &self.id())
            .field("state", &self.control().state.get())
            .finish()
    }
}

/// Frees a control block; see [`free_boxed`] and [`free_on_stack`].
type FreeFn<I, Y, R> = unsafe fn(NonNull<Body<I, Y, R>>);

/// The largest control block (closure included) placed at the top of an owned stack; a bigger
/// one goes to the heap, so that a big closure does not eat the stack.
const MAX_BLOCK_ON_STACK: usize = 4096;

/// Frees a heap control block made by `Coroutine::place` with closure type `F`.
///
/// # Safety
///
/// `body` must be such a block, on the heap, and not be used afterwards.
unsafe fn free_boxed<I, Y, R, F>(body: NonNull<Body<I, Y, R>>) {
    let inner = body.cast::<Inner<I, Y, R, F>>().as_ptr();
    // SAFETY: the block was made by Box::new_uninit and written by `place`, and `Body` is its
    // first field (repr(C)), so the cast gives back the original pointer.
    unsafe {
        drop_outcome_and_closure(inner);
        drop(Box::from_raw(inner));
    }
}

/// Drops what the block holds besides its Control: the outcome, and the closure of a coroutine
/// that never started.
///
/// # Safety
///
/// `inner` must be a live block whose coroutine is not running, and never will again.
unsafe fn drop_outcome_and_closure<I, Y, R, F>(inner: *mut Inner<I, Y, R, F>) {
    // SAFETY: the caller's contract.
    unsafe {
        let body = (*inner).body();
        if body.head.control.state.get() == CoroutineState::Fresh {
            ptr::drop_in_place((*inner).f());
        } else {
            drop(body.take_result());
        }
    }
}

/// Frees a control block made by `Coroutine::place` at the top of its own owned stack: drops
/// it in place, then hands the stack (the memory it lived in) back to the pool.
///
/// # Safety
///
/// `body` must be such a block, and not be used afterwards.
unsafe fn free_on_stack<I, Y, R, F>(body: NonNull<Body<I, Y, R>>) {
    let inner = body.cast::<Inner<I, Y, R, F>>().as_ptr();
    // SAFETY: the block is live until its fields are dropped below; the stack is taken out first
    // so that the memory stays mapped (and unused) while they drop.
    unsafe {
        let StackSlot::Owned(cell) = &(*inner).head.control.stack else {
            unreachable!("a control block on its own stack has an owned stack slot")
        };
        let stack = cell.take();
        // Field by field: the Control holds nothing else to drop (its stack slot is now empty,
        // its extension word was ended when the body ended), which saves a call per coroutine.
        drop_outcome_and_closure(inner);
        drop(stack);
    }
}
