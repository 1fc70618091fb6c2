//! `coro::channel::broadcast` and `coro::channel::sync::broadcast`: every receiver sees every
//! message sent after it subscribed, in order; a receiver that falls more than the capacity
//! behind is told exactly how many messages it lost and continues with the oldest kept; the
//! channel closes when the last sender goes, after the receivers have taken what is left. A
//! receiver cancelled or timed out while it waits unwinds and takes no wake-up from the others.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::thread;
use std::time::Duration;

use coro::channel::{
    self, BroadcastRecvError, BroadcastRecvTimeoutError, BroadcastTryRecvError, sync,
};

const SHORT: Duration = Duration::from_millis(20);

/// Receives until the channel is closed: the messages, and how many were lost to lag.
fn drain<T: Clone>(rx: &mut channel::BroadcastReceiver<T>) -> (Vec<T>, u64) {
    let (mut got, mut lost) = (Vec::new(), 0);
    loop {
        match rx.recv() {
            Ok(v) => got.push(v),
            Err(BroadcastRecvError::Lagged(n)) => lost += n,
            Err(BroadcastRecvError::Disconnected) => return (got, lost),
        }
    }
}

/// As [`drain`], for the cross-thread flavour.
fn drain_sync<T: Clone>(rx: &mut sync::BroadcastReceiver<T>) -> (Vec<T>, u64) {
    let (mut got, mut lost) = (Vec::new(), 0);
    loop {
        match rx.recv() {
            Ok(v) => got.push(v),
            Err(BroadcastRecvError::Lagged(n)) => lost += n,
            Err(BroadcastRecvError::Disconnected) => return (got, lost),
        }
    }
}

#[test]
fn every_receiver_sees_every_message_in_order() {
    const CAP: usize = 16;
    coro::run(|| {
        let (tx, rx) = channel::broadcast::<u32>(CAP);
        let receivers: Vec<_> = (0..10)
            .map(|_| {
                let mut rx = tx.subscribe();
                coro::spawn(move || drain(&mut rx))
            })
            .collect();
        drop(rx);
        coro::yield_now(); // every receiver waits
        for v in 0..1000 {
            assert_eq!(tx.send(v), Ok(10));
            if (v + 1) % CAP as u32 == 0 {
                coro::yield_now(); // the receivers take the burst: nobody lags
            }
        }
        drop(tx);
        for r in receivers {
            assert_eq!(r.join().unwrap(), ((0..1000).collect::<Vec<_>>(), 0));
        }
    });
}

#[test]
fn a_slow_receiver_misses_exactly_the_oldest_and_continues_in_order() {
    coro::run(|| {
        let (tx, mut slow) = channel::broadcast(4);
        let mut fast = tx.subscribe();
        let fast = coro::spawn(move || drain(&mut fast));
        for v in 0..10 {
            tx.send(v).unwrap();
            coro::yield_now(); // the fast receiver keeps up
        }
        assert_eq!(slow.len(), 4, "the 4 newest are kept");
        assert_eq!(slow.recv(), Err(BroadcastRecvError::Lagged(6)));
        assert_eq!(slow.recv(), Ok(6));
        tx.send(10).unwrap();
        assert_eq!(slow.try_recv(), Ok(7));
        assert_eq!(slow.recv_timeout(SHORT), Ok(8));
        assert_eq!(slow.recv(), Ok(9));
        assert_eq!(slow.recv(), Ok(10));
        assert_eq!(slow.try_recv(), Err(BroadcastTryRecvError::Empty));
        // Lagging again, through each receive method (the fast one still keeps up).
        for v in 11..20 {
            tx.send(v).unwrap();
            coro::yield_now();
        }
        assert_eq!(slow.try_recv(), Err(BroadcastTryRecvError::Lagged(5)));
        assert_eq!(slow.try_recv(), Ok(16));
        for v in 20..30 {
            tx.send(v).unwrap();
            coro::yield_now();
        }
        assert_eq!(
            slow.recv_timeout(SHORT),
            Err(BroadcastRecvTimeoutError::Lagged(9))
        );
        assert_eq!(slow.recv(), Ok(26));
        drop(tx);
        assert_eq!(fast.join().unwrap(), ((0..30).collect::<Vec<_>>(), 0));
        assert_eq!(drain(&mut slow), (vec![27, 28, 29], 0));
    });
}

