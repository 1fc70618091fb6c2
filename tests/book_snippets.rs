//! Short examples that the book shows in the middle of a chapter, too small for an example
//! program of their own. The chapters include them from here by `// ANCHOR:` name, so that
//! each one is compiled, and the tests below run them.

use std::time::Duration;

// ANCHOR: run
/// Two coroutines on this thread's scheduler; `run` returns 20 + 22 once every coroutine has
/// finished.
fn forty_two() -> i32 {
    coro::run(|| {
        let a = coro::spawn(|| 20);
        let b = coro::spawn(|| 22);
        a.join().unwrap() + b.join().unwrap()
    })
}
// ANCHOR_END: run

#[test]
fn run_returns_the_first_coroutines_value() {
    assert_eq!(forty_two(), 42);
}

// ANCHOR: threads
/// Two threads, each with its own scheduler; the values come back in thread order:
/// `[4950, 5950]`.
fn sums() -> Vec<usize> {
    coro::Runtime::builder().threads(2).run(|thread| {
        // This closure runs as the first coroutine of thread `thread`'s scheduler.
        let hs: Vec<_> = (0..100).map(|i| coro::spawn(move || i)).collect();
        thread * 1000 + hs.into_iter().map(|h| h.join().unwrap()).sum::<usize>()
    })
}
// ANCHOR_END: threads

#[test]
fn threads_return_values_in_thread_order() {
    assert_eq!(sums(), vec![4950, 5950]);
}

// ANCHOR: cancel
/// Inside a coroutine: the cancel unwinds the sleeper from its sleep, and `join` says so.
fn cancel_a_sleeper() {
    let h = coro::spawn(|| coro::sleep(Duration::from_secs(3600)));
    h.cancel();
    assert!(h.join().unwrap_err().is::<coro::Cancelled>());
}
// ANCHOR_END: cancel

#[test]
fn cancel_unwinds_a_sleep() {
    coro::run(cancel_a_sleeper);
}

/// The program's server, in the watchdog's snippet.
fn server() -> &'static str {
    coro::sleep(Duration::from_millis(1));
    "served"
}

// ANCHOR: watchdog
/// The runtime reports any coroutine that keeps its thread for more than 100 ms.
fn serve_with_a_watchdog() -> Vec<&'static str> {
    coro::Runtime::builder()
        .watchdog(Duration::from_millis(100))
        .run(|_| server())
}
// ANCHOR_END: watchdog

#[test]
fn watchdog_on_a_runtime_that_never_stalls() {
    assert_eq!(serve_with_a_watchdog(), vec!["served"]);
}
