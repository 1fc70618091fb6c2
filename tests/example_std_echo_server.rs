//! Runs the book's `examples/std_echo_server.rs` at its `--quick` size (clients on a second
//! thread instead of a child process), so that the chapter "Hooks" shows code that runs.
#![cfg(feature = "hooks")] // without the hooks these coroutines would block their thread

#[allow(dead_code)] // the example's `main` is not called here
#[path = "../examples/std_echo_server.rs"]
mod example;

#[test]
fn std_echo_server_example_runs_quick() {
    let (echoed, peak) = example::demo(200, 2, example::Clients::Thread);
    assert!(echoed > 0);
    assert!(peak >= 1);
}
