//! One test for every bug fixed, named after the bug, so that it stays fixed.

use coro::{Coroutine, CoroutineResult, SharedStack};

/// `Coroutine::with_shared_stack` for this file's bodies.
fn on_shared<I: 'static, Y: 'static, R: 'static, F>(stack: &SharedStack, f: F) -> Coroutine<I, Y, R>
where
    F: FnOnce(&coro::Yielder<I, Y>, I) -> R + 'static,
{
    // SAFETY: no body in this file lets anything use a reference into its stack while it is
    // suspended (they lend no locals to threads or thread-locals).
    unsafe { Coroutine::with_shared_stack(stack, f) }
}

#[test]
fn frames_that_grow_and_shrink_between_suspensions_survive() {
    // A save buffer sized for one suspension was reused for a frame up to 16 bytes deeper than
    // its usable room (its 32-byte-aligned end leaves up to 16 bytes of slack unused): the copy
    // overran the allocation ("double free or corruption" in sync_shared_stacks). The unit test
    // `every_length_round_trips_and_stays_inside_the_buffer` in save.rs pins the exact lengths.
    fn dive(y: &coro::Yielder<(), u64>, depth: u32, seed: u64) -> u64 {
        let pad = std::hint::black_box([seed; 3]);
        if depth == 0 {
            y.suspend(seed);
            pad[2]
        } else {
            pad[0] + dive(y, depth - 1, seed) - seed
        }
    }
    let stack = SharedStack::new(256 * 1024).unwrap();
    let mut cos: Vec<Coroutine<(), u64, ()>> = (0..4u64)
        .map(|i| {
            on_shared(&stack, move |y, ()| {
                for round in 0..200u32 {
                    // Depths 0..40 in an irregular order: each suspension's frame differs by a
                    // few words from the last one.
                    let depth = (round * 7 + i as u32 * 3) % 41;
                    assert_eq!(
                        dive(y, depth, i * 1000 + round as u64),
                        i * 1000 + round as u64
                    );
                }
            })
        })
        .collect();
    for _ in 0..200 {
        for co in cos.iter_mut() {
            assert!(co.resume(()).unwrap().as_yield().is_some());
        }
    }
    for co in cos.iter_mut() {
        assert_eq!(co.resume(()).unwrap(), CoroutineResult::Return(()));
    }
}
