//! `memory --count N`: N coroutines suspended at once on a few shared stacks, each with a small
//! live frame; reports the growth of peak RSS (VmHWM) per coroutine.
//!
//! The bench's own bookkeeping is one `Vec` of the coroutine handles, allocated before the
//! baseline is taken but touched only as it fills, so it is counted too: a program that holds N
//! coroutines holds N handles.

use crate::harness::figure;
use crate::{Args, sys};
use coro::{Coroutine, SharedStack};
use std::hint::black_box;
use std::time::Instant;

/// `Coroutine::with_shared_stack` for this file's bodies.
fn on_shared<I: 'static, Y: 'static, R: 'static, F>(stack: &SharedStack, f: F) -> Coroutine<I, Y, R>
where
    F: FnOnce(&coro::Yielder<I, Y>, I) -> R + 'static,
{
    // SAFETY: no body in this file lets anything use a reference into its stack while it is
    // suspended (they lend no locals to threads or thread-locals).
    unsafe { Coroutine::with_shared_stack(stack, f) }
}

/// Shared stacks the coroutines are spread over, round robin.
const STACKS: usize = 8;

/// Stack size of each shared stack.
const STACK_SIZE: usize = 64 * 1024;

/// Runs the suite.
pub(crate) fn run(args: &Args) -> Result<(), String> {
    let count: usize = args.get("--count", 1_000_000)?;
    if count == 0 {
        return Err("--count must be at least 1".into());
    }
    let stacks: Vec<SharedStack> = (0..STACKS)
        .map(|_| SharedStack::new(STACK_SIZE).map_err(|e| e.to_string()))
        .collect::<Result<_, _>>()?;
    let mut all: Vec<Coroutine<(), (), u64>> = Vec::with_capacity(count);
    sys::reset_peak_rss(None).map_err(|e| format!("/proc/self/clear_refs: {e}"))?;
    let base = sys::status_bytes(None, "VmRSS").map_err(|e| e.to_string())?;
    let start = Instant::now();
    for i in 0..count {
        let mut co = on_shared(&stacks[i % STACKS], move |y, ()| {
            // A small live frame: 16 bytes that must survive the suspend.
            let frame = black_box([i as u64, !(i as u64)]);
            y.suspend(());
            frame[0] ^ frame[1]
        });
        co.resume(()).map_err(|e| format!("coroutine {i}: {e}"))?;
        all.push(co);
        if count >= 1_000_000 && (i + 1) % 1_000_000 == 0 {
            eprintln!("  {} coroutines suspended", i + 1);
        }
    }
    let took = start.elapsed();
    let peak = sys::status_bytes(None, "VmHWM").map_err(|e| e.to_string())?;
    let per = peak.saturating_sub(base) as f64 / count as f64;
    println!(
        "memory: {count} coroutines suspended on {STACKS} shared stacks of {} KiB in {:.2} s; \
         peak RSS +{} MiB = {per:.0} bytes per coroutine (handle {} bytes)",
        STACK_SIZE / 1024,
        took.as_secs_f64(),
        (peak - base) >> 20,
        std::mem::size_of::<Coroutine<(), (), u64>>()
    );
    // Check a sample: each resumed coroutine must find its own frame intact.
    let step = (count / 1000).max(1);
    for i in (0..count).step_by(step) {
        match all[i].resume(()) {
            Ok(coro::CoroutineResult::Return(v)) if v == u64::MAX => {}
            other => return Err(format!("coroutine {i} came back with {other:?}")),
        }
    }
    figure(
        "memory_per_coroutine",
        "bytes",
        &[("coro", per), ("count", count as f64)],
    );
    // Tearing down N suspended coroutines unwinds each of them; the measurement is done and
    // the process is about to exit, so let the OS take the memory back at once.
    std::mem::forget(all);
    Ok(())
}
