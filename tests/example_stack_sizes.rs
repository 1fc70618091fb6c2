//! Runs the book's `examples/stack_sizes.rs`: every way to choose a coroutine's stack gives it
//! that stack (as a census reports it), `main` runs once per replica on the stack it asked for,
//! and a runtime's builder sets the defaults.

#[path = "../examples/stack_sizes.rs"]
mod example;

use std::sync::atomic::Ordering;

#[test]
fn each_way_of_choosing_a_stack_gives_that_stack() {
    let sizes = coro::run(example::stacks);
    let expected = [
        ("#[coroutine(stack_size)]", 1 << 20),
        ("go!(stack_size)", 1 << 20),
        ("go!(builder)", 2 << 20),
        ("Builder::spawn", 1 << 20),
        ("Scope::spawn_with", 1 << 20),
        ("JoinSet::spawn_with", 1 << 20),
        ("go! (default)", coro::DEFAULT_STACK_SIZE),
    ];
    assert_eq!(sizes.len(), expected.len(), "{sizes:?}");
    for (how, size) in expected {
        assert_eq!(sizes.get(how), Some(&size), "{how}: {sizes:?}");
    }
}

#[test]
fn main_runs_once_per_replica_on_its_own_stack_size() {
    example::main().expect("the example runs");
    assert_eq!(example::COPIES.load(Ordering::SeqCst), 2);
}

#[test]
fn run_gives_main_an_8_mib_stack() {
    assert_eq!(coro::MAIN_STACK_SIZE, 8 << 20);
    assert_eq!(coro::run(example::my_stack), coro::MAIN_STACK_SIZE);
}

#[test]
fn a_runtime_builder_sets_both_defaults() {
    // ANCHOR: runtime
    // Every coroutine spawned without a size of its own gets 1 MiB; the first one, which runs
    // the closure on each thread, gets 32 MiB.
    let sizes = coro::Runtime::builder()
        .stack_size(1 << 20)
        .main_stack_size(32 << 20)
        .run(|_| {
            let spawned = coro::spawn(example::my_stack).join().unwrap();
            (example::my_stack(), spawned)
        });
    assert_eq!(sizes, [(32 << 20, 1 << 20)]);
    // ANCHOR_END: runtime
}
