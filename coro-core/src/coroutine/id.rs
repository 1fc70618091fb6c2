//! Coroutine ids: unique in the process, never 0, handed out by each thread from blocks it
//! reserves from a process-wide counter (so that making a coroutine takes no atomic
//! operation), and kept in a control block as a 48-bit [`Id`].

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

/// A coroutine id as its control block keeps it: 48 bits in six bytes, aligned to two.
///
/// The control block's first word after the saved stack pointer holds the one-byte state and
/// the one-byte outcome tag; six bytes are left, and a 48-bit id fills them. A `u64` id would
/// take a word of its own, and every control block would grow by eight bytes (sixteen, once the
/// allocator rounds a suspended shared-stack coroutine's heap block up). The id is written once,
/// when the block is made ([`Id::next`]), and read through [`Id::get`]; nothing else touches it.
#[derive(Clone, Copy)]
#[repr(C, packed(2))]
pub(super) struct Id {
    /// Bits 0 to 15.
    lo: u16,
    /// Bits 16 to 47.
    hi: u32,
}

impl Id {
    /// The next id of this thread.
    ///
    /// # Panics
    ///
    /// When the process has handed out all of its ids (see [`MAX_ID`]).
    #[inline]
    pub(super) fn next() -> Id {
        IDS.with(|ids| {
            let (mut next, mut end) = ids.get();
            if next == end {
                (next, end) = reserve_block();
            }
            ids.set((next + 1, end));
            Id::pack(next)
        })
    }

    /// `id`, at most [`MAX_ID`], in six bytes.
    #[inline]
    fn pack(id: u64) -> Id {
        debug_assert!(id <= MAX_ID);
        Id {
            lo: id as u16,
            hi: (id >> 16) as u32,
        }
    }

    /// The id as a number.
    #[inline]
    pub(super) fn get(self) -> u64 {
        u64::from(self.hi) << 16 | u64::from(self.lo)
    }
}

/// The largest id: ids take 48 bits, 2.8 * 10^14 of them, a million coroutines a second for
/// nine years. Past it, making a coroutine panics rather than reuse an id.
pub(super) const MAX_ID: u64 = (1 << 48) - 1;

thread_local! {
    /// The next id this thread hands out, and the end of its reserved block.
    static IDS: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
}

/// How many ids a thread reserves at a time.
const ID_BLOCK: u64 = 1 << 16;

/// The first id of the next block to reserve.
static NEXT_ID_BLOCK: AtomicU64 = AtomicU64::new(1);

/// Reserves the next block of ids for this thread.
#[cold]
fn reserve_block() -> (u64, u64) {
    let next = NEXT_ID_BLOCK.fetch_add(ID_BLOCK, Ordering::Relaxed);
    assert!(
        next + ID_BLOCK - 1 <= MAX_ID,
        "coro has handed out all of its 2^48 coroutine ids; a process cannot make more coroutines"
    );
    (next, next + ID_BLOCK)
}

const _: () = assert!(size_of::<Id>() == 6 && align_of::<Id>() == 2);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_survive_packing() {
        for id in [1, 0xff, 0x1_0000, 0x1234_5678_9abc, MAX_ID - 1, MAX_ID] {
            assert_eq!(Id::pack(id).get(), id, "{id:#x}");
        }
    }

    #[test]
    fn ids_are_unique_and_never_zero() {
        let a = Id::next().get();
        let b = Id::next().get();
        assert!(a != 0 && b != 0 && a != b);
        let other = std::thread::spawn(|| Id::next().get()).join().unwrap();
        assert!(other != a && other != b);
    }
}
