//! `switch`: resume + yield round trip, on an owned stack (coro and every peer) and on one
//! shared stack with two coroutines alternating, each keeping a 64-byte frame live.

use crate::harness::{Contender, compare, figure, get};
use crate::{Args, peers};
use coro::{Coroutine, SharedStack};
use std::hint::black_box;

/// `Coroutine::with_shared_stack` for this file's bodies.
fn on_shared<I: 'static, Y: 'static, R: 'static, F>(stack: &SharedStack, f: F) -> Coroutine<I, Y, R>
where
    F: FnOnce(&coro::Yielder<I, Y>, I) -> R + 'static,
{
    // SAFETY: no body in this file lets anything use a reference into its stack while it is
    // suspended (they lend no locals to threads or thread-locals).
    unsafe { Coroutine::with_shared_stack(stack, f) }
}

/// coro on its default owned stack.
///
/// The loop unwraps what `resume` returns, as a program does: corosensei's `resume` panics on a
/// finished coroutine where ours returns `Error::Finished`, so `unwrap` is the same contract.
/// (`let _ = black_box(co.resume(()))` would also time writing out a 24-byte `Result` and the
/// drop check of an `Error` nobody looks at, about 0.5 ns here.)
fn coro_owned() -> Contender<'static> {
    let mut co = Coroutine::<(), (), ()>::new(|y, ()| {
        loop {
            y.suspend(());
        }
    });
    Contender::each("coro", move || {
        black_box(co.resume(()).unwrap());
    })
}

/// A coroutine on `stack` that keeps a 64-byte frame live across every suspend.
fn framed(stack: &SharedStack) -> Coroutine<(), (), ()> {
    on_shared(stack, |y, ()| {
        let mut frame = black_box([7u8; 64]);
        loop {
            y.suspend(());
            frame[0] = frame[0].wrapping_add(1);
            black_box(&mut frame);
        }
    })
}

/// Two coroutines alternating on one shared stack: every resume swaps the occupant, so each
/// round trip copies one frame out and the other back in. Reported per round trip.
fn coro_shared() -> Result<Contender<'static>, String> {
    let stack = SharedStack::new(coro::DEFAULT_STACK_SIZE).map_err(|e| e.to_string())?;
    let mut a = framed(&stack);
    let mut b = framed(&stack);
    Ok(Contender::timed("coro-shared", move |iters| {
        // Two round trips per pass: ask for an even count and report per round trip.
        let passes = iters.div_ceil(2);
        let start = std::time::Instant::now();
        for _ in 0..passes {
            black_box(a.resume(()).unwrap());
            black_box(b.resume(()).unwrap());
        }
        let took = start.elapsed().as_secs_f64();
        std::time::Duration::from_secs_f64(took * iters as f64 / (passes * 2) as f64)
    }))
}

/// One framed coroutine alone on a shared stack: it always finds its frame in place, so no
/// copy is made. Not a FIGURE column: it splits the shared figure into the copy and the rest.
fn coro_shared_alone() -> Result<Contender<'static>, String> {
    let stack = SharedStack::new(coro::DEFAULT_STACK_SIZE).map_err(|e| e.to_string())?;
    let mut a = framed(&stack);
    Ok(Contender::each("coro-shared-alone", move || {
        black_box(a.resume(()).unwrap());
    }))
}

/// Runs the suite: in `--procs N` fresh processes (default 5), reporting each column's median
/// over them, or in this process with `--procs 1`.
///
/// One process is one address-space layout, and the switch figures swing with it: with ASLR
/// the same binary gives coro or corosensei the lead by up to 20% from one process to the next
/// (with `setarch -R` one layout repeats exactly), much more than the samples of one process
/// vary. The median over several processes is the figure one layout cannot tip.
pub(crate) fn run(args: &Args) -> Result<(), String> {
    let procs: usize = args.get("--procs", 5)?;
    if procs > 1 {
        return run_in_processes(args, procs);
    }
    run_here(args)
}

