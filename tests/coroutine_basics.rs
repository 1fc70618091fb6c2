//! Behaviour of `Coroutine`: values both ways, nesting, recursion, panics, drop, misuse.

use std::cell::{Cell, RefCell};
use std::fmt::Debug;
use std::mem::ManuallyDrop;
use std::panic::{self, AssertUnwindSafe};
use std::rc::Rc;

use coro::{Coroutine, CoroutineResult, Error, OwnedStack, SharedStack, Stack};

#[test]
fn ping_pong_values_both_ways() {
    let mut co = Coroutine::new(|y, mut n: u64| {
        for _ in 0..1000 {
            n = y.suspend(n * 2);
        }
        format!("done at {n}")
    });
    for i in 0..1000u64 {
        assert_eq!(co.resume(i).unwrap(), CoroutineResult::Yield(i * 2));
    }
    assert_eq!(
        co.resume(7).unwrap(),
        CoroutineResult::Return("done at 7".to_string())
    );
    assert!(co.is_finished());
}

#[test]
fn three_deep_nesting() {
    let mut outer = Coroutine::new(|y1, ()| {
        let mut middle = Coroutine::new(|y2, ()| {
            let mut inner = Coroutine::new(|y3, ()| {
                y3.suspend(1);
                y3.suspend(2);
                3
            });
            let mut got = Vec::new();
            while let CoroutineResult::Yield(v) = inner.resume(()).unwrap() {
                got.push(v);
                y2.suspend(v * 10);
            }
            got.len() as i32 * 100
        });
        let mut sum = 0;
        loop {
            match middle.resume(()).unwrap() {
                CoroutineResult::Yield(v) => {
                    sum += v;
                    y1.suspend(v);
                }
                CoroutineResult::Return(r) => return sum + r,
            }
        }
    });
    assert_eq!(outer.resume(()).unwrap(), CoroutineResult::Yield(10));
    assert_eq!(outer.resume(()).unwrap(), CoroutineResult::Yield(20));
    assert_eq!(outer.resume(()).unwrap(), CoroutineResult::Return(230));
}

fn depth(n: u64, pad: &mut [u8; 64]) -> u64 {
    pad[(n % 64) as usize] = n as u8;
    if n == 0 {
        std::hint::black_box(pad)[0] as u64
    } else {
        1 + depth(n - 1, std::hint::black_box(pad))
    }
}

#[test]
fn deep_recursion_that_fits() {
    // About 100 bytes a frame in release, more in debug: 500 levels fit 1 MiB comfortably.
    let mut co = Coroutine::<(), (), u64>::with_stack_size(1 << 20, |_, ()| {
        let mut pad = [0u8; 64];
        depth(500, &mut pad)
    })
    .unwrap();
    assert!(matches!(co.resume(()).unwrap(), CoroutineResult::Return(n) if n >= 500));
}

#[test]
fn panic_reaches_the_resumer_with_its_payload() {
    let mut co = Coroutine::<(), (), ()>::new(|y, ()| {
        y.suspend(());
        std::panic::panic_any(42u32);
    });
    co.resume(()).unwrap();
    let err = panic::catch_unwind(AssertUnwindSafe(|| co.resume(()))).unwrap_err();
    assert_eq!(err.downcast_ref::<u32>(), Some(&42));
    assert!(co.is_finished());
    assert!(matches!(co.resume(()), Err(Error::Finished)));
}

struct Counted(Rc<Cell<u32>>);
impl Drop for Counted {
    fn drop(&mut self) {
        self.0.set(self.0.get() + 1);
    }
}

#[test]
fn dropping_a_suspended_coroutine_runs_destructors() {
    let drops = Rc::new(Cell::new(0));
    let d = drops.clone();
    let mut co = Coroutine::<(), (), ()>::new(move |y, ()| {
        let _a = Counted(d.clone());
        let _b = Counted(d.clone());
        let nested = || {
            let _c = Counted(d.clone());
            y.suspend(());
            unreachable!("a dropped coroutine never continues");
        };
        nested();
    });
    co.resume(()).unwrap();
    assert_eq!(drops.get(), 0);
    drop(co);
    // _a, _b, _c, and the captured `d` itself.
    assert_eq!(drops.get(), 3);
    assert_eq!(Rc::strong_count(&drops), 1);
}

#[test]
fn dropping_a_fresh_coroutine_drops_its_closure() {
    let drops = Rc::new(Cell::new(0));
    let c = Counted(drops.clone());
    let co = Coroutine::<(), (), ()>::new(move |_, ()| drop(c));
    drop(co);
    assert_eq!(drops.get(), 1);
}

