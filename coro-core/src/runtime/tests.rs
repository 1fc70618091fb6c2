//! Tests of the park contract (crate-private API) through real runtimes.

use std::cell::Cell;
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::census::Wait;
use super::fd_wait::{self, Interest};
use super::park;
use super::scheduler::SCHED;
use crate::sys;

#[test]
fn unpark_before_park_is_not_lost() {
    crate::run(|| {
        assert!(park::in_task());
        let me = park::current_unparker();
        me.unpark();
        park::park(Wait::Other); // returns at once: the wake-up is remembered
    });
    assert!(!park::in_task());
}

#[test]
fn park_and_unpark_between_tasks() {
    crate::run(|| {
        let flag = Rc::new(Cell::new(false));
        let slot: Rc<Cell<Option<park::Unparker>>> = Rc::new(Cell::new(None));
        let (f, s) = (flag.clone(), slot.clone());
        let h = crate::spawn(move || {
            s.set(Some(park::current_unparker()));
            while !f.get() {
                park::park(Wait::Other);
            }
        });
        crate::yield_now();
        flag.set(true);
        slot.take().unwrap().unpark();
        h.join().unwrap();
    });
}

#[test]
fn park_until_times_out() {
    crate::run(|| {
        let t = Instant::now();
        let deadline = t + Duration::from_millis(30);
        while park::park_deadline(Some(deadline), Wait::Other) {}
        assert!(Instant::now() >= deadline);
        assert!(!park::park_deadline(Some(Instant::now()), Wait::Other));
    });
}

#[test]
fn remote_unparker_wakes_a_task_from_a_std_thread() {
    crate::run(|| {
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let remote = park::current_remote_unparker();
        let d = done.clone();
        let th = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            d.store(true, std::sync::atomic::Ordering::Release);
            remote.unpark();
        });
        while !done.load(std::sync::atomic::Ordering::Acquire) {
            park::park(Wait::Other);
        }
        th.join().unwrap();
    });
}

#[test]
fn wait_fd_on_a_pipe_and_timeout() {
    crate::run(|| {
        let (r, w) = sys::pipe().unwrap();
        let (rfd, wfd) = (r.as_raw_fd(), w.as_raw_fd());
        let deadline = Instant::now() + Duration::from_millis(20);
        assert!(!fd_wait::wait_fd(rfd, Interest::READABLE, Some(deadline), "").unwrap());
        let h = crate::spawn(move || {
            crate::sleep(Duration::from_millis(10));
            sys::write(wfd, b"hi").unwrap();
        });
        assert!(fd_wait::wait_fd(rfd, Interest::READABLE, None, "").unwrap());
        let mut buf = [0u8; 8];
        assert_eq!(sys::read(rfd, &mut buf).unwrap(), 2);
        fd_wait::clear_ready(rfd, Interest::READABLE);
        assert!(!fd_wait::is_ready(rfd, Interest::READABLE));
        h.join().unwrap();
        drop(w);
    });
}

#[test]
fn close_fd_wakes_waiters_with_ebadf() {
    crate::run(|| {
        let (r, _w) = sys::pipe().unwrap();
        let rfd = r.as_raw_fd();
        let h = crate::spawn(move || fd_wait::wait_fd(rfd, Interest::READABLE, None, ""));
        crate::yield_now();
        fd_wait::close_fd(rfd);
        drop(r);
        let err = h.join().unwrap().unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EBADF));
    });
}

#[test]
fn wait_fd_outside_a_task_is_an_error() {
    assert!(fd_wait::wait_fd(0, Interest::READABLE, None, "").is_err());
}

#[test]
fn an_idle_runtime_waits_once_instead_of_spinning() {
    crate::run(|| {
        let waits = || SCHED.with(|s| s.driver.borrow().waits);
        let before = waits();
        crate::sleep(Duration::from_millis(300));
        let during = waits() - before;
        // One wait until the timer, and perhaps one more for a deadline rounded to the
        // millisecond; a loop that polled would have waited hundreds of times.
        assert!(
            during <= 3,
            "the loop waited {during} times during one sleep"
        );
    });
}

#[test]
fn a_reused_fd_number_is_not_taken_for_the_closed_one() {
    crate::run(|| {
        // Register a pipe, then close it behind the runtime's back (no close_fd).
        let (r, w) = sys::pipe().unwrap();
        let old = r.as_raw_fd();
        fd_wait::clear_ready(old, Interest::READABLE);
        drop((r, w));
        // The next socket very likely gets the same number; it must still work.
        let (a, b) = crate::net::UnixStream::pair().unwrap();
        use std::io::{Read, Write};
        let h = crate::spawn(move || {
            let mut buf = [0u8; 2];
            (&a).read_exact(&mut buf).unwrap();
            buf
        });
        crate::yield_now();
        (&b).write_all(b"ok").unwrap();
        assert_eq!(&h.join().unwrap(), b"ok");
    });
}
