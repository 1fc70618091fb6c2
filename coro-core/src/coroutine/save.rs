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
    #[inline]
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
        unsafe { copy_words(from as *const u8, self.ptr.get(), len) };
        self.used.set(len as u32);
    }

    /// Copies the saved bytes back so that they end at `top`.
    ///
    /// # Safety
    ///
    /// `top - used .. top` must be writable and must not overlap the buffer.
    #[inline]
    pub(crate) unsafe fn restore_to(&self, top: usize) {
        let len = self.used.get() as usize;
        // SAFETY: `used` bytes were written by `save_from`; the caller vouches for the target.
        unsafe { copy_words(self.ptr.get(), (top - len) as *mut u8, len) };
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

/// Copies `len` bytes, a multiple of 8 (a live frame runs from an 8-aligned stack pointer to a
/// 16-aligned top), in 16-byte moves from the top down, and one 8-byte move for an odd word at
/// the bottom.
///
/// Frames are a couple of hundred bytes, and a copy of that size is bound by the one or two
/// stores a core retires per cycle: 16-byte stores halve the count of word stores. A call to
/// memcpy spends about as long choosing its strategy as copying, and `rep movs` has a start-up
/// cost of tens of cycles, so the loop is written out. Loads of 8 bytes inside a pending 16-byte
/// store at offset 0 or 8 are forwarded from it, so the restored coroutine's first pops do not
/// wait for the copy to retire.
///
/// # Safety
///
/// `src .. src + len` readable, `dst .. dst + len` writable, both 8-aligned, not overlapping.
#[inline(always)]
unsafe fn copy_words(src: *const u8, dst: *mut u8, len: usize) {
    debug_assert_eq!(len % 8, 0);
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{__m128i, _mm_loadu_si128, _mm_storeu_si128};
        if std::is_x86_feature_detected!("avx") {
            // SAFETY: AVX is present; the caller's contract carries over.
            unsafe { copy_avx(src, dst, len) };
            return;
        }
        let mut end = len;
        while end >= 16 {
            end -= 16;
            // SAFETY: `end .. end + 16` is in bounds; SSE2 is part of the x86_64 baseline, and
            // the unaligned forms accept any address.
            unsafe {
                let v = _mm_loadu_si128(src.add(end).cast::<__m128i>());
                _mm_storeu_si128(dst.add(end).cast::<__m128i>(), v);
            }
        }
        if end == 8 {
            // SAFETY: the first word, in bounds and 8-aligned.
            unsafe { dst.cast::<u64>().write(src.cast::<u64>().read()) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    // SAFETY: the caller's contract.
    unsafe {
        ptr::copy_nonoverlapping(src, dst, len)
    };
}

/// [`copy_words`] with 32-byte moves.
///
/// # Safety
///
/// As for [`copy_words`]; the CPU must support AVX.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
unsafe fn copy_avx(src: *const u8, dst: *mut u8, len: usize) {
    use std::arch::x86_64::{
        __m128i, __m256i, _mm_loadu_si128, _mm_storeu_si128, _mm256_loadu_si256,
        _mm256_storeu_si256,
    };
    let mut end = len;
    while end >= 32 {
        end -= 32;
        // SAFETY: `end .. end + 32` is in bounds; unaligned forms accept any address.
        unsafe {
            let v = _mm256_loadu_si256(src.add(end).cast::<__m256i>());
            _mm256_storeu_si256(dst.add(end).cast::<__m256i>(), v);
        }
    }
    if end >= 16 {
        end -= 16;
        // SAFETY: in bounds, as above.
        unsafe {
            let v = _mm_loadu_si128(src.add(end).cast::<__m128i>());
            _mm_storeu_si128(dst.add(end).cast::<__m128i>(), v);
        }
    }
    if end == 8 {
        // SAFETY: the first word, in bounds and 8-aligned.
        unsafe { dst.cast::<u64>().write(src.cast::<u64>().read()) };
    }
}

impl Drop for SaveBuf {
    fn drop(&mut self) {
        self.free();
    }
}
