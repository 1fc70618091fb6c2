//! Coroutine stacks: [`OwnedStack`] (one mapping per coroutine) and [`SharedStack`] (many
//! coroutines on one mapping, copying their live frames in and out), the guard below each and
//! the handler that reports an overflow into it.
//!
//! This is the lowest layer of coro-core: it uses `sys` and nothing above it. Who runs on a
//! stack is an opaque *owner* pointer to it (see `region`); what the overflow message says of
//! an owner comes from a function the layer above registers (see `overflow`).
//!
//! - `owned.rs`: [`OwnedStack`], a guarded mapping of its own;
//! - `shared.rs`: [`SharedStack`], one stack whose occupant changes;
//! - `region.rs`: the 16 MiB-aligned spans stacks live in, and the table of their owners;
//! - `pool.rs`: the per-thread pool of idle mappings;
//! - `budget.rs`: how many memory mappings the stacks may take;
//! - `overflow.rs`: the SIGSEGV/SIGBUS handler that reports an overflow into a guard;
//! - `valgrind.rs`: with the `valgrind` feature, every stack registered with Valgrind.

mod budget;
mod overflow;
mod owned;
mod pool;
mod region;
mod shared;
#[cfg(feature = "valgrind")]
pub(crate) mod valgrind;

use crate::error::{Error, Result};

pub(crate) use overflow::{StackOwner, describe_owners_with};
pub use owned::OwnedStack;
pub(crate) use region::owner as region_owner;
pub(crate) use shared::SharedInner;
pub use shared::SharedStack;

/// The stack size a coroutine gets when none is given: 128 KiB, enough for ordinary
/// blocking-style code, lazily committed by the kernel (an idle coroutine touches a few pages).
pub const DEFAULT_STACK_SIZE: usize = 128 * 1024;

/// The largest stack coro makes, owned or shared: 4 GiB (see [`OwnedStack::MAX_SIZE`]).
///
/// A stack costs address space, not memory (pages are committed as they are touched), so the
/// limit is not about memory: it keeps every size coro computes from a stack size (the size
/// rounded to pages, the span of regions it reserves, a shared-stack save buffer's 32-bit
/// length) far from overflow, and it is far more than any coroutine needs.
pub(crate) const MAX_STACK_SIZE: usize = 4 << 30;

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
/// least the minimum stack size; [`Error::StackTooLarge`] past [`MAX_STACK_SIZE`].
///
/// Checked in every build (a release build would otherwise wrap `usize::MAX` round to 0).
#[inline]
pub(crate) fn round_to_pages(size: usize, page: usize) -> Result<usize> {
    // The page size is a power of two: a mask, not a division (a `div` is slow next to the
    // few instructions that taking a stack from the pool costs otherwise).
    debug_assert!(page.is_power_of_two());
    if size > MAX_STACK_SIZE {
        return Err(too_large(size));
    }
    // Cannot overflow below the limit; checked all the same, so that no size ever wraps.
    match size.max(coro_asm::MIN_STACK_SIZE).checked_add(page - 1) {
        Some(s) => Ok(s & !(page - 1)),
        None => Err(too_large(size)),
    }
}

/// The error for a stack size past [`MAX_STACK_SIZE`].
#[cold]
#[inline(never)]
pub(crate) fn too_large(size: usize) -> Error {
    Error::StackTooLarge {
        size,
        max: MAX_STACK_SIZE,
    }
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
        let round = |size| round_to_pages(size, page).unwrap();
        assert_eq!(round(0), coro_asm::MIN_STACK_SIZE.max(page));
        assert_eq!(round(1), coro_asm::MIN_STACK_SIZE.max(page));
        assert_eq!(round(page * 3 + 1), page * 4);
        assert_eq!(round(page * 8), page * 8);
        assert_eq!(round(MAX_STACK_SIZE - 1), MAX_STACK_SIZE);
        assert_eq!(round(MAX_STACK_SIZE), MAX_STACK_SIZE);
    }

    #[test]
    fn sizes_past_the_limit_are_errors_not_wrapped() {
        // Each of these wrapped to a 0-byte stack in release builds (and overflowed in debug).
        for size in [
            MAX_STACK_SIZE + 1,
            MAX_STACK_SIZE + page_size(),
            1 << 47,
            usize::MAX / 2 + 1,
            usize::MAX - region::REGION,
            usize::MAX - page_size(),
            usize::MAX - 1,
            usize::MAX,
        ] {
            match round_to_pages(size, page_size()) {
                Err(Error::StackTooLarge { size: s, max }) => {
                    assert_eq!((s, max), (size, MAX_STACK_SIZE));
                }
                other => panic!("{size}: {other:?}"),
            }
        }
    }

    #[test]
    fn the_largest_stack_has_a_span() {
        let span = region::span_len(MAX_STACK_SIZE, page_size()).unwrap();
        assert_eq!(span, MAX_STACK_SIZE + region::REGION);
        assert!(region::span_len(usize::MAX, page_size()).is_none());
        assert!(region::span_len(usize::MAX - region::REGION, page_size()).is_none());
    }
}
