//! [`SharedStack`]: one stack that many coroutines run on in turn (libco's copy-stack,
//! libaco's share stack).

use std::fmt;
use std::ptr;
use std::rc::Rc;
use std::sync::atomic::{AtomicPtr, Ordering};

use super::{OwnedStack, Stack, region};
use crate::error::Result;

/// One stack that many coroutines run on, one at a time.
///
/// The coroutine whose frames are on the stack is its *occupant*. When another coroutine of the
/// same shared stack is resumed, exactly the occupant's live bytes (from its saved stack pointer
/// to the top) are copied to the occupant's own heap buffer, sized to what it used, and the
/// incoming coroutine's bytes are copied back to the same addresses. Resuming the occupant again
/// copies nothing. A suspended coroutine thus costs its live frame plus a small control block.
///
/// A `SharedStack` is a cheap handle (reference counted); clone it to give it to many
/// coroutines. It is `!Send`: the coroutines on it live on one thread.
///
/// Putting a coroutine on a shared stack is `unsafe` ([`Coroutine::with_shared_stack`]): while
/// it is suspended its frames live elsewhere, so nothing may use a reference into them then.
///
/// [`Coroutine::with_shared_stack`]: crate::Coroutine::with_shared_stack
///
/// ```
/// use coro::{Coroutine, CoroutineResult, SharedStack};
/// let stack = SharedStack::new(64 * 1024).unwrap();
/// // SAFETY: neither body lends a reference into its stack to anyone.
/// let mut a = unsafe { Coroutine::with_shared_stack(&stack, |y, ()| { y.suspend(1); 10 }) };
/// // SAFETY: as above.
/// let mut b = unsafe { Coroutine::with_shared_stack(&stack, |y, ()| { y.suspend(2); 20 }) };
/// assert!(matches!(a.resume(()), Ok(CoroutineResult::Yield(1))));
/// assert!(matches!(b.resume(()), Ok(CoroutineResult::Yield(2)))); // a's frames move out
/// assert!(matches!(a.resume(()), Ok(CoroutineResult::Return(10)))); // ... and back in
/// assert!(matches!(b.resume(()), Ok(CoroutineResult::Return(20))));
/// ```
#[derive(Clone)]
pub struct SharedStack {
    pub(crate) inner: Rc<SharedInner>,
}

/// The state behind a [`SharedStack`] handle.
pub(crate) struct SharedInner {
    pub(crate) stack: OwnedStack,
    /// The region-table slot of the stack's top region. The table, which names the owner of the
    /// frames on each stack, is also the one record of the shared stack's *occupant*: an opaque
    /// pointer of the layer above (a coroutine's control block) for the owner of the live
    /// frames on it, or null.
    occupant: &'static AtomicPtr<()>,
    /// Whether the stack's span is one region (any stack up to 16 MiB less a page), whose one
    /// slot is `occupant`: a switch of occupant is then one store, with no span to compute.
    one_region: bool,
}

impl SharedStack {
    /// The largest shared stack, in bytes: 4 GiB, as for owned stacks
    /// ([`OwnedStack::MAX_SIZE`]). A bigger size is [`Error::StackTooLarge`](crate::Error).
    pub const MAX_SIZE: usize = OwnedStack::MAX_SIZE;

    /// A shared stack of at least `size` usable bytes (rounded up to whole pages), with a guard
    /// page below it. Its size bounds the deepest frame any of its coroutines may reach.
    ///
    /// Fails with [`Error::StackTooLarge`](crate::Error) past [`SharedStack::MAX_SIZE`], and
    /// with [`Error::StackAlloc`](crate::Error) when the kernel refuses the mapping.
    pub fn new(size: usize) -> Result<SharedStack> {
        let stack = OwnedStack::new(size)?;
        let occupant =
            region::slot(stack.base() - 1).expect("stacks are mapped inside the region table");
        // A stack from the pool still names the last coroutine that ran on it. Its coroutines
        // run on this thread (the handle is not `Send`), which the overflow handler now watches.
        stack.set_owner(ptr::null());
        let one_region = stack.base() - stack.guard() <= region::REGION;
        Ok(SharedStack {
            inner: Rc::new(SharedInner {
                stack,
                occupant,
                one_region,
            }),
        })
    }

    /// The usable size in bytes.
    #[inline]
    pub fn size(&self) -> usize {
        self.inner.stack.size()
    }
}

impl SharedInner {
    #[inline]
    pub(crate) fn base(&self) -> usize {
        self.stack.base()
    }

    /// The lowest usable address of the stack.
    #[inline]
    pub(crate) fn limit(&self) -> usize {
        self.stack.limit()
    }

    /// The owner of the live frames on the stack now, or null: the pointer last given to
    /// [`SharedInner::set_occupant`].
    #[inline]
    pub(crate) fn occupant(&self) -> *const () {
        self.occupant.load(Ordering::Relaxed)
    }

    /// The address of the field that holds the address of the word naming the occupant (the
    /// slot of the stack's top region), for debuggers, which read it from a stopped process
    /// (see `runtime/debugger.rs`).
    pub(crate) fn occupant_field(&self) -> usize {
        ptr::from_ref(&self.occupant) as usize
    }

    /// Records `owner` (or null) as the occupant, in every region of the stack.
    #[inline]
    pub(crate) fn set_occupant(&self, owner: *const ()) {
        if self.one_region {
            self.occupant.store(owner.cast_mut(), Ordering::Relaxed);
        } else {
            self.stack.name_owner(owner);
        }
    }
}

impl fmt::Debug for SharedStack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedStack")
            .field("base", &format_args!("{:#x}", self.inner.stack.base()))
            .field("size", &self.size())
            .field("users", &Rc::strong_count(&self.inner))
            .finish()
    }
}