#[test]
fn a_receiver_sees_only_what_was_sent_after_it_subscribed() {
    coro::run(|| {
        let (tx, mut first) = channel::broadcast(8);
        tx.send("before").unwrap();
        let mut late = tx.subscribe();
        let mut resubscribed = first.resubscribe();
        let mut cloned = first.clone();
        tx.send("after").unwrap();
        drop(tx);
        assert_eq!(drain(&mut first).0, ["before", "after"]);
        assert_eq!(drain(&mut late).0, ["after"]);
        assert_eq!(drain(&mut resubscribed).0, ["after"]);
        assert_eq!(
            drain(&mut cloned).0,
            ["before", "after"],
            "a clone starts where its original was"
        );
    });
}

#[test]
fn closing_wakes_waiting_receivers_after_they_drain() {
    coro::run(|| {
        let (tx, rx) = channel::broadcast(8);
        let tx2 = tx.clone();
        let waiting: Vec<_> = (0..3)
            .map(|_| {
                let mut rx = rx.resubscribe();
                coro::spawn(move || drain(&mut rx))
            })
            .collect();
        coro::yield_now();
        tx.send(1).unwrap();
        tx2.send(2).unwrap();
        drop(tx);
        assert!(!rx.is_disconnected(), "a sender remains");
        drop(tx2);
        assert!(rx.is_disconnected());
        for w in waiting {
            assert_eq!(w.join().unwrap(), (vec![1, 2], 0));
        }
        let mut rx = rx;
        assert_eq!(
            drain(&mut rx),
            (vec![1, 2], 0),
            "the first receiver drains too"
        );
        assert_eq!(rx.try_recv(), Err(BroadcastTryRecvError::Disconnected));
    });
}

#[test]
fn send_without_receivers_gives_the_value_back() {
    let (tx, rx) = channel::broadcast::<String>(2);
    assert_eq!(tx.receiver_count(), 1);
    drop(rx);
    assert_eq!(tx.receiver_count(), 0);
    assert_eq!(tx.send("lost".into()).unwrap_err().into_inner(), "lost");
    let mut rx = tx.subscribe();
    assert_eq!(tx.send("kept".into()), Ok(1));
    assert_eq!(rx.try_recv().as_deref(), Ok("kept"));
}

#[test]
fn messages_are_dropped_once_every_receiver_has_them() {
    let (tx, mut rx1) = channel::broadcast(4);
    let mut rx2 = tx.subscribe();
    let token = Rc::new(());
    tx.send(Rc::clone(&token)).unwrap();
    assert_eq!(Rc::strong_count(&token), 2);
    let a = rx1.try_recv().unwrap();
    assert_eq!(
        Rc::strong_count(&token),
        3,
        "rx1 has a clone, rx2 has yet to take it"
    );
    let b = rx2.try_recv().unwrap();
    assert_eq!(
        Rc::strong_count(&token),
        3,
        "the last receiver took the value itself"
    );
    assert_eq!(tx.len(), 0);
    drop((a, b));
    tx.send(Rc::clone(&token)).unwrap();
    drop(rx1);
    drop(rx2);
    assert_eq!(
        Rc::strong_count(&token),
        1,
        "dropped with the last receiver"
    );
}

#[test]
fn a_message_that_holds_a_sender_can_be_dropped_by_the_channel() {
    #[derive(Clone)]
    struct Msg(#[allow(dead_code)] channel::BroadcastSender<Msg>);
    let (tx, rx) = channel::broadcast::<Msg>(1);
    tx.send(Msg(tx.clone())).unwrap();
    tx.send(Msg(tx.clone())).unwrap(); // pushes out the first: dropped outside the lock
    drop(rx); // drops the second: the same
    drop(tx);
}

#[test]
fn recv_timeout_and_untimed_recv_outside_a_task() {
    let (tx, mut rx) = channel::broadcast::<u8>(2);
    assert_eq!(
        rx.recv_timeout(SHORT),
        Err(BroadcastRecvTimeoutError::Timeout)
    );
    tx.send(1).unwrap();
    assert_eq!(rx.recv_timeout(SHORT), Ok(1));
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| rx.recv()));
    let msg = *r.unwrap_err().downcast::<String>().unwrap();
    assert!(
        msg.contains("BroadcastReceiver::recv would block forever"),
        "{msg}"
    );
}

