//! A coroutine cancelled while it waits (here by `coro::timeout`, which unwinds its stack)
//! leaves its queue cleanly, and if it had already been handed a lock, a permit, a channel slot
//! or a wake-up, it passes that on to the next waiter: nothing is lost, nobody hangs.
//!
//! Each test makes the hand-off and the cancellation happen in the same scheduler turn: the
//! cancelling coroutine `c` sees its `timeout` expire, hands the resource to the waiter `w1`
//! that the timeout is about to cancel, and the cancellation then runs before `w1` can.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use coro::channel;
use coro::sync::{Mutex, Semaphore};

const SHORT: Duration = Duration::from_millis(20);

#[test]
fn a_waiting_coroutine_cancelled_leaves_the_queue() {
    coro::run(|| {
        let sem = Rc::new(Semaphore::new(0));
        let s = Rc::clone(&sem);
        let r = coro::timeout(SHORT, move || s.acquire());
        assert!(matches!(r, Err(coro::Error::TimedOut)));
        coro::yield_now(); // the cancellation runs
        assert_eq!(sem.waiting(), 0);
        sem.release();
        assert_eq!(
            sem.available_permits(),
            1,
            "the permit was pooled, not given to a ghost"
        );
    });
}

#[test]
fn a_permit_handed_to_a_cancelled_waiter_goes_to_the_next() {
    coro::run(|| {
        let sem = Rc::new(Semaphore::new(0));
        let s = Rc::clone(&sem);
        let c = coro::spawn(move || {
            let s1 = Rc::clone(&s);
            let r = coro::timeout(SHORT, move || s1.acquire()); // w1
            assert!(r.is_err());
            s.release(); // handed to w1, which is cancelled at the end of this turn
        });
        coro::yield_now(); // c starts; w1 parks first
        coro::yield_now();
        assert_eq!(sem.waiting(), 1);
        let got = Rc::new(Cell::new(false));
        let (s, g) = (Rc::clone(&sem), Rc::clone(&got));
        let w2 = coro::spawn(move || {
            s.acquire();
            g.set(true);
        });
        c.join().unwrap();
        w2.join().unwrap();
        assert!(got.get());
        assert_eq!(sem.available_permits(), 0);
        assert_eq!(sem.waiting(), 0);
    });
}

#[test]
fn a_lock_handed_to_a_cancelled_waiter_goes_to_the_next() {
    coro::run(|| {
        let mutex = Rc::new(Mutex::new(0));
        let m = Rc::clone(&mutex);
        let c = coro::spawn(move || {
            let guard = m.lock();
            let m1 = Rc::clone(&m);
            let r = coro::timeout(SHORT, move || *m1.lock() += 100); // w1
            assert!(r.is_err());
            drop(guard); // handed to w1, which is cancelled at the end of this turn
        });
        coro::yield_now();
        coro::yield_now();
        let m = Rc::clone(&mutex);
        let w2 = coro::spawn(move || *m.lock() += 1);
        c.join().unwrap();
        w2.join().unwrap();
        assert_eq!(
            *mutex.lock(),
            1,
            "w1 never ran its critical section; w2 did"
        );
        assert!(!mutex.is_locked());
    });
}

#[test]
fn a_slot_reserved_for_a_cancelled_sender_goes_to_the_next() {
    coro::run(|| {
        let (tx, rx) = channel::bounded(1);
        tx.send(1).unwrap();
        let tx1 = tx.clone();
        let c = coro::spawn(move || {
            let r = coro::timeout(SHORT, move || tx1.send(100).unwrap()); // w1
            assert!(r.is_err());
            assert_eq!(rx.recv(), Ok(1)); // frees the slot, reserved for w1
            rx
        });
        coro::yield_now();
        coro::yield_now();
        let w2 = coro::spawn(move || tx.send(2).unwrap());
        let rx = c.join().unwrap();
        w2.join().unwrap();
        assert_eq!(rx.recv(), Ok(2));
        assert_eq!(rx.recv(), Err(channel::RecvError), "100 was never sent");
    });
}

#[test]
fn a_message_signalled_to_a_cancelled_receiver_wakes_the_next() {
    coro::run(|| {
        let (tx, rx) = channel::unbounded();
        let keep = tx.clone(); // so that w2 is not woken by a disconnection instead
        let rx1 = rx.clone();
        let c = coro::spawn(move || {
            let r = coro::timeout(SHORT, move || rx1.recv()); // w1
            assert!(r.is_err());
            tx.send(5).unwrap(); // wakes w1, which is cancelled at the end of this turn
        });
        coro::yield_now();
        coro::yield_now();
        let w2 = coro::spawn(move || rx.recv());
        c.join().unwrap();
        assert_eq!(w2.join().unwrap(), Ok(5));
        drop(keep);
    });
}
