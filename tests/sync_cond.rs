//! `coro::sync::Cond`: signal wakes one, broadcast wakes all, in arrival order; timeouts.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

use coro::sync::{Cond, Mutex};

/// Yields until `done()` holds (at most `limit` times).
fn yield_until(limit: usize, done: impl Fn() -> bool) {
    for _ in 0..limit {
        if done() {
            return;
        }
        coro::yield_now();
    }
    assert!(done(), "condition not reached after {limit} yields");
}

#[test]
fn signal_wakes_one_broadcast_wakes_all() {
    coro::run(|| {
        let cond = Rc::new(Cond::new());
        let woken = Rc::new(RefCell::new(Vec::new()));
        let handles: Vec<_> = (0..10)
            .map(|i| {
                let (cond, woken) = (Rc::clone(&cond), Rc::clone(&woken));
                coro::spawn(move || {
                    cond.wait();
                    woken.borrow_mut().push(i);
                })
            })
            .collect();
        yield_until(100, || cond.waiting() == 10);

        assert!(cond.signal());
        yield_until(100, || woken.borrow().len() == 1);
        for _ in 0..5 {
            coro::yield_now();
        }
        assert_eq!(
            *woken.borrow(),
            [0],
            "one signal wakes exactly one waiter, the first"
        );
        assert_eq!(cond.waiting(), 9);

        assert!(cond.signal());
        assert!(cond.signal());
        yield_until(100, || woken.borrow().len() == 3);
        assert_eq!(*woken.borrow(), [0, 1, 2]);

        assert_eq!(cond.broadcast(), 7, "broadcast reports how many it woke");
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(
            *woken.borrow(),
            (0..10).collect::<Vec<_>>(),
            "woken in arrival order"
        );
        assert_eq!(cond.waiting(), 0);
        assert!(!cond.signal(), "nobody left to wake");
        assert_eq!(cond.broadcast(), 0);
    });
}

#[test]
fn a_signal_with_nobody_waiting_is_not_remembered() {
    coro::run(|| {
        let cond = Cond::new();
        assert!(!cond.signal());
        let start = Instant::now();
        assert!(!cond.wait_timeout(Duration::from_millis(20)));
        assert!(start.elapsed() >= Duration::from_millis(20));
    });
}

#[test]
fn wait_timeout_reports_signal_or_timeout() {
    coro::run(|| {
        let cond = Rc::new(Cond::new());
        let result = Rc::new(Cell::new(None));
        let (c, r) = (Rc::clone(&cond), Rc::clone(&result));
        let h = coro::spawn(move || r.set(Some(c.wait_timeout(Duration::from_secs(10)))));
        yield_until(100, || cond.waiting() == 1);
        cond.signal();
        h.join().unwrap();
        assert_eq!(result.get(), Some(true), "signalled, not timed out");

        let (c, r) = (Rc::clone(&cond), Rc::clone(&result));
        let h = coro::spawn(move || r.set(Some(c.wait_timeout(Duration::from_millis(10)))));
        h.join().unwrap();
        assert_eq!(result.get(), Some(false));
        assert_eq!(cond.waiting(), 0, "a timed-out waiter leaves the queue");
        assert!(!cond.signal());
    });
}

#[test]
fn other_coroutines_run_while_one_waits() {
    coro::run(|| {
        let cond = Rc::new(Cond::new());
        let ticks = Rc::new(Cell::new(0));
        let (c, t) = (Rc::clone(&cond), Rc::clone(&ticks));
        let waiter = coro::spawn(move || {
            c.wait();
            t.get()
        });
        let t = Rc::clone(&ticks);
        let ticker = coro::spawn(move || {
            for _ in 0..100 {
                t.set(t.get() + 1);
                coro::yield_now();
            }
        });
        ticker.join().unwrap();
        cond.signal();
        assert_eq!(waiter.join().unwrap(), 100);
    });
}

#[test]
fn wait_locked_releases_and_retakes_the_mutex() {
    coro::run(|| {
        let state = Rc::new((Mutex::new(0), Cond::new()));
        let s = Rc::clone(&state);
        let consumer = coro::spawn(move || {
            let mut g = s.0.lock();
            while *g == 0 {
                g = s.1.wait_locked(g);
            }
            *g
        });
        coro::yield_now(); // the consumer locks, finds 0, and waits with the lock released
        assert!(!state.0.is_locked());
        assert_eq!(state.1.waiting(), 1);
        *state.0.lock() = 5;
        assert!(state.1.signal());
        assert_eq!(consumer.join().unwrap(), 5);
    });
}

#[test]
#[should_panic(expected = "would block forever")]
fn untimed_wait_outside_the_runtime_panics_in_words() {
    Cond::new().wait();
}

#[test]
#[should_panic(expected = "deadlock")]
fn waiting_for_a_signal_nobody_can_send_is_reported_not_hung() {
    coro::run(|| {
        let cond = Rc::new(Cond::new());
        let c = Rc::clone(&cond);
        coro::spawn(move || c.wait());
        cond.wait();
    });
}
