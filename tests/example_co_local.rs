//! Runs the book's `examples/co_local.rs` at its `--quick` size, so that the code the chapter shows
//! is not only compiled but also run by `cargo test`.

#[allow(dead_code)] // the example's `main` is not called here
#[path = "../examples/co_local.rs"]
mod example;

#[test]
fn co_local_example_runs_quick() {
    example::run(true);
}
