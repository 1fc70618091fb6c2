//! `coro::channel::sync`: senders on other threads (std threads, other schedulers) wake the
//! receiving coroutine through its scheduler's eventfd; nothing is lost or duplicated.

use std::cell::Cell;
use std::rc::Rc;
use std::thread;
use std::time::Duration;

use coro::channel::{RecvError, sync};

const THREADS: u64 = 4;
const PER_THREAD: u64 = 25_000;

#[test]
fn four_std_threads_to_one_scheduler_deliver_every_message_exactly_once() {
    let (tx, rx) = sync::bounded(64);
    let senders: Vec<_> = (0..THREADS)
        .map(|t| {
            let tx = tx.clone();
            thread::spawn(move || {
                for i in 0..PER_THREAD {
                    tx.send(t * PER_THREAD + i).unwrap();
                }
            })
        })
        .collect();
    drop(tx);
    let (seen, ticks) = coro::run(move || {
        // A second coroutine keeps running while the receiver waits: waiting parks only the
        // receiving coroutine, never the scheduler's thread.
        let ticks = Rc::new(Cell::new(0u64));
        let done = Rc::new(Cell::new(false));
        let (t, d) = (Rc::clone(&ticks), Rc::clone(&done));
        let ticker = coro::spawn(move || {
            while !d.get() {
                t.set(t.get() + 1);
                coro::sleep(Duration::from_millis(1));
            }
        });
        let mut seen = vec![0u8; (THREADS * PER_THREAD) as usize];
        let mut last = vec![None::<u64>; THREADS as usize];
        for v in &rx {
            seen[v as usize] += 1;
            let t = (v / PER_THREAD) as usize;
            assert!(last[t] < Some(v), "messages of one sender arrive in order");
            last[t] = Some(v);
        }
        assert_eq!(rx.recv(), Err(RecvError));
        done.set(true);
        ticker.join().unwrap();
        (seen, ticks.get())
    });
    for s in senders {
        s.join().unwrap();
    }
    assert!(seen.iter().all(|&n| n == 1), "every message exactly once");
    assert!(ticks > 0);
}

#[test]
fn a_receiving_coroutine_sleeps_until_a_late_thread_sends() {
    let (tx, rx) = sync::unbounded();
    let sender = thread::spawn(move || {
        thread::sleep(Duration::from_millis(50));
        tx.send("late").unwrap();
    });
    let got = coro::run(move || rx.recv());
    assert_eq!(got, Ok("late"));
    sender.join().unwrap();
}

#[test]
fn a_coroutine_sender_feels_back_pressure_from_a_std_thread() {
    let (tx, rx) = sync::bounded(2);
    // The consumer starts receiving only after the check below, however slow the machine (a
    // fixed sleep would race the two yields under emulation).
    let (start, started) = std::sync::mpsc::channel::<()>();
    let consumer = thread::spawn(move || {
        started.recv().unwrap();
        rx.iter().collect::<Vec<u32>>()
    });
    coro::run(move || {
        let sent = Rc::new(Cell::new(0));
        let s = Rc::clone(&sent);
        let producer = coro::spawn(move || {
            for i in 0..100 {
                tx.send(i).unwrap();
                s.set(s.get() + 1);
            }
        });
        coro::yield_now();
        coro::yield_now();
        assert!(sent.get() <= 2 + 1, "the producer parks at capacity");
        start.send(()).unwrap();
        producer.join().unwrap();
        assert_eq!(sent.get(), 100);
    });
    assert_eq!(consumer.join().unwrap(), (0..100).collect::<Vec<_>>());
}

#[test]
fn between_two_schedulers_on_two_threads() {
    let (tx, rx) = sync::bounded::<u64>(8);
    let producer = thread::spawn(move || {
        coro::run(move || {
            let tasks: Vec<_> = (0..10u64)
                .map(|p| {
                    let tx = tx.clone();
                    coro::spawn(move || {
                        for i in 0..1000 {
                            tx.send(p * 1000 + i).unwrap();
                        }
                    })
                })
                .collect();
            drop(tx);
            for t in tasks {
                t.join().unwrap();
            }
        });
    });
    let sum = coro::run(move || rx.iter().sum::<u64>());
    producer.join().unwrap();
    assert_eq!(sum, (0..10_000u64).sum::<u64>());
}

#[test]
fn disconnect_after_sends_loses_nothing_across_threads() {
    let (tx, rx) = sync::unbounded();
    let t = thread::spawn(move || {
        for i in 0..10_000u32 {
            tx.send(i).unwrap();
        }
    });
    t.join().unwrap(); // every sender is gone before the first receive
    let got = coro::run(move || {
        let mut got = Vec::new();
        while let Ok(v) = rx.recv() {
            got.push(v);
        }
        got
    });
    assert_eq!(got, (0..10_000).collect::<Vec<_>>());
}

#[test]
fn across_the_threads_of_a_multi_thread_runtime() {
    use coro::sync::{Mutex, WaitGroup};
    const N: u64 = 10_000;
    let (tx, rx) = sync::bounded::<u64>(32);
    let sums = coro::Runtime::builder().threads(2).run(|i| {
        let wg = Rc::new(WaitGroup::new());
        let sum = Rc::new(Mutex::new(0u64));
        if i == 0 {
            // Thread 0: ten producing coroutines.
            for p in 0..10 {
                wg.add(1);
                let (tx, wg) = (tx.clone(), Rc::clone(&wg));
                coro::spawn(move || {
                    for k in 0..N / 10 {
                        tx.send(p * (N / 10) + k).unwrap();
                    }
                    wg.done();
                });
            }
        } else {
            // Thread 1: four consuming coroutines share N messages.
            let taken = Rc::new(Cell::new(0u64));
            for _ in 0..4 {
                wg.add(1);
                let (rx, wg, sum, taken) = (
                    rx.clone(),
                    Rc::clone(&wg),
                    Rc::clone(&sum),
                    Rc::clone(&taken),
                );
                coro::spawn(move || {
                    while taken.get() < N {
                        taken.set(taken.get() + 1);
                        let v = rx.recv().unwrap();
                        let mut s = sum.lock(); // a local Mutex among this thread's coroutines
                        coro::yield_now();
                        *s += v;
                    }
                    wg.done();
                });
            }
        }
        wg.wait();
        *sum.lock()
    });
    assert_eq!(sums, [0, (0..N).sum::<u64>()]);
}
