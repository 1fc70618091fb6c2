//! Runs the book's `examples/channels.rs` and checks what each part saw, so that the code the
//! chapter "Synchronization" shows for broadcast, watch and rendezvous channels is run, not
//! only compiled.

#[allow(dead_code)] // the example's `main` is not called here
#[path = "../examples/channels.rs"]
mod example;

#[test]
fn channels_example_runs() {
    let seen = example::run();
    assert_eq!(seen.eager, (1..=10).collect::<Vec<_>>(), "{seen:?}");
    // Capacity 4: ticks 1 to 6 were dropped before the late receiver looked.
    assert_eq!(seen.late, ["lost 6", "7", "8", "9", "10"], "{seen:?}");
    assert_eq!(seen.status, ["starting", "ready", "stopping"], "{seen:?}");
    assert_eq!(
        seen.hand_off,
        ["took 1", "sent 1", "took 2", "sent 2", "took 3"],
        "each send returned after its value was taken: {seen:?}"
    );
    // The coroutine may miss values (they coalesce), never sees one twice or out of order,
    // and always ends with the last.
    assert!(!seen.progress.is_empty(), "{seen:?}");
    assert!(seen.progress.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
    assert!(
        seen.progress.iter().all(|p| p % 10 == 0 && *p > 0),
        "{seen:?}"
    );
    assert_eq!(seen.progress.last(), Some(&100), "{seen:?}");
}
