//! Runs the book's `examples/go_and_coroutine.rs` at its `--quick` size, so that the code the
//! chapter shows is not only compiled but also run by `cargo test`.

#[allow(dead_code)] // the example's `main` is not called here
#[path = "../examples/go_and_coroutine.rs"]
mod example;

#[test]
fn go_and_coroutine_example_runs_quick() {
    example::run(true);
}
