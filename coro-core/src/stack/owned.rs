//! [`OwnedStack`]: one guarded mapping per coroutine, recycled through a per-thread pool.

use std::fmt;
use std::io;
use std::num::NonZeroUsize;

use super::{
    MAX_STACK_SIZE, Stack, budget, overflow, page_size, pool, region, round_to_pages, too_large,
};
use crate::error::{Error, Result};
use crate::sys;

/// A stack of its own for one coroutine: the top of an anonymous mapping of whole 16 MiB-aligned
/// regions of address space, the rest of which stays `PROT_NONE` as its guard; committed
/// lazily by the kernel as the coroutine touches it.
///
/// Stacks are recycled through a per-thread pool: dropping one hands it back, and
/// [`OwnedStack::new`] takes one of the same size from there before it maps a new one, so
/// creating and dropping coroutines in a loop makes no system call after the first.
///
/// ```
/// use coro::{OwnedStack, Stack};
/// let stack = OwnedStack::new(64 * 1024).unwrap();
/// assert_eq!(stack.size(), 64 * 1024);
/// ```
pub struct OwnedStack {
    /// The top of the stack, one past its highest byte: the top of its span. Never zero, which
    /// gives `Option<OwnedStack>` a niche and keeps a coroutine's stack slot at three words.
    top: NonZeroUsize,
    /// The usable bytes, a whole number of pages, at the top of the span.
    size: usize,
}

impl OwnedStack {
    /// The largest stack coro makes, in bytes: 4 GiB, for owned and shared stacks alike. A
    /// bigger size is [`Error::StackTooLarge`]. Stacks are committed only as they are touched,
    /// so a generous size costs address space, not memory.
    pub const MAX_SIZE: usize = MAX_STACK_SIZE;

    /// A stack of at least `size` usable bytes (rounded up to whole pages, at least 4 KiB).
    ///
    /// Fails with [`Error::StackTooLarge`] past [`OwnedStack::MAX_SIZE`], and with
    /// [`Error::StackAlloc`] when the kernel refuses the mapping, or when mapping it would
    /// leave the rest of the program fewer than 1,024 of the `vm.max_map_count` memory
    /// mappings the kernel allows a process (every stack takes two; the rest stay for the
    /// allocator, threads and the runtime, so that the program goes on after the refusal). That
    /// error says so and points at [`SharedStack`](super::SharedStack).
    ///
    /// ```
    /// use coro::{Error, OwnedStack};
    /// assert!(matches!(OwnedStack::new(usize::MAX), Err(Error::StackTooLarge { .. })));
    /// ```
    #[inline]
    pub fn new(size: usize) -> Result<OwnedStack> {
        let size = round_to_pages(size, page_size())?;
        // The last stack this thread gave back: the common case, a few instructions.
        if let Some(stack) = pool::take_last(size).and_then(Self::from_pool) {
            return Ok(stack);
        }
        Self::new_slow(size)
    }

    /// [`OwnedStack::new`] past its fast slot: the rest of the pool, or a fresh mapping.
    #[inline(never)]
    fn new_slow(size: usize) -> Result<OwnedStack> {
        if let Some(stack) = pool::take(size).and_then(Self::from_pool) {
            return Ok(stack);
        }
        Self::map(size)
    }

    /// The stack an idle mapping from the pool describes.
    #[inline]
    fn from_pool(m: pool::Mapping) -> Option<OwnedStack> {
        Some(OwnedStack {
            top: NonZeroUsize::new(m.top)?,
            size: m.size,
        })
    }

    /// Maps a fresh stack of `size` usable bytes (a multiple of the page size), bypassing the
    /// pool: the top `size` bytes of a fresh span of whole regions (see `region`), the rest of
    /// the span staying inaccessible as its guard.
    pub(crate) fn map(size: usize) -> Result<OwnedStack> {
        let span = region::span_len(size, page_size()).ok_or_else(|| too_large(size))?;
        // The stack's two mappings come out of the budget first, which keeps some for the rest
        // of the program (see `budget`); the pool's unmap gives them back.
        budget::acquire().map_err(|source| Error::StackAlloc { size, source })?;
        let top = region::reserve(span).map_err(|source| not_mapped(size, source))?;
        // SAFETY: `top - size .. top` lies inside the span we just reserved, which nothing else
        // knows about.
        let opened = unsafe {
            sys::protect(
                (top - size) as *mut u8,
                size,
                libc::PROT_READ | libc::PROT_WRITE,
            )
        };
        if let Err(source) = opened {
            // SAFETY: the span we reserved above, which nothing else knows about.
            unsafe { region::release(top, span) };
            return Err(not_mapped(size, source));
        }
        let top = NonZeroUsize::new(top).expect("the kernel maps nothing at address 0");
        #[cfg(feature = "valgrind")]
        super::valgrind::register(top.get() - size, top.get());
        Ok(OwnedStack { top, size })
    }

    /// Hands the stack to `owner` (an opaque pointer of the layer above, or null) on this
    /// thread: the region table names `owner` for code running on the stack, and the overflow
    /// handler watches this thread (installed, with the thread's alternate signal stack, the
    /// first time; see `overflow`). Call it on the thread that will run code on the stack,
    /// before any runs there.
    #[inline]
    pub(crate) fn set_owner(&self, owner: *const ()) {
        overflow::watch_this_thread();
        self.name_owner(owner);
    }

    /// Names `owner` in the region table for code running on this stack, and nothing else:
    /// for a new occupant of a shared stack, whose thread is already watched.
    #[inline]
    pub(super) fn name_owner(&self, owner: *const ()) {
        region::set_owner(self.top.get(), self.span(), owner);
    }

    /// The length of the span of regions the stack's mapping takes (see `region`).
    #[inline]
    fn span(&self) -> usize {
        span_of(self.size)
    }
}

// SAFETY: `top - size .. top` is mapped read-write for the life of the value, the rest of the
// span below it is PROT_NONE, and `top` is region-aligned, hence 16-aligned.
unsafe impl Stack for OwnedStack {
    #[inline]
    fn base(&self) -> usize {
        self.top.get()
    }
    #[inline]
    fn limit(&self) -> usize {
        self.top.get() - self.size
    }
    #[inline]
    fn guard(&self) -> usize {
        self.top.get() - self.span()
    }
}

/// The error for a stack the kernel would not map, whose mappings go back to the budget.
#[cold]
fn not_mapped(size: usize, source: io::Error) -> Error {
    budget::release();
    if source.kind() == io::ErrorKind::OutOfMemory {
        budget::kernel_refused();
    }
    Error::StackAlloc { size, source }
}

/// The span of a stack of `size` usable bytes, a size [`OwnedStack::new`] accepted (at most
/// [`MAX_STACK_SIZE`], whose span fits in a `usize`).
#[inline]
pub(super) fn span_of(size: usize) -> usize {
    match region::span_len(size, page_size()) {
        Some(span) => span,
        None => unreachable!("a stack's size was checked against MAX_STACK_SIZE when it was made"),
    }
}

impl Drop for OwnedStack {
    #[inline]
    fn drop(&mut self) {
        // The region keeps naming the coroutine that ran here last: nothing reads it until the
        // next coroutine on this stack, made before any code runs on it, names itself (readers
        // look up the region of a running stack pointer only).
        pool::give(pool::Mapping {
            top: self.top.get(),
            size: self.size,
        });
    }
}

impl fmt::Debug for OwnedStack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedStack")
            .field("base", &format_args!("{:#x}", self.base()))
            .field("size", &self.size())
            .finish()
    }
}
