//! The channels beside the queues: `broadcast` (every receiver gets every message, a slow one
//! is told how many it lost), `watch` (one value that receivers wait to see change) and the
//! rendezvous `bounded(0)` (a send returns once a receiver has taken the value), in their local
//! flavour, and a cross-thread `sync::watch` fed by a plain thread.
//!
//! ```text
//! cargo run --example channels
//! ```

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use coro::channel::{self, BroadcastRecvError, TrySendError};

// ANCHOR: broadcast
/// A ticker with two subscribers: one takes every tick as it comes, the other looks only at
/// the end, when the channel (capacity 4) has dropped all but the last 4 ticks.
fn ticker() -> (Vec<u32>, Vec<String>) {
    let (tx, mut eager) = channel::broadcast::<u32>(4);
    let mut late = tx.subscribe(); // sees what is sent from now on
    let keeps_up = coro::spawn(move || {
        let mut got = Vec::new();
        while let Ok(tick) = eager.recv() {
            got.push(tick); // parks in `recv` until the next tick
        }
        got
    });
    for tick in 1..=10 {
        tx.send(tick).unwrap(); // never waits: a full channel drops its oldest tick
        coro::yield_now(); // `eager` takes it
    }
    drop(tx); // receivers take what is left, then get `Disconnected`
    let mut seen = Vec::new();
    loop {
        match late.recv() {
            Ok(tick) => seen.push(tick.to_string()),
            Err(BroadcastRecvError::Lagged(n)) => seen.push(format!("lost {n}")),
            Err(BroadcastRecvError::Disconnected) => break,
        }
    }
    (keeps_up.join().unwrap(), seen)
}
// ANCHOR_END: broadcast

// ANCHOR: watch
/// A status that changes: the watcher reads the current value, then waits for each change.
/// Two sends before it looks again are one change, and it reads the latest.
fn status() -> Vec<&'static str> {
    let (tx, mut rx) = channel::watch("starting");
    let watcher = coro::spawn(move || {
        let mut seen = vec![*rx.borrow_and_update()];
        while rx.changed().is_ok() {
            seen.push(*rx.borrow_and_update()); // drop the guard before the next wait
        }
        seen // `changed` failed: the sender is gone and the last value was seen
    });
    coro::yield_now(); // the watcher reads "starting" and waits
    tx.send("loading").unwrap();
    tx.send("ready").unwrap(); // "loading" is replaced before anyone read it
    coro::yield_now();
    tx.send("stopping").unwrap();
    drop(tx);
    let seen = watcher.join().unwrap();

    // With no receiver left, `send` fails and stores nothing; `send_replace` stores anyway.
    let (tx, rx) = channel::watch(0);
    drop(rx);
    assert!(tx.send(1).is_err());
    assert_eq!(*tx.borrow(), 0);
    tx.send_replace(2);
    assert_eq!(*tx.borrow(), 2);
    seen
}
// ANCHOR_END: watch

// ANCHOR: rendezvous
/// A hand-off: `bounded(0)` holds no message, so each `send` returns only once the consumer
/// has taken the value, and `try_send` succeeds only while a receiver is waiting.
fn hand_off() -> Vec<String> {
    let log = Rc::new(RefCell::new(Vec::new()));
    let (tx, rx) = channel::bounded::<u32>(0);
    assert_eq!(
        tx.try_send(0),
        Err(TrySendError::Full(0)),
        "nobody waits yet"
    );
    let consumer = coro::spawn({
        let log = Rc::clone(&log);
        move || {
            for job in rx {
                log.borrow_mut().push(format!("took {job}"));
            }
        }
    });
    for job in 1..=2 {
        tx.send(job).unwrap(); // parks until the consumer has taken `job`
        log.borrow_mut().push(format!("sent {job}"));
    }
    // The consumer waits in `recv` now: `try_send` hands the value straight to it.
    tx.try_send(3).unwrap();
    drop(tx);
    consumer.join().unwrap();
    log.take()
}
// ANCHOR_END: rendezvous

// ANCHOR: sync_watch
/// Across threads: a plain thread reports progress through a `sync::watch`; a coroutine waits
/// for changes without blocking its thread, and sees some of the values, always the latest,
/// ending with the last.
fn progress() -> Vec<u32> {
    let (tx, mut rx) = channel::sync::watch(0u32);
    let worker = std::thread::spawn(move || {
        for percent in (10..=100).step_by(10) {
            std::thread::sleep(Duration::from_millis(1));
            tx.send(percent).unwrap(); // wakes the coroutine through its scheduler
        }
    });
    let mut seen = Vec::new();
    while rx.changed().is_ok() {
        seen.push(*rx.borrow_and_update());
    }
    worker.join().unwrap();
    seen
}
// ANCHOR_END: sync_watch

/// What each part of the example saw.
#[derive(Debug)]
pub(crate) struct Seen {
    /// The ticks the eager broadcast receiver took.
    pub(crate) eager: Vec<u32>,
    /// What the late broadcast receiver got.
    pub(crate) late: Vec<String>,
    /// The values the status watcher read.
    pub(crate) status: Vec<&'static str>,
    /// The rendezvous log, in order.
    pub(crate) hand_off: Vec<String>,
    /// The progress values the coroutine read.
    pub(crate) progress: Vec<u32>,
}

/// Runs every part in one runtime.
pub(crate) fn run() -> Seen {
    coro::run(|| {
        let (eager, late) = ticker();
        Seen {
            eager,
            late,
            status: status(),
            hand_off: hand_off(),
            progress: progress(),
        }
    })
}

fn main() {
    let seen = run();
    println!("broadcast: eager took {:?}", seen.eager);
    println!("broadcast: late got {:?}", seen.late);
    println!("watch: the watcher read {:?}", seen.status);
    println!("rendezvous: {:?}", seen.hand_off);
    println!("sync::watch: the coroutine read {:?}", seen.progress);
}
