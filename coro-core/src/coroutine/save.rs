//! [`SaveBuf`]: where a shared-stack coroutine's live frames wait while another coroutine runs
//! on its stack.

use std::cell::Cell;
use std::ptr;

use super::slab::{self, Buf, GRAIN};

/// A buffer sized to the frames it holds (no fixed 64 KiB as in libco), from the thread's
/// slab (`slab.rs`): it grows when a coroutine suspends deeper than before and shrinks when it
/// uses less than half of it.
///
/// It holds the frame bytes and one more word (see [`SaveBuf::save_frame`]), and nothing else:
/// it is [`GRAIN`]-aligned and a whole number of grains long, and the frames end at its end
/// (see [`SaveBuf::layout`]), 32-aligned as they are on the stack, so the copy uses aligned
/// moves on both sides.
pub(crate) struct SaveBuf {
    ptr: Cell<*mut u8>,
    /// Bytes allocated, with `Buf::SYSTEM` set for a buffer of the system allocator.
    cap: Cell<u32>,
    /// Frame bytes held (the extra word lies just below them).
    used: Cell<u32>,
}

/// The top bytes of a shared stack that are never saved: the bootstrap frame. After the first
/// run of any coroutine there they hold the trampoline's return address, the same for every
/// coroutine, and the entry function and control block of the last coroutine that started
/// there, which nothing reads again (see `coro_asm::init_stack`).
const BOOTSTRAP: usize = 24;

/// Where the frames end, relative to the top of the stack: below the bootstrap words and one
/// more word, so that the frames end 32-aligned (the top is region-aligned).
const FRAMES_END: usize = BOOTSTRAP + 8;

impl SaveBuf {
    pub(crate) const fn new() -> SaveBuf {
        SaveBuf {
            ptr: Cell::new(ptr::null_mut()),
            cap: Cell::new(0),
            used: Cell::new(0),
        }
    }

    /// Saves the frames of a coroutine suspended with stack pointer `sp` on a shared stack whose
    /// usable memory is `limit .. top`: all of `sp .. top` but the [`BOOTSTRAP`] words. The word
    /// just below them is stored after the frames, so that the frames proper end 32-aligned on
    /// the stack, for aligned moves there.
    ///
    /// # Panics
    ///
    /// In every build, if `sp` is not a stack pointer of that stack (below `limit`, above
    /// `top - 32`, or not 8-aligned): the copy would read outside the stack, so the process
    /// stops with a message instead of copying.
    ///
    /// # Safety
    ///
    /// `limit .. top` must be readable and not overlap the buffer; `top` must be 32-aligned.
    /// `AVX` (copy with 32-byte moves) only where the CPU has AVX.
    #[inline(always)]
    pub(crate) unsafe fn save_frame<const AVX: bool>(&self, top: usize, limit: usize, sp: usize) {
        // Checked in release builds too: a suspended coroutine has at least the trampoline's
        // return address and the three words its switch pushed below the bootstrap words, and
        // anything else means its saved stack pointer is not on this stack. One compare for
        // all three conditions: `off`, how far `sp` lies below `top - 32`, must be at most
        // `top - 32 - limit` (a `sp` above `top - 32` wraps around to a huge `off`), and a
        // multiple of 8 (as `sp` is then: `top` is 32-aligned); rotating it right by 3 bits
        // moves any of its low 3 bits to the top, which makes it larger than any bound.
        debug_assert!(top.is_multiple_of(32) && limit < top - 32);
        let off = (top - 32).wrapping_sub(sp);
        if off.rotate_right(3) > (top - 32 - limit) >> 3 {
            bad_frame(top, limit, sp);
        }
        let end = top - FRAMES_END;
        let len = end - sp;
        let need = len + 8;
        let cap = self.cap();
        if need > cap || need * 2 < cap {
            self.grow(need);
        }
        let (frames_end, word) = self.layout(len);
        // ASan's redzones between the frames' locals are copied too (see `sanitizer`).
        super::sanitizer::unpoison(sp, len + 8);
        // SAFETY: the buffer holds at least `len + 8` bytes (`grow`), laid out by `layout`;
        // `sp .. end` holds the frames and `end .. end + 8` the word, both inside `limit .. top`
        // (checked above), which the caller vouches for.
        unsafe {
            copy_frame::<AVX>(end as *const u8, frames_end, len);
            word.cast::<u64>().write((end as *const u64).read());
        }
        // `len < need <= cap`, which `grow` made fit in a u32.
        self.used.set(len as u32);
    }

