//! The per-thread size-class slab that shared-stack save buffers come from (see `save.rs`).
//!
//! A save buffer is [`GRAIN`]-aligned and a whole number of grains long, with no allocator
//! header in front of it: the frames it holds end on a grain boundary, as they do on the stack,
//! so the copies on each switch of occupant use aligned 32-byte moves on both sides, and a
//! parked coroutine's buffer costs its frames rounded up to a grain, not a malloc chunk.
//!
//! Each thread keeps one free list per size class (buffers up to [`MAX_SLAB`] bytes) and carves
//! new buffers from [`CHUNK`]-byte chunks it takes from the system allocator; freed buffers go on
//! their class's list and are never returned to the system while the thread runs. Bigger
//! buffers come from the system allocator directly (see [`Buf::SYSTEM`]).
//!
//! Threads and their exit. A buffer belongs to the control block of a coroutine, which is not
//! `Send`: it is taken and given back on the same thread, so the slab needs no lock, and a
//! buffer is never freed on another thread. When the thread exits, its slab is dropped with the
//! other thread-locals: if no buffer is out, its chunks go back to the system allocator; if some
//! are (a coroutine kept in another thread-local, dropped after the slab), the chunks are left
//! allocated, so those buffers stay valid, and a buffer freed after that is dropped on the floor
//! with them (the memory of a thread that is going away). A buffer asked for after the slab is
//! gone comes from the system allocator.

use std::alloc::{self, Layout};
use std::cell::UnsafeCell;
use std::ptr;

/// The alignment and granularity of save buffers: one AVX move.
pub(super) const GRAIN: usize = 32;

/// The largest buffer the slab keeps; bigger ones come from the system allocator.
const MAX_SLAB: usize = 8192;

/// The classes: one per grain multiple up to [`MAX_SLAB`].
const CLASSES: usize = MAX_SLAB / GRAIN;

/// The bytes the slab takes from the system allocator at a time.
const CHUNK: usize = 64 * 1024;

/// A buffer the slab handed out: its address and its capacity in bytes (a multiple of
/// [`GRAIN`]), with [`Buf::SYSTEM`] set when it came from the system allocator.
#[derive(Debug, Clone, Copy)]
pub(super) struct Buf {
    pub(super) ptr: *mut u8,
    pub(super) cap: u32,
}

impl Buf {
    /// The bit of `cap` that marks a buffer of the system allocator.
    pub(super) const SYSTEM: u32 = 1 << 31;
}

struct Slab {
    /// The first free buffer of each class (each free buffer's first word points at the next).
    free: [*mut u8; CLASSES],
    /// Where the current chunk's unused part starts and ends.
    bump: *mut u8,
    end: *mut u8,
    /// Every chunk taken from the system allocator.
    chunks: Vec<*mut u8>,
    /// Buffers handed out and not given back.
    out: usize,
}

thread_local! {
    // UnsafeCell: `take` and `give` never call back into the slab.
    static SLAB: UnsafeCell<Slab> = const {
        UnsafeCell::new(Slab {
            free: [ptr::null_mut(); CLASSES],
            bump: ptr::null_mut(),
            end: ptr::null_mut(),
            chunks: Vec::new(),
            out: 0,
        })
    };
}

fn chunk_layout() -> Layout {
    Layout::from_size_align(CHUNK, GRAIN).expect("chunk layout")
}

/// A buffer of at least `need` bytes (`need` > 0; at most `u32::MAX / 2`).
pub(super) fn take(need: usize) -> Buf {
    let cap = need.next_multiple_of(GRAIN);
    if cap <= MAX_SLAB
        && let Ok(Some(p)) = SLAB.try_with(|s| {
            // SAFETY: this thread's slab; nothing else borrows it while this runs.
            let s = unsafe { &mut *s.get() };
            s.take(cap)
        })
    {
        return Buf {
            ptr: p,
            cap: cap as u32,
        };
    }
    let layout = Layout::from_size_align(cap, GRAIN).expect("save buffer layout");
    // SAFETY: the layout has a non-zero size.
    let p = unsafe { alloc::alloc(layout) };
    if p.is_null() {
        alloc::handle_alloc_error(layout);
    }
    Buf {
        ptr: p,
        cap: cap as u32 | Buf::SYSTEM,
    }
}

/// Gives back a buffer [`take`] handed out on this thread.
///
/// # Safety
///
/// `buf` must come from [`take`] on this thread, and not be used afterwards.
pub(super) unsafe fn give(buf: Buf) {
    let cap = (buf.cap & !Buf::SYSTEM) as usize;
    if buf.cap & Buf::SYSTEM != 0 {
        let layout = Layout::from_size_align(cap, GRAIN).expect("save buffer layout");
        // SAFETY: `take` allocated it with this layout (the caller's contract).
        unsafe { alloc::dealloc(buf.ptr, layout) };
        return;
    }
    // After the slab is gone, the buffer stays where it is, in a chunk left allocated.
    let _ = SLAB.try_with(|s| {
        // SAFETY: as in `take`; the buffer is one of this slab's (the caller's contract).
        unsafe { (*s.get()).give(buf.ptr, cap) }
    });
}

