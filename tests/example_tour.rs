//! Runs the README's main command, `examples/tour.rs`, at its `--quick` size: every step must
//! work and report sensible numbers (behaviour only, no timing thresholds).

#[allow(dead_code)] // the example's `main` is not called here
#[path = "../examples/tour.rs"]
mod tour;

#[test]
fn the_tour_runs_every_step() {
    let report = tour::run(true).expect("every step of the tour succeeds");
    assert!(report.ns_per_round_trip > 0.0);
    assert_eq!(report.parked, 10_000);
    assert!(report.bytes_per_parked >= 0.0);
    assert_eq!(report.echo.len(), 2);
    for (name, stats) in &report.echo {
        assert!(stats.requests > 0, "{name} served no request");
    }
    assert_eq!(report.fibonacci, [0, 1, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89]);
}
