//! A small pipeline built from coro's channels and sync primitives.
//!
//! Two plain threads feed numbers into a cross-thread channel; inside one coro scheduler, eight
//! worker coroutines (held at a start gate, a `Cond`) take them, compute their Collatz step
//! counts in a section that a `Semaphore` limits to three at a time, keep shared statistics under
//! a `Mutex`, and pass results through a bounded local channel to a collector; a `WaitGroup` says
//! when every worker is done.
//!
//! Run it with `cargo run --example sync_demo` (add `--quick` for a small run). The book's
//! chapter "Synchronization" includes the code between the `ANCHOR` markers.

use std::cell::Cell;
use std::rc::Rc;
use std::thread;

use coro::channel::{self, sync};
use coro::sync::{Cond, Mutex, Semaphore, WaitGroup};

/// Worker coroutines.
const WORKERS: usize = 8;
/// How many workers may be in the limited section at once.
const SLOTS: usize = 3;
/// Feeder threads.
const FEEDERS: u64 = 2;

/// What the pipeline measured.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Stats {
    /// Numbers processed.
    pub(crate) jobs: u64,
    /// Sum of their Collatz step counts.
    pub(crate) steps: u64,
    /// The number with the most steps, and its step count.
    pub(crate) longest: (u64, u64),
    /// The most workers ever inside the semaphore's section at once.
    pub(crate) most_in_section: usize,
}

fn main() -> coro::Result<()> {
    let quick = std::env::args().any(|a| a == "--quick");
    let stats = run(quick)?;
    println!(
        "{} numbers, {} Collatz steps in all; the longest: {} ({} steps); at most {} workers in the limited section",
        stats.jobs, stats.steps, stats.longest.0, stats.longest.1, stats.most_in_section
    );
    Ok(())
}

/// Steps of the Collatz sequence from `n` down to 1.
pub(crate) fn collatz_steps(mut n: u64) -> u64 {
    let mut steps = 0;
    while n > 1 {
        n = if n.is_multiple_of(2) {
            n / 2
        } else {
            3 * n + 1
        };
        steps += 1;
    }
    steps
}

/// Runs the pipeline over `FEEDERS * per_feeder` numbers (1, 2, ...); `quick` makes it small.
/// Called by `main` and by the test `tests/example_sync_demo.rs`.
pub(crate) fn run(quick: bool) -> coro::Result<Stats> {
    let per_feeder: u64 = if quick { 500 } else { 50_000 };
    // ANCHOR: feeders
    // A cross-thread channel: its Sender is Send, and a send from a plain thread wakes the
    // receiving coroutine through its scheduler's eventfd.
    let (input_tx, input_rx) = sync::bounded::<u64>(256);
    let feeders: Vec<_> = (0..FEEDERS)
        .map(|f| {
            let tx = input_tx.clone();
            thread::spawn(move || {
                for i in 0..per_feeder {
                    // Parks this thread while the channel is full (back-pressure).
                    tx.send(f * per_feeder + i + 1)
                        .expect("the pipeline is running");
                }
            })
        })
        .collect();
    drop(input_tx); // the workers see the end of the input once both feeders are done
    let stats = coro::try_run(move || pipeline(input_rx))?;
    // ANCHOR_END: feeders
    for f in feeders {
        f.join().expect("a feeder thread panicked");
    }
    Ok(stats)
}

fn pipeline(input: sync::Receiver<u64>) -> Stats {
    // ANCHOR: shared
    let (results_tx, results_rx) = channel::bounded::<(u64, u64)>(16);
    let gate = Rc::new((Cond::new(), Cell::new(false))); // start gate: the Cond and its flag
    let slots = Rc::new(Semaphore::new(SLOTS));
    let in_section = Rc::new(Cell::new(0usize));
    let stats = Rc::new(Mutex::new(Stats::default()));
    let workers_done = Rc::new(WaitGroup::new());
    // ANCHOR_END: shared

    // ANCHOR: workers
    for _ in 0..WORKERS {
        workers_done.add(1);
        let input = input.clone();
        let results = results_tx.clone();
        let (gate, slots, in_section) = (gate.clone(), slots.clone(), in_section.clone());
        let (stats, workers_done) = (stats.clone(), workers_done.clone());
        coro::spawn(move || {
            while !gate.1.get() {
                gate.0.wait(); // parked until the broadcast below
            }
            for n in &input {
                slots.acquire(); // at most SLOTS workers past this line
                in_section.set(in_section.get() + 1);
                let steps = collatz_steps(n);
                coro::yield_now(); // stands for a call that parks: I/O, a sleep
                let most = in_section.get();
                in_section.set(most - 1);
                slots.release();

                let mut s = stats.lock(); // held across the park below, yet exclusive
                s.jobs += 1;
                coro::yield_now();
                s.steps += steps;
                s.most_in_section = s.most_in_section.max(most);
                drop(s);

                results.send((n, steps)).expect("the collector is running");
            }
            workers_done.done();
        });
    }
    drop(results_tx); // the collector's loop ends when every worker has dropped its sender
    // ANCHOR_END: workers

    // ANCHOR: start
    coro::yield_now(); // the ready queue is FIFO: every worker runs up to the gate first
    gate.1.set(true);
    let released = gate.0.broadcast();
    assert_eq!(released, WORKERS, "every worker waits at the gate");
    // ANCHOR_END: start

    // ANCHOR: collector
    let watcher = {
        let (workers_done, stats) = (workers_done.clone(), stats.clone());
        coro::spawn(move || {
            workers_done.wait();
            stats.lock().clone()
        })
    };
    let mut jobs = 0;
    let mut longest = (0, 0);
    for (n, steps) in results_rx {
        jobs += 1;
        if steps > longest.1 {
            longest = (n, steps);
        }
    }
    let mut stats = watcher.join().expect("the watcher does not panic");
    assert_eq!(
        stats.jobs, jobs,
        "the collector saw every job the workers counted"
    );
    stats.longest = longest;
    stats
    // ANCHOR_END: collector
}
