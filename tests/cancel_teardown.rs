//! The runtime torn down by a panic in `main` while other coroutines wait in hooked calls, in
//! child processes: the waiting coroutines are cancelled (their calls fail, their destructors
//! run), and the panic reaches the caller of `run`: exit status 101 and the panic's message,
//! never an abort.

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::process::Output;
use std::time::Duration;

mod common;
use common::in_child;

/// Runs this test binary again as a child, running only `test`.
fn run_child(test: &str) -> Output {
    common::run_child(test, &[], Duration::from_secs(300))
}

/// Prints a line when dropped: the child's stderr shows which destructors ran.
struct Says(&'static str);

impl Drop for Says {
    fn drop(&mut self) {
        eprintln!("dropped: {}", self.0);
    }
}

#[test]
fn a_panicking_main_with_coroutines_in_hooked_calls_exits_101() {
    if in_child() {
        // A test harness would catch the panic: exit with what an uncaught one gives.
        let r = std::panic::catch_unwind(|| {
            coro::run(|| {
                let listener = TcpListener::bind("127.0.0.1:0").unwrap();
                let addr = listener.local_addr().unwrap();
                coro::spawn(move || {
                    let _s = Says("accept");
                    let r = listener.accept();
                    eprintln!(
                        "accept returned: {:?}",
                        r.map(drop).unwrap_err().raw_os_error()
                    );
                });
                let (a, b) = {
                    let l = TcpListener::bind("127.0.0.1:0").unwrap();
                    let a = TcpStream::connect(l.local_addr().unwrap()).unwrap();
                    (a, l.accept().unwrap().0)
                };
                coro::spawn(move || {
                    let _s = Says("read");
                    let mut a = a;
                    let _ = a.read(&mut [0; 8]);
                });
                coro::spawn(move || {
                    let _s = Says("poll");
                    let mut p = libc::pollfd {
                        fd: b.as_raw_fd(),
                        events: libc::POLLIN,
                        revents: 0,
                    };
                    // SAFETY: one valid pollfd.
                    let r = unsafe { libc::poll(&mut p, 1, -1) };
                    eprintln!("poll returned: {r}");
                });
                coro::spawn(|| {
                    let _s = Says("sleep");
                    std::thread::sleep(Duration::from_secs(3600));
                });
                coro::spawn(|| {
                    let _s = Says("coro sleep");
                    coro::sleep(Duration::from_secs(3600));
                });
                coro::sleep(Duration::from_millis(20)); // every one of them waits
                let _ = addr;
                panic!("main gives up");
            })
        });
        std::process::exit(if r.is_err() { 101 } else { 0 });
    }
    let out = run_child("a_panicking_main_with_coroutines_in_hooked_calls_exits_101");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(101), "{stderr}");
    assert!(stderr.contains("main gives up"), "{stderr}");
    for what in ["accept", "read", "poll", "sleep", "coro sleep"] {
        assert!(
            stderr.contains(&format!("dropped: {what}\n")),
            "{what}: {stderr}"
        );
    }
    assert!(stderr.contains("accept returned: Some(125)"), "{stderr}"); // ECANCELED
    assert!(stderr.contains("poll returned: -1"), "{stderr}");
}

#[test]
fn an_uncaught_panic_in_main_is_exit_status_101() {
    if in_child() {
        coro::run(|| {
            coro::spawn(|| {
                let l = TcpListener::bind("127.0.0.1:0").unwrap();
                let _ = l.accept();
            });
            coro::yield_now();
            panic!("uncaught in main");
        });
        return;
    }
    let out = run_child("an_uncaught_panic_in_main_is_exit_status_101");
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The test harness reports the panicking test as failed: exit status 101, never SIGABRT.
    assert_eq!(out.status.code(), Some(101), "{stderr}");
    assert!(stderr.contains("uncaught in main"), "{stderr}");
    assert!(
        !stderr.contains("panic in a function that cannot unwind"),
        "{stderr}"
    );
}
