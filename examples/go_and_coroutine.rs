//! `go!` and `#[coro::coroutine]`: spawning coroutines from functions, methods and blocks.
//!
//! Run it with `cargo run --example go_and_coroutine` (add `--quick` for a small run). Every
//! part is a section of the book's chapter "go! and #[coroutine]", which includes the code
//! between the `ANCHOR` markers.

use std::rc::Rc;

use coro::{JoinHandle, go};

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    run(quick);
}

/// Runs every part inside one runtime; `quick` makes the big one small. Called by `main` and by
/// the test `tests/example_go_and_coroutine.rs`.
pub(crate) fn run(quick: bool) {
    coro::run(move || {
        functions();
        methods();
        blocks();
        options(if quick { 1_000 } else { 100_000 });
        panics();
        assert_eq!(scoped(), (5, vec![3, 3, 5]));
        assert_eq!(first_answers(), vec!["fast", "medium", "slow"]);
        assert_eq!(both(), (5, 120));
    });
    println!("done");
}

// ANCHOR: function
/// A coroutine function: calling it spawns the body and returns at once.
#[coro::coroutine]
fn fetch(id: u32, delay_ms: u64) -> String {
    coro::sleep(std::time::Duration::from_millis(delay_ms));
    format!("item {id}")
}
// ANCHOR_END: function

fn functions() {
    println!("-- #[coro::coroutine] functions");
    // ANCHOR: use_function
    let slow: JoinHandle<String> = fetch(1, 20);
    let fast = fetch(2, 5);
    // Both are sleeping at the same time; join waits for each result.
    assert_eq!(fast.join().unwrap(), "item 2");
    assert_eq!(slow.join().unwrap(), "item 1");
    // ANCHOR_END: use_function
    println!("  fetched both");
}

// ANCHOR: methods
/// A counter that counts in its own coroutine.
struct Counter {
    name: &'static str,
    upto: u32,
}

impl Counter {
    /// A method taking `self` by value: the coroutine owns the counter.
    #[coro::coroutine]
    fn count(self) -> u32 {
        let mut total = 0;
        for i in 1..=self.upto {
            total += i;
            coro::yield_now(); // let the other counters run
        }
        println!("  {} counted to {}", self.name, self.upto);
        total
    }

    /// Generic and `impl Trait` arguments pass through.
    #[coro::coroutine]
    fn total<I: IntoIterator<Item = Counter>>(counters: I) -> u32 {
        let handles: Vec<_> = counters.into_iter().map(Counter::count).collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    }
}
// ANCHOR_END: methods

fn methods() {
    println!("-- methods taking self by value, generic associated functions");
    let counters = vec![
        Counter { name: "a", upto: 3 },
        Counter { name: "b", upto: 4 },
    ];
    assert_eq!(Counter::total(counters).join().unwrap(), 6 + 10);
}

fn blocks() {
    println!("-- go!");
    // ANCHOR: go
    let shared = Rc::new(String::from("captured by move"));
    // Statements: the last expression is the coroutine's value.
    let a = go! {
        coro::yield_now();
        shared.len()
    };
    // A closure (it takes no arguments).
    let b = go!(move || 40 + 2);
    assert_eq!((a.join().unwrap(), b.join().unwrap()), (16, 42));
    // ANCHOR_END: go
    println!("  both joined");
}

// ANCHOR: options
/// Runs on one of the thread's shared stacks: a suspended coroutine keeps only its live bytes.
#[coro::coroutine(unsafe(shared))]
fn tiny(i: u64) -> u64 {
    coro::yield_now();
    i
}
// ANCHOR_END: options

fn options(n: u64) {
    println!("-- options: {n} coroutines on shared stacks, one with a small own stack");
    // ANCHOR: use_options
    let handles: Vec<_> = (0..n).map(tiny).collect();
    let sum: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(sum, n * (n - 1) / 2);

    let small = go!(stack_size = 16 * 1024; { "ran on a 16 KiB stack" });
    println!("  {}", small.join().unwrap());
    // ANCHOR_END: use_options
}

fn panics() {
    println!("-- a panic comes back from join as Err");
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    // ANCHOR: panics
    let h = go! {
        let v: Vec<u32> = Vec::new();
        v[3] // index out of bounds: this coroutine panics, the others go on
    };
    let err = h.join().unwrap_err();
    // ANCHOR_END: panics
    std::panic::set_hook(hook);
    let msg = err.downcast_ref::<String>().map_or("?", String::as_str);
    assert!(msg.contains("out of bounds"));
    println!("  joined: Err({msg:?})");
}

// ANCHOR: scoped
/// Coroutines that borrow from the caller's stack: `coro::scope` ends every one of them before
/// it returns, so they need not be `'static` (no `Rc` clones, no `move` of what they read).
fn scoped() -> (usize, Vec<usize>) {
    let words = ["one", "two", "three"];
    let mut lengths = vec![0; words.len()];
    let longest = coro::scope(|s| {
        for (word, len) in words.iter().zip(lengths.iter_mut()) {
            s.spawn(move || *len = word.len()); // each borrows one slot of `lengths`
        }
        let joined = s.spawn(|| words.concat().len()); // borrows `words`
        joined.join().unwrap()
    });
    (longest / 2, lengths)
}
// ANCHOR_END: scoped

// ANCHOR: join_set
/// Results as they come: a `JoinSet` hands back each coroutine's result in the order they
/// finish (wait for any), and cancels what still runs when it is dropped.
fn first_answers() -> Vec<&'static str> {
    let mut set = coro::JoinSet::new();
    for (name, ms) in [("slow", 30), ("fast", 10), ("medium", 20)] {
        set.spawn(move || {
            coro::sleep(std::time::Duration::from_millis(ms));
            name
        });
    }
    let mut answers = Vec::new();
    while let Some(r) = set.join_next() {
        answers.push(r.unwrap());
    }
    answers
}
// ANCHOR_END: join_set

// ANCHOR: join_macro
/// Several things at once, borrowing: `join!` runs each branch as a scoped coroutine and
/// returns all their values.
fn both() -> (usize, u64) {
    let text = String::from("hello");
    coro::join!(text.len(), (1..=5u64).product::<u64>())
}
// ANCHOR_END: join_macro
