//! C code blocked in `poll` or `read` inside a coroutine, under a deadline scope and under a
//! cancel: its call fails with `ETIMEDOUT` or `ECANCELED`, and the C code returns its own
//! error, by its own path; nothing unwinds through its frames.

use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::time::Duration;

/// A connected pair; the peer never writes.
fn pair() -> (TcpStream, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let a = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (b, _) = l.accept().unwrap();
    (a, b)
}

#[test]
fn c_code_waiting_in_poll_or_read_sees_etimedout_under_a_deadline() {
    coro::run(|| {
        let (a, _b) = pair();
        let fd = a.as_raw_fd();
        let mut got = None;
        let r = coro::with_timeout(Duration::from_millis(20), || {
            got = Some(coro_hooks_c::poll_then_read(fd, &mut [0; 16]));
        });
        assert!(matches!(r, Err(coro::Error::TimedOut)), "{r:?}");
        assert_eq!(got, Some(Err(libc::ETIMEDOUT)));

        let r = coro::with_timeout(Duration::from_millis(20), || {
            got = Some(coro_hooks_c::read(fd, &mut [0; 16]));
        });
        assert!(matches!(r, Err(coro::Error::TimedOut)), "{r:?}");
        assert_eq!(got, Some(Err(libc::ETIMEDOUT)));
    });
}

#[test]
fn c_code_waiting_in_poll_or_read_sees_ecanceled_under_a_cancel() {
    coro::run(|| {
        let (a, _b) = pair();
        let fd = a.as_raw_fd();
        let h = coro::spawn(move || {
            let _keep = a;
            let first = coro_hooks_c::poll_then_read(fd, &mut [0; 16]);
            let second = coro_hooks_c::read(fd, &mut [0; 16]); // sticky: fails at once
            (first, second)
        });
        coro::sleep(Duration::from_millis(20));
        assert!(!h.is_finished());
        h.cancel();
        let (first, second) = h.join().unwrap();
        assert_eq!(first, Err(libc::ECANCELED));
        assert_eq!(second, Err(libc::ECANCELED));
    });
}
