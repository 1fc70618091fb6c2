//! [`SaveBuf`]: where a shared-stack coroutine's live frames wait while another coroutine runs
//! on its stack.

use std::alloc::{self, Layout};
use std::cell::Cell;
use std::ptr;

/// A heap buffer sized to the frames it holds (no fixed 64 KiB as in libco): it grows when a
/// coroutine suspends deeper than before and shrinks when it uses less than half of it.
///
/// The frames are kept right-aligned against a 32-aligned end inside the buffer (see
/// [`SaveBuf::end`]), so every 32- or 16-byte chunk counted down from the stack's page-aligned
/// top is aligned on both sides of the copy.
pub(crate) struct SaveBuf {
    ptr: Cell<*mut u8>,
    cap: Cell<u32>,
    used: Cell<u32>,
    /// The word just below the bootstrap words, kept here rather than in the buffer (see
    /// [`SaveBuf::save_frame`]).
    word: Cell<u64>,
}

/// The top bytes of a shared stack that are never saved: the bootstrap frame. After the first
/// run of any coroutine there they hold the trampoline's return address, the same for every
/// coroutine, and the entry function and control block of the last coroutine that started
/// there, which nothing reads again (see `coro_asm::init_stack`).
const BOOTSTRAP: usize = 24;

const ALIGN: usize = 16;

impl SaveBuf {
    pub(crate) const fn new() -> SaveBuf {
        SaveBuf {
            ptr: Cell::new(ptr::null_mut()),
            cap: Cell::new(0),
            used: Cell::new(0),
            word: Cell::new(0),
        }
    }

    /// Saves the frames of a coroutine suspended with stack pointer `sp` on a shared stack whose
    /// top is `top`: all of `sp .. top` but the [`BOOTSTRAP`] words. The word below them goes to
    /// a field, so that the rest ends 32-aligned (`top` is page-aligned) for the aligned copy.
    ///
    /// # Safety
    ///
    /// `sp .. top` must be readable and not overlap the buffer; `top` must be 32-aligned, `sp`
    /// 8-aligned and at most `top - 32` (a suspended coroutine has at least the trampoline's
    /// return address and the three words its switch pushed below the bootstrap words).
    #[inline]
    pub(crate) unsafe fn save_frame(&self, top: usize, sp: usize) {
        debug_assert!(sp + 32 <= top && top.is_multiple_of(32) && sp.is_multiple_of(8));
        let end = top - (BOOTSTRAP + 8);
        // SAFETY: the caller's contract: `end .. end + 8` lies inside `sp .. top`.
        self.word.set(unsafe { (end as *const u64).read() });
        // SAFETY: the caller's contract, with the aligned end.
        unsafe { self.save_below(end, end - sp) };
    }

    /// Puts the frames [`SaveBuf::save_frame`] saved back below the same `top`.
    ///
    /// # Safety
    ///
    /// As for [`SaveBuf::restore_to`], `top` being the shared stack's top.
    #[inline]
    pub(crate) unsafe fn restore_frame(&self, top: usize) {
        let end = top - (BOOTSTRAP + 8);
        // SAFETY: the caller's contract.
        unsafe {
            self.restore_to(end);
            (end as *mut u64).write(self.word.get());
        }
    }

    /// Copies the `len` bytes below `top` into the buffer.
    ///
    /// # Safety
    ///
    /// `top - len .. top` must be readable, must not overlap the buffer, `top` 16-aligned and
    /// `len` a multiple of 8.
    #[inline]
    pub(crate) unsafe fn save_below(&self, top: usize, len: usize) {
        // The buffer holds `cap - ALIGN` bytes below `end()` (the rest is alignment slack).
        let room = (self.cap.get() as usize).saturating_sub(ALIGN);
        if len > room || len * 2 < room {
            self.grow(len);
        }
        debug_assert!(
            self.end() as usize - self.ptr.get() as usize >= len,
            "save buffer overrun"
        );
        // SAFETY: the buffer holds at least `len` bytes below `end()`; both ends are 32-aligned;
        // the caller vouches for the source.
        unsafe { copy_frame(top as *const u8, self.end(), len) };
        self.used.set(len as u32);
    }

