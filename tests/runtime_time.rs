//! Timers through the facade: sleep order, long timers, timeout, spawn_blocking.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// A small deterministic generator so the test needs no crate.
fn next(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

#[test]
fn ten_thousand_timers_with_random_deadlines_fire_in_order() {
    coro::run(|| {
        let fired = Rc::new(RefCell::new(Vec::with_capacity(10_000)));
        // Set once every coroutine has started and waits for it, far enough ahead that all
        // can arm their timers before the first is due: twice as long as it took them all to
        // start, so that a slow machine (qemu) gets a later base, not timers armed too late.
        let base = Rc::new(std::cell::Cell::new(Instant::now()));
        let go = Rc::new(coro::sync::Cond::new());
        let mut seed = 0x1234_5678_9abc_def1u64;
        let hs: Vec<_> = (0..10_000)
            .map(|_| {
                // Whole-millisecond offsets: two deadlines in the same tick keep spawn order,
                // different ticks must fire in deadline order.
                let ms = next(&mut seed) % 400;
                let fired = fired.clone();
                let base = base.clone();
                let go = go.clone();
                // SAFETY: the body keeps every reference into its stack to itself while it
                // waits (shared stacks move a suspended coroutine's frames away).
                unsafe { coro::Builder::new().shared(true) }
                    .spawn(move || {
                        go.wait();
                        let deadline = base.get() + Duration::from_millis(ms);
                        coro::sleep_until(deadline);
                        assert!(Instant::now() >= deadline, "woke early");
                        fired.borrow_mut().push(ms);
                    })
                    .unwrap()
            })
            .collect();
        let started = Instant::now();
        coro::yield_now(); // every coroutine starts and waits on `go`
        let margin = Duration::from_millis(200) + started.elapsed() * 2;
        base.set(Instant::now() + margin);
        assert_eq!(go.broadcast(), 10_000);
        for h in hs {
            h.join().unwrap();
        }
        let fired = fired.borrow();
        assert_eq!(fired.len(), 10_000);
        assert!(
            fired.windows(2).all(|w| w[0] <= w[1]),
            "timers fired out of deadline order"
        );
    });
}

#[test]
fn a_ten_minute_timer_is_accepted() {
    coro::run(|| {
        let t = Instant::now();
        let r = coro::timeout(Duration::from_millis(30), || {
            coro::sleep(Duration::from_secs(600));
            "slept ten minutes"
        });
        assert!(matches!(r, Err(coro::Error::TimedOut)));
        assert!(t.elapsed() >= Duration::from_millis(30), "never early");
    });
}

#[test]
fn sleep_lets_others_run_and_is_not_early() {
    coro::run(|| {
        let log = Rc::new(RefCell::new(Vec::new()));
        // Deadlines from one base, so that the order does not depend on when each coroutine
        // got to run (a loaded machine, qemu).
        let t = Instant::now();
        let l = log.clone();
        let h = coro::spawn(move || {
            coro::sleep_until(t + Duration::from_millis(300));
            l.borrow_mut().push("slow");
        });
        let l = log.clone();
        let g = coro::spawn(move || {
            coro::sleep_until(t + Duration::from_millis(5));
            l.borrow_mut().push("fast");
        });
        h.join().unwrap();
        g.join().unwrap();
        assert!(t.elapsed() >= Duration::from_millis(300), "never early");
        assert_eq!(*log.borrow(), vec!["fast", "slow"]);
    });
}

#[test]
fn timeout_returns_the_value_or_cancels_with_destructors_run() {
    struct Flag(Rc<RefCell<bool>>);
    impl Drop for Flag {
        fn drop(&mut self) {
            *self.0.borrow_mut() = true;
        }
    }
    coro::run(|| {
        assert_eq!(coro::timeout(Duration::from_secs(1), || 5).unwrap(), 5);
        let dropped = Rc::new(RefCell::new(false));
        let d = dropped.clone();
        let r = coro::timeout(Duration::from_millis(10), move || {
            let _flag = Flag(d);
            coro::sleep(Duration::from_secs(60));
        });
        assert!(matches!(r, Err(coro::Error::TimedOut)));
        coro::yield_now(); // the cancelled coroutine is unwound by the scheduler
        assert!(
            *dropped.borrow(),
            "the cancelled coroutine's destructors ran"
        );
        let p = std::panic::catch_unwind(|| {
            let _ = coro::timeout(Duration::from_secs(1), || panic!("inner"));
        });
        assert!(p.is_err());
    });
    assert!(matches!(
        coro::timeout(Duration::from_secs(1), || 1),
        Err(coro::Error::NoRuntime)
    ));
}

#[test]
fn spawn_blocking_runs_off_thread_while_others_run() {
    coro::run(|| {
        let ticks = Rc::new(RefCell::new(0));
        let t = ticks.clone();
        // The job waits until the ticker has ticked five times, which it can only do if the
        // loop runs while the job blocks its pool thread.
        let (ticked, all_ticked) = std::sync::mpsc::channel::<()>();
        let ticker = coro::spawn(move || {
            for _ in 0..5 {
                coro::sleep(Duration::from_millis(5));
                *t.borrow_mut() += 1;
            }
            ticked.send(()).unwrap();
        });
        let me = std::thread::current().id();
        let (other, saw, v) = coro::spawn_blocking(move || {
            let saw = all_ticked.recv_timeout(Duration::from_secs(60)).is_ok();
            (std::thread::current().id() != me, saw, 42)
        });
        assert!(other);
        assert!(saw, "the ticker ticked while the job blocked");
        assert_eq!(v, 42);
        assert_eq!(
            *ticks.borrow(),
            5,
            "the loop kept running during the blocking call"
        );
        ticker.join().unwrap();
        let p = std::panic::catch_unwind(|| coro::spawn_blocking(|| panic!("in pool")));
        assert!(p.is_err());
        // Many at once, more than the pool has threads.
        let hs: Vec<_> = (0..16u64)
            .map(|i| coro::spawn(move || coro::spawn_blocking(move || i * i)))
            .collect();
        let sum: u64 = hs.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(sum, (0..16u64).map(|i| i * i).sum());
    });
}

#[test]
fn runtime_with_threads_runs_each_its_own_scheduler() {
    let out = coro::Runtime::builder().threads(3).run(|i| {
        let hs: Vec<_> = (0..100)
            .map(|j| coro::spawn(move || i * 1000 + j))
            .collect();
        coro::sleep(Duration::from_millis(5));
        (
            std::thread::current().id(),
            hs.into_iter().map(|h| h.join().unwrap()).sum::<usize>(),
        )
    });
    assert_eq!(out.len(), 3);
    for (i, (_, sum)) in out.iter().enumerate() {
        assert_eq!(*sum, i * 100_000 + 4950);
    }
    assert_ne!(out[0].0, out[1].0);
    assert_ne!(out[1].0, out[2].0);
}
