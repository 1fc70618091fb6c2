//! Runs the book's `examples/select.rs` and checks the conversation, so that the code the
//! chapter "Synchronization" shows for `select!` is run, not only compiled.

#[allow(dead_code)] // the example's `main` is not called here
#[path = "../examples/select.rs"]
mod example;

use std::time::Duration;

#[test]
fn select_example_runs() {
    let t = example::run(Duration::from_millis(300)).expect("the example runs");
    assert_eq!(
        t.lines,
        ["news: coro 0.1 is out", "HELLO, SELECT", "idle: bye"],
        "{t:?}"
    );
    assert_eq!(t.echoed, 1);
}