    #[cold]
    fn grow(&self, len: usize) {
        self.free();
        // 16 bytes of slack let `end()` round down to a 32-byte boundary.
        let size = len.next_multiple_of(ALIGN) + ALIGN;
        let layout = Layout::from_size_align(size, ALIGN).expect("stack frame size overflow");
        // SAFETY: the layout has a non-zero size.
        let p = unsafe { alloc::alloc(layout) };
        if p.is_null() {
            alloc::handle_alloc_error(layout);
        }
        self.ptr.set(p);
        self.cap.set(size as u32);
    }

    /// Copies the saved bytes back so that they end at `top`.
    ///
    /// # Safety
    ///
    /// `top - used .. top` must be writable and must not overlap the buffer; `top` 16-aligned.
    #[inline]
    pub(crate) unsafe fn restore_to(&self, top: usize) {
        // SAFETY: `used` bytes below `end()` were written by `save_below`; the caller vouches
        // for the target.
        unsafe { copy_frame(self.end(), top as *mut u8, self.used.get() as usize) };
    }

    /// Where the saved frames end: the last 32-byte boundary inside the buffer. The buffer is
    /// 16-aligned with 16 bytes of slack, so at least `cap - 16` bytes lie below it.
    #[inline(always)]
    fn end(&self) -> *mut u8 {
        let p = self.ptr.get();
        let end = (p as usize + self.cap.get() as usize) & !31;
        p.wrapping_add(end - p as usize)
    }

