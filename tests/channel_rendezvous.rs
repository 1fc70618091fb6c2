//! `bounded(0)`, local and cross-thread: a rendezvous channel as in crossbeam. A `send` returns
//! only once a receiver has taken its value; waiting senders are served in order; a sender that
//! gives up (a timeout, a cancel, a deadline scope) takes its value back, and one cancelled in
//! the same turn as its value was taken leaves it received.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::thread;
use std::time::Duration;

use coro::channel::{self, RecvError, SendTimeoutError, TryRecvError, sync};

const SHORT: Duration = Duration::from_millis(20);

struct Counted(Rc<Cell<u32>>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.set(self.0.get() + 1);
    }
}

#[test]
fn send_parks_until_a_receiver_takes_the_value() {
    coro::run(|| {
        let (tx, rx) = channel::bounded(0);
        assert_eq!(tx.capacity(), Some(0));
        let log = Rc::new(RefCell::new(Vec::new()));
        let l = Rc::clone(&log);
        let sender = coro::spawn(move || {
            l.borrow_mut().push("sending");
            tx.send(1).unwrap();
            l.borrow_mut().push("sent");
        });
        for _ in 0..5 {
            coro::yield_now();
        }
        assert_eq!(
            *log.borrow(),
            ["sending"],
            "no receiver yet: the sender waits"
        );
        assert_eq!(rx.len(), 1, "its value is offered");
        assert_eq!(rx.recv(), Ok(1));
        log.borrow_mut().push("received");
        sender.join().unwrap();
        assert_eq!(*log.borrow(), ["sending", "received", "sent"]);
    });
}

#[test]
fn send_to_a_waiting_receiver_still_waits_for_it_to_take_the_value() {
    coro::run(|| {
        let (tx, rx) = channel::bounded(0);
        let log = Rc::new(RefCell::new(Vec::new()));
        let l = Rc::clone(&log);
        let receiver = coro::spawn(move || {
            let v = rx.recv().unwrap();
            l.borrow_mut().push("received");
            v
        });
        coro::yield_now(); // the receiver waits
        tx.send(7).unwrap();
        log.borrow_mut().push("sent");
        assert_eq!(receiver.join().unwrap(), 7);
        assert_eq!(*log.borrow(), ["received", "sent"]);
    });
}

#[test]
fn try_send_and_try_recv_need_the_other_side_waiting() {
    coro::run(|| {
        let (tx, rx) = channel::bounded::<u32>(0);
        assert!(tx.try_send(1).unwrap_err().is_full(), "no receiver waits");
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty), "no sender waits");
        let rx2 = rx.clone();
        let receiver = coro::spawn(move || rx2.recv());
        coro::yield_now();
        tx.try_send(2).unwrap();
        assert!(
            tx.try_send(3).unwrap_err().is_full(),
            "the only waiting receiver is served"
        );
        assert_eq!(receiver.join().unwrap(), Ok(2));
        let tx2 = tx.clone();
        let sender = coro::spawn(move || tx2.send(4));
        coro::yield_now();
        assert_eq!(rx.try_recv(), Ok(4));
        sender.join().unwrap().unwrap();
    });
}

#[test]
fn waiting_senders_are_served_in_arrival_order() {
    coro::run(|| {
        let (tx, rx) = channel::bounded(0);
        let senders: Vec<_> = (0..10)
            .map(|i| {
                let tx = tx.clone();
                coro::spawn(move || tx.send(i).unwrap())
            })
            .collect();
        drop(tx);
        coro::yield_now();
        let got: Vec<i32> = rx.iter().collect();
        assert_eq!(got, (0..10).collect::<Vec<_>>());
        for s in senders {
            s.join().unwrap();
        }
    });
}

#[test]
fn send_timeout_gives_the_value_back() {
    coro::run(|| {
        let (tx, rx) = channel::bounded(0);
        let err = tx.send_timeout(String::from("late"), SHORT).unwrap_err();
        assert!(err.is_timeout());
        assert_eq!(err.into_inner(), "late");
        assert_eq!(
            rx.try_recv(),
            Err(TryRecvError::Empty),
            "nothing was left behind"
        );
    });
    // And outside a task, on the cross-thread flavour.
    let (tx, rx) = sync::bounded(0);
    assert_eq!(tx.send_timeout(5, SHORT), Err(SendTimeoutError::Timeout(5)));
    drop(rx);
}

