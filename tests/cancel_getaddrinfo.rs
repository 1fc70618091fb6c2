//! `getaddrinfo` runs on the blocking pool; a coroutine waiting for it under a deadline or a
//! cancel gets `ETIMEDOUT` or `ECANCELED` (std reports `EAI_SYSTEM` with that errno), while the
//! lookup finishes on the pool and its result is freed there. Its own test binary: it makes the
//! process-wide pool one thread wide, and keeps that thread busy so that the lookup waits.

use std::net::ToSocketAddrs;
use std::time::Duration;

const SHORT: Duration = Duration::from_millis(30);

/// Keeps the pool's only thread busy until the returned sender is dropped.
fn occupy_pool() -> std::sync::mpsc::Sender<()> {
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    coro::spawn(move || {
        coro::spawn_blocking(move || {
            let _ = rx.recv();
        })
    });
    coro::yield_now(); // the job is queued, and the pool thread takes it
    std::thread::sleep(Duration::from_millis(1)); // (hooked: other coroutines run)
    tx
}

fn lookup() -> std::io::Result<usize> {
    ("localhost", 80).to_socket_addrs().map(|a| a.count())
}

#[test]
fn getaddrinfo_waiting_for_the_pool_is_interrupted() {
    coro::blocking::set_pool_size(1);
    coro::run(|| {
        // Under a deadline scope.
        let busy = occupy_pool();
        let mut seen = None;
        let r = coro::with_timeout(SHORT, || seen = Some(lookup()));
        assert!(matches!(r, Err(coro::Error::TimedOut)), "{r:?}");
        let e = seen.unwrap().unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ETIMEDOUT), "{e}");
        drop(busy);

        // Under coro::timeout, on a shared stack.
        let busy = occupy_pool();
        // SAFETY: the closure lends no reference into its stack while it waits.
        let h = unsafe { coro::Builder::new().shared(true) }
            .spawn(|| coro::timeout(SHORT, lookup))
            .unwrap();
        let r = h.join().unwrap();
        assert!(matches!(r, Err(coro::Error::TimedOut)), "{r:?}");
        drop(busy);

        // Under a cancel.
        let busy = occupy_pool();
        let h = coro::spawn(lookup);
        coro::sleep(SHORT);
        assert!(!h.is_finished(), "the lookup waits for the pool");
        h.cancel();
        let e = h.join().unwrap().unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ECANCELED), "{e}");
        drop(busy);

        // The pool is free again: a lookup completes.
        assert!(lookup().unwrap() >= 1);
    });
}
