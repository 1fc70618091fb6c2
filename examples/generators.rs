//! Generators: `#[coro::coroutine(yield = T)]`, `co_yield!` and `coro::Generator`.
//!
//! Run it with `cargo run --example generators` (add `--quick` for a small run). Every part is a
//! section of the book's chapter "Generators", which includes the code between the `ANCHOR`
//! markers.

use std::cell::Cell;
use std::rc::Rc;

use coro::{Generator, Yielder, co_yield};

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    run(quick);
}

/// Runs every part; `quick` makes the big ones small. Called by `main` and by the test
/// `tests/example_generators.rs`.
pub(crate) fn run(quick: bool) {
    first();
    laziness();
    early_drop();
    tree_walk(if quick { 6 } else { 16 });
    by_hand();
    inside_coroutines(if quick { 100 } else { 10_000 });
    println!("done");
}

// ANCHOR: first
/// Gives out the first `n` squares, then says how many it gave.
#[coro::coroutine(yield = u64)]
fn squares(n: u64) -> usize {
    for i in 1..=n {
        co_yield!(i * i);
    }
    n as usize
}
// ANCHOR_END: first

fn first() {
    println!("-- a first generator");
    // ANCHOR: use_first
    // A generator is an Iterator: every adapter works on it.
    let mut g = squares(5);
    let odd: Vec<u64> = g.by_ref().filter(|v| v % 2 == 1).collect();
    assert_eq!(odd, [1, 9, 25]);
    // Once it is exhausted, the body's return value is there to take.
    assert_eq!(g.return_value(), Some(5));
    // Or run to the end in one call, dropping what is still yielded.
    assert_eq!(squares(3).into_return(), 3);
    // ANCHOR_END: use_first
    println!("  odd squares: {odd:?}");
}

fn laziness() {
    println!("-- nothing runs before the first next()");
    // ANCHOR: lazy
    let started = Rc::new(Cell::new(false));
    let mut g = {
        let started = started.clone();
        Generator::new(move |y: &Yielder<(), &str>| {
            started.set(true);
            y.suspend("first");
        })
    };
    assert!(!started.get(), "making the generator ran nothing");
    assert_eq!(g.next(), Some("first"));
    assert!(started.get());
    // ANCHOR_END: lazy
    println!("  started only at next(): ok");
}

// ANCHOR: early_drop
/// Prints when it is dropped.
struct Guard(&'static str);

impl Drop for Guard {
    fn drop(&mut self) {
        println!("  dropped {}", self.0);
    }
}

#[coro::coroutine(yield = u32)]
fn guarded() {
    let _outer = Guard("outer guard");
    for i in 0.. {
        let _inner = Guard("inner guard");
        co_yield!(i);
    }
}
// ANCHOR_END: early_drop

fn early_drop() {
    println!("-- dropping a generator half-way runs its destructors");
    // ANCHOR: use_early_drop
    let mut g = guarded();
    assert_eq!(g.next(), Some(0)); // `_inner` of the first round is live now
    drop(g); // unwinds the generator's stack: prints both guards
    // ANCHOR_END: use_early_drop
}

// ANCHOR: tree
/// A binary tree; subtrees are shared (`Rc`) so that each walk can own its subtree.
enum Tree {
    Leaf,
    Node(Rc<Tree>, u32, Rc<Tree>),
}

/// In-order walk: a generator that drives a generator for each subtree.
#[coro::coroutine(yield = u32)]
fn walk(tree: Rc<Tree>) {
    if let Tree::Node(left, value, right) = &*tree {
        for v in walk(left.clone()) {
            co_yield!(v);
        }
        co_yield!(*value);
        for v in walk(right.clone()) {
            co_yield!(v);
        }
    }
}
// ANCHOR_END: tree

/// A balanced tree holding `lo..hi`.
fn build(lo: u32, hi: u32) -> Rc<Tree> {
    if lo >= hi {
        return Rc::new(Tree::Leaf);
    }
    let mid = lo + (hi - lo) / 2;
    Rc::new(Tree::Node(build(lo, mid), mid, build(mid + 1, hi)))
}

fn tree_walk(n: u32) {
    println!("-- nested generators: an in-order tree walk");
    let tree = build(0, n);
    let values: Vec<u32> = walk(tree).collect();
    assert_eq!(values, (0..n).collect::<Vec<_>>());
    println!("  walked {} nodes in order", values.len());
}

fn by_hand() {
    println!("-- Generator::new without the attribute");
    // ANCHOR: by_hand
    let fib = Generator::new(|y: &Yielder<(), u64>| {
        let (mut a, mut b) = (0u64, 1u64);
        loop {
            y.suspend(a);
            (a, b) = (b, a + b);
        }
    });
    let first: Vec<u64> = fib.take(10).collect();
    assert_eq!(first, [0, 1, 1, 2, 3, 5, 8, 13, 21, 34]);
    // ANCHOR_END: by_hand
    println!("  fib: {first:?}");
    // ANCHOR: use_helper
    let down: Vec<u64> = Generator::new(|y: &Yielder<(), u64>| countdown(y, 3)).collect();
    assert_eq!(down, [3, 2, 1]);
    // ANCHOR_END: use_helper
    println!("  countdown: {down:?}");
}

// ANCHOR: helper
/// Gives values out from an ordinary function, several calls deep: all it needs is the
/// generator's `Yielder`.
fn countdown(y: &Yielder<(), u64>, from: u64) {
    if from > 0 {
        y.suspend(from);
        countdown(y, from - 1);
    }
}
// ANCHOR_END: helper

fn inside_coroutines(n: u64) {
    println!("-- generators inside scheduled coroutines");
    // ANCHOR: inside
    let total = coro::run(|| {
        let handles: Vec<_> = (0..4)
            .map(|k| {
                coro::go! {
                    let mut sum = 0;
                    for v in squares(n) {
                        sum += v;
                        if v % 1000 == k {
                            coro::yield_now(); // the generator stays suspended meanwhile
                        }
                    }
                    sum
                }
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
    });
    // ANCHOR_END: inside
    let one: u64 = (1..=n).map(|i| i * i).sum();
    assert_eq!(total, 4 * one);
    println!("  4 coroutines summed {n} squares each: {total}");
}
