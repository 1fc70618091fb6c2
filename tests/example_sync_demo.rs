//! Runs the book's `examples/sync_demo.rs` at its `--quick` size and checks its figures, so
//! that the code the chapter "Synchronization" shows is not only compiled but also run.

#[allow(dead_code)] // the example's `main` is not called here
#[path = "../examples/sync_demo.rs"]
mod example;

#[test]
fn sync_demo_example_runs_quick() {
    let stats = example::run(true).expect("the pipeline runs");
    let n = 2 * 500u64;
    assert_eq!(stats.jobs, n, "every number fed was processed once");
    let steps: u64 = (1..=n).map(example::collatz_steps).sum();
    assert_eq!(stats.steps, steps);
    let longest = (1..=n).map(example::collatz_steps).max().unwrap();
    assert_eq!(stats.longest.1, longest);
    assert_eq!(example::collatz_steps(stats.longest.0), longest);
    assert!(stats.most_in_section >= 1 && stats.most_in_section <= 3);
}
