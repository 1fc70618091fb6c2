//! The per-thread pool of idle stack mappings, so that creating a coroutine costs no system
//! call in steady state.

use std::cell::{Cell, UnsafeCell};

/// How many idle stacks a thread keeps. 64 stacks of the default 128 KiB are 8 MiB of address
/// space, and only the pages they touched count in RSS.
const POOL_CAPACITY: usize = 64;

/// An idle stack: the top of its span and its usable size (see [`super::OwnedStack`]).
#[derive(Clone, Copy, Debug)]
pub(super) struct Mapping {
    pub(super) top: usize,
    pub(super) size: usize,
}

impl Mapping {
    pub(super) fn unmap(self) {
        #[cfg(feature = "valgrind")]
        super::valgrind::deregister(self.top);
        // SAFETY: every Mapping comes from an OwnedStack that owned this span and gave it up.
        unsafe { super::region::release(self.top, super::owned::span_of(self.size)) };
        super::budget::release();
    }
}

struct Pool {
    idle: Vec<Mapping>,
}

impl Drop for Pool {
    fn drop(&mut self) {
        POOL_LIVE.set(false);
        let last = LAST.replace(EMPTY);
        if last.size != 0 {
            last.unmap();
        }
        for m in self.idle.drain(..) {
            m.unmap();
        }
    }
}

const EMPTY: Mapping = Mapping { top: 0, size: 0 };

thread_local! {
    // UnsafeCell, not RefCell: `take` and `give` never call back into the pool, so a borrow
    // flag would only cost a store and a load on every coroutine created.
    static POOL: UnsafeCell<Pool> = const { UnsafeCell::new(Pool { idle: Vec::new() }) };
    /// The mapping given back last, taken first: creating and dropping coroutines in a loop
    /// then touches only this word (no destructor state to check, no Vec).
    static LAST: Cell<Mapping> = const { Cell::new(EMPTY) };
    /// Whether `POOL` is alive (its destructor, which also unmaps `LAST`, is registered).
    static POOL_LIVE: Cell<bool> = const { Cell::new(false) };
}

/// Takes the fast slot `LAST` if it holds a stack of `size` usable bytes.
#[inline]
pub(super) fn take_last(size: usize) -> Option<Mapping> {
    LAST.with(|slot| {
        let last = slot.get();
        (last.size == size).then(|| slot.replace(EMPTY))
    })
}

/// Takes an idle stack of exactly `size` usable bytes, if the pool has one.
pub(super) fn take(size: usize) -> Option<Mapping> {
    if let Some(last) = take_last(size) {
        return Some(last);
    }
    POOL.try_with(|pool| {
        // SAFETY: this thread's pool; no other reference to it is live (see POOL).
        let pool = unsafe { &mut *pool.get() };
        let i = pool.idle.iter().rposition(|m| m.size == size)?;
        Some(pool.idle.swap_remove(i))
    })
    .ok()
    .flatten()
}

/// Hands a mapping back; unmaps it when the pool is full or the thread is exiting.
#[inline]
pub(super) fn give(m: Mapping) {
    if POOL_LIVE.get() {
        let last = LAST.replace(m);
        if last.size == 0 {
            return;
        }
        give_to_pool(last);
    } else {
        give_to_pool(m);
    }
}

#[inline(never)]
fn give_to_pool(m: Mapping) {
    let kept = POOL
        .try_with(|pool| {
            // SAFETY: this thread's pool; no other reference to it is live (see POOL).
            let pool = unsafe { &mut *pool.get() };
            POOL_LIVE.set(true);
            if pool.idle.len() < POOL_CAPACITY {
                pool.idle.push(m);
                true
            } else {
                false
            }
        })
        .unwrap_or(false);
    if !kept {
        m.unmap();
    }
}
