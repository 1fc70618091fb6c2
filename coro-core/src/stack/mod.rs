//! Coroutine stacks: [`OwnedStack`] (one mapping per coroutine) and [`SharedStack`] (many
//! coroutines on one mapping, copying their live frames in and out).

mod owned;
mod pool;
mod shared;

pub use owned::OwnedStack;
pub(crate) use shared::SharedInner;
pub use shared::SharedStack;

/// The stack size a coroutine gets when none is given: 128 KiB, enough for ordinary
/// blocking-style code, lazily committed by the kernel (an idle coroutine touches a few pages).
pub const DEFAULT_STACK_SIZE: usize = 128 * 1024;

/// A region of memory a coroutine can run on. Stacks grow down, from [`Stack::base`] towards
/// [`Stack::limit`]; below the limit lies a guard page that faults on overflow.
///
/// # Safety
///
/// An implementation must return a `base` and `limit` such that `limit..base` is readable and
/// writable memory of at least [`coro_asm::MIN_STACK_SIZE`] bytes, `base` aligned to 16 bytes, that
/// stays mapped and unused by anything else for as long as the stack value lives. `guard..limit`
/// must be inaccessible (PROT_NONE) so an overflow faults instead of writing past the stack.
pub unsafe trait Stack {
    /// The highest address of the stack, one past its last byte; the stack grows down from here.
    fn base(&self) -> usize;
    /// The lowest usable address of the stack.
    fn limit(&self) -> usize;
    /// The lowest address of the guard region below [`Stack::limit`].
    fn guard(&self) -> usize;
    /// The usable size in bytes, `base - limit`.
    fn size(&self) -> usize {
        self.base() - self.limit()
    }
}

/// The system's page size, read once.
pub(crate) fn page_size() -> usize {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static PAGE: AtomicUsize = AtomicUsize::new(0);
    let p = PAGE.load(Ordering::Relaxed);
    if p != 0 {
        return p;
    }
    // SAFETY: sysconf has no preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    let p = if p > 0 { p as usize } else { 4096 };
    PAGE.store(p, Ordering::Relaxed);
    p
}

/// Rounds `size` up to a whole number of pages, and to at least the minimum stack size.
pub(crate) fn round_to_pages(size: usize) -> usize {
    // The page size is a power of two: a mask, not a division (a `div` costs tens of cycles,
    // which is most of what taking a stack from the pool costs otherwise).
    let page = page_size();
    debug_assert!(page.is_power_of_two());
    (size.max(coro_asm::MIN_STACK_SIZE) + page - 1) & !(page - 1)
}
