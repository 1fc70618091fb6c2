//! `select`: one select over two channels that both hold a message, taking one of them:
//! `coro::select!` over two local channels inside a coroutine, against `tokio::select!` over
//! two tokio mpsc receivers inside a current_thread `block_on`. Both pick a random arm.
//!
//! The channels are filled in batches outside the timed part, so each timed select finds
//! both arms ready and the loop measures the select and the one receive it does, nothing
//! else. tokio's cooperative budget is left as it is in a tokio program: every 128 receives
//! its receivers report `Pending` once and the task yields.

use std::hint::black_box;
use std::time::{Duration, Instant};

use crate::Args;
use crate::harness::{Contender, compare, figure, get};

/// Messages put into each channel before a timed batch; a batch of `BATCH` selects takes at
/// most that many from either, so both stay ready to the end.
const BATCH: u64 = 1 << 10;

/// Runs the suite.
pub(crate) fn run(args: &Args) -> Result<(), String> {
    let opts = args.harness()?;
    let tokio_rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    let mut cs = vec![
        Contender::timed("coro", |iters| {
            coro::run(|| {
                let (tx_a, rx_a) = coro::channel::unbounded::<u64>();
                let (tx_b, rx_b) = coro::channel::unbounded::<u64>();
                let mut took = Duration::ZERO;
                let mut left = iters;
                while left > 0 {
                    let n = left.min(BATCH);
                    for i in 0..n {
                        tx_a.send(i).unwrap();
                        tx_b.send(i).unwrap();
                    }
                    let start = Instant::now();
                    for _ in 0..n {
                        let v = coro::select! {
                            recv(rx_a) -> v => v,
                            recv(rx_b) -> v => v,
                        };
                        black_box(v.unwrap());
                    }
                    took += start.elapsed();
                    while rx_a.try_recv().is_ok() {}
                    while rx_b.try_recv().is_ok() {}
                    left -= n;
                }
                took
            })
        }),
        Contender::timed("tokio", |iters| {
            tokio_rt.block_on(async {
                let (tx_a, mut rx_a) = tokio::sync::mpsc::unbounded_channel::<u64>();
                let (tx_b, mut rx_b) = tokio::sync::mpsc::unbounded_channel::<u64>();
                let mut took = Duration::ZERO;
                let mut left = iters;
                while left > 0 {
                    let n = left.min(BATCH);
                    for i in 0..n {
                        tx_a.send(i).unwrap();
                        tx_b.send(i).unwrap();
                    }
                    let start = Instant::now();
                    for _ in 0..n {
                        let v = tokio::select! {
                            v = rx_a.recv() => v,
                            v = rx_b.recv() => v,
                        };
                        black_box(v.unwrap());
                    }
                    took += start.elapsed();
                    while rx_a.try_recv().is_ok() {}
                    while rx_b.try_recv().is_ok() {}
                    left -= n;
                }
                took
            })
        }),
    ];
    let ms = compare("select over 2 ready", &mut cs, opts);
    let (co, tk) = (get(&ms, "coro"), get(&ms, "tokio"));
    println!(
        "select: coro::select! over two ready channels is {:.2}x tokio::select!",
        co / tk
    );
    figure("select_2", "ns", &[("coro", co), ("tokio", tk)]);
    Ok(())
}
