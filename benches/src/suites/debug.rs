//! `debug [--count N] [--conns C] [--secs S]`: what seeing inside a program costs.
//!
//! - `census_per_coroutine`: one `coro::debug::census()` over N parked coroutines (default
//!   100,000, on shared stacks, parked on a channel), per coroutine; and the same with
//!   backtraces over N/10 (each a capture: a resume, a backtrace walk and a suspend).
//! - `watchdog_switch`: a scheduler switch (two coroutines taking turns through
//!   `coro::yield_now`) with the stall watchdog off and on (100 ms): the watchdog's stores
//!   are on this path. A `Coroutine::resume` by hand never meets the watchdog.
//! - `watchdog_echo`: the coro echo server (`coro::net`) in its child process, with
//!   `CORO_WATCHDOG_MS` unset and set to 100, under the same load client.

use std::hint::black_box;
use std::rc::Rc;
use std::time::{Duration, Instant};

use crate::Args;
use crate::harness::{Contender, compare, figure, get, median};

/// Runs the suite.
pub(crate) fn run(args: &Args) -> Result<(), String> {
    let count: usize = args.get("--count", 100_000)?;
    census(count)?;
    watchdog_switch(args)?;
    watchdog_echo(args)
}

/// Spawns `n` coroutines on shared stacks, parked on one channel, and runs `f` among them.
fn with_parked<R>(n: usize, f: impl FnOnce() -> R) -> R {
    coro::run(|| {
        let (tx, rx) = coro::channel::unbounded::<()>();
        let rx = Rc::new(rx);
        let hs: Vec<_> = (0..n)
            .map(|_| {
                let rx = Rc::clone(&rx);
                // SAFETY: the body lends nothing on its stack while it waits.
                unsafe { coro::Builder::new().shared(true) }
                    .spawn(move || rx.recv().unwrap())
                    .expect("spawn")
            })
            .collect();
        coro::yield_now();
        let r = f();
        for _ in 0..n {
            tx.send(()).unwrap();
        }
        for h in hs {
            h.join().unwrap();
        }
        r
    })
}

/// Times `census()` (and, over a tenth as many, `census_with_backtraces()`).
fn census(count: usize) -> Result<(), String> {
    let per = with_parked(count, || {
        let mut v: Vec<f64> = (0..5)
            .map(|_| {
                let t = Instant::now();
                let c = coro::debug::census().expect("census");
                let e = t.elapsed();
                assert_eq!(black_box(c).len(), count + 1);
                e.as_nanos() as f64 / count as f64
            })
            .collect();
        median(&mut v)
    });
    let bt_count = (count / 10).max(1);
    let per_bt = with_parked(bt_count, || {
        let mut v: Vec<f64> = (0..3)
            .map(|_| {
                let t = Instant::now();
                let c = coro::debug::census_with_backtraces().expect("census");
                let e = t.elapsed();
                assert_eq!(black_box(c).len(), bt_count + 1);
                e.as_nanos() as f64 / bt_count as f64
            })
            .collect();
        median(&mut v)
    });
    println!(
        "debug: census of {count} parked coroutines {per:.1} ns each; with backtraces (captured, not resolved) over {bt_count}: {per_bt:.0} ns each"
    );
    figure(
        "census_per_coroutine",
        "ns",
        &[("coro", per), ("count", count as f64)],
    );
    figure(
        "census_backtrace_per_coroutine",
        "ns",
        &[("coro", per_bt), ("count", bt_count as f64)],
    );
    Ok(())
}

/// Two coroutines taking turns through the scheduler, `iters` switches in all.
fn yields(iters: u64) -> Duration {
    let other = coro::spawn(move || {
        for _ in 0..iters / 2 {
            coro::yield_now();
        }
    });
    let start = Instant::now();
    for _ in 0..iters / 2 {
        coro::yield_now();
    }
    let e = start.elapsed();
    other.join().unwrap();
    e
}

/// The scheduler switch with the watchdog off and on, alternated by the harness.
fn watchdog_switch(args: &Args) -> Result<(), String> {
    let opts = args.harness()?;
    let mut cs = vec![
        Contender::timed("off", |iters| coro::run(|| yields(iters.max(2)))),
        Contender::timed("on", |iters| {
            coro::Runtime::builder()
                .watchdog(Duration::from_millis(100))
                .run(|_| yields(iters.max(2)))
                .pop()
                .unwrap()
        }),
    ];
    let ms = compare("scheduler switch, watchdog off and on", &mut cs, opts);
    let (off, on) = (get(&ms, "off"), get(&ms, "on"));
    println!(
        "debug: scheduler switch {off:.2} ns with the watchdog off, {on:.2} ns on ({:+.1}%)",
        (on / off - 1.0) * 100.0
    );
    figure("watchdog_switch", "ns", &[("off", off), ("on", on)]);
    Ok(())
}

/// The coro echo server with the watchdog off and on, in turns.
fn watchdog_echo(args: &Args) -> Result<(), String> {
    let conns: usize = args.get("--conns", 1000)?;
    let secs: f64 = args.get("--secs", 2.0)?;
    let runs: usize = args.get::<usize>("--runs", 3)?.max(1);
    crate::sys::raise_nofile(conns as u64 + 64).map_err(|e| format!("RLIMIT_NOFILE: {e}"))?;
    let mut off = Vec::new();
    let mut on = Vec::new();
    // Requests per server CPU-second too: the load on the rest of the machine moves it less
    // than requests per second.
    let mut eff_off = Vec::new();
    let mut eff_on = Vec::new();
    for r in 0..runs {
        // Alternate which goes first.
        for k in 0..2 {
            let with = (r + k) % 2 == 1;
            let env: &[(&str, &str)] = if with {
                &[("CORO_WATCHDOG_MS", "100")]
            } else {
                &[]
            };
            let res = super::echo::one("coro", conns, 64, 0.5, secs, env)?;
            let (rps, eff) = (res.rps(), res.per_cpu_second());
            println!(
                "debug: echo coro, watchdog {}: {rps:.0} req/s, {eff:.0} req/cpu-s",
                if with { "on" } else { "off" }
            );
            if with { &mut on } else { &mut off }.push(rps);
            if with { &mut eff_on } else { &mut eff_off }.push(eff);
        }
    }
    let (off, on) = (median(&mut off), median(&mut on));
    let (eff_off, eff_on) = (median(&mut eff_off), median(&mut eff_on));
    println!(
        "debug: echo {conns} connections, watchdog on/off {:.3} (req/s), {:.3} (req/cpu-s)",
        on / off,
        eff_on / eff_off
    );
    figure(
        &format!("watchdog_echo_{conns}"),
        "req/s",
        &[("off", off), ("on", on)],
    );
    figure(
        &format!("watchdog_echo_eff_{conns}"),
        "req/cpu-s",
        &[("off", eff_off), ("on", eff_on)],
    );
    Ok(())
}
