//! [`SaveBuf`]: where a shared-stack coroutine's live frames wait while another coroutine runs
//! on its stack.

use std::alloc::{self, Layout};
use std::cell::Cell;
use std::ptr;

/// A heap buffer sized to the frames it holds (no fixed 64 KiB as in libco): it grows when a
/// coroutine suspends deeper than before and shrinks when it uses less than half of it.
pub(crate) struct SaveBuf {
    ptr: Cell<*mut u8>,
    cap: Cell<u32>,
    used: Cell<u32>,
}

const ALIGN: usize = 16;

impl SaveBuf {
    pub(crate) const fn new() -> SaveBuf {
        SaveBuf {
            ptr: Cell::new(ptr::null_mut()),
            cap: Cell::new(0),
            used: Cell::new(0),
        }
    }

    /// Copies `len` bytes from `from` into the buffer.
    ///
    /// # Safety
    ///
    /// `from .. from + len` must be readable and must not overlap the buffer.
    pub(crate) unsafe fn save_from(&self, from: usize, len: usize) {
        let cap = self.cap.get() as usize;
        if len > cap || len * 2 < cap {
            self.free();
            let layout =
                Layout::from_size_align(len.max(ALIGN), ALIGN).expect("stack frame size overflow");
            // SAFETY: the layout has a non-zero size.
            let p = unsafe { alloc::alloc(layout) };
            if p.is_null() {
                alloc::handle_alloc_error(layout);
            }
            self.ptr.set(p);
            self.cap.set(layout.size() as u32);
        }
        // SAFETY: the buffer holds at least `len` bytes; the caller vouches for the source.
        unsafe { ptr::copy_nonoverlapping(from as *const u8, self.ptr.get(), len) };
        self.used.set(len as u32);
    }

    /// Copies the saved bytes back so that they end at `top`.
    ///
    /// # Safety
    ///
    /// `top - used .. top` must be writable and must not overlap the buffer.
    pub(crate) unsafe fn restore_to(&self, top: usize) {
        let len = self.used.get() as usize;
        // SAFETY: `used` bytes were written by `save_from`; the caller vouches for the target.
        unsafe { ptr::copy_nonoverlapping(self.ptr.get(), (top - len) as *mut u8, len) };
    }

    /// Frees the buffer.
    pub(crate) fn free(&self) {
        let p = self.ptr.replace(ptr::null_mut());
        if !p.is_null() {
            let layout = Layout::from_size_align(self.cap.get() as usize, ALIGN).expect("layout");
            // SAFETY: `p` was allocated by `save_from` with this layout.
            unsafe { alloc::dealloc(p, layout) };
        }
        self.cap.set(0);
        self.used.set(0);
    }
}

impl Drop for SaveBuf {
    fn drop(&mut self) {
        self.free();
    }
}
