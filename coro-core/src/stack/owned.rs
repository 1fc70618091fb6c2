//! [`OwnedStack`]: one guarded mapping per coroutine, recycled through a per-thread pool.

use std::fmt;

use super::{Stack, page_size, pool, round_to_pages};
use crate::error::{Error, Result};
use crate::sys;

/// A stack of its own for one coroutine: an anonymous mapping with one `PROT_NONE` guard page
/// below it, committed lazily by the kernel as the coroutine touches it.
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
    /// Start of the mapping (the guard page).
    map: usize,
    /// Length of the mapping, guard page included.
    len: usize,
}

impl OwnedStack {
    /// A stack of at least `size` usable bytes (rounded up to whole pages, at least 4 KiB).
    ///
    /// Fails with [`Error::StackAlloc`] when the kernel refuses the mapping; past
    /// `vm.max_map_count` mappings the error says so and points at [`SharedStack`](super::SharedStack).
    #[inline]
    pub fn new(size: usize) -> Result<OwnedStack> {
        let page = page_size();
        let size = round_to_pages(size, page);
        // The last stack this thread gave back: the common case, a few instructions.
        if let Some(m) = pool::take_last(size + page) {
            return Ok(OwnedStack {
                map: m.map,
                len: m.len,
            });
        }
        Self::new_slow(size)
    }

    /// [`OwnedStack::new`] past its fast slot: the rest of the pool, or a fresh mapping.
    #[inline(never)]
    fn new_slow(size: usize) -> Result<OwnedStack> {
        if let Some(m) = pool::take(size + page_size()) {
            return Ok(OwnedStack {
                map: m.map,
                len: m.len,
            });
        }
        Self::map(size)
    }

    /// Maps a fresh stack of `size` usable bytes (a multiple of the page size), bypassing the pool.
    pub(crate) fn map(size: usize) -> Result<OwnedStack> {
        let page = page_size();
        let len = size + page;
        // MAP_NORESERVE: commit pages only when touched; the whole mapping starts PROT_NONE and
        // all but its lowest page (the guard) is then opened.
        let map = sys::map_anonymous(len, libc::PROT_NONE, libc::MAP_NORESERVE | libc::MAP_STACK)
            .map_err(|source| Error::StackAlloc { size, source })?;
        // SAFETY: `map + page .. map + len` lies inside the mapping we just made, which nothing
        // else knows about.
        let opened =
            unsafe { sys::protect(map.add(page), size, libc::PROT_READ | libc::PROT_WRITE) };
        if let Err(source) = opened {
            // SAFETY: unmapping the mapping we made above, which nothing else knows about.
            unsafe { sys::unmap(map, len) };
            return Err(Error::StackAlloc { size, source });
        }
        Ok(OwnedStack {
            map: map as usize,
            len,
        })
    }
}

// SAFETY: `map + page .. map + len` is mapped read-write for the life of the value, `map .. map +
// page` is PROT_NONE, and `map + len` is page-aligned, hence 16-aligned.
unsafe impl Stack for OwnedStack {
    #[inline]
    fn base(&self) -> usize {
        self.map + self.len
    }
    #[inline]
    fn limit(&self) -> usize {
        self.map + page_size()
    }
    #[inline]
    fn guard(&self) -> usize {
        self.map
    }
}

impl Drop for OwnedStack {
    #[inline]
    fn drop(&mut self) {
        pool::give(pool::Mapping {
            map: self.map,
            len: self.len,
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
