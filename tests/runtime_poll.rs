//! `coro::poll` (libco's co_poll) on pipes, with and without a timeout.

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use coro::poll::{POLLIN, POLLOUT, PollFd, poll};

#[test]
fn poll_on_pipes_with_timeout() {
    coro::run(|| {
        let (r, _w) = std::io::pipe().unwrap();
        let mut fds = [PollFd::new(r.as_raw_fd(), POLLIN)];
        let t = Instant::now();
        assert_eq!(poll(&mut fds, Some(Duration::from_millis(40))).unwrap(), 0);
        assert!(t.elapsed() >= Duration::from_millis(40));
        assert_eq!(fds[0].revents(), 0);
        assert_eq!(poll(&mut fds, Some(Duration::ZERO)).unwrap(), 0);
    });
}

#[test]
fn poll_on_pipes_without_timeout_wakes_on_data_while_others_run() {
    coro::run(|| {
        let (mut r1, mut w1) = std::io::pipe().unwrap();
        let (r2, _w2) = std::io::pipe().unwrap();
        let writer = coro::spawn(move || {
            coro::sleep(Duration::from_millis(20));
            w1.write_all(b"x").unwrap();
            w1
        });
        let mut fds = [
            PollFd::new(r2.as_raw_fd(), POLLIN),
            PollFd::new(r1.as_raw_fd(), POLLIN),
        ];
        assert_eq!(poll(&mut fds, None).unwrap(), 1);
        assert_eq!(fds[0].revents(), 0);
        assert_ne!(fds[1].revents() & POLLIN, 0);
        let mut b = [0u8; 1];
        r1.read_exact(&mut b).unwrap();
        // Level-triggered: drained, not ready any more.
        assert_eq!(poll(&mut fds, Some(Duration::from_millis(5))).unwrap(), 0);
        let w1 = writer.join().unwrap();
        // A pipe's write end is writable at once.
        let mut out = [PollFd::new(w1.as_raw_fd(), POLLOUT)];
        assert_eq!(poll(&mut out, None).unwrap(), 1);
        // The read end sees the hang-up when the writer closes.
        drop(w1);
        let mut hup = [PollFd::new(r1.as_raw_fd(), POLLIN)];
        assert_eq!(poll(&mut hup, Some(Duration::from_secs(5))).unwrap(), 1);
        assert_ne!(hup[0].revents() & coro::poll::POLLHUP, 0);
    });
}

#[test]
fn poll_outside_a_coroutine_is_the_real_poll() {
    let (r, mut w) = std::io::pipe().unwrap();
    let mut fds = [PollFd::new(r.as_raw_fd(), POLLIN)];
    assert_eq!(poll(&mut fds, Some(Duration::from_millis(5))).unwrap(), 0);
    w.write_all(b"y").unwrap();
    assert_eq!(poll(&mut fds, None).unwrap(), 1);
}
