//! `coro::channel::watch` and `coro::channel::sync::watch`: one value that senders replace and
//! receivers read; `changed` parks until there is a value newer than the last one the receiver
//! saw, so several sends between two looks make one change with the latest value; `changed`
//! fails once every sender is gone and the last value has been seen. A receiver cancelled or
//! timed out while it waits unwinds and takes no wake-up from the others.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::thread;
use std::time::Duration;

use coro::channel::{self, ChangedError, ChangedTimeoutError, sync};

const SHORT: Duration = Duration::from_millis(20);

/// The message of a caught panic.
fn message(payload: Box<dyn Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(s) => *s,
        Err(p) => p.downcast_ref::<&str>().unwrap().to_string(),
    }
}

#[test]
fn borrow_reads_the_value_that_send_replaced() {
    let (tx, rx) = channel::watch(String::from("a"));
    assert_eq!(*rx.borrow(), "a");
    tx.send("b".into()).unwrap();
    assert_eq!(*rx.borrow(), "b");
    assert_eq!(*tx.borrow(), "b");
    assert_eq!(tx.send_replace("c".into()), "b");
    assert_eq!(*rx.borrow(), "c");
}

#[test]
fn changed_parks_until_a_newer_value() {
    coro::run(|| {
        let (tx, mut rx) = channel::watch(0);
        let woke = Rc::new(Cell::new(false));
        let w = Rc::clone(&woke);
        let watcher = coro::spawn(move || {
            rx.changed().unwrap();
            w.set(true);
            *rx.borrow()
        });
        for _ in 0..5 {
            coro::yield_now();
        }
        assert!(!woke.get(), "the initial value counts as seen: it waits");
        tx.send(1).unwrap();
        assert_eq!(watcher.join().unwrap(), 1);
    });
}

#[test]
fn several_sends_between_two_looks_make_one_change_with_the_latest_value() {
    coro::run(|| {
        let (tx, mut rx) = channel::watch(0);
        let watcher = coro::spawn(move || {
            let mut seen = Vec::new();
            while rx.changed().is_ok() {
                seen.push(*rx.borrow());
            }
            seen
        });
        coro::yield_now();
        for round in 0..5 {
            for v in 1..=10 {
                tx.send(round * 10 + v).unwrap(); // no yield: the watcher cannot look
            }
            coro::yield_now(); // it looks once
        }
        drop(tx);
        assert_eq!(watcher.join().unwrap(), [10, 20, 30, 40, 50]);
    });
}

#[test]
fn what_each_receiver_has_seen() {
    let (tx, mut rx) = channel::watch(1);
    assert!(!rx.has_changed());
    tx.send(2).unwrap();
    let fresh = tx.subscribe();
    assert!(
        !fresh.has_changed(),
        "a new receiver has seen the current value"
    );
    let clone = rx.clone();
    assert!(
        clone.has_changed(),
        "a clone has seen what its original saw"
    );
    assert_eq!(*rx.borrow(), 2);
    assert!(rx.has_changed(), "borrow does not count as seeing");
    assert_eq!(*rx.borrow_and_update(), 2);
    assert!(!rx.has_changed());
    assert_eq!(
        rx.changed_timeout(SHORT),
        Err(ChangedTimeoutError::Timeout),
        "nothing newer: it waits, here sleeping the thread"
    );
    tx.send(3).unwrap();
    assert_eq!(rx.changed_timeout(SHORT), Ok(()));
    assert_eq!(rx.changed_timeout(SHORT), Err(ChangedTimeoutError::Timeout));
    assert_eq!(tx.receiver_count(), 3);
}

#[test]
fn the_last_sender_wakes_waiters_and_an_unseen_value_is_still_reported() {
    coro::run(|| {
        let (tx, rx) = channel::watch(0);
        let tx2 = tx.clone();
        let waiting: Vec<_> = (0..3)
            .map(|_| {
                let mut rx = rx.clone();
                coro::spawn(move || rx.changed())
            })
            .collect();
        coro::yield_now();
        drop(tx);
        coro::yield_now();
        assert!(!rx.is_disconnected(), "a sender remains");
        drop(tx2);
        assert!(rx.is_disconnected());
        for w in waiting {
            assert_eq!(w.join().unwrap(), Err(ChangedError));
        }
        let (tx, mut rx) = channel::watch(0);
        tx.send(5).unwrap();
        drop(tx);
        assert_eq!(rx.changed(), Ok(()), "the last value is still news");
        assert_eq!(*rx.borrow(), 5);
        assert_eq!(rx.changed(), Err(ChangedError));
    });
}

