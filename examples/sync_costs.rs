//! What coro's sync primitives and channels cost on this machine: a few micro-measurements,
//! each the median of several rounds, printed as `name value unit` lines.
//!
//! Run it with `cargo run --release --example sync_costs` (add `--quick` for a small run). The
//! book's chapter "Synchronization" quotes its figures.

use std::cell::Cell;
use std::hint::black_box;
use std::rc::Rc;
use std::time::Instant;

use coro::channel;
use coro::sync::{Cond, Mutex};

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    for (name, value, unit) in run(quick) {
        println!("{name} {value:.1} {unit}");
    }
}

/// Runs every measurement (`quick`: small and once) and returns `(name, median, unit)` lines.
/// Called by `main` and by the test `tests/example_sync_costs.rs`.
pub(crate) fn run(quick: bool) -> Vec<(&'static str, f64, &'static str)> {
    let n: u64 = if quick { 2_000 } else { 1_000_000 };
    let rounds = if quick { 1 } else { 5 };
    vec![
        report("yield_pingpong", "ns/round", rounds, || yield_pingpong(n)),
        report("local_channel_bounded64", "ns/msg", rounds, || {
            local_channel(n, 64)
        }),
        report("local_channel_bounded1", "ns/msg", rounds, || {
            local_channel(n, 1)
        }),
        report("mutex_handoff", "ns/lock", rounds, || mutex_handoff(n)),
        report("cond_pingpong", "ns/round", rounds, || cond_pingpong(n)),
        report("sync_channel_4threads", "ns/msg", rounds, || {
            sync_channel(4 * n)
        }),
    ]
}

fn report(
    name: &'static str,
    unit: &'static str,
    rounds: usize,
    mut f: impl FnMut() -> f64,
) -> (&'static str, f64, &'static str) {
    let mut v: Vec<f64> = (0..rounds).map(|_| f()).collect();
    v.sort_by(f64::total_cmp);
    (name, v[v.len() / 2], unit)
}

/// Two coroutines that only `yield_now` to each other: the scheduler's own cost of a round
/// trip, the floor for everything below.
fn yield_pingpong(n: u64) -> f64 {
    coro::run(|| {
        let t = Instant::now();
        let h = coro::spawn(move || {
            for _ in 0..n {
                coro::yield_now();
            }
        });
        for _ in 0..n {
            coro::yield_now();
        }
        h.join().unwrap();
        t.elapsed().as_nanos() as f64 / n as f64
    })
}

/// A producer and a consumer coroutine on a bounded channel of capacity `cap`.
fn local_channel(n: u64, cap: usize) -> f64 {
    coro::run(|| {
        let (tx, rx) = channel::bounded::<u64>(cap);
        let t = Instant::now();
        let p = coro::spawn(move || {
            for i in 0..n {
                tx.send(i).unwrap();
            }
        });
        let sum = rx.iter().fold(0u64, u64::wrapping_add);
        p.join().unwrap();
        black_box(sum);
        t.elapsed().as_nanos() as f64 / n as f64
    })
}

/// Two coroutines that each hold the lock across a yield: every lock is a hand-off.
fn mutex_handoff(n: u64) -> f64 {
    coro::run(|| {
        let m = Rc::new(Mutex::new(0u64));
        let t = Instant::now();
        let hs: Vec<_> = (0..2)
            .map(|_| {
                let m = Rc::clone(&m);
                coro::spawn(move || {
                    for _ in 0..n / 2 {
                        let mut g = m.lock();
                        *g += 1;
                        coro::yield_now();
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        t.elapsed().as_nanos() as f64 / n as f64
    })
}

/// Signal and wait back and forth on two `Cond`s.
fn cond_pingpong(n: u64) -> f64 {
    coro::run(|| {
        let c = Rc::new((Cond::new(), Cond::new(), Cell::new(0u64)));
        let c2 = Rc::clone(&c);
        let t = Instant::now();
        let h = coro::spawn(move || {
            for _ in 0..n {
                c2.0.wait();
                c2.2.set(c2.2.get() + 1);
                c2.1.signal();
            }
        });
        coro::yield_now();
        for _ in 0..n {
            c.0.signal();
            c.1.wait();
        }
        h.join().unwrap();
        t.elapsed().as_nanos() as f64 / n as f64
    })
}

/// Four std threads send `n` messages in all through a `channel::sync::bounded(1024)` to one
/// coroutine.
fn sync_channel(n: u64) -> f64 {
    let (tx, rx) = channel::sync::bounded::<u64>(1024);
    let t = Instant::now();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for i in 0..n / 4 {
                    tx.send(i).unwrap();
                }
            })
        })
        .collect();
    drop(tx);
    let sum = coro::run(move || rx.iter().fold(0u64, u64::wrapping_add));
    for th in threads {
        th.join().unwrap();
    }
    black_box(sum);
    t.elapsed().as_nanos() as f64 / n as f64
}
