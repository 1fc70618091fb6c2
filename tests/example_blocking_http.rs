//! Runs the book's `examples/blocking_http.rs` at its `--quick` size: ureq in 100 coroutines
//! on one thread against a std::net server in coroutines of the same thread.
#![cfg(feature = "hooks")] // without the hooks these coroutines would block their thread

#[allow(dead_code)] // the example's `main` is not called here
#[path = "../examples/blocking_http.rs"]
mod example;

#[test]
fn blocking_http_example_runs_quick() {
    assert_eq!(example::fetch_all(100), 100);
}