#[test]
fn send_with_no_receiver_fails_and_stores_nothing() {
    let (tx, rx) = channel::watch("a");
    drop(rx);
    assert!(tx.is_disconnected());
    assert_eq!(tx.send("b").unwrap_err().into_inner(), "b");
    assert_eq!(*tx.borrow(), "a");
    assert_eq!(tx.send_replace("c"), "a", "send_replace stores anyway");
    let rx = tx.subscribe();
    assert_eq!(*rx.borrow(), "c");
    assert!(!rx.has_changed());
    tx.send("d").unwrap();
    assert!(rx.has_changed());
}

#[test]
fn modify_in_place() {
    let (tx, mut rx) = channel::watch(vec![1]);
    tx.send_modify(|v| v.push(2));
    assert!(rx.has_changed());
    assert_eq!(*rx.borrow_and_update(), [1, 2]);
    assert!(!tx.send_if_modified(|v| {
        v.push(3);
        false
    }));
    assert!(!rx.has_changed(), "not reported as a change");
    assert_eq!(*rx.borrow(), [1, 2, 3], "but the value was changed");
    assert!(tx.send_if_modified(|v| v.pop().is_some()));
    assert!(rx.has_changed());
}

#[test]
fn a_send_while_a_local_borrow_is_held_panics_with_a_sentence() {
    let (tx, rx) = channel::watch(0);
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _value = rx.borrow();
        let _ = tx.send(1);
    }));
    let msg = message(r.unwrap_err());
    assert!(msg.contains("drop the `Ref` first"), "{msg}");
    tx.send(2).unwrap(); // the guard is gone: the channel works
    assert_eq!(*rx.borrow(), 2);
}

#[test]
fn untimed_changed_outside_a_task_panics() {
    let (_tx, mut rx) = channel::watch(0);
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| rx.changed()));
    let msg = message(r.unwrap_err());
    assert!(
        msg.contains("WatchReceiver::changed would block forever"),
        "{msg}"
    );
}

#[test]
fn a_cancelled_waiting_receiver_unwinds_and_the_others_still_see_the_change() {
    coro::run(|| {
        let (tx, rx) = channel::watch(0);
        let mut rx1 = rx.clone();
        let r1 = coro::spawn(move || {
            let _ = rx1.changed();
            unreachable!("cancelled while it waits");
        });
        let others: Vec<_> = (0..3)
            .map(|_| {
                let mut rx = rx.clone();
                coro::spawn(move || rx.changed().map(|()| *rx.borrow()))
            })
            .collect();
        coro::yield_now();
        r1.cancel();
        assert!(r1.join().unwrap_err().is::<coro::Cancelled>());
        assert_eq!(tx.receiver_count(), 4);
        tx.send(7).unwrap();
        for o in others {
            assert_eq!(o.join().unwrap(), Ok(7));
        }
    });
}

#[test]
fn a_receiver_cancelled_in_the_turn_a_change_wakes_it_takes_no_wake_up_from_the_others() {
    coro::run(|| {
        let (tx, rx) = channel::watch(0);
        let mut rx1 = rx.clone();
        let r1 = coro::spawn(move || {
            let _ = rx1.changed();
            unreachable!("the cancel wins over the wake-up");
        });
        let mut rx2 = rx.clone();
        let r2 = coro::spawn(move || rx2.changed().map(|()| *rx2.borrow()));
        coro::yield_now(); // r1 then r2 wait
        tx.send(1).unwrap(); // wakes both...
        r1.cancel(); // ...and r1 is cancelled before it runs
        assert!(r1.join().unwrap_err().is::<coro::Cancelled>());
        assert_eq!(r2.join().unwrap(), Ok(1));
        drop(rx);
    });
}

#[test]
fn a_wait_under_a_deadline_scope_unwinds_and_the_receiver_goes_on() {
    coro::run(|| {
        let (tx, mut rx) = channel::watch(0);
        let r = coro::with_timeout(SHORT, || rx.changed());
        assert!(matches!(r, Err(coro::Error::TimedOut)));
        tx.send(1).unwrap();
        assert!(
            rx.has_changed(),
            "the change after the time-out is there to see"
        );
        assert_eq!(rx.changed(), Ok(()));
        let tx2 = tx.clone();
        let sender = coro::spawn(move || {
            coro::sleep(Duration::from_millis(5));
            tx2.send(2).unwrap();
        });
        let r = coro::with_timeout(Duration::from_secs(10), || rx.changed());
        assert!(matches!(r, Ok(Ok(()))));
        assert_eq!(*rx.borrow(), 2);
        sender.join().unwrap();
    });
}