#[test]
fn a_cancelled_waiting_receiver_unwinds_and_the_others_still_receive() {
    coro::run(|| {
        let (tx, rx) = channel::broadcast(4);
        let drops = Rc::new(Cell::new(false));
        struct Flag(Rc<Cell<bool>>);
        impl Drop for Flag {
            fn drop(&mut self) {
                self.0.set(true);
            }
        }
        let mut rx1 = rx.resubscribe();
        let flag = Flag(Rc::clone(&drops));
        let r1 = coro::spawn(move || {
            let _flag = flag;
            let _ = rx1.recv();
            unreachable!("cancelled while it waits");
        });
        let others: Vec<_> = (0..3)
            .map(|_| {
                let mut rx = rx.resubscribe();
                coro::spawn(move || rx.recv())
            })
            .collect();
        coro::yield_now(); // all four wait
        r1.cancel();
        assert!(r1.join().unwrap_err().is::<coro::Cancelled>());
        assert!(drops.get(), "its destructors ran");
        assert_eq!(tx.receiver_count(), 4, "r1's receiver went with it");
        tx.send(7).unwrap();
        for o in others {
            assert_eq!(o.join().unwrap(), Ok(7));
        }
        drop(rx);
    });
}

#[test]
fn a_receiver_cancelled_in_the_turn_a_message_wakes_it_takes_no_wake_up_from_the_others() {
    coro::run(|| {
        let (tx, rx) = channel::broadcast(4);
        let mut rx1 = rx.resubscribe();
        let r1 = coro::spawn(move || {
            let _ = rx1.recv();
            unreachable!("the cancel wins over the wake-up");
        });
        let mut rx2 = rx.resubscribe();
        let r2 = coro::spawn(move || rx2.recv());
        drop(rx);
        coro::yield_now(); // r1 then r2 wait
        tx.send(1).unwrap(); // wakes both...
        r1.cancel(); // ...and r1 is cancelled before it runs
        assert!(r1.join().unwrap_err().is::<coro::Cancelled>());
        assert_eq!(r2.join().unwrap(), Ok(1));
        assert_eq!(
            tx.len(),
            0,
            "r1's receiver counted off what it had not taken"
        );
    });
}

#[test]
fn a_wait_under_a_deadline_scope_unwinds_and_the_receiver_goes_on() {
    coro::run(|| {
        let (tx, mut rx) = channel::broadcast(4);
        let r = coro::with_timeout(SHORT, || rx.recv());
        assert!(matches!(r, Err(coro::Error::TimedOut)));
        tx.send(3).unwrap();
        assert_eq!(rx.recv(), Ok(3), "nothing was lost to the time-out");
        // A receiver waiting in a scope, woken just in time, keeps the message.
        let tx2 = tx.clone();
        let sender = coro::spawn(move || {
            coro::sleep(Duration::from_millis(5));
            tx2.send(4).unwrap();
        });
        let r = coro::with_timeout(Duration::from_secs(10), || rx.recv());
        assert!(matches!(r, Ok(Ok(4))));
        sender.join().unwrap();
    });
}

#[test]
fn a_cancelled_receiver_of_the_cross_thread_flavour_unwinds() {
    let (tx, rx) = sync::broadcast::<u32>(4);
    let keep = tx.clone();
    let got = coro::run(move || {
        let mut rx1 = rx.resubscribe();
        let r1 = coro::spawn(move || {
            let _ = rx1.recv();
        });
        let mut rx2 = rx.resubscribe();
        let r2 = coro::spawn(move || rx2.recv());
        drop(rx);
        coro::yield_now();
        r1.cancel();
        assert!(r1.join().unwrap_err().is::<coro::Cancelled>());
        let t = thread::spawn(move || tx.send(5).unwrap());
        let got = r2.join().unwrap();
        assert_eq!(t.join().unwrap(), 1, "only r2's receiver is left");
        got
    });
    assert_eq!(got, Ok(5));
    drop(keep);
}

#[test]
fn std_threads_to_coroutines_on_two_runtimes_and_a_std_thread_every_message() {
    const SENDERS: u64 = 3;
    const PER: u64 = 3_000;
    // Room for everything: nobody can lag, so every receiver must see every message.
    let (tx, rx) = sync::broadcast::<u64>((SENDERS * PER) as usize);
    let mut receivers = Vec::new();
    for _ in 0..2 {
        let rx = rx.resubscribe();
        receivers.push(thread::spawn(move || {
            coro::run(move || {
                let tasks: Vec<_> = (0..3)
                    .map(|_| {
                        let mut rx = rx.clone();
                        coro::spawn(move || drain_sync(&mut rx))
                    })
                    .collect();
                drop(rx);
                tasks
                    .into_iter()
                    .map(|t| t.join().unwrap())
                    .collect::<Vec<_>>()
            })
        }));
    }
    let mut plain = rx.resubscribe();
    receivers.push(thread::spawn(move || vec![drain_sync(&mut plain)]));
    drop(rx);
    let senders: Vec<_> = (0..SENDERS)
        .map(|s| {
            let tx = tx.clone();
            thread::spawn(move || {
                for i in 0..PER {
                    tx.send(s * PER + i).unwrap();
                }
            })
        })
        .collect();
    drop(tx);
    for s in senders {
        s.join().unwrap();
    }
    let results: Vec<_> = receivers
        .into_iter()
        .flat_map(|r| r.join().unwrap())
        .collect();
    assert_eq!(results.len(), 7);
    for (got, lost) in results {
        assert_eq!(lost, 0);
        assert_eq!(got.len() as u64, SENDERS * PER);
        let mut last = [None; SENDERS as usize];
        for v in got {
            let s = (v / PER) as usize;
            assert!(last[s] < Some(v), "one sender's messages in order");
            last[s] = Some(v);
        }
    }
}

