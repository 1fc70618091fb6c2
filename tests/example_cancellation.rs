//! Runs the book's `examples/cancellation.rs` and checks what each part reports, so that the
//! code the chapter "Cancellation and deadlines" shows is run, not only compiled.

#[allow(dead_code)] // the example's `main` is not called here
#[path = "../examples/cancellation.rs"]
mod example;

#[test]
fn cancellation_example_runs() {
    let r = example::run().expect("the example runs");
    assert!(matches!(r.too_slow, Err(coro::Error::TimedOut)), "{r:?}");
    assert_eq!(r.in_time.as_ref().unwrap().as_ref().unwrap(), "forty-two");
    let (budget, log) = &r.retries;
    assert!(matches!(budget, Err(coro::Error::TimedOut)), "{r:?}");
    assert!(!log.is_empty() && log.len() < 10, "{log:?}");
    assert!(
        log.iter().all(|l| l.ends_with("the operation timed out")),
        "{log:?}"
    );
    assert_eq!(r.server_errno, libc::ECANCELED);
    assert_eq!(r.cleanup, ["worker: goodbye sent"]);
}