    /// Puts the frames [`SaveBuf::save_frame`] saved back below the same `top`, on the stack
    /// whose usable memory is `limit .. top`.
    ///
    /// # Panics
    ///
    /// In every build, if the saved frames do not fit between `limit` and `top`, or the
    /// buffer does not hold them (neither can happen when the frames were saved below this
    /// `top`): the process stops with a message instead of writing outside the stack.
    ///
    /// # Safety
    ///
    /// The frames must have been saved below this same `top`; `limit .. top` must be writable
    /// and not overlap the buffer. `AVX` only where the CPU has AVX.
    #[inline(always)]
    pub(crate) unsafe fn restore_frame<const AVX: bool>(&self, top: usize, limit: usize) {
        let end = top - FRAMES_END;
        let len = self.used.get() as usize;
        if len > end.saturating_sub(limit) || len + 8 > self.cap() {
            bad_restore(top, limit, len, self.cap());
        }
        let (frames_end, word) = self.layout(len);
        // Valgrind's memcheck may count these addresses as freed stack (see `stack::valgrind`).
        #[cfg(feature = "valgrind")]
        crate::stack::valgrind::reclaim(end - len, len + 8);
        super::sanitizer::unpoison(end - len, len + 8);
        // SAFETY: `save_frame` wrote `len` frame bytes and the word where `layout` puts them,
        // inside the buffer (checked above); `end - len .. end + 8` lies inside `limit .. top`
        // (checked above), which the caller vouches for.
        unsafe {
            copy_frame::<AVX>(frames_end, end as *mut u8, len);
            (end as *mut u64).write(word.cast::<u64>().read());
        }
    }

    /// Where the frames of `len` bytes end in the buffer, and where the extra word goes: the
    /// frames end at the buffer's end, a [`GRAIN`] boundary as on the stack, so that every
    /// 32-byte move of the copy is aligned on both sides; the word lies just below them. The
    /// buffer must hold at least `len + 8` bytes.
    #[inline(always)]
    fn layout(&self, len: usize) -> (*mut u8, *mut u8) {
        let end = self.ptr.get().wrapping_add(self.cap());
        (end, end.wrapping_sub(len + 8))
    }

    /// The buffer's size in bytes.
    #[inline(always)]
    fn cap(&self) -> usize {
        (self.cap.get() & !Buf::SYSTEM) as usize
    }

    #[cold]
    fn grow(&self, need: usize) {
        // Checked, so that `cap` and `used` can never be truncated (nor reach `Buf::SYSTEM`).
        if need > (Buf::SYSTEM as usize) - GRAIN {
            panic!(
                "a shared-stack coroutine's live frames of {need} bytes do not fit a save buffer \
                 (at most 2 GiB); give coroutines this deep an owned stack"
            )
        }
        self.free();
        let buf = slab::take(need);
        self.ptr.set(buf.ptr);
        self.cap.set(buf.cap);
    }

    /// The frame bytes it holds (the frames of a suspended coroutine evicted from its stack).
    pub(crate) fn used(&self) -> usize {
        self.used.get() as usize
    }

