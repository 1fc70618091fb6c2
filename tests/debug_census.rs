//! The census (`coro::debug`): every kind of wait named, spawn sites, stacks, backtraces of
//! suspended coroutines on owned and shared stacks (taken without changing what they do), and
//! the threads of a multi-thread runtime.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::time::Duration;

use coro::debug::{Census, TaskStatus, Wait};

/// A connected pair of TCP streams on 127.0.0.1.
fn pair() -> (TcpStream, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (s, _) = l.accept().unwrap();
    (c, s)
}

/// The wait of coroutine `id` in `census`, which must be parked.
fn wait_of(census: &Census, id: u64) -> Wait {
    let c = census
        .get(id)
        .unwrap_or_else(|| panic!("coroutine {id} is not in the census:\n{census}"));
    assert_eq!(c.status, TaskStatus::Parked, "{census}");
    c.wait.unwrap()
}

/// Reads with libc's `read` (hooked): the census names the call.
#[inline(never)]
fn wait_for_request(fd: i32, frame: &mut [u8; 64]) -> isize {
    // SAFETY: a read into a live local buffer of 64 bytes.
    unsafe { libc::read(fd, frame.as_mut_ptr().cast(), frame.len()) }
}

#[test]
fn every_kind_of_wait_is_named() {
    coro::run(|| {
        let (mut c, s) = pair();
        let read = coro::spawn(move || {
            let mut b = [0u8; 64];
            let n = wait_for_request(s.as_raw_fd(), &mut b);
            drop(s);
            n
        });
        let (c2, s2) = pair();
        let s2 = coro::net::TcpStream::from_std(s2).unwrap();
        let net = coro::spawn(move || {
            let mut b = [0u8; 8];
            (&s2).read(&mut b).unwrap()
        });
        let (tx, rx) = coro::channel::unbounded::<u32>();
        let recv = coro::spawn(move || rx.recv().unwrap());
        let (stx, srx) = coro::channel::sync::bounded::<u32>(1);
        stx.send(0).unwrap();
        let stx2 = stx.clone();
        let send = coro::spawn(move || stx2.send(1).unwrap());
        let mutex = Rc::new(coro::sync::Mutex::new(()));
        let guard = mutex.lock();
        let m = Rc::clone(&mutex);
        let lock = coro::spawn(move || drop(m.lock()));
        let sleeper = coro::spawn(|| coro::sleep(Duration::from_secs(30)));
        let (btx, brx) = std::sync::mpsc::channel::<()>();
        let blocking = coro::spawn(move || coro::spawn_blocking(move || brx.recv().unwrap()));
        let (ttx, trx) = coro::channel::unbounded::<()>();
        let join_target = coro::spawn(move || trx.recv().unwrap());
        let target_id = join_target.id();
        let joiner = coro::spawn(move || join_target.join().is_ok());
        let mut set = coro::JoinSet::new();
        let (gtx, grx) = coro::channel::unbounded::<()>();
        set.spawn(move || grx.recv().unwrap());
        let set_waiter = coro::spawn(move || set.join_next().is_some());
        // Yields until told to stop: always in the ready queue when the census is taken.
        let stop = Rc::new(std::cell::Cell::new(false));
        let st = Rc::clone(&stop);
        let ready = coro::spawn(move || {
            while !st.get() {
                coro::yield_now();
            }
        });

        coro::yield_now(); // every one of them runs up to its wait
        let census = coro::debug::census().unwrap();
        let me = coro::current().unwrap().id;
        assert_eq!(wait_of(&census, me), Wait::Census);
        assert_eq!(
            wait_of(&census, read.id()),
            Wait::Fd {
                fd: wait_of_fd(&census, read.id()),
                write: false,
                call: "read"
            }
        );
        assert!(
            matches!(
                wait_of(&census, net.id()),
                Wait::Fd {
                    write: false,
                    call: "",
                    ..
                }
            ),
            "{census}"
        );
        assert_eq!(
            wait_of(&census, recv.id()),
            Wait::Channel {
                what: "coro::channel::Receiver::recv"
            }
        );
        assert!(
            matches!(wait_of(&census, send.id()), Wait::Channel { what } if what.contains("Sender::send")),
            "{census}"
        );
        assert_eq!(
            wait_of(&census, lock.id()),
            Wait::Lock {
                what: "coro::sync::Mutex::lock"
            }
        );
        assert_eq!(
            wait_of(&census, sleeper.id()),
            Wait::Sleep {
                call: "coro::sleep"
            }
        );
        let sl = census.get(sleeper.id()).unwrap();
        assert!(
            sl.timer.is_some_and(|t| t > Duration::from_secs(20)),
            "{census}"
        );
        assert_eq!(
            wait_of(&census, blocking.id()),
            Wait::Blocking {
                call: "spawn_blocking"
            }
        );
        assert_eq!(wait_of(&census, joiner.id()), Wait::Join { id: target_id });
        assert_eq!(wait_of(&census, set_waiter.id()), Wait::JoinSet);
        let r = census.get(ready.id()).unwrap();
        assert_eq!(r.status, TaskStatus::Ready, "{census}");
        assert!(r.started && r.wait.is_none());
        // The table names them all, one line each plus the header.
        let table = census.to_string();
        assert_eq!(table.lines().count(), census.len() + 1, "{table}");
        assert!(table.contains("read(fd"), "{table}");

        // Let everything end.
        c.write_all(b"x").unwrap();
        (&c2).write_all(b"y").unwrap();
        tx.send(5).unwrap();
        assert_eq!(srx.recv().unwrap(), 0);
        drop(guard);
        sleeper.cancel();
        btx.send(()).unwrap();
        gtx.send(()).unwrap();
        stop.set(true);
        assert_eq!(read.join().unwrap(), 1);
        assert_eq!(net.join().unwrap(), 1);
        assert_eq!(recv.join().unwrap(), 5);
        send.join().unwrap();
        lock.join().unwrap();
        assert!(sleeper.join().is_err());
        blocking.join().unwrap();
        ttx.send(()).unwrap();
        assert!(joiner.join().unwrap());
        assert!(set_waiter.join().unwrap());
        ready.join().unwrap();
    });
}

