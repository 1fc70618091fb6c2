//! The per-thread pool of idle stack mappings, so that creating a coroutine costs no system
//! call in steady state.

use std::cell::{Cell, UnsafeCell};

/// How many idle stacks a thread keeps. 64 stacks of the default 128 KiB are 8 MiB of address
/// space, and only the pages they touched count in RSS.
const POOL_CAPACITY: usize = 64;

/// An idle mapping: its start (the guard page) and its length, guard included.
#[derive(Clone, Copy, Debug)]
pub(super) struct Mapping {
    pub(super) map: usize,
    pub(super) len: usize,
}

impl Mapping {
    pub(super) fn unmap(self) {
        // SAFETY: every Mapping comes from an OwnedStack that owned this mapping and gave it up.
        unsafe { crate::sys::unmap(self.map as *mut u8, self.len) };
    }
}

struct Pool {
    idle: Vec<Mapping>,
}

impl Drop for Pool {
    fn drop(&mut self) {
        POOL_LIVE.set(false);
        let last = LAST.replace(EMPTY);
        if last.len != 0 {
            last.unmap();
        }
        for m in self.idle.drain(..) {
            m.unmap();
        }
    }
}

const EMPTY: Mapping = Mapping { map: 0, len: 0 };

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

/// Takes the fast slot `LAST` if it holds a mapping of `len` bytes.
#[inline]
pub(super) fn take_last(len: usize) -> Option<Mapping> {
    LAST.with(|slot| {
        let last = slot.get();
        (last.len == len).then(|| slot.replace(EMPTY))
    })
}

/// Takes an idle mapping of exactly `len` bytes (guard included), if the pool has one.
pub(super) fn take(len: usize) -> Option<Mapping> {
    if let Some(last) = take_last(len) {
        return Some(last);
    }
    POOL.try_with(|pool| {
        // SAFETY: this thread's pool; no other reference to it is live (see POOL).
        let pool = unsafe { &mut *pool.get() };
        let i = pool.idle.iter().rposition(|m| m.len == len)?;
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
        if last.len == 0 {
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
