//! Coroutine-local storage: `co_local!`, libco's `__thread` for coroutines.
//!
//! Run it with `cargo run --example co_local` (add `--quick` for a small run). Every part is a
//! section of the book's chapter "Coroutine-local storage", which includes the code between the
//! `ANCHOR` markers.

use std::cell::{Cell, RefCell};

use coro::co_local;

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    run(quick);
}

/// Runs every part; `quick` makes the big one small. Called by `main` and by the test
/// `tests/example_co_local.rs`.
pub(crate) fn run(quick: bool) {
    request_ids();
    thread_fallback();
    drop_at_end();
    inherited();
    many(if quick { 1_000 } else { 100_000 });
    println!("done");
}

// ANCHOR: declare
co_local! {
    /// The id of the request the current coroutine is serving (0: none).
    static REQUEST_ID: Cell<u64> = Cell::new(0);
    /// Lines logged by the current coroutine.
    static LOG: RefCell<Vec<String>> = RefCell::new(Vec::new());
}

/// Deep inside the call chain, with no parameter to carry the id down.
fn log(msg: &str) {
    let line = format!("[req {}] {msg}", REQUEST_ID.get());
    LOG.with_borrow_mut(|l| l.push(line));
}
// ANCHOR_END: declare

fn request_ids() {
    println!("-- each coroutine sees its own value");
    // ANCHOR: per_coroutine
    let logs = coro::run(|| {
        let handles: Vec<_> = (1..=3)
            .map(|id| {
                coro::go! {
                    REQUEST_ID.set(id);
                    log("start");
                    coro::yield_now(); // the others run and set their own ids meanwhile
                    log("end");
                    LOG.take()
                }
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .collect::<Vec<_>>()
    });
    assert_eq!(logs[1], ["[req 2] start", "[req 2] end"]);
    // ANCHOR_END: per_coroutine
    for l in logs {
        println!("  {l:?}");
    }
}

fn thread_fallback() {
    println!("-- outside any coroutine: the thread's own value");
    // ANCHOR: thread
    REQUEST_ID.set(99); // plain code: the thread's value
    let inside = coro::run(|| REQUEST_ID.get()); // the first coroutine starts from the initializer
    assert_eq!(inside, 0);
    assert_eq!(REQUEST_ID.get(), 99);
    // ANCHOR_END: thread
    REQUEST_ID.set(0);
    println!("  thread value 99, coroutine value {inside}");
}

// ANCHOR: drop
/// Says when a coroutine's value goes away.
struct Connection(u32);

impl Drop for Connection {
    fn drop(&mut self) {
        println!("  connection {} closed with its coroutine", self.0);
    }
}

co_local! {
    static CONN: RefCell<Option<Connection>> = const { RefCell::new(None) };
}
// ANCHOR_END: drop

fn drop_at_end() {
    println!("-- values are dropped when their coroutine ends");
    // ANCHOR: use_drop
    coro::run(|| {
        let h = coro::go! {
            CONN.set(Some(Connection(7)));
            coro::yield_now();
            println!("  coroutine ends");
        };
        h.join().unwrap(); // "connection 7 closed" was printed before join returned
    });
    // ANCHOR_END: use_drop
}

// ANCHOR: inherit
co_local! {
    /// The trace id of the request being served, handed down to what its handler spawns.
    #[inherit]
    static TRACE: Cell<u64> = Cell::new(0);
}

/// Serves one request with two helper coroutines, which log under the request's trace id.
fn handle(request: u64) -> Vec<String> {
    TRACE.set(request);
    let helpers: Vec<_> = ["fetch", "render"]
        .into_iter()
        .map(|part| coro::go! { format!("[trace {}] {part}", TRACE.get()) })
        .collect();
    helpers.into_iter().map(|h| h.join().unwrap()).collect()
}
// ANCHOR_END: inherit

fn inherited() {
    println!("-- #[inherit]: spawned coroutines start with a copy of the spawner's value");
    // ANCHOR: use_inherit
    let lines = coro::run(|| {
        let requests: Vec<_> = [41, 42]
            .into_iter()
            .map(|r| coro::go! { handle(r) })
            .collect();
        let lines: Vec<_> = requests
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect();
        assert_eq!(TRACE.get(), 0); // a child's set() is its own
        lines
    });
    assert_eq!(lines[3], "[trace 42] render");
    // ANCHOR_END: use_inherit
    for l in lines {
        println!("  {l}");
    }
}

fn many(n: u64) {
    println!("-- {n} coroutines on shared stacks, each with its own value");
    // ANCHOR: many
    let all_ok = coro::run(|| {
        let handles: Vec<_> = (1..=n)
            .map(|id| {
                coro::go!(unsafe(shared); move || {
                    REQUEST_ID.set(id);
                    coro::yield_now();
                    REQUEST_ID.get() == id
                })
            })
            .collect();
        handles.into_iter().all(|h| h.join().unwrap())
    });
    assert!(all_ok);
    // ANCHOR_END: many
    println!("  every coroutine read back its own id");
}