    /// Frees the buffer.
    pub(crate) fn free(&self) {
        let p = self.ptr.replace(ptr::null_mut());
        if !p.is_null() {
            let layout = Layout::from_size_align(self.cap.get() as usize, ALIGN).expect("layout");
            // SAFETY: `p` was allocated by `grow` with this layout.
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

/// Copies the `len` bytes that end at `src_end` to end at `dst_end`, in aligned moves from the
/// top down: 32-byte moves where the CPU has AVX (then the last 8 to 24 bytes as 8-byte words),
/// 16-byte ones otherwise (then one 8-byte word for an odd word at the bottom); a live frame
/// runs from an 8-aligned stack pointer to an aligned top.
///
/// Frames are a couple of hundred bytes, and a copy that size is bound by the stores a core
/// retires per cycle (one on many x86 cores): the widest aligned stores make the fewest, and
/// aligned ones never split across cache lines. A call to memcpy spends about as long choosing
/// its strategy as copying, and `rep movs` has a start-up cost of tens of cycles, so the loop is
/// written out. The restored coroutine's first pops are 8-byte loads inside one wide store,
/// which the core forwards without waiting for the copy to retire.
///
/// # Safety
///
/// `src_end - len .. src_end` readable, `dst_end - len .. dst_end` writable, not overlapping;
/// both ends 32-aligned; `len` a multiple of 8.
#[inline(always)]
unsafe fn copy_frame(src_end: *const u8, dst_end: *mut u8, len: usize) {
    debug_assert_eq!(len % 8, 0);
    debug_assert_eq!(src_end as usize % 32, 0);
    debug_assert_eq!(dst_end as usize % 32, 0);
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx") {
            // SAFETY: AVX is present; the caller's contract carries over.
            unsafe { copy_frame_avx(src_end, dst_end, len) };
        } else {
            // SAFETY: the caller's contract.
            unsafe { copy_frame_sse2(src_end, dst_end, len) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    // SAFETY: the caller's contract.
    unsafe {
        ptr::copy_nonoverlapping(src_end.sub(len), dst_end.sub(len), len)
    };
}

/// [`copy_frame`] with SSE2 (part of the x86_64 baseline).
///
/// # Safety
///
/// As for [`copy_frame`].
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn copy_frame_sse2(src_end: *const u8, dst_end: *mut u8, len: usize) {
    use std::arch::x86_64::{__m128i, _mm_load_si128, _mm_store_si128};
    let mut off = 16;
    while off <= len {
        // SAFETY: `end - off .. end - off + 16` lies inside both ranges and is 16-aligned.
        unsafe {
            let v = _mm_load_si128(src_end.sub(off).cast::<__m128i>());
            _mm_store_si128(dst_end.sub(off).cast::<__m128i>(), v);
        }
        off += 16;
    }
    if len % 16 == 8 {
        // SAFETY: the bottom word, inside both ranges and 8-aligned.
        unsafe {
            dst_end
                .sub(len)
                .cast::<u64>()
                .write(src_end.sub(len).cast::<u64>().read())
        };
    }
}

/// [`copy_frame`] with AVX.
///
/// # Safety
///
/// As for [`copy_frame`]; the CPU must support AVX.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
unsafe fn copy_frame_avx(src_end: *const u8, dst_end: *mut u8, len: usize) {
    use std::arch::x86_64::{__m256i, _mm256_load_si256, _mm256_store_si256};
    let (mut s, mut d) = (src_end, dst_end);
    let whole = len & !31;
    // Two 32-byte chunks a round, then one: a frame is a few hundred bytes, and loop control
    // was half of what a copy executed.
    let mut left = whole;
    while left >= 64 {
        // SAFETY: `s - 64 .. s` and `d - 64 .. d` lie inside both ranges, 32-aligned.
        unsafe {
            s = s.sub(64);
            d = d.sub(64);
            let hi = _mm256_load_si256(s.add(32).cast::<__m256i>());
            let lo = _mm256_load_si256(s.cast::<__m256i>());
            _mm256_store_si256(d.add(32).cast::<__m256i>(), hi);
            _mm256_store_si256(d.cast::<__m256i>(), lo);
        }
        left -= 64;
    }
    if left != 0 {
        // SAFETY: as above, one chunk.
        unsafe {
            s = s.sub(32);
            d = d.sub(32);
            _mm256_store_si256(d.cast::<__m256i>(), _mm256_load_si256(s.cast::<__m256i>()));
        }
    }
    // SAFETY: the last 0 to 24 bytes lie inside both ranges, 8-aligned.
    unsafe { copy_tail_words(s, d, len - whole) };
}

/// Copies the `tail` bytes (0, 8, 16 or 24) below `s` to below `d`, one word at a time,
/// highest first. These are the lowest words of a frame, the ones `suspend` pushed last: 8-byte
/// loads take them straight from the store buffer, where a wider load that spans them would
/// wait for the stores to reach the cache. Volatile, so that the compiler keeps them plain
/// 8-byte moves (left to itself it merged them into wider ones, and the round trip of
/// `coro-bench switch`'s shared figure went from 11.5 to 13 ns).
///
/// # Safety
///
/// `s - tail .. s` must be readable and `d - tail .. d` writable, both 8-aligned.
#[inline(always)]
unsafe fn copy_tail_words(s: *const u8, d: *mut u8, tail: usize) {
    let (s, d) = (s.cast::<u64>(), d.cast::<u64>());
    // SAFETY: the caller's contract, word by word.
    unsafe {
        if tail >= 8 {
            d.sub(1).write_volatile(s.sub(1).read_volatile());
        }
        if tail >= 16 {
            d.sub(2).write_volatile(s.sub(2).read_volatile());
        }
        if tail >= 24 {
            d.sub(3).write_volatile(s.sub(3).read_volatile());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::SaveBuf;

    #[repr(align(32))]
    struct Frame([u64; 128]);

    #[test]
    fn every_length_round_trips_and_stays_inside_the_buffer() {
        let mut src = Frame([0; 128]);
        for (i, w) in src.0.iter_mut().enumerate() {
            *w = 0x1000 + i as u64;
        }
        let top = src.0.as_ptr() as usize + size_of::<Frame>();
        let buf = SaveBuf::new();
        // Growing by one word at a time, then shrinking, then jumping around: every length
        // must fit below the aligned end (a debug assertion checks it) and come back intact.
        let lens = (1..=128)
            .chain((1..=128).rev())
            .chain([8, 120, 16, 64, 72, 8, 1024 / 8]);
        for words in lens {
            let len = words * 8;
            // SAFETY: `top - len .. top` lies inside `src`; the buffer is separate.
            unsafe { buf.save_below(top, len) };
            let mut dst = Frame([0; 128]);
            let dst_top = dst.0.as_mut_ptr() as usize + size_of::<Frame>();
            // SAFETY: `dst_top - len .. dst_top` lies inside `dst`.
            unsafe { buf.restore_to(dst_top) };
            assert_eq!(dst.0[128 - words..], src.0[128 - words..], "length {len}");
            assert!(
                dst.0[..128 - words].iter().all(|&w| w == 0),
                "wrote below the frame at {len}"
            );
        }
    }
}