#[test]
fn resume_after_finish_is_an_error() {
    let mut co = Coroutine::<(), (), u8>::new(|_, ()| 5);
    assert_eq!(co.resume(()).unwrap(), CoroutineResult::Return(5));
    let err = co.resume(()).unwrap_err();
    assert!(matches!(err, Error::Finished));
    assert!(err.to_string().contains("already finished"));
}

#[test]
fn owned_stacks_are_recycled_through_the_pool() {
    let a = OwnedStack::new(64 * 1024).unwrap();
    let base = a.base();
    drop(a);
    let b = OwnedStack::new(64 * 1024).unwrap();
    assert_eq!(
        b.base(),
        base,
        "the dropped stack should come back from the pool"
    );
    assert_eq!(b.size(), 64 * 1024);
    assert_eq!(
        OwnedStack::new(5000).unwrap().size(),
        8192,
        "sizes round up to pages"
    );
}

#[test]
fn ids_are_unique_and_current_id_tracks_nesting() {
    assert_eq!(coro::current_id(), None);
    let mut outer = Coroutine::<(), (), (u64, u64, u64)>::new(|_, ()| {
        let me = coro::current_id().unwrap();
        let mut inner = Coroutine::<(), (), u64>::new(|_, ()| coro::current_id().unwrap());
        let inner_id = inner.resume(()).unwrap().as_return().unwrap();
        (me, inner_id, coro::current_id().unwrap())
    });
    let id = outer.id();
    let (me, inner, after) = outer.resume(()).unwrap().as_return().unwrap();
    assert_eq!(me, id);
    assert_ne!(inner, id);
    assert_eq!(after, id);
    assert_eq!(coro::current_id(), None);
}

/// Recurses until `depth` bytes of stack lie above it, then asks who is running.
#[inline(never)]
fn id_at_depth(top: usize, depth: usize) -> Option<u64> {
    let here = [0u8; 512];
    let at = std::hint::black_box(&here).as_ptr() as usize;
    if top - at >= depth {
        coro::current_id()
    } else {
        id_at_depth(top, depth)
    }
}

#[test]
fn current_id_is_right_anywhere_on_a_stack_bigger_than_a_region() {
    // The running coroutine is found by the region of the stack pointer (16 MiB regions); a
    // 40 MiB stack spans three of them, and code 20 MiB down its stack must still be seen as
    // that coroutine.
    let stack = OwnedStack::new(40 << 20).unwrap();
    let mut co =
        Coroutine::<(), (), (u64, Option<u64>, Option<u64>)>::with_stack(stack, |y, ()| {
            let top = &y as *const _ as usize;
            let me = y.id();
            (me, id_at_depth(top, 1 << 10), id_at_depth(top, 20 << 20))
        });
    let (me, near, deep) = co.resume(()).unwrap().as_return().unwrap();
    assert_eq!(near, Some(me));
    assert_eq!(deep, Some(me), "20 MiB down the stack");
}

#[test]
fn current_id_follows_the_occupant_of_a_shared_stack() {
    let stack = SharedStack::new(64 * 1024).unwrap();
    let make = || {
        // SAFETY: the body lends no reference into its stack to anyone.
        unsafe {
            Coroutine::<(), Option<u64>, ()>::with_shared_stack(&stack, |y, ()| {
                for _ in 0..3 {
                    y.suspend(coro::current_id());
                }
            })
        }
    };
    let (mut a, mut b) = (make(), make());
    for _ in 0..3 {
        assert_eq!(a.resume(()).unwrap().as_yield().unwrap(), Some(a.id()));
        assert_eq!(b.resume(()).unwrap().as_yield().unwrap(), Some(b.id()));
    }
    assert_eq!(coro::current_id(), None);
}

#[test]
fn catch_unwind_inside_the_body_still_lets_a_drop_unwind() {
    let drops = Rc::new(Cell::new(0));
    let d = drops.clone();
    let mut co = Coroutine::<(), (), ()>::new(move |y, ()| {
        let _a = Counted(d);
        let r = panic::catch_unwind(AssertUnwindSafe(|| y.suspend(())));
        // A body that catches everything must re-raise what it does not own.
        if let Err(payload) = r {
            panic::resume_unwind(payload);
        }
    });
    co.resume(()).unwrap();
    drop(co);
    assert_eq!(drops.get(), 1);
}

