//! `#[coro::main(replicate = N)]`: the body runs as the first coroutine on each thread.

use std::sync::atomic::{AtomicUsize, Ordering};

static RUNS: AtomicUsize = AtomicUsize::new(0);

#[coro::main(replicate = 2)]
fn main() {
    if RUNS.fetch_add(1, Ordering::SeqCst) == 0 {
        let h = coro::go! { 1 };
        assert_eq!(h.join().unwrap(), 1);
    }
}