/// The fd coroutine `id` waits on.
fn wait_of_fd(census: &Census, id: u64) -> i32 {
    match wait_of(census, id) {
        Wait::Fd { fd, .. } => fd,
        w => panic!("not an fd wait: {w:?}"),
    }
}

#[test]
fn spawn_sites_are_the_callers() {
    coro::run(|| {
        let (tx, rx) = coro::channel::unbounded::<()>();
        let (rx1, rx2) = (rx.clone(), rx);
        let line = line!() + 1;
        let a = coro::spawn(move || rx1.recv().unwrap());
        let b = coro::go!(move || rx2.recv().unwrap());
        let census = coro::debug::census().unwrap();
        let site = census.get(a.id()).unwrap().spawned_at;
        assert_eq!((site.file(), site.line()), (file!(), line));
        let site = census.get(b.id()).unwrap().spawned_at;
        assert_eq!((site.file(), site.line()), (file!(), line + 1));
        let main = census.get(coro::current().unwrap().id).unwrap();
        assert_eq!(main.name.as_deref(), Some("main"));
        assert_eq!(main.spawned_at.file(), file!());
        tx.send(()).unwrap();
        tx.send(()).unwrap();
        a.join().unwrap();
        b.join().unwrap();
    });
}

#[coro::coroutine]
fn a_coroutine_function(rx: coro::channel::Receiver<()>) {
    rx.recv().unwrap();
}

#[test]
fn a_coroutine_functions_site_is_its_call() {
    coro::run(|| {
        let (tx, rx) = coro::channel::unbounded();
        let line = line!() + 1;
        let h = a_coroutine_function(rx);
        let census = coro::debug::census().unwrap();
        let site = census.get(h.id()).unwrap().spawned_at;
        assert_eq!((site.file(), site.line()), (file!(), line));
        tx.send(()).unwrap();
        h.join().unwrap();
    });
}

/// Spawns a coroutine parked in a hooked read inside `wait_for_request`, with a 64-byte frame
/// of known bytes; returns its handle and the client end.
fn reader(shared: bool) -> (coro::JoinHandle<u32>, TcpStream) {
    let (c, s) = pair();
    let b = coro::Builder::new().name("reader");
    // SAFETY: the body lends no reference into its stack while it waits (the frame is read
    // into by the kernel during the call, not while the coroutine is suspended).
    let b = if shared { unsafe { b.shared(true) } } else { b };
    let h = b
        .spawn(move || {
            let mut frame = [0u8; 64];
            for (i, x) in frame.iter_mut().enumerate() {
                *x = i as u8;
            }
            let n = wait_for_request(s.as_raw_fd(), &mut frame);
            assert_eq!(n, 1);
            // The first byte came from the peer; the rest of the frame is intact.
            frame[1..].iter().map(|&x| u32::from(x)).sum::<u32>() + u32::from(frame[0])
        })
        .unwrap();
    (h, c)
}