#[test]
fn a_value_yielded_while_being_dropped_is_dropped_too() {
    let drops = Rc::new(Cell::new(0));
    let d = drops.clone();
    let mut co = Coroutine::<(), Counted, ()>::new(move |y, ()| {
        let first = panic::catch_unwind(AssertUnwindSafe(|| {
            y.suspend(Counted(d.clone()));
        }));
        if let Err(payload) = first {
            // A misbehaving body: it swallows the drop's unwind once and yields again.
            y.suspend(Counted(d.clone()));
            panic::resume_unwind(payload);
        }
    });
    drop(co.resume(()).unwrap());
    assert_eq!(drops.get(), 1);
    drop(co);
    assert_eq!(
        drops.get(),
        2,
        "the value yielded during the drop was dropped"
    );
    assert_eq!(Rc::strong_count(&drops), 1, "the body unwound in the end");
}

#[test]
fn current_id_is_right_on_stacks_that_other_threads_used_before() {
    // The region table is process-wide: a thread's stacks go back to the kernel when it exits,
    // and another thread may get the same addresses. Each coroutine must still be named right.
    for _ in 0..4 {
        std::thread::spawn(|| {
            let mut all: Vec<_> = (0..50)
                .map(|_| {
                    Coroutine::<(), Option<u64>, Option<u64>>::new(|y, ()| {
                        y.suspend(coro::current_id());
                        coro::current_id()
                    })
                })
                .collect();
            for co in &mut all {
                let id = co.id();
                assert_eq!(co.resume(()).unwrap(), CoroutineResult::Yield(Some(id)));
            }
            for co in &mut all {
                let id = co.id();
                assert_eq!(co.resume(()).unwrap(), CoroutineResult::Return(Some(id)));
            }
            assert_eq!(coro::current_id(), None);
        })
        .join()
        .unwrap();
    }
}

/// A second handle to the coroutine of `co`, to be kept in `ManuallyDrop` and never dropped.
///
/// Safe code cannot resume a coroutine that is running up the resume chain: `resume` borrows
/// the handle mutably while the coroutine runs, and a `RefCell` around the handle refuses a
/// second borrow before coro is asked. `Error::Running` guards against the unsafe code that can
/// (a raw pointer, a handle aliased like this), and these tests are that code.
///
/// # Safety
///
/// The alias must not outlive `co` nor be dropped. (A handle reaches its control block only
/// through shared references and cells, so two of them alias nothing that Rust forbids.)
unsafe fn alias<I, Y, R>(co: &Coroutine<I, Y, R>) -> ManuallyDrop<Coroutine<I, Y, R>> {
    // SAFETY: the caller's contract.
    ManuallyDrop::new(unsafe { std::ptr::read(co) })
}

/// Where a body finds an alias of a running coroutine's handle.
type AliasSlot<Y, R> = Rc<RefCell<Option<ManuallyDrop<Coroutine<(), Y, R>>>>>;

/// Resumes the coroutine whose alias `slot` holds and says what came of it.
fn resume_alias<Y: Debug, R: Debug>(slot: &AliasSlot<Y, R>) -> String {
    let mut co = slot.borrow_mut().take().expect("the alias is in its slot");
    let got = match co.resume(()) {
        Err(e @ Error::Running) => format!("running: {e}"),
        other => format!("unexpected: {other:?}"),
    };
    *slot.borrow_mut() = Some(co);
    got
}

#[test]
fn a_coroutine_that_resumes_itself_gets_error_running_on_an_owned_stack() {
    let slot: AliasSlot<(), Vec<String>> = Rc::default();
    let me = slot.clone();
    let mut co = Coroutine::<(), (), Vec<String>>::new(move |y, ()| {
        // First run, then a run after a suspend: an owned-stack coroutine used to be marked
        // running only on its first run.
        let first = resume_alias(&me);
        y.suspend(());
        let again = resume_alias(&me);
        vec![first, again]
    });
    // SAFETY: the alias stays in `slot`, undropped, and `co` outlives its use.
    *slot.borrow_mut() = Some(unsafe { alias(&co) });
    assert_eq!(co.resume(()).unwrap(), CoroutineResult::Yield(()));
    let got = co.resume(()).unwrap().as_return().unwrap();
    assert_eq!(got.len(), 2);
    for msg in got {
        assert!(msg.starts_with("running: "), "{msg}");
        assert!(msg.contains("cannot resume itself or an ancestor"), "{msg}");
    }
    assert!(co.is_finished());
}

