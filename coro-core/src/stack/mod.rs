//! Coroutine stacks: [`OwnedStack`] (one mapping per coroutine) and [`SharedStack`] (many
//! coroutines on one mapping, copying their live frames in and out).

mod owned;
mod pool;
mod region;
mod shared;

pub use owned::OwnedStack;
pub(crate) use region::owner as region_owner;
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
    #[inline]
    fn size(&self) -> usize {
        self.base() - self.limit()
    }
}

/// The system's page size. On x86_64 Linux the base page is always 4 KiB (huge pages do not
/// change it), so it is a constant there, which keeps it out of the stack pool's fast path.
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
#[inline(always)]
pub(crate) fn page_size() -> usize {
    4096
}

/// The system's page size, read once.
#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
#[inline]
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

/// Rounds `size` up to a whole number of pages of `page` bytes (the [`page_size`]), and to at
/// least the minimum stack size.
#[inline]
pub(crate) fn round_to_pages(size: usize, page: usize) -> usize {
    // The page size is a power of two: a mask, not a division (a `div` costs tens of cycles,
    // which is most of what taking a stack from the pool costs otherwise).
    debug_assert!(page.is_power_of_two());
    (size.max(coro_asm::MIN_STACK_SIZE) + page - 1) & !(page - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_size_is_the_kernels() {
        // SAFETY: sysconf has no preconditions.
        let kernel = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        assert_eq!(page_size() as libc::c_long, kernel);
    }

    #[test]
    fn sizes_round_up_to_pages_and_the_minimum() {
        let page = page_size();
        assert_eq!(round_to_pages(1, page), coro_asm::MIN_STACK_SIZE.max(page));
        assert_eq!(round_to_pages(page * 3 + 1, page), page * 4);
        assert_eq!(round_to_pages(page * 8, page), page * 8);
    }
}
