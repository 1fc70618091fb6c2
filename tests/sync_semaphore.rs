//! `coro::sync::Semaphore`: permits, FIFO fairness under 1,000 contending coroutines.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use coro::sync::Semaphore;

fn fairness(permits: usize, contenders: usize) {
    coro::run(|| {
        let sem = Rc::new(Semaphore::new(permits));
        let arrivals = Rc::new(RefCell::new(Vec::new()));
        let acquired = Rc::new(RefCell::new(Vec::new()));
        let inside = Rc::new(Cell::new(0usize));
        let most_inside = Rc::new(Cell::new(0usize));
        let handles: Vec<_> = (0..contenders)
            .map(|i| {
                let sem = Rc::clone(&sem);
                let arrivals = Rc::clone(&arrivals);
                let acquired = Rc::clone(&acquired);
                let inside = Rc::clone(&inside);
                let most_inside = Rc::clone(&most_inside);
                coro::spawn(move || {
                    // Arrive in a scrambled order: coroutine i yields i % 7 times first.
                    for _ in 0..i % 7 {
                        coro::yield_now();
                    }
                    arrivals.borrow_mut().push(i);
                    sem.acquire();
                    acquired.borrow_mut().push(i);
                    inside.set(inside.get() + 1);
                    most_inside.set(most_inside.get().max(inside.get()));
                    coro::yield_now(); // hold the permit across a switch
                    coro::yield_now();
                    inside.set(inside.get() - 1);
                    sem.release();
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        let arrivals = arrivals.borrow();
        assert_eq!(arrivals.len(), contenders);
        assert_ne!(
            *arrivals,
            (0..contenders).collect::<Vec<_>>(),
            "the test scrambles arrival order"
        );
        assert_eq!(
            *acquired.borrow(),
            *arrivals,
            "order of acquisition = order of arrival"
        );
        assert_eq!(
            most_inside.get(),
            permits,
            "never more holders than permits"
        );
        assert_eq!(sem.available_permits(), permits);
        assert_eq!(sem.waiting(), 0);
    });
}

#[test]
fn one_permit_is_fifo_fair_under_1000_coroutines() {
    fairness(1, 1000);
}

#[test]
fn three_permits_are_fifo_fair_under_1000_coroutines() {
    fairness(3, 1000);
}

#[test]
fn try_acquire_does_not_overtake_waiters() {
    coro::run(|| {
        let sem = Rc::new(Semaphore::new(1));
        sem.acquire();
        let s = Rc::clone(&sem);
        let waiter = coro::spawn(move || {
            s.acquire();
            s.release();
        });
        coro::yield_now();
        assert_eq!(sem.waiting(), 1);
        sem.release(); // handed to the waiter, not pooled
        assert_eq!(sem.available_permits(), 0);
        assert!(!sem.try_acquire(), "the permit belongs to the waiter");
        waiter.join().unwrap();
        assert!(sem.try_acquire());
    });
}

#[test]
fn acquire_timeout_inside_a_task() {
    coro::run(|| {
        let sem = Rc::new(Semaphore::new(0));
        assert!(!sem.acquire_timeout(Duration::from_millis(10)));
        assert_eq!(sem.waiting(), 0);
        let s = Rc::clone(&sem);
        let h = coro::spawn(move || s.acquire_timeout(Duration::from_secs(10)));
        coro::yield_now();
        sem.release();
        assert!(h.join().unwrap());
        assert_eq!(
            sem.available_permits(),
            0,
            "the permit went to the timed waiter"
        );
    });
}