impl Slab {
    fn take(&mut self, cap: usize) -> Option<*mut u8> {
        let class = cap / GRAIN - 1;
        let head = self.free[class];
        let p = if !head.is_null() {
            // SAFETY: a free buffer's first word holds the next free one (see `give`).
            self.free[class] = unsafe { head.cast::<*mut u8>().read() };
            head
        } else {
            if (self.end as usize) - (self.bump as usize) < cap {
                self.refill()?;
            }
            let p = self.bump;
            // SAFETY: `cap` bytes are left in the chunk (checked just above).
            self.bump = unsafe { p.add(cap) };
            p
        };
        self.out += 1;
        Some(p)
    }

    /// A new chunk to carve buffers from. What was left of the old one is given to the free
    /// lists, a grain multiple at a time, from the largest class that fits.
    #[cold]
    fn refill(&mut self) -> Option<()> {
        let mut left = (self.end as usize) - (self.bump as usize);
        while left >= GRAIN {
            let size = left.min(MAX_SLAB);
            let p = self.bump;
            // SAFETY: `size` bytes are left in the chunk.
            self.bump = unsafe { p.add(size) };
            // SAFETY: `p` is an unused, aligned buffer of `size` bytes of this slab.
            unsafe { self.give(p, size) };
            self.out += 1; // `give` counted it as given back; it never was out.
            left -= size;
        }
        // SAFETY: the layout has a non-zero size.
        let p = unsafe { alloc::alloc(chunk_layout()) };
        if p.is_null() {
            return None;
        }
        self.chunks.push(p);
        self.bump = p;
        // SAFETY: the chunk is CHUNK bytes long.
        self.end = unsafe { p.add(CHUNK) };
        Some(())
    }

    /// # Safety
    ///
    /// `p` must be a buffer of `cap` bytes of this slab, not in use.
    unsafe fn give(&mut self, p: *mut u8, cap: usize) {
        let class = cap / GRAIN - 1;
        // SAFETY: the buffer is at least a grain long and aligned; its first word is ours.
        unsafe { p.cast::<*mut u8>().write(self.free[class]) };
        self.free[class] = p;
        self.out -= 1;
    }
}

impl Drop for Slab {
    fn drop(&mut self) {
        if self.out != 0 {
            // Buffers are still out (see the module docs): their chunks stay allocated.
            return;
        }
        for &p in &self.chunks {
            // SAFETY: every chunk was allocated by `refill` with this layout, and none of its
            // buffers is in use.
            unsafe { alloc::dealloc(p, chunk_layout()) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Buf, GRAIN, MAX_SLAB, give, take};

    #[test]
    fn buffers_are_aligned_grain_multiples_and_reused() {
        let a = take(40);
        assert_eq!(a.cap, 64);
        assert_eq!(a.ptr as usize % GRAIN, 0);
        let b = take(64);
        assert_eq!(b.cap, 64);
        assert_ne!(a.ptr, b.ptr);
        // SAFETY: (test) both came from `take` on this thread and are not used again.
        unsafe { give(a) };
        let c = take(33);
        assert_eq!(c.ptr, a.ptr, "the freed buffer of the class is taken first");
        // SAFETY: as above.
        unsafe {
            give(b);
            give(c);
        }
    }

    #[test]
    fn big_buffers_come_from_the_system_allocator() {
        let big = take(MAX_SLAB + 1);
        assert_ne!(big.cap & Buf::SYSTEM, 0);
        assert_eq!((big.cap & !Buf::SYSTEM) as usize, MAX_SLAB + GRAIN);
        assert_eq!(big.ptr as usize % GRAIN, 0);
        // SAFETY: (test) from `take` on this thread, not used again.
        unsafe { give(big) };
    }

    #[test]
    fn many_buffers_of_every_class_do_not_overlap() {
        let mut bufs: Vec<Buf> = (1..=600).map(|i| take(i * 24 % 9000 + 1)).collect();
        for (i, b) in bufs.iter().enumerate() {
            let cap = (b.cap & !Buf::SYSTEM) as usize;
            // SAFETY: (test) each buffer is `cap` bytes of ours.
            unsafe { std::ptr::write_bytes(b.ptr, i as u8, cap) };
        }
        for (i, b) in bufs.iter().enumerate() {
            let cap = (b.cap & !Buf::SYSTEM) as usize;
            // SAFETY: as above.
            let s = unsafe { std::slice::from_raw_parts(b.ptr, cap) };
            assert!(
                s.iter().all(|&x| x == i as u8),
                "buffer {i} was overwritten"
            );
        }
        for b in bufs.drain(..) {
            // SAFETY: (test) from `take` on this thread, not used again.
            unsafe { give(b) };
        }
    }

    #[test]
    fn a_thread_may_exit_with_buffers_out() {
        std::thread::spawn(|| {
            // Given back by no one: the thread's slab is dropped with it out, and keeps its
            // chunk rather than freeing memory in use.
            let kept = take(100);
            // SAFETY: (test) the buffer is ours.
            unsafe { kept.ptr.write(1) };
        })
        .join()
        .unwrap();
    }
}
