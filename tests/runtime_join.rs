//! `JoinSet` (results as the coroutines finish) and `join!` (several branches at once).

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

#[test]
fn a_join_set_returns_results_in_the_order_they_finish() {
    coro::run(|| {
        let mut set = coro::JoinSet::new();
        // Finishing order is decided by yields, not timers: member i yields 10 - i times.
        for i in 0..10u32 {
            set.spawn(move || {
                for _ in 0..(10 - i) {
                    coro::yield_now();
                }
                i
            });
        }
        assert_eq!(set.len(), 10);
        let mut order = Vec::new();
        while let Some(r) = set.join_next() {
            order.push(r.unwrap());
        }
        assert_eq!(order, (0..10).rev().collect::<Vec<_>>());
        assert!(set.is_empty());
        assert!(set.join_next().is_none());
    });
}

#[test]
fn a_join_set_reports_panics_and_cancels_and_drops_cancel_the_rest() {
    coro::run(|| {
        let mut set = coro::JoinSet::new();
        set.spawn(|| panic!("member failed"));
        let sleeper = set.spawn(|| {
            coro::sleep(Duration::from_secs(3600));
            0
        });
        assert!(sleeper > 0);
        let r = set.join_next().unwrap();
        assert_eq!(
            r.unwrap_err().downcast_ref::<&str>(),
            Some(&"member failed")
        );
        set.cancel_all();
        assert!(
            set.join_next()
                .unwrap()
                .unwrap_err()
                .is::<coro::Cancelled>()
        );

        // Dropping a set cancels what still runs; its destructors run.
        let dropped = Rc::new(Cell::new(false));
        let d = Rc::clone(&dropped);
        let mut set = coro::JoinSet::new();
        set.spawn(move || {
            struct Flag(Rc<Cell<bool>>);
            impl Drop for Flag {
                fn drop(&mut self) {
                    self.0.set(true);
                }
            }
            let _f = Flag(d);
            coro::sleep(Duration::from_secs(3600));
        });
        coro::yield_now();
        drop(set);
        coro::yield_now();
        assert!(dropped.get());
    });
}

#[test]
fn join_all_and_try_join_next() {
    coro::run(|| {
        let mut set = coro::JoinSet::new();
        assert!(set.try_join_next().is_none());
        for i in 0..100u64 {
            set.spawn(move || i * i);
        }
        let mut all: Vec<u64> = set.join_all().into_iter().map(Result::unwrap).collect();
        all.sort_unstable();
        assert_eq!(all, (0..100).map(|i| i * i).collect::<Vec<_>>());
    });
}

#[test]
fn join_runs_branches_at_once_and_raises_the_first_panic_after_all() {
    coro::run(|| {
        let steps = Cell::new(Vec::new());
        let log = |s: &'static str| {
            let mut v = steps.take();
            v.push(s);
            steps.set(v);
        };
        let (a, b) = coro::join!(
            {
                log("a1");
                coro::yield_now();
                log("a2");
                1
            },
            {
                log("b1");
                coro::yield_now();
                log("b2");
                2
            },
        );
        assert_eq!((a, b), (1, 2));
        assert_eq!(
            steps.take(),
            ["a1", "b1", "a2", "b2"],
            "the branches interleaved"
        );

        let finished = Cell::new(false);
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            coro::join!(panic!("first"), {
                coro::sleep(Duration::from_millis(5));
                finished.set(true);
            })
        }));
        assert_eq!(r.unwrap_err().downcast_ref::<&str>(), Some(&"first"));
        assert!(finished.get(), "the other branch ran to its end");
    });
}
