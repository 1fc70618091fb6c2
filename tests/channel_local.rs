//! `coro::channel::{unbounded, bounded}` between the coroutines of one thread: back-pressure,
//! ordering, disconnection that loses nothing, timeouts.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

use coro::channel::{self, RecvError, RecvTimeoutError, TryRecvError};

#[test]
fn bounded_sender_blocks_at_capacity_and_resumes_when_drained() {
    coro::run(|| {
        let (tx, rx) = channel::bounded(4);
        let sent = Rc::new(Cell::new(0));
        let s = Rc::clone(&sent);
        let producer = coro::spawn(move || {
            for i in 0..10 {
                tx.send(i).unwrap();
                s.set(s.get() + 1);
            }
        });
        for _ in 0..20 {
            coro::yield_now();
        }
        assert_eq!(sent.get(), 4, "the producer parks once the channel holds 4");
        assert_eq!(rx.len(), 4);
        assert!(!producer.is_finished());

        assert_eq!(rx.recv(), Ok(0));
        for _ in 0..20 {
            coro::yield_now();
        }
        assert_eq!(sent.get(), 5, "one slot freed, one more message sent");
        assert_eq!(rx.len(), 4);

        let rest: Vec<i32> = rx.iter().collect();
        assert_eq!(rest, (1..10).collect::<Vec<_>>());
        assert_eq!(sent.get(), 10);
        producer.join().unwrap();
    });
}

#[test]
fn parked_senders_are_served_in_arrival_order() {
    coro::run(|| {
        let (tx, rx) = channel::bounded(1);
        tx.send(usize::MAX).unwrap();
        let senders: Vec<_> = (0..100)
            .map(|i| {
                let tx = tx.clone();
                coro::spawn(move || tx.send(i).unwrap())
            })
            .collect();
        drop(tx);
        coro::yield_now();
        assert_eq!(rx.recv(), Ok(usize::MAX));
        let got: Vec<usize> = rx.iter().collect();
        assert_eq!(got, (0..100).collect::<Vec<_>>());
        for s in senders {
            s.join().unwrap();
        }
    });
}

#[test]
fn disconnect_after_sends_loses_nothing() {
    coro::run(|| {
        let (tx, rx) = channel::unbounded();
        let producers: Vec<_> = (0..4u32)
            .map(|p| {
                let tx = tx.clone();
                coro::spawn(move || {
                    for i in 0..1000u32 {
                        tx.send(p * 10_000 + i).unwrap();
                        if i % 100 == 0 {
                            coro::yield_now();
                        }
                    }
                })
            })
            .collect();
        drop(tx);
        let mut got = Vec::new();
        while let Ok(v) = rx.recv() {
            got.push(v);
            coro::yield_now(); // a slow consumer: producers finish and drop first
        }
        assert_eq!(rx.recv(), Err(RecvError));
        for p in producers {
            p.join().unwrap();
        }
        got.sort_unstable();
        let want: Vec<u32> = (0..4u32)
            .flat_map(|p| (0..1000).map(move |i| p * 10_000 + i))
            .collect();
        assert_eq!(got, want, "every message arrived once before Disconnected");
        assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
    });
}

#[test]
fn a_parked_receiver_wakes_on_disconnect() {
    coro::run(|| {
        let (tx, rx) = channel::unbounded::<u8>();
        let h = coro::spawn(move || rx.recv());
        coro::yield_now();
        drop(tx);
        assert_eq!(h.join().unwrap(), Err(RecvError));
    });
}

#[test]
fn a_parked_sender_gets_its_message_back_when_receivers_go() {
    coro::run(|| {
        let (tx, rx) = channel::bounded(1);
        tx.send(String::from("kept")).unwrap();
        let h = coro::spawn(move || tx.send(String::from("returned")));
        coro::yield_now();
        drop(rx);
        assert_eq!(h.join().unwrap().unwrap_err().into_inner(), "returned");
    });
}

#[test]
fn many_receivers_share_the_messages() {
    coro::run(|| {
        let (tx, rx) = channel::bounded(8);
        let total = Rc::new(Cell::new(0u64));
        let seen = Rc::new(RefCell::new(Vec::new()));
        let workers: Vec<_> = (0..4)
            .map(|_| {
                let (rx, total, seen) = (rx.clone(), Rc::clone(&total), Rc::clone(&seen));
                coro::spawn(move || {
                    for v in &rx {
                        total.set(total.get() + v);
                        seen.borrow_mut().push(v);
                        coro::yield_now();
                    }
                })
            })
            .collect();
        drop(rx);
        for v in 0..1000u64 {
            tx.send(v).unwrap();
        }
        drop(tx);
        for w in workers {
            w.join().unwrap();
        }
        assert_eq!(total.get(), (0..1000).sum::<u64>());
        let mut seen = seen.borrow().clone();
        seen.sort_unstable();
        assert_eq!(seen, (0..1000).collect::<Vec<_>>());
    });
}

#[test]
fn recv_timeout_inside_a_task() {
    coro::run(|| {
        let (tx, rx) = channel::unbounded();
        let start = Instant::now();
        assert_eq!(
            rx.recv_timeout(Duration::from_millis(20)),
            Err(RecvTimeoutError::Timeout)
        );
        assert!(start.elapsed() >= Duration::from_millis(20));
        let h = coro::spawn(move || {
            coro::yield_now();
            tx.send(7).unwrap();
        });
        assert_eq!(rx.recv_timeout(Duration::from_secs(10)), Ok(7));
        h.join().unwrap();
    });
}

#[test]
fn send_timeout_on_a_full_channel() {
    coro::run(|| {
        let (tx, rx) = channel::bounded(1);
        tx.send(1).unwrap();
        let err = tx.send_timeout(2, Duration::from_millis(10)).unwrap_err();
        assert!(err.is_timeout());
        assert_eq!(err.into_inner(), 2);
        assert_eq!(rx.recv(), Ok(1));
        tx.send_timeout(3, Duration::from_millis(10)).unwrap();
        assert_eq!(rx.recv(), Ok(3));
    });
}

#[test]
fn channel_errors_convert_into_coro_error() {
    fn first(rx: &channel::Receiver<u8>) -> coro::Result<u8> {
        Ok(rx.recv()?)
    }
    let (tx, rx) = channel::unbounded();
    tx.send(1).unwrap();
    drop(tx);
    assert_eq!(first(&rx).unwrap(), 1);
    assert!(matches!(first(&rx), Err(coro::Error::Disconnected)));
}
