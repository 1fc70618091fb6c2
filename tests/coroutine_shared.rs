//! Coroutines on shared (copy) stacks: frames survive eviction byte for byte, busy stacks are
//! an error, drop unwinds evicted frames.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use coro::{Coroutine, CoroutineResult, Error, SharedStack};

/// `Coroutine::with_shared_stack` for this file's bodies.
fn on_shared<I: 'static, Y: 'static, R: 'static, F>(stack: &SharedStack, f: F) -> Coroutine<I, Y, R>
where
    F: FnOnce(&coro::Yielder<I, Y>, I) -> R + 'static,
{
    // SAFETY: no body in this file lets anything use a reference into its stack while it is
    // suspended (they lend no locals to threads or thread-locals).
    unsafe { Coroutine::with_shared_stack(stack, f) }
}

/// A cheap checksum of a buffer that lives on the coroutine's stack.
fn checksum(buf: &[u64]) -> u64 {
    buf.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &w| {
        (h ^ w).wrapping_mul(0x100_0000_01b3)
    })
}

#[test]
fn thousand_coroutines_on_two_shared_stacks_keep_their_frames() {
    let stacks = [
        SharedStack::new(64 * 1024).unwrap(),
        SharedStack::new(64 * 1024).unwrap(),
    ];
    const ROUNDS: u64 = 20;
    let mut cos: Vec<Coroutine<(), u64, u64>> = (0..1000u64)
        .map(|i| {
            on_shared(&stacks[(i % 2) as usize], move |y, ()| {
                // A frame of varying size with contents unique to this coroutine.
                let len = 8 + (i % 40) as usize;
                let mut frame = [0u64; 48];
                for (k, w) in frame.iter_mut().enumerate().take(len) {
                    *w = i.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ k as u64;
                }
                let expect = checksum(&frame[..len]);
                for round in 0..ROUNDS {
                    y.suspend(round);
                    // Every other coroutine has run on this stack since; our bytes must be back.
                    assert_eq!(
                        checksum(std::hint::black_box(&frame[..len])),
                        expect,
                        "coroutine {i} round {round}"
                    );
                }
                expect
            })
        })
        .collect();
    for round in 0..ROUNDS {
        for co in cos.iter_mut() {
            assert_eq!(co.resume(()).unwrap(), CoroutineResult::Yield(round));
        }
    }
    for co in cos.iter_mut() {
        assert!(matches!(co.resume(()).unwrap(), CoroutineResult::Return(_)));
    }
}

#[test]
fn resuming_onto_a_stack_busy_with_the_resume_chain_is_an_error() {
    let stack = SharedStack::new(64 * 1024).unwrap();
    let s2 = stack.clone();
    let mut outer = on_shared::<(), (), String, _>(&stack, move |_, ()| {
        let mut inner = on_shared::<(), (), (), _>(&s2, |_, ()| {});
        match inner.resume(()) {
            Err(e @ Error::SharedStackBusy { .. }) => e.to_string(),
            other => format!("unexpected: {other:?}"),
        }
    });
    let msg = outer.resume(()).unwrap().as_return().unwrap();
    assert!(msg.contains("cannot be resumed"), "{msg}");
}

#[test]
fn nested_coroutines_on_different_shared_stacks_work() {
    let a = SharedStack::new(64 * 1024).unwrap();
    let b = SharedStack::new(64 * 1024).unwrap();
    let mut outer = on_shared::<(), u32, u32, _>(&a, move |y, ()| {
        let mut inner = on_shared::<(), u32, u32, _>(&b, |y, ()| {
            y.suspend(1);
            2
        });
        let first = inner.resume(()).unwrap().as_yield().unwrap();
        y.suspend(first);
        inner.resume(()).unwrap().as_return().unwrap() + 40
    });
    assert_eq!(outer.resume(()).unwrap(), CoroutineResult::Yield(1));
    assert_eq!(outer.resume(()).unwrap(), CoroutineResult::Return(42));
}

struct Counted(Rc<Cell<u32>>);
impl Drop for Counted {
    fn drop(&mut self) {
        self.0.set(self.0.get() + 1);
    }
}

