//! `coro::sync::WaitGroup`: add, done, wait.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use coro::sync::WaitGroup;

#[test]
fn wait_returns_when_every_worker_is_done() {
    coro::run(|| {
        let wg = Rc::new(WaitGroup::new());
        let finished = Rc::new(Cell::new(0));
        for i in 0..100 {
            wg.add(1);
            let (wg, finished) = (Rc::clone(&wg), Rc::clone(&finished));
            coro::spawn(move || {
                for _ in 0..i % 10 {
                    coro::yield_now();
                }
                finished.set(finished.get() + 1);
                wg.done();
            });
        }
        assert_eq!(wg.count(), 100);
        wg.wait();
        assert_eq!(finished.get(), 100);
        assert_eq!(wg.count(), 0);
        wg.wait(); // at zero: returns at once
    });
}

#[test]
fn several_waiters_are_all_released() {
    coro::run(|| {
        let wg = Rc::new(WaitGroup::new());
        wg.add(2);
        let released = Rc::new(Cell::new(0));
        let waiters: Vec<_> = (0..5)
            .map(|_| {
                let (wg, released) = (Rc::clone(&wg), Rc::clone(&released));
                coro::spawn(move || {
                    wg.wait();
                    released.set(released.get() + 1);
                })
            })
            .collect();
        coro::yield_now();
        wg.done();
        coro::yield_now();
        assert_eq!(released.get(), 0);
        wg.done();
        for w in waiters {
            w.join().unwrap();
        }
        assert_eq!(released.get(), 5);
    });
}

#[test]
fn wait_timeout_reports_unfinished_work() {
    coro::run(|| {
        let wg = WaitGroup::new();
        wg.add(1);
        assert!(!wg.wait_timeout(Duration::from_millis(10)));
        wg.done();
        assert!(wg.wait_timeout(Duration::from_millis(10)));
    });
}
