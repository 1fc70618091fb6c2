//! Runs the book's `examples/structured.rs`: a scope under a deadline cancels the children
//! still running and keeps what the others wrote, a child's panic comes back from its `join`,
//! `join!` under a deadline cancels its branches, and a `JoinSet` dropped after its first
//! answer cancels the rest (the runtime, which waits for every coroutine, ends long before the
//! slow ones would have).

#[allow(dead_code)] // the example's `main` is not called here
#[path = "../examples/structured.rs"]
mod example;

use std::time::Duration;

#[test]
fn structured_example_runs() {
    let o = example::run();
    let (done, results) = &o.lookup_all;
    assert!(matches!(done, Err(coro::Error::TimedOut)), "{o:?}");
    assert_eq!(results, &[Some(1), Some(2), None], "{o:?}");
    assert_eq!(
        o.broken,
        ["3", "panicked: no answer for broken", "5"],
        "{o:?}"
    );
    assert!(
        matches!(o.join_timeout, Err(coro::Error::TimedOut)),
        "{o:?}"
    );
    assert_eq!(o.first, Some("fast"), "{o:?}");
    // The slow lookups sleep a minute each; cancelled, they took nothing like that.
    assert!(o.elapsed < Duration::from_secs(20), "{o:?}");
}