#[test]
fn resuming_an_ancestor_up_the_chain_is_error_running_on_any_stack() {
    // Outer resumes inner, inner resumes outer: outer is running (waiting in the resume chain
    // for inner). Every pairing of owned and shared stacks, on outer's first run and after it
    // suspended once.
    let shared = SharedStack::new(64 * 1024).unwrap();
    let other = SharedStack::new(64 * 1024).unwrap();
    for (outer_shared, inner_shared) in [(false, false), (false, true), (true, false), (true, true)]
    {
        let slot: AliasSlot<(), Vec<String>> = Rc::default();
        let for_inner = slot.clone();
        let inner_stack = other.clone();
        let body = move |y: &coro::Yielder<(), ()>, ()| {
            let mut got = Vec::new();
            for round in 0..2 {
                let up = for_inner.clone();
                let inner_body = move |_: &coro::Yielder<(), ()>, ()| resume_alias(&up);
                let mut inner = if inner_shared {
                    // SAFETY: the body lends no reference into its stack.
                    unsafe { Coroutine::with_shared_stack(&inner_stack, inner_body) }
                } else {
                    Coroutine::new(inner_body)
                };
                got.push(inner.resume(()).unwrap().as_return().unwrap());
                if round == 0 {
                    y.suspend(());
                }
            }
            got
        };
        let mut outer = if outer_shared {
            // SAFETY: the body lends no reference into its stack.
            unsafe { Coroutine::with_shared_stack(&shared, body) }
        } else {
            Coroutine::new(body)
        };
        // SAFETY: the alias stays in `slot`, undropped, and `outer` outlives its use.
        *slot.borrow_mut() = Some(unsafe { alias(&outer) });
        assert_eq!(outer.resume(()).unwrap(), CoroutineResult::Yield(()));
        let got = outer.resume(()).unwrap().as_return().unwrap();
        for msg in &got {
            assert!(
                msg.starts_with("running: "),
                "outer shared {outer_shared}, inner shared {inner_shared}: {msg}"
            );
        }
        assert_eq!(got.len(), 2);
    }
}

#[test]
fn a_coroutine_refused_as_running_goes_on_and_drops_as_usual() {
    let slot: AliasSlot<u32, u32> = Rc::default();
    let me = slot.clone();
    let drops = Rc::new(Cell::new(0));
    let counted = Counted(drops.clone());
    let mut co = Coroutine::<(), u32, u32>::new(move |y, ()| {
        let _kept = counted;
        let mut n = 0;
        loop {
            assert!(resume_alias(&me).starts_with("running: "));
            n += 1;
            y.suspend(n);
        }
    });
    // SAFETY: the alias stays in `slot`, undropped, and `co` outlives its use.
    *slot.borrow_mut() = Some(unsafe { alias(&co) });
    for n in 1..=3 {
        assert_eq!(co.resume(()).unwrap(), CoroutineResult::Yield(n));
    }
    assert!(co.is_started() && !co.is_finished());
    // The alias is never dropped (`ManuallyDrop`); the handle unwinds the body when it drops.
    drop(co);
    assert_eq!(drops.get(), 1);
}

/// A value aligned past what a coroutine's block gives its closure: the closure then lives in
/// a box of its own. Its drop is counted (by its `Counted`).
#[repr(align(64))]
struct Wide {
    n: u64,
    _drops: Counted,
}

#[test]
fn over_aligned_closures_run_and_drop_on_every_stack() {
    let drops = Rc::new(Cell::new(0));
    let stack = SharedStack::new(64 * 1024).unwrap();
    let make = |n: u64, shared: bool| {
        let wide = Wide {
            n,
            _drops: Counted(drops.clone()),
        };
        let body = move |y: &coro::Yielder<(), u64>, ()| {
            assert_eq!(std::ptr::from_ref(&wide) as usize % 64, 0);
            y.suspend(wide.n);
            wide.n * 2
        };
        if shared {
            // SAFETY: the body keeps no reference into its stack across its suspension.
            unsafe { Coroutine::with_shared_stack(&stack, body) }
        } else {
            Coroutine::new(body)
        }
    };
    for shared in [false, true] {
        // Run to the end: the value comes through, and the closure's capture drops once.
        let mut co = make(21, shared);
        assert_eq!(co.resume(()).unwrap(), CoroutineResult::Yield(21));
        assert_eq!(co.resume(()).unwrap(), CoroutineResult::Return(42));
        drop(co);
        // Dropped before it ever ran, and while suspended: the capture drops once each.
        drop(make(1, shared));
        let mut co = make(2, shared);
        assert_eq!(co.resume(()).unwrap(), CoroutineResult::Yield(2));
        drop(co);
    }
    assert_eq!(drops.get(), 6);
}
