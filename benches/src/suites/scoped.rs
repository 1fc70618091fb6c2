//! `scoped`: one scoped spawn that borrows from the caller's stack, run to its end and joined,
//! per spawn: `coro::scope` + `Scope::spawn` + `join` inside a coroutine, against
//! `std::thread::scope` + `spawn` + `join` and may's `coroutine::scope` + `spawn` (inside a may
//! coroutine, one worker). Each timed loop opens one scope per iteration with one child, the
//! shape of a fork-join step.

use std::hint::black_box;
use std::time::{Duration, Instant};

use crate::Args;
use crate::harness::{Contender, compare, figure, get};

/// Runs the suite.
pub(crate) fn run(args: &Args) -> Result<(), String> {
    let opts = args.harness()?;
    may::config().set_workers(1);
    let mut cs = vec![
        Contender::timed("coro", |iters| {
            coro::run(|| {
                let data = [1u64, 2, 3];
                let start = Instant::now();
                for _ in 0..iters {
                    let r = coro::scope(|s| s.spawn(|| black_box(&data)[1]).join().unwrap());
                    black_box(r);
                }
                start.elapsed()
            })
        }),
        Contender::timed("std_thread_scope", |iters| {
            let data = [1u64, 2, 3];
            let start = Instant::now();
            for _ in 0..iters {
                let r = std::thread::scope(|s| s.spawn(|| black_box(&data)[1]).join().unwrap());
                black_box(r);
            }
            start.elapsed()
        }),
        Contender::timed("may", |iters| {
            let outer = may::go!(move || {
                let data = [1u64, 2, 3];
                let start = Instant::now();
                for _ in 0..iters {
                    let mut r = 0;
                    may::coroutine::scope(|s| {
                        // SAFETY: may's scoped spawn is unsafe for may's own reasons (its
                        // coroutines may move between threads); the closure uses no
                        // thread-local, and borrows `data` and `r`, which outlive the scope.
                        unsafe { s.spawn(|| r = black_box(&data)[1]) };
                    });
                    black_box(r);
                }
                start.elapsed()
            });
            outer.join().unwrap_or(Duration::MAX)
        }),
    ];
    let ms = compare("scoped spawn+join", &mut cs, opts);
    let (co, st, my) = (
        get(&ms, "coro"),
        get(&ms, "std_thread_scope"),
        get(&ms, "may"),
    );
    println!(
        "scoped: coro::scope + spawn + join is {:.3}x std::thread::scope and {:.2}x may's scope",
        co / st,
        co / my
    );
    figure(
        "scoped_spawn",
        "ns",
        &[("coro", co), ("std_thread_scope", st), ("may", my)],
    );
    Ok(())
}
