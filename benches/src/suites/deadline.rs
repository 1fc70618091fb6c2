//! `deadline`: entering and leaving a deadline scope that does not fire, around a call that
//! does not block. coro's `with_timeout` runs its closure in place on the coroutine's stack;
//! tokio's `time::timeout` wraps a ready future (its usual shape: `timeout(d, fut).await`).
//! Each timed loop runs inside its runtime (a coro coroutine, a tokio current_thread
//! `block_on`), set up outside the timed part.

use std::hint::black_box;
use std::time::{Duration, Instant};

use crate::Args;
use crate::harness::{Contender, compare, figure, get};

/// A deadline far enough away never to fire during a sample.
const FAR: Duration = Duration::from_secs(60);

/// The call inside the scope: it does not block.
#[inline(never)]
fn work(x: u64) -> u64 {
    black_box(x).wrapping_add(1)
}

/// Runs the suite.
pub(crate) fn run(args: &Args) -> Result<(), String> {
    let opts = args.harness()?;
    let tokio_rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    let mut cs = vec![
        Contender::timed("coro", |iters| {
            coro::run(|| {
                let mut x = 0;
                let start = Instant::now();
                for _ in 0..iters {
                    x = coro::with_timeout(black_box(FAR), || work(x)).unwrap();
                }
                black_box(x);
                start.elapsed()
            })
        }),
        Contender::timed("tokio", |iters| {
            tokio_rt.block_on(async {
                let mut x = 0;
                let start = Instant::now();
                for _ in 0..iters {
                    x = tokio::time::timeout(black_box(FAR), std::future::ready(work(x)))
                        .await
                        .unwrap();
                }
                black_box(x);
                start.elapsed()
            })
        }),
        Contender::timed("coro-deadline", |iters| {
            coro::run(|| {
                let mut x = 0;
                let at = Instant::now() + FAR;
                let start = Instant::now();
                for _ in 0..iters {
                    x = coro::with_deadline(black_box(at), || work(x)).unwrap();
                }
                black_box(x);
                start.elapsed()
            })
        }),
        Contender::timed("coro-timeout-spawned", |iters| {
            coro::run(|| {
                let mut x = 0;
                let start = Instant::now();
                for _ in 0..iters {
                    let y = x;
                    x = coro::timeout(black_box(FAR), move || work(y)).unwrap();
                }
                black_box(x);
                start.elapsed()
            })
        }),
        Contender::each("bare call", || {
            black_box(work(black_box(1)));
        }),
    ];
    let ms = compare("deadline scope", &mut cs, opts);
    let (co, tk) = (get(&ms, "coro"), get(&ms, "tokio"));
    println!(
        "deadline: coro::with_timeout {co:.2} ns is {:.2}x tokio::time::timeout; with_deadline (no clock read) {:.2} ns; coro::timeout, which spawns, {:.2} ns",
        co / tk,
        get(&ms, "coro-deadline"),
        get(&ms, "coro-timeout-spawned"),
    );
    figure("deadline_scope", "ns", &[("coro", co), ("tokio", tk)]);
    Ok(())
}
