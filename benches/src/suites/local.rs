//! `local`: one access to a coroutine-local `Cell<u64>` through `co_local!` against the same
//! through std's `thread_local!`, both from inside one coroutine (the timed loop runs in the
//! coroutine; each sample is one resume that returns the loop's elapsed time).

use crate::Args;
use crate::harness::{Contender, compare, figure, get};
use coro::{Coroutine, CoroutineResult};
use std::cell::Cell;
use std::hint::black_box;
use std::time::{Duration, Instant};

coro::co_local! {
    static CO: Cell<u64> = Cell::new(0);
}

thread_local! {
    static TL: Cell<u64> = const { Cell::new(0) };
}

/// A contender whose loop of `access` runs inside a coroutine.
fn inside(name: &'static str, access: fn()) -> Contender<'static> {
    let mut co = Coroutine::<u64, Duration, ()>::new(move |y, mut iters| {
        loop {
            let start = Instant::now();
            for _ in 0..iters {
                access();
            }
            iters = y.suspend(start.elapsed());
        }
    });
    Contender::timed(name, move |iters| match co.resume(iters) {
        Ok(CoroutineResult::Yield(d)) => d,
        _ => Duration::MAX,
    })
}

/// One read-modify-write through `co_local!`.
#[inline(never)]
fn co_access() {
    CO.with(|c| c.set(black_box(c.get()) + 1));
}

/// One read-modify-write through `thread_local!`.
#[inline(never)]
fn tl_access() {
    TL.with(|c| c.set(black_box(c.get()) + 1));
}

/// Runs the suite.
pub(crate) fn run(args: &Args) -> Result<(), String> {
    let opts = args.harness()?;
    let mut cs = vec![
        inside("coro", co_access),
        inside("thread_local", tl_access),
        Contender::each("coro-outside", co_access),
    ];
    let ms = compare("local access", &mut cs, opts);
    let (co, tl) = (get(&ms, "coro"), get(&ms, "thread_local"));
    println!(
        "local: co_local! in a coroutine is {:.2}x thread_local! ({:+.2} ns); outside any coroutine {:.2} ns",
        co / tl,
        co - tl,
        get(&ms, "coro-outside")
    );
    figure(
        "co_local_access",
        "ns",
        &[("coro", co), ("thread_local", tl)],
    );
    Ok(())
}