#[test]
fn dropping_the_last_receiver_gives_waiting_senders_their_values() {
    coro::run(|| {
        let (tx, rx) = channel::bounded(0);
        let sender = coro::spawn(move || tx.send(String::from("mine")));
        coro::yield_now();
        drop(rx);
        assert_eq!(sender.join().unwrap().unwrap_err().into_inner(), "mine");
    });
}

#[test]
fn a_cancelled_waiting_sender_takes_its_value_back() {
    coro::run(|| {
        let drops = Rc::new(Cell::new(0));
        let (tx, rx) = channel::bounded(0);
        let value = Counted(Rc::clone(&drops));
        let sender = coro::spawn(move || {
            let _ = tx.send(value);
            unreachable!("the send unwinds");
        });
        coro::yield_now();
        assert_eq!(rx.len(), 1);
        sender.cancel();
        assert!(sender.join().unwrap_err().is::<coro::Cancelled>());
        assert_eq!(
            drops.get(),
            1,
            "the value was dropped as the sender unwound"
        );
        assert_eq!(rx.try_recv().err(), Some(TryRecvError::Disconnected));
    });
}

#[test]
fn a_sender_cancelled_in_the_turn_its_value_is_taken_leaves_it_received() {
    coro::run(|| {
        let (tx, rx) = channel::bounded(0);
        let sender = coro::spawn(move || {
            tx.send(9).unwrap();
            unreachable!("the cancel wins over the hand-off");
        });
        coro::yield_now(); // the sender offers 9 and waits
        assert_eq!(rx.recv(), Ok(9)); // takes it and wakes the sender...
        sender.cancel(); // ...which is cancelled before it runs
        assert!(sender.join().unwrap_err().is::<coro::Cancelled>());
        assert_eq!(rx.recv(), Err(RecvError));
    });
}

#[test]
fn a_receiver_cancelled_in_the_turn_it_is_woken_passes_the_offer_on() {
    coro::run(|| {
        let (tx, rx) = channel::bounded(0);
        let rx1 = rx.clone();
        let r1 = coro::spawn(move || {
            let _ = rx1.recv();
            unreachable!("cancelled before it runs");
        });
        let r2 = coro::spawn(move || rx.recv());
        coro::yield_now(); // r1, then r2, wait
        let sent = Rc::new(Cell::new(false));
        let s = Rc::clone(&sent);
        let sender = coro::spawn(move || {
            tx.send(3).unwrap(); // wakes r1 and waits
            s.set(true);
        });
        coro::yield_now(); // the sender offers 3 and wakes r1
        r1.cancel(); // in the same turn: r1 passes the wake-up to r2
        assert!(r1.join().unwrap_err().is::<coro::Cancelled>());
        assert_eq!(r2.join().unwrap(), Ok(3));
        sender.join().unwrap();
        assert!(sent.get());
    });
}

#[test]
fn a_send_under_a_deadline_scope_unwinds_and_takes_its_value_back() {
    coro::run(|| {
        let (tx, rx) = channel::bounded(0);
        let r = coro::with_timeout(SHORT, || tx.send(1));
        assert!(matches!(r, Err(coro::Error::TimedOut)));
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
        let receiver = coro::spawn(move || rx.recv());
        coro::yield_now();
        tx.send(2).unwrap();
        assert_eq!(receiver.join().unwrap(), Ok(2), "1 was never sent");
    });
}

#[test]
fn a_recv_under_a_deadline_scope_unwinds_and_leaves_the_offer() {
    coro::run(|| {
        let (tx, rx) = channel::bounded(0);
        let r = coro::with_timeout(SHORT, || rx.recv());
        assert!(matches!(r, Err(coro::Error::TimedOut)));
        let sender = coro::spawn(move || tx.send(4));
        coro::yield_now();
        assert_eq!(rx.recv(), Ok(4));
        sender.join().unwrap().unwrap();
    });
}

