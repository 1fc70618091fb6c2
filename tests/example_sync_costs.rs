//! Runs `examples/sync_costs.rs` at its `--quick` size, so that the measurements the chapter
//! "Synchronization" quotes keep working.

#[allow(dead_code)] // the example's `main` is not called here
#[path = "../examples/sync_costs.rs"]
mod example;

#[test]
fn sync_costs_example_runs_quick() {
    let lines = example::run(true);
    assert_eq!(lines.len(), 6);
    for (name, value, unit) in lines {
        assert!(value.is_finite() && value > 0.0, "{name}: {value} {unit}");
    }
}
