//! Runs the book's `examples/coroutines_by_hand.rs` at its `--quick` size, so that the code the
//! chapter "Coroutines by hand" shows is not only compiled but also run by `cargo test`.

#[allow(dead_code)] // the example's `main` is not called here
#[path = "../examples/coroutines_by_hand.rs"]
mod example;

#[test]
fn coroutines_by_hand_example_runs_quick() {
    example::run(true).expect("every part of the example succeeds");
}