#[test]
fn dropping_an_evicted_coroutine_restores_then_unwinds_its_frames() {
    let stack = SharedStack::new(64 * 1024).unwrap();
    let drops = Rc::new(Cell::new(0));
    let log = Rc::new(RefCell::new(Vec::new()));
    let mut cos: Vec<_> = (0..10)
        .map(|i| {
            let d = drops.clone();
            let log = log.clone();
            on_shared::<(), (), (), _>(&stack, move |y, ()| {
                let _guard = Counted(d);
                let local = [i as u8; 100];
                y.suspend(());
                log.borrow_mut().push(local[99]);
            })
        })
        .collect();
    for co in cos.iter_mut() {
        co.resume(()).unwrap();
    }
    // Only the last one's frames are on the stack; the other nine are evicted.
    cos.truncate(5);
    assert_eq!(drops.get(), 5);
    for co in cos.iter_mut() {
        co.resume(()).unwrap();
    }
    assert_eq!(*log.borrow(), vec![0, 1, 2, 3, 4]);
    drop(cos);
    assert_eq!(drops.get(), 10);
}

#[test]
fn shared_and_owned_coroutines_interleave() {
    let stack = SharedStack::new(32 * 1024).unwrap();
    let mut a = on_shared::<u32, u32, (), _>(&stack, |y, mut v| {
        loop {
            v = y.suspend(v + 1);
        }
    });
    let mut b = Coroutine::<u32, u32, ()>::new(|y, mut v| {
        loop {
            v = y.suspend(v * 2);
        }
    });
    let mut c = on_shared::<u32, u32, (), _>(&stack, |y, mut v| {
        loop {
            v = y.suspend(v + 100);
        }
    });
    let mut v = 1;
    for _ in 0..100 {
        v = a.resume(v).unwrap().as_yield().unwrap() % 1000;
        v = b.resume(v).unwrap().as_yield().unwrap() % 1000;
        v = c.resume(v).unwrap().as_yield().unwrap() % 1000;
    }
    let mut w = 1;
    for _ in 0..100 {
        w = ((w + 1) * 2 % 1000 + 100) % 1000;
    }
    assert_eq!(v, w);
}

#[test]
fn backtraces_and_panics_work_in_a_restored_coroutine() {
    // The top words of a shared stack (the bootstrap frame) are not saved with a coroutine's
    // frames: whoever started there last left them, and only the trampoline's return address
    // among them is ever read again, by unwinders, and it is the same for every coroutine.
    // Walking the stack of a coroutine whose frames were evicted and put back must work.
    let stack = SharedStack::new(64 * 1024).unwrap();
    let make = |tag: u32| {
        on_shared::<(), usize, u32, _>(&stack, move |y, ()| {
            y.suspend(0);
            let trace = std::backtrace::Backtrace::force_capture().to_string();
            y.suspend(
                trace
                    .lines()
                    .filter(|l| l.contains("coroutine_shared"))
                    .count(),
            );
            let caught = std::panic::catch_unwind(|| panic!("tag {tag}"));
            assert!(caught.is_err());
            tag
        })
    };
    let (mut a, mut b) = (make(1), make(2));
    a.resume(()).unwrap();
    b.resume(()).unwrap(); // evicts a, whose bootstrap words b's start overwrote
    let ours = a.resume(()).unwrap().as_yield().unwrap(); // a's frames put back
    assert!(ours > 0, "the backtrace names this test's closure");
    b.resume(()).unwrap();
    assert_eq!(a.resume(()).unwrap(), CoroutineResult::Return(1));
    assert_eq!(b.resume(()).unwrap(), CoroutineResult::Return(2));
}

#[test]
fn a_shared_stack_made_from_a_recycled_stack_starts_with_no_occupant() {
    // The region table is the record of a shared stack's occupant. A stack from the pool still
    // names the owned coroutine that ran on it last (long freed): the shared stack must start
    // empty, or the first resume would evict that dead coroutine.
    let mut owned = Coroutine::<(), (), u32>::with_stack_size(64 * 1024, |_, ()| 1).unwrap();
    assert_eq!(owned.resume(()).unwrap(), CoroutineResult::Return(1));
    drop(owned); // its stack goes back to this thread's pool
    let stack = SharedStack::new(64 * 1024).unwrap(); // and comes back out here
    let mut a = on_shared::<(), (), u32, _>(&stack, |y, ()| {
        y.suspend(());
        2
    });
    let mut b = on_shared::<(), (), u32, _>(&stack, |_, ()| 3);
    a.resume(()).unwrap();
    assert_eq!(b.resume(()).unwrap(), CoroutineResult::Return(3));
    assert_eq!(a.resume(()).unwrap(), CoroutineResult::Return(2));
}
