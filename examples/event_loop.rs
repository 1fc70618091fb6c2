//! The event loop's tools: timers, `timeout`, `poll` on fds, and `spawn_blocking`.
//!
//! ```text
//! cargo run --example event_loop
//! ```

use std::io::Write;
use std::os::fd::AsRawFd;
use std::time::Duration;

use coro::poll::{POLLIN, PollFd, poll};

// ANCHOR: timers
/// Three coroutines sleep for different times; they wake in deadline order, and the sleeps
/// overlap: all three are asleep at once, so the whole takes as long as the longest sleep.
fn timers() -> (Vec<u64>, usize) {
    let order = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let asleep = std::rc::Rc::new(std::cell::Cell::new(0));
    let most_asleep = std::rc::Rc::new(std::cell::Cell::new(0));
    let handles: Vec<_> = [300u64, 100, 200]
        .into_iter()
        .map(|ms| {
            let (order, asleep, most) = (order.clone(), asleep.clone(), most_asleep.clone());
            coro::spawn(move || {
                asleep.set(asleep.get() + 1);
                most.set(most.get().max(asleep.get()));
                coro::sleep(Duration::from_millis(ms));
                asleep.set(asleep.get() - 1);
                order.borrow_mut().push(ms);
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    (order.take(), most_asleep.get())
}
// ANCHOR_END: timers

// ANCHOR: timeout
/// `timeout` runs a closure as a coroutine with a deadline; when it passes, the coroutine's
/// wait (here a sleep) unwinds, so its destructors run, and `timeout` says it timed out.
fn timeouts() -> (Result<u32, coro::Error>, Result<u32, coro::Error>) {
    let quick = coro::timeout(Duration::from_millis(100), || 7);
    let slow = coro::timeout(Duration::from_millis(10), || {
        coro::sleep(Duration::from_secs(3600)); // a one-hour timer is fine, too
        8
    });
    (quick, slow)
}
// ANCHOR_END: timeout

// ANCHOR: poll
/// libco's `co_poll`: wait for any of several fds, level-triggered like `poll(2)`, but only
/// this coroutine waits.
fn poll_pipe() -> std::io::Result<i16> {
    let (reader, mut writer) = std::io::pipe()?;
    let feeder = coro::spawn(move || {
        coro::sleep(Duration::from_millis(10));
        writer.write_all(b"ready").unwrap();
    });
    let mut fds = [PollFd::new(reader.as_raw_fd(), POLLIN)];
    let n = poll(&mut fds, Some(Duration::from_secs(5)))?;
    assert_eq!(n, 1);
    feeder.join().unwrap();
    Ok(fds[0].revents())
}
// ANCHOR_END: poll

// ANCHOR: blocking
/// Work that can only block (here: a CPU-heavy loop) goes to the blocking pool; the event loop
/// keeps running other coroutines meanwhile.
fn blocking() -> u64 {
    coro::spawn_blocking(|| (1..=1_000_000u64).filter(|n| n % 7 == 0).count() as u64)
}
// ANCHOR_END: blocking

/// Runs every part; `_quick` is accepted for symmetry with the other examples (all are small).
pub(crate) fn run(_quick: bool) -> std::io::Result<()> {
    coro::run(|| {
        let (order, most_asleep) = timers();
        assert_eq!(order, vec![100, 200, 300]);
        assert_eq!(most_asleep, 3, "the sleeps overlap");
        let (quick, slow) = timeouts();
        assert_eq!(quick.unwrap(), 7);
        assert!(matches!(slow, Err(coro::Error::TimedOut)));
        assert_ne!(poll_pipe()? & POLLIN, 0);
        assert_eq!(blocking(), 142_857);
        Ok(())
    })
}

fn main() -> std::io::Result<()> {
    run(std::env::args().any(|a| a == "--quick"))?;
    println!("timers, timeout, poll and spawn_blocking all behaved");
    Ok(())
}
