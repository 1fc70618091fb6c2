//! Coroutines that end with the code that started them: `coro::scope` (children that borrow,
//! all ended before it returns), `join!` and `JoinSet` (results as they finish), and what a
//! panic, a cancel or a deadline does to each.
//!
//! ```text
//! cargo run --example structured
//! ```

use std::time::{Duration, Instant};

/// A stand-in for a request: answers the length of `name` after `ms` milliseconds; the name
/// "broken" panics instead.
fn lookup(name: &str, ms: u64) -> usize {
    coro::sleep(Duration::from_millis(ms));
    if name == "broken" {
        panic!("no answer for {name}");
    }
    name.len()
}

// ANCHOR: scope_deadline
/// Looks every name up at once, each child writing its own slot of `results` (borrowed, not
/// cloned), and gives up on the ones still running after `limit`: the deadline reaches the
/// scope's closure where it waits in `join`, and the scope cancels its children before it
/// returns.
fn lookup_all(names: &[(&str, u64)], limit: Duration) -> (coro::Result<()>, Vec<Option<usize>>) {
    let mut results = vec![None; names.len()];
    let done = coro::with_timeout(limit, || {
        coro::scope(|s| {
            let mut handles = Vec::new();
            for (&(name, ms), slot) in names.iter().zip(results.iter_mut()) {
                handles.push(s.spawn(move || *slot = Some(lookup(name, ms))));
            }
            for h in handles {
                h.join().unwrap(); // a deadline here unwinds the closure: children cancelled
            }
        })
    });
    (done, results)
}
// ANCHOR_END: scope_deadline

// ANCHOR: scope_panic
/// A child's panic comes back from its handle's `join`, as `Err(payload)`; the siblings run
/// on. (A panic nobody joins is raised by `scope` itself once every child has ended.)
fn with_a_broken_lookup() -> Vec<String> {
    let names = ["one", "broken", "three"];
    coro::scope(|s| {
        let handles: Vec<_> = names
            .iter()
            .map(|&n| s.spawn(move || lookup(n, 5)))
            .collect();
        handles
            .into_iter()
            .map(|h| match h.join() {
                Ok(len) => len.to_string(),
                Err(payload) => match payload.downcast_ref::<String>() {
                    Some(msg) => format!("panicked: {msg}"),
                    None => "panicked".to_string(),
                },
            })
            .collect()
    })
}
// ANCHOR_END: scope_panic

// ANCHOR: join_timeout
/// `join!` under a deadline: when it passes while `join!` waits, every branch is cancelled
/// and waited for, and the scope reports the time-out.
fn both_or_neither(limit: Duration) -> coro::Result<(usize, usize)> {
    coro::with_timeout(limit, || {
        coro::join!(lookup("quick", 5), lookup("slow", 60_000))
    })
}
// ANCHOR_END: join_timeout

// ANCHOR: first_answer
/// Asks every mirror at once and keeps the first answer that comes back; a mirror that
/// panics is skipped. Returning drops the set, which cancels the mirrors still running.
fn first_answer(mirrors: &[(&'static str, u64)]) -> Option<&'static str> {
    let mut set = coro::JoinSet::new();
    for &(name, ms) in mirrors {
        set.spawn(move || {
            lookup(name, ms);
            name
        });
    }
    while let Some(r) = set.join_next() {
        match r {
            Ok(name) => return Some(name),
            // The payload of a panic, or `coro::Cancelled` for a member that was cancelled.
            Err(_) => continue,
        }
    }
    None
}
// ANCHOR_END: first_answer

/// What each part of the example returned, and how long the whole took.
#[derive(Debug)]
pub(crate) struct Outcome {
    /// `lookup_all` with a limit the slow lookup misses.
    pub(crate) lookup_all: (coro::Result<()>, Vec<Option<usize>>),
    /// `with_a_broken_lookup`.
    pub(crate) broken: Vec<String>,
    /// `both_or_neither` with a short limit.
    pub(crate) join_timeout: coro::Result<(usize, usize)>,
    /// `first_answer` from a broken, a fast and a slow mirror.
    pub(crate) first: Option<&'static str>,
    /// How long the runtime ran, every coroutine included.
    pub(crate) elapsed: Duration,
}

/// Runs every part in one runtime.
pub(crate) fn run() -> Outcome {
    let start = Instant::now();
    let (lookup_all, broken, join_timeout, first) = coro::run(|| {
        let names = [("a", 5), ("bb", 10), ("slow", 60_000)];
        (
            lookup_all(&names, Duration::from_millis(200)),
            with_a_broken_lookup(),
            both_or_neither(Duration::from_millis(100)),
            first_answer(&[("broken", 1), ("fast", 20), ("slow", 60_000)]),
        )
    });
    Outcome {
        lookup_all,
        broken,
        join_timeout,
        first,
        elapsed: start.elapsed(),
    }
}

fn main() {
    let o = run();
    println!("lookup_all: {:?}", o.lookup_all);
    println!("with_a_broken_lookup: {:?}", o.broken);
    println!("both_or_neither: {:?}", o.join_timeout);
    println!("first_answer: {:?}", o.first);
    println!(
        "all done in {:?}: nothing waited for the slow lookups",
        o.elapsed
    );
}
