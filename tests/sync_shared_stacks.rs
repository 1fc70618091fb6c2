//! Coroutines on shared (copy) stacks wait on every primitive: their frames are copied away
//! while they are parked, which is sound because wait nodes live on the heap.

use std::cell::RefCell;
use std::hint::black_box;
use std::rc::Rc;

use coro::channel;
use coro::sync::{Mutex, Semaphore, WaitGroup};

fn shared() -> coro::Builder {
    // SAFETY: the body keeps every reference into its stack to itself while it
    // waits (shared stacks move a suspended coroutine's frames away).
    unsafe { coro::Builder::new().shared(true) }
}

#[test]
fn a_thousand_shared_stack_coroutines_contend_fairly() {
    coro::run(|| {
        let mutex = Rc::new(Mutex::new(Vec::new()));
        let sem = Rc::new(Semaphore::new(2));
        let wg = Rc::new(WaitGroup::new());
        let arrivals = Rc::new(RefCell::new(Vec::new()));
        for i in 0..1000u32 {
            wg.add(1);
            let (mutex, sem, wg, arrivals) = (
                Rc::clone(&mutex),
                Rc::clone(&sem),
                Rc::clone(&wg),
                Rc::clone(&arrivals),
            );
            shared()
                .spawn(move || {
                    // A live frame that must survive being copied off the shared stack.
                    let frame = black_box([i; 64]);
                    for _ in 0..i % 3 {
                        coro::yield_now();
                    }
                    sem.acquire();
                    coro::yield_now();
                    sem.release();
                    arrivals.borrow_mut().push(i);
                    let mut guard = mutex.lock();
                    coro::yield_now();
                    assert!(frame.iter().all(|&v| v == i), "frame of {i} corrupted");
                    guard.push(i);
                    drop(guard);
                    wg.done();
                })
                .unwrap();
        }
        wg.wait();
        assert_eq!(*mutex.lock(), *arrivals.borrow());
        assert_eq!(mutex.lock().len(), 1000);
    });
}

#[test]
fn channels_between_shared_stack_coroutines() {
    coro::run(|| {
        let (tx, rx) = channel::bounded::<u64>(4);
        let (done_tx, done_rx) = channel::unbounded::<u64>();
        for w in 0..50u64 {
            let (rx, done_tx) = (rx.clone(), done_tx.clone());
            shared()
                .spawn(move || {
                    let frame = black_box([w; 32]);
                    let mut sum = 0;
                    for v in &rx {
                        sum += v;
                        coro::yield_now();
                    }
                    assert!(frame.iter().all(|&x| x == w));
                    done_tx.send(sum).unwrap();
                })
                .unwrap();
        }
        drop((rx, done_tx));
        let producer = shared()
            .spawn(move || {
                for v in 0..10_000u64 {
                    tx.send(v).unwrap();
                }
            })
            .unwrap();
        let total: u64 = done_rx.iter().sum();
        producer.join().unwrap();
        assert_eq!(total, (0..10_000u64).sum::<u64>());
    });
}
