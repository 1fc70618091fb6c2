//! Runs the book's `examples/timeouts.rs`: an exchange inside `coro::with_io_timeout` returns
//! its own answer in time, and an `io::Error` of kind `TimedOut` when the deadline passes,
//! about when it passes.

#[allow(dead_code)] // the example's `main` is not called here
#[path = "../examples/timeouts.rs"]
mod example;

use std::io::ErrorKind;
use std::time::Duration;

#[test]
fn timeouts_example_runs() {
    let limit = Duration::from_millis(100);
    let a = example::run(limit).expect("the example runs");
    assert_eq!(a.quick.as_deref().ok(), Some("pong"), "{a:?}");
    let err = a
        .slow
        .as_ref()
        .expect_err("the slow answer misses the limit");
    assert_eq!(err.kind(), ErrorKind::TimedOut, "{a:?}");
    assert!(a.slow_took >= limit, "{a:?}");
    assert!(a.slow_took < Duration::from_secs(10), "{a:?}");
}

#[test]
fn outside_a_runtime_the_helper_says_so_as_an_io_error() {
    let r = coro::with_io_timeout(Duration::from_secs(1), || Ok(1));
    let err = r.expect_err("no runtime, no deadline");
    assert_eq!(err.kind(), ErrorKind::Other, "{err}");
}