    /// Frees the buffer.
    pub(crate) fn free(&self) {
        let p = self.ptr.replace(ptr::null_mut());
        if !p.is_null() {
            // SAFETY: `p` and `cap` came from `slab::take` on this thread (a coroutine, whose
            // control block holds this buffer, never leaves its thread), and `p` is forgotten.
            unsafe {
                slab::give(Buf {
                    ptr: p,
                    cap: self.cap.get(),
                })
            };
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

/// The panic of [`SaveBuf::save_frame`] for a stack pointer off its stack.
#[cold]
#[inline(never)]
fn bad_frame(top: usize, limit: usize, sp: usize) -> ! {
    panic!(
        "coro: a suspended shared-stack coroutine's saved stack pointer {sp:#x} is not on its \
         shared stack ({limit:#x} .. {top:#x}), so its frames cannot be saved; nothing was \
         copied. This is a bug in coro or in unsafe code that switched stacks under a \
         coroutine: please report it"
    )
}

/// The panic of [`SaveBuf::restore_frame`] for frames that do not fit.
#[cold]
#[inline(never)]
fn bad_restore(top: usize, limit: usize, len: usize, cap: usize) -> ! {
    panic!(
        "coro: a shared-stack coroutine's saved frames ({len} bytes, in a {cap}-byte buffer) do \
         not fit below the top of its shared stack ({limit:#x} .. {top:#x}); nothing was \
         copied. This is a bug in coro: please report it"
    )
}

/// Copies the `len` bytes that end at `src_end` to end at `dst_end`, from the top down:
/// 32-byte moves with `AVX` (then the last 8 to 24 bytes as 8-byte words), 16-byte ones
/// otherwise (then one 8-byte word for an odd word at the bottom). Both ends are 32-aligned
/// (the stack's below its top, the buffer's at its end; see `SaveBuf::layout`), so no move
/// splits a cache line.
///
/// Frames are a couple of hundred bytes, and a copy that size is bound by the stores a core
/// retires per cycle: the widest stores make the fewest. A call to memcpy spends a good part of
/// so short a copy choosing its strategy, and `rep movs` has a start-up cost of its own, so the
/// loop is written out. Whether the CPU has AVX is asked once per take-over of a shared stack
/// (`Control::take_over`), which is compiled twice, so that the copy inlines into it.
///
/// # Safety
///
/// `src_end - len .. src_end` readable, `dst_end - len .. dst_end` writable, not overlapping;
/// both ends 32-aligned; `len` a multiple of 8; `AVX` only where the CPU has AVX.
#[inline(always)]
unsafe fn copy_frame<const AVX: bool>(src_end: *const u8, dst_end: *mut u8, len: usize) {
    debug_assert_eq!(len % 8, 0);
    debug_assert!(
        (src_end as usize).is_multiple_of(GRAIN) && (dst_end as usize).is_multiple_of(GRAIN)
    );
    #[cfg(target_arch = "x86_64")]
    {
        if AVX {
            // SAFETY: the caller's contract (AVX is present).
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
    let (mut s, mut d) = (src_end, dst_end);
    let whole = len & !15;
    let mut left = whole;
    while left != 0 {
        // SAFETY: `s - 16 .. s` and `d - 16 .. d` lie inside both ranges, 16-aligned.
        unsafe {
            s = s.sub(16);
            d = d.sub(16);
            _mm_store_si128(d.cast::<__m128i>(), _mm_load_si128(s.cast::<__m128i>()));
        }
        left -= 16;
    }
    // SAFETY: the last 0 or 8 bytes lie inside both ranges, 8-aligned.
    unsafe { copy_tail_words(s, d, len - whole) };
}

/// [`copy_frame`] with AVX.
///
/// # Safety
///
/// As for [`copy_frame`]; the CPU must support AVX.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
#[inline]
unsafe fn copy_frame_avx(src_end: *const u8, dst_end: *mut u8, len: usize) {
    use std::arch::x86_64::{__m256i, _mm256_load_si256, _mm256_store_si256};
    let (mut s, mut d) = (src_end, dst_end);
    let whole = len & !31;
    // Two 32-byte chunks a round, then one: a frame is a few hundred bytes, and a loop of one
    // chunk spends a large share of its instructions on its own control.
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
/// 8-byte moves: left to itself, it merges them into wider loads, which then wait for the
/// stores.
///
/// # Safety
///
/// `s - tail .. s` must be readable and `d - tail .. d` writable, both 8-aligned.
#[cfg(target_arch = "x86_64")]
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
    use super::{FRAMES_END, SaveBuf};

    /// A stand-in for the top of a shared stack: 1 KiB, its end 32-aligned like a real top.
    #[repr(align(32))]
    struct Stack([u64; 128]);

    impl Stack {
        fn top(&self) -> usize {
            self.0.as_ptr() as usize + size_of::<Stack>()
        }

        fn limit(&self) -> usize {
            self.0.as_ptr() as usize
        }
    }

    #[test]
    fn every_length_round_trips_and_stays_inside_the_frames() {
        round_trips::<false>();
    }

    /// The 32-byte copies that `Control::take_over` uses where the CPU has AVX, checked the
    /// same way (on a CPU without AVX there is nothing to check).
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn every_length_round_trips_with_avx_moves() {
        if std::is_x86_feature_detected!("avx") {
            round_trips::<true>();
        }
    }

    /// Saves and restores frames of every length from 0 to 120 words, with `AVX` moves or not
    /// (`AVX` only where the CPU has AVX).
    fn round_trips<const AVX: bool>() {
        let mut src = Stack([0; 128]);
        for (i, w) in src.0.iter_mut().enumerate() {
            *w = 0x1000 + i as u64;
        }
        let buf = SaveBuf::new();
        let end_word = 128 - FRAMES_END / 8;
        // Growing by one word at a time, then shrinking, then jumping around: every frame must
        // come back intact, with the word above it, and nothing else may be written.
        let lens = (0..=120)
            .chain((0..=120).rev())
            .chain([1, 100, 2, 64, 72, 1, 120]);
        for words in lens {
            let sp = src.top() - FRAMES_END - words * 8;
            // SAFETY: `sp .. top` lies inside `src`, 8-aligned; the buffer is separate; `AVX`
            // only where the CPU has AVX (the callers).
            unsafe { buf.save_frame::<AVX>(src.top(), src.limit(), sp) };
            let mut dst = Stack([0; 128]);
            let dst_top = dst.0.as_mut_ptr() as usize + size_of::<Stack>();
            // SAFETY: the frames go below `dst`'s top, inside it; `AVX` as above.
            unsafe { buf.restore_frame::<AVX>(dst_top, dst_top - size_of::<Stack>()) };
            let first = end_word - words;
            assert_eq!(
                dst.0[first..=end_word],
                src.0[first..=end_word],
                "{words} words"
            );
            assert!(
                dst.0[..first].iter().all(|&w| w == 0),
                "wrote below the frame at {words} words"
            );
            assert!(
                dst.0[end_word + 1..].iter().all(|&w| w == 0),
                "wrote the bootstrap words at {words} words"
            );
        }
    }

    #[test]
    #[should_panic(expected = "is not on its shared stack")]
    fn a_stack_pointer_below_the_stack_is_refused_in_every_build() {
        let src = Stack([0; 128]);
        let buf = SaveBuf::new();
        // SAFETY: (test) `save_frame` must refuse before it reads anything.
        unsafe { buf.save_frame::<false>(src.top(), src.limit(), src.limit() - 8) };
    }

    #[test]
    #[should_panic(expected = "is not on its shared stack")]
    fn a_stack_pointer_above_the_frames_is_refused_in_every_build() {
        let src = Stack([0; 128]);
        let buf = SaveBuf::new();
        // SAFETY: (test) `save_frame` must refuse before it reads anything.
        unsafe { buf.save_frame::<false>(src.top(), src.limit(), src.top() - 16) };
    }

    #[test]
    #[should_panic(expected = "do not fit below the top of its shared stack")]
    fn frames_that_do_not_fit_the_stack_are_not_restored() {
        let src = Stack([0; 128]);
        let buf = SaveBuf::new();
        // SAFETY: (test) 100 words of frames inside `src`.
        unsafe { buf.save_frame::<false>(src.top(), src.limit(), src.top() - FRAMES_END - 800) };
        let mut dst = Stack([0; 128]);
        let dst_top = dst.0.as_mut_ptr() as usize + size_of::<Stack>();
        // SAFETY: (test) a "stack" of 256 bytes cannot take 800 bytes of frames: refused
        // before anything is written.
        unsafe { buf.restore_frame::<false>(dst_top, dst_top - 256) };
    }
}
