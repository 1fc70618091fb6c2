//! Runs the book's `examples/debugging.rs` and checks the census it takes, so that the output
//! the chapter "Debugging and observing coroutines" shows comes from code that runs.

#[allow(dead_code)] // the example's `main` is not called here
#[path = "../examples/debugging.rs"]
mod example;

use coro::debug::{TaskStatus, Wait};

#[test]
fn debugging_example_names_every_wait() {
    let census = example::run().expect("the example runs");
    let by_name = |n: &str| {
        census
            .coroutines
            .iter()
            .find(|c| c.name.as_deref() == Some(n))
            .unwrap_or_else(|| panic!("no {n} in\n{census}"))
    };
    let reader = by_name("reader");
    assert!(
        matches!(reader.wait, Some(Wait::Fd { write: false, .. })),
        "{census}"
    );
    assert!(
        reader
            .backtrace_lines()
            .iter()
            .any(|l| l.contains("wait_for_request")),
        "{census:#}"
    );
    assert!(matches!(
        by_name("consumer").wait,
        Some(Wait::Channel { .. })
    ));
    let sleeper = by_name("sleeper");
    assert!(matches!(sleeper.wait, Some(Wait::Sleep { .. })));
    assert!(sleeper.timer.is_some());
    let cruncher = by_name("cruncher");
    assert_eq!(cruncher.status, TaskStatus::Parked);
    assert!(census.to_string().lines().count() > 5, "{census}");
}
