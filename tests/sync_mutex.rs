//! `coro::sync::Mutex`: guard-based, FIFO fair hand-off under 1,000 contending coroutines.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use coro::sync::Mutex;

#[test]
fn lock_is_fifo_fair_under_1000_coroutines() {
    coro::run(|| {
        let mutex = Rc::new(Mutex::new(Vec::new()));
        let arrivals = Rc::new(RefCell::new(Vec::new()));
        let handles: Vec<_> = (0..1000)
            .map(|i| {
                let mutex = Rc::clone(&mutex);
                let arrivals = Rc::clone(&arrivals);
                coro::spawn(move || {
                    for _ in 0..(i * 31) % 5 {
                        coro::yield_now();
                    }
                    arrivals.borrow_mut().push(i);
                    let mut guard = mutex.lock();
                    let before = guard.len();
                    coro::yield_now(); // hold the lock across a switch: the others queue up
                    assert_eq!(guard.len(), before, "nobody else got in meanwhile");
                    guard.push(i);
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        let arrivals = arrivals.borrow();
        assert_ne!(
            *arrivals,
            (0..1000).collect::<Vec<_>>(),
            "arrivals are scrambled"
        );
        assert_eq!(
            *mutex.lock(),
            *arrivals,
            "order of acquisition = order of arrival"
        );
        assert!(!mutex.is_locked());
    });
}

#[test]
fn try_lock_fails_while_coroutines_wait() {
    coro::run(|| {
        let mutex = Rc::new(Mutex::new(0));
        let guard = mutex.lock();
        let m = Rc::clone(&mutex);
        let waiter = coro::spawn(move || *m.lock() += 1);
        coro::yield_now();
        drop(guard); // handed straight to the waiter
        assert!(mutex.is_locked());
        assert!(mutex.try_lock().is_none());
        waiter.join().unwrap();
        assert_eq!(*mutex.try_lock().unwrap(), 1);
    });
}

#[test]
fn a_panicking_holder_unlocks() {
    coro::run(|| {
        let mutex = Rc::new(Mutex::new(0));
        let m = Rc::clone(&mutex);
        let hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let h = coro::spawn(move || {
            let mut g = m.lock();
            *g = 1;
            coro::yield_now();
            panic!("holder fails");
        });
        coro::yield_now();
        let m = Rc::clone(&mutex);
        let next = coro::spawn(move || *m.lock() += 1);
        assert!(h.join().is_err());
        std::panic::set_hook(hook);
        next.join().unwrap();
        assert_eq!(
            *mutex.lock(),
            2,
            "no poisoning: the next waiter got the lock"
        );
    });
}

#[test]
fn lock_timeout_inside_a_task() {
    coro::run(|| {
        let mutex = Rc::new(Mutex::new(()));
        let g = mutex.lock();
        let m = Rc::clone(&mutex);
        let h = coro::spawn(move || m.lock_timeout(Duration::from_millis(10)).is_some());
        assert!(!h.join().unwrap(), "timed out while the lock was held");
        assert!(
            mutex.is_locked(),
            "the timed-out waiter did not unlock the holder's lock"
        );
        assert!(mutex.try_lock().is_none());
        drop(g);
        assert!(!mutex.is_locked(), "the timed-out waiter left the queue");
    });
}
