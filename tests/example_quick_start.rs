//! Runs the book's `examples/quick_start.rs` at its `--quick` size, so that the code the chapter
//! "Quick start" shows is not only compiled but also run by `cargo test`.

#[allow(dead_code)] // the example's `main` is not called here
#[path = "../examples/quick_start.rs"]
mod example;

#[test]
fn quick_start_example_runs_quick() {
    coro::run(|| example::tour(true));
}
