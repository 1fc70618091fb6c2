//! Stack regions, and who owns each.
//!
//! Every coroutine stack is mapped at the top of its own span of address space, aligned to
//! [`REGION`] (16 MiB) and holding nothing else: the part of the span below the stack stays
//! reserved and inaccessible, a guard much larger than one page. A process-wide table with one
//! word per region of the 47-bit user address space names the *owner* of the stack of that
//! region: whoever's frames are on it, as an opaque pointer that the layer above chooses (the
//! coroutines store their control block) and this layer only stores, compares and hands to the
//! overflow handler's registered describer (see `overflow`).
//!
//! "Which coroutine is running" is then a shift and a load, keyed by the stack pointer, with
//! nothing to update when a coroutine is switched in or out: the table changes only when a
//! stack gets a new owner, or a shared stack a new occupant. A thread-local "current coroutine"
//! would cost two stores on every round trip instead (see the book's chapter "Design
//! decisions").
//!
//! The table is 64 MiB of zeroed address space (`.bss`); the kernel backs a page of it only
//! when a region it covers is first used, 4 KiB per 8 GiB of stacks.

use std::io;
use std::ptr;
use std::sync::atomic::{AtomicPtr, Ordering};

use crate::sys;

/// log2 of [`REGION`].
const REGION_SHIFT: u32 = 24;

/// The alignment, and the unit of size, of the address space a stack reserves.
pub(crate) const REGION: usize = 1 << REGION_SHIFT;

/// One slot per region of the 47-bit address space Linux gives user space on x86_64 (and, with
/// 48-bit virtual addresses, on aarch64). Addresses above it have no slot and no owner.
const SLOTS: usize = 1 << (47 - REGION_SHIFT);

/// The owner of each region (an opaque pointer of the layer above), or null.
static OWNERS: [AtomicPtr<()>; SLOTS] = [const { AtomicPtr::new(ptr::null_mut()) }; SLOTS];

/// The owner of the region holding `addr`: whoever's frames are on the stack there, or null
/// when `addr` is not in a stack's region (or the stack has no owner).
#[inline]
pub(crate) fn owner(addr: usize) -> *const () {
    match slot(addr) {
        Some(slot) => slot.load(Ordering::Relaxed),
        None => ptr::null(),
    }
}

/// The slot of the region holding `addr`, if the table has one (it has for every stack
/// [`reserve`] made).
#[inline]
pub(crate) fn slot(addr: usize) -> Option<&'static AtomicPtr<()>> {
    OWNERS.get(addr >> REGION_SHIFT)
}

/// Makes `who` the owner of every region of the span `top - len .. top`.
#[inline]
pub(crate) fn set_owner(top: usize, len: usize, who: *const ()) {
    if len <= REGION {
        if let Some(slot) = slot(top - 1) {
            slot.store(who.cast_mut(), Ordering::Relaxed);
        }
    } else {
        set_owners(top, len, who);
    }
}

/// [`set_owner`] for a span of several regions (a stack bigger than 16 MiB).
#[cold]
fn set_owners(top: usize, len: usize, who: *const ()) {
    let slots = OWNERS.get((top - len) >> REGION_SHIFT..top >> REGION_SHIFT);
    for slot in slots.into_iter().flatten() {
        slot.store(who.cast_mut(), Ordering::Relaxed);
    }
}

/// The length of the span a stack of `size` usable bytes reserves: room for it and at least one
/// guard page below, rounded up to whole regions; `None` if that does not fit in a `usize`
/// (a stack's size is at most `MAX_STACK_SIZE`, whose span fits).
#[inline]
pub(crate) const fn span_len(size: usize, page: usize) -> Option<usize> {
    match size.checked_add(page) {
        Some(s) => match s.checked_add(REGION - 1) {
            Some(s) => Some(s & !(REGION - 1)),
            None => None,
        },
        None => None,
    }
}

/// Reserves a region-aligned span of `len` bytes (a multiple of [`REGION`]), all inaccessible,
/// and returns its top (one past its end).
pub(crate) fn reserve(len: usize) -> io::Result<usize> {
    debug_assert_eq!(len % REGION, 0);
    // Map one region more than needed and cut the unaligned ends off: the kernel aligns only to
    // pages. MAP_NORESERVE: nothing is committed until a page is opened and touched.
    let extra = len.checked_add(REGION).ok_or_else(too_long)?;
    let raw = sys::map_anonymous(
        extra,
        libc::PROT_NONE,
        libc::MAP_NORESERVE | libc::MAP_STACK,
    )? as usize;
    let start = raw.next_multiple_of(REGION);
    if start
        .checked_add(len)
        .is_none_or(|end| end > SLOTS << REGION_SHIFT)
    {
        // Only a kernel asked for addresses past 47 bits hands them out; the table has no slot.
        // SAFETY: the mapping just made, which nothing else knows of.
        unsafe { sys::unmap(raw as *mut u8, extra) };
        return Err(io::Error::other(
            "the kernel mapped a stack above the 47-bit address space",
        ));
    }
    let head = start - raw;
    let tail = extra - head - len;
    // SAFETY: both cuts lie inside the mapping just made, which nothing else knows of.
    unsafe {
        if head != 0 {
            sys::unmap(raw as *mut u8, head);
        }
        if tail != 0 {
            sys::unmap((start + len) as *mut u8, tail);
        }
    }
    Ok(start + len)
}

/// The error for a span longer than the address space.
#[cold]
fn too_long() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "the stack's span of address space is longer than the address space",
    )
}

/// Forgets the owner of the span `top - len .. top` and unmaps it.
///
/// # Safety
///
/// The span must have come from [`reserve`] with this `len`, and nothing may use it afterwards.
pub(crate) unsafe fn release(top: usize, len: usize) {
    // Before the unmap: once unmapped, another thread may reserve the same regions and set
    // their owner, which a late clear here would wipe out.
    set_owner(top, len, ptr::null());
    // SAFETY: the caller's contract.
    unsafe { sys::unmap((top - len) as *mut u8, len) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_are_aligned_and_owned_by_whoever_was_set() {
        let len = span_len(64 * 1024, 4096).unwrap();
        assert_eq!(len, REGION);
        let top = reserve(len).unwrap();
        assert_eq!(top % REGION, 0);
        let who = 0x1234usize as *const ();
        assert!(owner(top - 1).is_null());
        set_owner(top, len, who);
        assert_eq!(owner(top - 1), who);
        assert_eq!(owner(top - len), who);
        assert!(owner(top).is_null() || owner(top) != who);
        // SAFETY: reserved above, unused.
        unsafe { release(top, len) };
        assert!(owner(top - 1).is_null());
    }

    #[test]
    fn a_big_stack_spans_several_regions() {
        let len = span_len(3 * REGION, 4096).unwrap();
        assert_eq!(len, 4 * REGION);
        let top = reserve(len).unwrap();
        let who = 0x5678usize as *const ();
        set_owner(top, len, who);
        for r in 0..4 {
            assert_eq!(owner(top - 1 - r * REGION), who);
        }
        // SAFETY: reserved above, unused.
        unsafe { release(top, len) };
    }

    #[test]
    fn a_span_longer_than_the_address_space_is_an_error() {
        assert!(reserve(usize::MAX & !(REGION - 1)).is_err());
        assert!(reserve(1 << 47).is_err());
    }

    #[test]
    fn addresses_outside_any_region_have_no_owner() {
        let local = 0u64;
        assert!(owner(&local as *const u64 as usize).is_null());
        assert!(owner(usize::MAX).is_null());
    }
}