fn backtrace_names_the_waiting_function(shared: bool) {
    coro::run(|| {
        let (h, mut c) = reader(shared);
        // A second coroutine on the same shared stacks, so that the reader is evicted.
        let other = coro::spawn(|| coro::sleep(Duration::from_millis(1)));
        coro::yield_now();
        let census = coro::debug::census_with_backtraces().unwrap();
        let r = census.get(h.id()).unwrap();
        assert_eq!(r.stack.shared, shared);
        assert!(r.stack.in_use > 64, "{census}");
        let lines = r.backtrace_lines();
        assert!(
            lines.iter().any(|l| l.contains("wait_for_request")),
            "{census:#}"
        );
        assert!(format!("{census:#}").contains("coroutine "));
        // Twice more: the capture changes nothing.
        for _ in 0..2 {
            let again = coro::debug::census_with_backtraces().unwrap();
            assert_eq!(
                again.get(h.id()).unwrap().status,
                TaskStatus::Parked,
                "{again}"
            );
        }
        c.write_all(&[200]).unwrap();
        // 1 + 2 + ... + 63 and the byte that came.
        assert_eq!(h.join().unwrap(), (1..64).sum::<u32>() + 200);
        other.join().unwrap();
    });
}

#[test]
fn a_backtrace_names_the_waiting_function_on_an_owned_stack() {
    backtrace_names_the_waiting_function(false);
}

#[test]
fn a_backtrace_names_the_waiting_function_on_a_shared_stack() {
    backtrace_names_the_waiting_function(true);
}

#[test]
fn a_census_outside_a_coroutine_is_an_error() {
    assert!(matches!(coro::debug::census(), Err(coro::Error::NoRuntime)));
}

#[test]
fn a_multi_thread_census_lists_every_threads_coroutines() {
    let barrier = std::sync::Barrier::new(3);
    // Threads 1 and 2 wait here (parked, so their loops answer the census) until thread 0
    // has taken it.
    let (done_tx, done_rx) = coro::channel::sync::unbounded::<()>();
    let done_rx = std::sync::Mutex::new(done_rx);
    let done_tx = std::sync::Mutex::new(done_tx);
    let counts = coro::Runtime::builder()
        .threads(3)
        .thread_name("census")
        .run(|i| {
            let (stx, srx) = coro::channel::sync::unbounded::<()>();
            let h = coro::Builder::new()
                .name(format!("waiter-{i}"))
                .spawn(move || srx.recv().unwrap())
                .unwrap();
            coro::yield_now(); // the waiter parks
            barrier.wait();
            let n = if i == 0 {
                let census = coro::debug::census().unwrap();
                let waiters: Vec<_> = census
                    .coroutines
                    .iter()
                    .filter(|c| c.name.as_deref().is_some_and(|n| n.starts_with("waiter-")))
                    .collect();
                let threads: std::collections::BTreeSet<_> =
                    waiters.iter().map(|c| c.thread.clone()).collect();
                assert_eq!(waiters.len(), 3, "{census}");
                assert_eq!(threads.len(), 3, "{census}");
                let tx = done_tx.lock().unwrap().clone();
                tx.send(()).unwrap();
                tx.send(()).unwrap();
                waiters.len()
            } else {
                let rx = done_rx.lock().unwrap().clone();
                rx.recv().unwrap();
                0
            };
            stx.send(()).unwrap();
            h.join().unwrap();
            n
        });
    assert_eq!(counts.iter().sum::<usize>(), 3);
}

#[test]
fn a_census_of_many_parked_coroutines() {
    coro::run(|| {
        let (tx, rx) = coro::channel::unbounded::<()>();
        let rx = Rc::new(rx);
        let hs: Vec<_> = (0..2000)
            .map(|_| {
                let rx = Rc::clone(&rx);
                coro::spawn(move || rx.recv().unwrap())
            })
            .collect();
        coro::yield_now();
        let census = coro::debug::census().unwrap();
        assert_eq!(census.len(), 2001);
        let parked = census
            .coroutines
            .iter()
            .filter(|c| matches!(c.wait, Some(Wait::Channel { .. })))
            .count();
        assert_eq!(parked, 2000);
        for _ in 0..2000 {
            tx.send(()).unwrap();
        }
        for h in hs {
            h.join().unwrap();
        }
    });
}