#[test]
fn a_std_thread_hands_values_to_a_coroutine_one_at_a_time() {
    let (tx, rx) = sync::bounded(0);
    let (ack_tx, ack_rx) = sync::bounded(0);
    let t = thread::spawn(move || {
        for i in 0..1000u32 {
            tx.send(i).unwrap();
            // The coroutine has taken `i`: it acknowledges it before taking `i + 1`.
            assert_eq!(ack_rx.recv(), Ok(i));
        }
    });
    coro::run(move || {
        for i in 0..1000u32 {
            assert_eq!(rx.recv(), Ok(i));
            ack_tx.send(i).unwrap();
        }
        assert_eq!(rx.recv(), Err(RecvError));
    });
    t.join().unwrap();
}

#[test]
fn senders_on_two_runtimes_and_std_threads_to_receivers_on_a_third() {
    const PER: u64 = 2_000;
    let (tx, rx) = sync::bounded::<u64>(0);
    let mut threads = Vec::new();
    for r in 0..2u64 {
        let tx = tx.clone();
        threads.push(thread::spawn(move || {
            coro::run(move || {
                let tasks: Vec<_> = (0..5u64)
                    .map(|c| {
                        let tx = tx.clone();
                        coro::spawn(move || {
                            let base = (r * 5 + c) * PER;
                            for i in 0..PER {
                                tx.send(base + i).unwrap();
                            }
                        })
                    })
                    .collect();
                for t in tasks {
                    t.join().unwrap();
                }
            })
        }));
    }
    for s in 0..2u64 {
        let tx = tx.clone();
        threads.push(thread::spawn(move || {
            let base = (10 + s) * PER;
            for i in 0..PER {
                tx.send(base + i).unwrap();
            }
        }));
    }
    drop(tx);
    let seen = coro::run(move || {
        let seen = Rc::new(RefCell::new(vec![0u8; (12 * PER) as usize]));
        let last = Rc::new(RefCell::new(vec![None::<u64>; 12]));
        let receivers: Vec<_> = (0..4)
            .map(|_| {
                let (rx, seen, last) = (rx.clone(), Rc::clone(&seen), Rc::clone(&last));
                coro::spawn(move || {
                    for v in &rx {
                        seen.borrow_mut()[v as usize] += 1;
                        let mut last = last.borrow_mut();
                        let k = (v / PER) as usize;
                        assert!(last[k] < Some(v), "one sender's values arrive in order");
                        last[k] = Some(v);
                    }
                })
            })
            .collect();
        drop(rx);
        for r in receivers {
            r.join().unwrap();
        }
        Rc::try_unwrap(seen).unwrap().into_inner()
    });
    for t in threads {
        t.join().unwrap();
    }
    assert!(seen.iter().all(|&n| n == 1), "every value exactly once");
}

#[test]
fn many_coroutines_exchange_every_value_exactly_once() {
    const SENDERS: u32 = 200;
    const PER: u32 = 50;
    const RECEIVERS: usize = 20;
    coro::run(|| {
        let (tx, rx) = channel::bounded::<u32>(0);
        let senders: Vec<_> = (0..SENDERS)
            .map(|s| {
                let tx = tx.clone();
                coro::spawn(move || {
                    for i in 0..PER {
                        tx.send(s * PER + i).unwrap();
                        if i % 7 == 0 {
                            coro::yield_now();
                        }
                    }
                })
            })
            .collect();
        drop(tx);
        let seen = Rc::new(RefCell::new(vec![0u8; (SENDERS * PER) as usize]));
        let receivers: Vec<_> = (0..RECEIVERS)
            .map(|_| {
                let (rx, seen) = (rx.clone(), Rc::clone(&seen));
                coro::spawn(move || {
                    let mut n = 0;
                    while let Ok(v) = rx.recv() {
                        seen.borrow_mut()[v as usize] += 1;
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        drop(rx);
        for s in senders {
            s.join().unwrap();
        }
        let total: u32 = receivers.into_iter().map(|r| r.join().unwrap()).sum();
        assert_eq!(total, SENDERS * PER);
        assert!(seen.borrow().iter().all(|&n| n == 1));
    });
}