#[test]
fn errors_convert_into_coro_error() {
    fn wait(rx: &mut channel::WatchReceiver<u8>) -> coro::Result<u8> {
        rx.changed_timeout(SHORT)?;
        Ok(*rx.borrow())
    }
    let (tx, mut rx) = channel::watch(0u8);
    assert!(matches!(wait(&mut rx), Err(coro::Error::TimedOut)));
    tx.send(1).unwrap();
    assert!(matches!(wait(&mut rx), Ok(1)));
    drop(tx);
    assert!(matches!(wait(&mut rx), Err(coro::Error::Disconnected)));
    assert_eq!(
        ChangedError.to_string(),
        "waiting for a change of a watch channel whose senders are all gone"
    );
}

#[test]
fn a_std_thread_updates_coroutines_on_two_runtimes_and_a_std_thread() {
    const LAST: u64 = 20_000;
    let (tx, rx) = sync::watch(0u64);
    let mut watchers = Vec::new();
    for _ in 0..2 {
        let rx = rx.clone();
        watchers.push(thread::spawn(move || {
            coro::run(move || {
                let tasks: Vec<_> = (0..4)
                    .map(|_| {
                        let mut rx = rx.clone();
                        coro::spawn(move || {
                            let (mut last, mut changes) = (0, 0u64);
                            while rx.changed().is_ok() {
                                // `borrow_and_update` marks what it reads as seen: a value sent
                                // after `changed` returned and read here is not news again.
                                let v = *rx.borrow_and_update();
                                assert!(v > last, "values only move forward: {v} after {last}");
                                last = v;
                                changes += 1;
                            }
                            (last, changes)
                        })
                    })
                    .collect();
                tasks
                    .into_iter()
                    .map(|t| t.join().unwrap())
                    .collect::<Vec<_>>()
            })
        }));
    }
    let mut plain = rx.clone();
    watchers.push(thread::spawn(move || {
        let (mut last, mut changes) = (0, 0u64);
        while plain.changed().is_ok() {
            let v = *plain.borrow_and_update();
            assert!(v > last);
            last = v;
            changes += 1;
        }
        vec![(last, changes)]
    }));
    drop(rx);
    let sender = thread::spawn(move || {
        for v in 1..=LAST {
            tx.send(v).unwrap();
        }
    });
    sender.join().unwrap();
    let results: Vec<_> = watchers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();
    assert_eq!(results.len(), 9);
    for (last, changes) in results {
        assert_eq!(last, LAST, "every watcher ends on the last value");
        assert!((1..=LAST).contains(&changes));
    }
}

#[test]
fn a_coroutine_sender_wakes_a_plain_thread() {
    let (tx, mut rx) = sync::watch("idle");
    let t = thread::spawn(move || {
        rx.changed().unwrap(); // parks the thread
        *rx.borrow()
    });
    coro::run(move || {
        coro::sleep(Duration::from_millis(20));
        tx.send("busy").unwrap();
    });
    assert_eq!(t.join().unwrap(), "busy");
}

#[test]
fn many_coroutines_watch_one_value() {
    const WATCHERS: usize = 1_000;
    const UPDATES: u32 = 200;
    coro::run(|| {
        let (tx, rx) = channel::watch(0u32);
        let seen = Rc::new(RefCell::new(Vec::new()));
        let tasks: Vec<_> = (0..WATCHERS)
            .map(|k| {
                let (mut rx, seen) = (rx.clone(), Rc::clone(&seen));
                coro::spawn(move || {
                    let (mut last, mut changes) = (0, 0u32);
                    while rx.changed().is_ok() {
                        let v = *rx.borrow_and_update();
                        assert!(v > last);
                        last = v;
                        changes += 1;
                        if k % 3 == 0 {
                            coro::yield_now(); // some look less often
                            coro::yield_now();
                        }
                    }
                    seen.borrow_mut().push((last, changes));
                })
            })
            .collect();
        drop(rx);
        coro::yield_now();
        for v in 1..=UPDATES {
            tx.send(v).unwrap();
            coro::yield_now();
        }
        drop(tx);
        for t in tasks {
            t.join().unwrap();
        }
        let seen = seen.borrow();
        assert_eq!(seen.len(), WATCHERS);
        assert!(seen.iter().all(|&(last, _)| last == UPDATES));
        assert!(seen.iter().all(|&(_, c)| (1..=UPDATES).contains(&c)));
        assert!(
            seen.iter().any(|&(_, c)| c < UPDATES),
            "the slow lookers saw fewer, coalesced changes"
        );
        assert!(
            seen.iter().any(|&(_, c)| c == UPDATES),
            "the quick ones saw every change"
        );
    });
}

#[test]
fn cross_thread_halves_are_send_and_sync() {
    fn assert_send_sync<X: Send + Sync>() {}
    assert_send_sync::<sync::WatchSender<String>>();
    assert_send_sync::<sync::WatchReceiver<String>>();
}
