//! Quick start: the macro forms of coro in one small program.
//!
//! Run it with `cargo run --example quick_start` (add `--quick` for a small run). The book's
//! chapter "Quick start" includes the code between the `ANCHOR` markers.

// ANCHOR: all
use std::cell::Cell;

use coro::{co_local, co_yield, go};

/// Calling it spawns the body as a coroutine and returns a `JoinHandle<u64>`.
#[coro::coroutine]
fn slow_square(x: u64) -> u64 {
    coro::sleep(std::time::Duration::from_millis(10)); // yields; other coroutines run
    x * x
}

/// Calling it returns a lazy `Generator<u64>`, an `Iterator`.
#[coro::coroutine(yield = u64)]
fn countdown(from: u64) {
    for i in (1..=from).rev() {
        co_yield!(i);
    }
}

co_local! {
    /// Each coroutine has its own.
    static NAME: Cell<&'static str> = Cell::new("nobody");
}

#[coro::main]
fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    tour(quick);
}

/// Everything the program does, as the first coroutine (also run by
/// `tests/example_quick_start.rs`).
pub(crate) fn tour(quick: bool) {
    let n = if quick { 10 } else { 1_000 };

    // n coroutines sleeping at once: about 10 ms in all, not n * 10 ms.
    let start = std::time::Instant::now();
    let handles: Vec<_> = (0..n).map(slow_square).collect();
    let sum: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    println!("sum of {n} squares: {sum} in {:?}", start.elapsed());

    // An inline coroutine, capturing by move like a `move` closure.
    let greeting = String::from("hello from go!");
    let h = go! {
        NAME.set("the go! coroutine");
        format!("{greeting} (I am {})", NAME.get())
    };
    println!("{}", h.join().unwrap());
    println!("main is still {}", NAME.get());

    // A generator needs no scheduler at all, but works inside coroutines too.
    let launch: Vec<u64> = countdown(3).collect();
    println!("countdown: {launch:?}");
}
// ANCHOR_END: all