/// The FIGURE lines of one child run, as `(figure, column, value)`.
pub(crate) type Figures = Vec<(String, String, f64)>;

/// Runs `switch --procs 1` in `procs` child processes and reports the median of each column.
fn run_in_processes(args: &Args, procs: usize) -> Result<(), String> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let rounds: usize = args.harness()?.rounds;
    let mut runs: Vec<Figures> = Vec::new();
    for k in 0..procs {
        let out = std::process::Command::new(&exe)
            .args(["switch", "--procs", "1", "--rounds", &rounds.to_string()])
            .output()
            .map_err(|e| format!("spawn switch process {k}: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "switch process {k} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let figs = parse_figures(&text);
        let col = |name: &str| {
            figs.iter()
                .find(|(f, c, _)| f == "switch_roundtrip" && c == name)
                .map_or(f64::NAN, |(_, _, v)| *v)
        };
        println!(
            "switch: process {}/{procs}: coro {:.2} ns, corosensei {:.2} ns ({:.2}x)",
            k + 1,
            col("coro"),
            col("corosensei"),
            col("coro") / col("corosensei")
        );
        runs.push(figs);
    }
    let median = |figure: &str, column: &str| {
        let mut v: Vec<f64> = runs
            .iter()
            .filter_map(|figs| {
                figs.iter()
                    .find(|(f, c, _)| f == figure && c == column)
                    .map(|(_, _, v)| *v)
            })
            .collect();
        crate::harness::median(&mut v)
    };
    let owned = median("switch_roundtrip", "coro");
    let shared = median("switch_roundtrip_shared", "coro");
    println!(
        "switch: medians over {procs} processes: coro owned is {:.2}x corosensei; shared is {:.2}x coro owned",
        owned / median("switch_roundtrip", "corosensei"),
        shared / owned
    );
    figure(
        "switch_roundtrip",
        "ns",
        &[
            ("coro", owned),
            ("corosensei", median("switch_roundtrip", "corosensei")),
            ("context", median("switch_roundtrip", "context")),
            ("generator", median("switch_roundtrip", "generator")),
        ],
    );
    figure(
        "switch_roundtrip_shared",
        "ns",
        &[("coro", shared), ("owned", owned)],
    );
    Ok(())
}

/// The `FIGURE name unit column value ...` lines of `text`, as `(name, column, value)`.
pub(crate) fn parse_figures(text: &str) -> Figures {
    let mut out = Vec::new();
    for line in text.lines() {
        let parts: Vec<&str> = line.split_whitespace().collect();
        if parts.len() < 5 || parts[0] != "FIGURE" {
            continue;
        }
        for pair in parts[3..].chunks(2) {
            if let [col, val] = pair
                && let Ok(v) = val.replace(',', "").parse::<f64>()
            {
                out.push((parts[1].to_string(), col.to_string(), v));
            }
        }
    }
    out
}

/// Runs the suite in this process.
fn run_here(args: &Args) -> Result<(), String> {
    let opts = args.harness()?;
    let mut cs = vec![
        coro_owned(),
        peers::corosensei_switch(),
        peers::context_switch(),
        peers::generator_switch(),
        coro_shared()?,
        coro_shared_alone()?,
    ];
    let ms = compare("switch round trip", &mut cs, opts);
    let owned = get(&ms, "coro");
    let shared = get(&ms, "coro-shared");
    let coro_vs = owned / get(&ms, "corosensei");
    println!(
        "switch: coro owned is {coro_vs:.2}x corosensei; shared is {:.2}x coro owned \
         (one coroutine alone on a shared stack, no copy: {:.2}x)",
        shared / owned,
        get(&ms, "coro-shared-alone") / owned
    );
    figure(
        "switch_roundtrip",
        "ns",
        &[
            ("coro", owned),
            ("corosensei", get(&ms, "corosensei")),
            ("context", get(&ms, "context")),
            ("generator", get(&ms, "generator")),
        ],
    );
    figure(
        "switch_roundtrip_shared",
        "ns",
        &[("coro", shared), ("owned", owned)],
    );
    Ok(())
}
