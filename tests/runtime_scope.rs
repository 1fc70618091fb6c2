//! `coro::scope`: coroutines that borrow from their spawner's stack, all ended before the
//! scope returns; panics and cancels through it.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

const LONG: Duration = Duration::from_secs(3600);

#[test]
fn children_borrow_the_callers_locals_mutably_and_disjointly() {
    coro::run(|| {
        let input: Vec<u64> = (1..=1000).collect();
        let mut sums = [0u64; 10];
        coro::scope(|s| {
            for (chunk, sum) in input.chunks(100).zip(sums.iter_mut()) {
                s.spawn(move || {
                    for x in chunk {
                        *sum += x;
                        coro::yield_now(); // interleave with the siblings
                    }
                });
            }
        });
        assert_eq!(sums.iter().sum::<u64>(), 500_500);
        assert!(sums.iter().all(|&s| s > 0));
    });
}

#[test]
fn join_returns_each_value_and_children_may_spawn_siblings() {
    coro::run(|| {
        let base = 10u32;
        let total = Cell::new(0);
        let r = coro::scope(|s| {
            let a = s.spawn(|| base + 1);
            let b = s.spawn(|| {
                // A child spawns a sibling through the shared scope.
                s.spawn(|| total.set(total.get() + base));
                base + 2
            });
            a.join().unwrap() + b.join().unwrap()
        });
        assert_eq!(r, 23);
        assert_eq!(
            total.get(),
            10,
            "the grandchild ran before the scope returned"
        );
    });
}

#[test]
fn a_joined_panic_is_the_joiners_and_an_unjoined_one_the_scopes() {
    coro::run(|| {
        let r = coro::scope(|s| s.spawn(|| panic!("joined")).join());
        assert_eq!(r.unwrap_err().downcast_ref::<&str>(), Some(&"joined"));

        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            coro::scope(|s| {
                s.spawn(|| panic!("nobody joined me"));
                7
            })
        }));
        assert_eq!(
            r.unwrap_err().downcast_ref::<&str>(),
            Some(&"nobody joined me")
        );
    });
}

/// Counts its drops.
struct Counted(Rc<Cell<u32>>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.set(self.0.get() + 1);
    }
}

#[test]
fn a_panic_in_the_scope_cancels_its_children_and_waits_for_them() {
    coro::run(|| {
        let drops = Rc::new(Cell::new(0));
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            coro::scope(|s| {
                for _ in 0..3 {
                    let d = Counted(Rc::clone(&drops));
                    s.spawn(move || {
                        let _d = d;
                        coro::sleep(LONG); // cancelled: unwinds
                    });
                }
                coro::yield_now();
                panic!("the scope gives up");
            })
        }));
        assert_eq!(
            r.unwrap_err().downcast_ref::<&str>(),
            Some(&"the scope gives up")
        );
        assert_eq!(
            drops.get(),
            3,
            "every child unwound before the scope returned"
        );
    });
}

#[test]
fn cancelling_the_coroutine_in_a_scope_cancels_the_children() {
    coro::run(|| {
        let drops = Rc::new(Cell::new(0));
        let d = Rc::clone(&drops);
        let h = coro::spawn(move || {
            let local = Counted(Rc::clone(&d)); // borrowed by the children
            coro::scope(|s| {
                for _ in 0..3 {
                    let c = Counted(Rc::clone(&d));
                    let local = &local;
                    s.spawn(move || {
                        let _c = c;
                        let _ = local;
                        coro::sleep(LONG);
                    });
                }
                coro::sleep(LONG);
            });
        });
        coro::sleep(Duration::from_millis(10));
        h.cancel();
        assert!(h.join().unwrap_err().is::<coro::Cancelled>());
        assert_eq!(drops.get(), 4, "three children and the borrowed local");
    });
}

#[test]
fn an_interrupt_while_the_scope_waits_for_its_children_cancels_them() {
    // Long enough that a scope which ignored the interrupt would let the child finish (and
    // the assertions on `finished` fail) instead of hanging the test.
    const CHILD_SLEEP: Duration = Duration::from_secs(5);
    coro::run(|| {
        // The closure has returned; the scope waits for a child that sleeps CHILD_SLEEP. A cancel of
        // the coroutine reaches that wait: the children are cancelled, then waited for.
        let drops = Rc::new(Cell::new(0));
        let finished = Rc::new(Cell::new(false));
        let (d, f) = (Rc::clone(&drops), Rc::clone(&finished));
        let h = coro::spawn(move || {
            coro::scope(|s| {
                let c = Counted(Rc::clone(&d));
                let f = Rc::clone(&f);
                s.spawn(move || {
                    let _c = c;
                    coro::sleep(CHILD_SLEEP);
                    f.set(true);
                });
            });
        });
        coro::sleep(Duration::from_millis(10));
        h.cancel();
        assert!(h.join().unwrap_err().is::<coro::Cancelled>());
        assert_eq!(drops.get(), 1, "the child unwound");
        assert!(!finished.get(), "the child did not sleep its time out");

        // A deadline scope around a coro::scope: its expiry reaches the same wait, and the
        // deadline scope reports it.
        let d = Rc::clone(&drops);
        let f = Rc::clone(&finished);
        let r = coro::with_timeout(Duration::from_millis(20), || {
            coro::scope(|s| {
                let c = Counted(Rc::clone(&d));
                s.spawn(move || {
                    let _c = c;
                    coro::sleep(CHILD_SLEEP);
                    f.set(true);
                });
            });
        });
        assert!(matches!(r, Err(coro::Error::TimedOut)), "{r:?}");
        assert_eq!(drops.get(), 2, "the second child unwound");
        assert!(!finished.get());
    });
}

#[test]
fn a_scope_on_a_shared_stack_is_refused_and_children_may_be_shared() {
    coro::run(|| {
        // SAFETY: the closure lends no reference into its stack while it waits.
        let h = unsafe { coro::Builder::new().shared(true) }
            .spawn(|| coro::scope(|_| ()))
            .unwrap();
        let err = h.join().unwrap_err();
        let msg = err.downcast_ref::<&str>().copied().unwrap_or_default();
        assert!(msg.contains("shared stack"), "{msg}");

        let x = 41;
        let r = coro::scope(|s| {
            // SAFETY: the child lends nothing of its own stack; it borrows `x`, which is on
            // the parent's owned stack.
            let b = unsafe { coro::Builder::new().shared(true) };
            s.spawn_with(b, || x + 1).unwrap().join().unwrap()
        });
        assert_eq!(r, 42);
    });
}

#[test]
fn a_thousand_scoped_children() {
    coro::run(|| {
        let counter = Cell::new(0u32);
        coro::scope(|s| {
            for _ in 0..1000 {
                s.spawn(|| {
                    coro::yield_now();
                    counter.set(counter.get() + 1);
                });
            }
        });
        assert_eq!(counter.get(), 1000);
    });
}

#[test]
#[should_panic(expected = "must be called from a coroutine")]
fn a_scope_needs_a_coroutine() {
    coro::scope(|_| ());
}
