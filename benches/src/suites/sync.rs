//! `sync`: what coro's sync primitives and channels cost, measured by the book's
//! `examples/sync_costs.rs` (the same code, so the chapter "Synchronization" and the bench
//! cannot drift apart): a yield ping-pong, local channels, a mutex hand-off, a cond ping-pong
//! and a cross-thread channel. coro only; each is the median of 5 rounds.

use crate::Args;
use crate::harness::figure;

#[allow(dead_code)] // the example's `main` is not called here
#[path = "../../../examples/sync_costs.rs"]
mod sync_costs;

/// Runs the suite: one `FIGURE <name> ns coro <value>` line per measurement (`--quick`: a
/// small single round, to check that it runs).
pub(crate) fn run(args: &Args) -> Result<(), String> {
    let quick = args.rest.iter().any(|a| a == "--quick");
    for (name, value, unit) in sync_costs::run(quick) {
        println!("sync: {name} {value:.1} {unit}");
        figure(name, "ns", &[("coro", value)]);
    }
    Ok(())
}