#[test]
fn across_threads_with_lag_every_receiver_accounts_for_every_message() {
    const PER: u64 = 20_000;
    let (tx, rx) = sync::broadcast::<u64>(8); // small: receivers do lag
    let receivers: Vec<_> = (0..3)
        .map(|k| {
            let mut rx = rx.resubscribe();
            thread::spawn(move || {
                coro::run(move || {
                    let (mut taken, mut lost, mut last) = (0u64, 0u64, None);
                    loop {
                        match rx.recv() {
                            Ok(v) => {
                                assert!(last < Some(v), "in order");
                                last = Some(v);
                                taken += 1;
                            }
                            Err(BroadcastRecvError::Lagged(n)) => lost += n,
                            Err(BroadcastRecvError::Disconnected) => break,
                        }
                        if k == 0 && taken % 64 == 0 {
                            coro::sleep(Duration::from_millis(1)); // the slow one
                        }
                    }
                    (taken, lost)
                })
            })
        })
        .collect();
    drop(rx);
    let sender = thread::spawn(move || {
        for i in 0..PER {
            tx.send(i).unwrap();
            if i % 1000 == 0 {
                thread::sleep(Duration::from_millis(1));
            }
        }
    });
    sender.join().unwrap();
    for r in receivers {
        let (taken, lost) = r.join().unwrap();
        assert_eq!(taken + lost, PER, "taken {taken} + lost {lost}");
    }
}

#[test]
fn many_coroutines_receive_every_message_or_account_for_it() {
    const RECEIVERS: usize = 300;
    const MESSAGES: u32 = 2_000;
    coro::run(|| {
        let (tx, rx) = channel::broadcast::<u32>(32);
        let totals = Rc::new(RefCell::new(Vec::new()));
        let sent = Rc::new(Cell::new(0u32));
        let tasks: Vec<_> = (0..RECEIVERS)
            .map(|k| {
                let (mut rx, totals, sent) =
                    (rx.resubscribe(), Rc::clone(&totals), Rc::clone(&sent));
                coro::spawn(move || {
                    let (mut taken, mut lost, mut last) = (0u32, 0u64, None);
                    loop {
                        match rx.recv() {
                            Ok(v) => {
                                assert!(last < Some(v));
                                last = Some(v);
                                taken += 1;
                                if k % 10 == 0 && v % 500 == 0 {
                                    // Some fall 100 messages behind.
                                    while sent.get() < (v + 100).min(MESSAGES) {
                                        coro::yield_now();
                                    }
                                }
                            }
                            Err(BroadcastRecvError::Lagged(n)) => lost += n,
                            Err(BroadcastRecvError::Disconnected) => break,
                        }
                    }
                    totals.borrow_mut().push((k, taken, lost));
                })
            })
            .collect();
        drop(rx);
        coro::yield_now();
        for v in 0..MESSAGES {
            tx.send(v).unwrap();
            sent.set(v + 1);
            if v % 16 == 15 {
                coro::yield_now();
            }
        }
        drop(tx);
        for t in tasks {
            t.join().unwrap();
        }
        let totals = totals.borrow();
        assert_eq!(totals.len(), RECEIVERS);
        for &(k, taken, lost) in totals.iter() {
            assert_eq!(u64::from(taken) + lost, u64::from(MESSAGES));
            if k % 10 != 0 {
                assert_eq!(lost, 0, "receiver {k} kept up");
            }
        }
        for &(k, _, lost) in totals.iter().filter(|t| t.0 % 10 == 0) {
            assert!(lost >= 4 * (100 - 32), "receiver {k} fell behind 4 times");
        }
    });
}

#[test]
fn cross_thread_halves_are_send_and_sync() {
    fn assert_send_sync<X: Send + Sync>() {}
    assert_send_sync::<sync::BroadcastSender<String>>();
    assert_send_sync::<sync::BroadcastReceiver<String>>();
}
