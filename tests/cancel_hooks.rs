//! Every family of hooked blocking call, under a deadline scope, under `coro::timeout` and under
//! `JoinHandle::cancel`, on owned and shared stacks: the call returns the documented error
//! (`ETIMEDOUT` for a deadline, `ECANCELED` for a cancel; a sleep returns early), the
//! destructors on the interrupted stack run, nothing stays registered, and the runtime goes on.
//!
//! Each blocking call here would otherwise wait forever (a peer that never writes or reads, a
//! listener nobody connects to, a full backlog, an hour's sleep), so that a test that ends at
//! all shows that the interrupt reached the call.

use std::cell::Cell;
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsRawFd, RawFd};
use std::rc::Rc;
use std::time::Duration;

use coro::Error;

const SHORT: Duration = Duration::from_millis(30);
const HOUR: Duration = Duration::from_secs(3600);

/// Counts its drops: a value on the stack that the interrupt must not leak.
struct Counted(Rc<Cell<u32>>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.set(self.0.get() + 1);
    }
}

/// A connected pair of std streams, made from inside a coroutine (so that the hooks know
/// them). The peer never reads nor writes unless a test makes it.
fn pair() -> (TcpStream, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let a = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (b, _) = l.accept().unwrap();
    (a, b)
}

/// A listener whose accept queue is full: a further connect waits for ever (the kernel drops
/// its SYNs). Returns the listener and the connections that filled the queue.
fn full_backlog() -> (TcpListener, Vec<TcpStream>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    // SAFETY: listen on a socket we own; a backlog of 0 leaves room for one connection.
    assert_eq!(unsafe { libc::listen(l.as_raw_fd(), 0) }, 0);
    let addr = l.local_addr().unwrap();
    let mut filled = Vec::new();
    for _ in 0..2 {
        let s = socket_nonblocking();
        let sa = sockaddr(addr);
        // SAFETY: a valid socket and address.
        unsafe {
            libc::connect(
                s,
                (&raw const sa).cast(),
                size_of::<libc::sockaddr_in>() as _,
            );
        }
        // SAFETY: a socket we made and hand to TcpStream.
        filled.push(unsafe { <TcpStream as std::os::fd::FromRawFd>::from_raw_fd(s) });
    }
    coro::sleep(Duration::from_millis(20)); // the handshakes complete
    (l, filled)
}

fn socket_nonblocking() -> RawFd {
    // SAFETY: plain socket(2).
    let s = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_NONBLOCK, 0) };
    assert!(s >= 0);
    s
}

fn sockaddr(addr: std::net::SocketAddr) -> libc::sockaddr_in {
    let std::net::SocketAddr::V4(v4) = addr else {
        panic!("IPv4 only")
    };
    libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: v4.port().to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(*v4.ip()).to_be(),
        },
        sin_zero: [0; 8],
    }
}

/// A hooked blocking call to interrupt: `setup` runs in the test's coroutine and makes what
/// the call needs; the call itself runs in the coroutine that is interrupted.
type Call = Box<dyn FnOnce() -> io::Result<()>>;

/// Makes a call, and what must stay alive while it waits (its peer, say).
type MakeCall = fn() -> (Call, Box<dyn std::any::Any>);

/// The families of hooked calls, by name; each makes a fresh call that would wait forever.
fn calls() -> Vec<(&'static str, MakeCall)> {
    vec![
        ("sleep", || {
            let call: Call = Box::new(|| {
                std::thread::sleep(HOUR);
                Ok(())
            });
            (call, Box::new(()))
        }),
        ("read", || {
            let (mut a, b) = pair();
            let call: Call = Box::new(move || a.read(&mut [0; 64]).map(drop));
            (call, Box::new(b))
        }),
        ("write_all", || {
            let (mut a, b) = pair();
            let call: Call = Box::new(move || a.write_all(&vec![7u8; 64 << 20]));
            (call, Box::new(b))
        }),
        ("accept", || {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            let call: Call = Box::new(move || l.accept().map(drop));
            (call, Box::new(()))
        }),
        ("connect", || {
            let (l, filled) = full_backlog();
            let addr = l.local_addr().unwrap();
            let call: Call = Box::new(move || TcpStream::connect(addr).map(drop));
            (call, Box::new((l, filled)))
        }),
        ("poll", || {
            let (a, b) = pair();
            let call: Call = Box::new(move || {
                let mut p = libc::pollfd {
                    fd: a.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                };
                // SAFETY: one valid pollfd.
                match unsafe { libc::poll(&mut p, 1, -1) } {
                    -1 => Err(io::Error::last_os_error()),
                    _ => Ok(()),
                }
            });
            (call, Box::new(b))
        }),
        ("select", || {
            let (a, b) = pair();
            let call: Call = Box::new(move || {
                let fd = a.as_raw_fd();
                // SAFETY: an fd_set zeroed and then filled with FD_SET; no timeout.
                let r = unsafe {
                    let mut set: libc::fd_set = std::mem::zeroed();
                    libc::FD_ZERO(&mut set);
                    libc::FD_SET(fd, &mut set);
                    libc::select(
                        fd + 1,
                        &mut set,
                        std::ptr::null_mut(),
                        std::ptr::null_mut(),
                        std::ptr::null_mut(),
                    )
                };
                if r == -1 {
                    Err(io::Error::last_os_error())
                } else {
                    Ok(())
                }
            });
            (call, Box::new(b))
        }),
    ]
}

/// What a sleep returns when interrupted: nothing (it ends early); every other call fails
/// with `errno`.
fn check_result(name: &str, r: &io::Result<()>, errno: i32) {
    match (name, r) {
        ("sleep", Ok(())) => {}
        (_, Err(e)) if e.raw_os_error() == Some(errno) => {}
        _ => panic!("{name}: expected errno {errno}, got {r:?}"),
    }
}

/// After an interrupt: nothing is left registered or armed, and the runtime still serves.
fn check_runtime_goes_on(name: &str) {
    let (live, fd_waits, timers) = coro::__private::runtime_counts().unwrap();
    assert_eq!(fd_waits, 0, "{name}: an fd wait stayed registered");
    assert_eq!(timers, 0, "{name}: a timer stayed armed");
    assert_eq!(live, 1, "{name}: only the test's coroutine is left");
    let (mut a, mut b) = pair();
    let echo = coro::spawn(move || {
        let mut buf = [0; 4];
        b.read_exact(&mut buf).unwrap();
        b.write_all(&buf).unwrap();
    });
    a.write_all(b"ping").unwrap();
    let mut back = [0; 4];
    a.read_exact(&mut back).unwrap();
    assert_eq!(&back, b"ping");
    echo.join().unwrap();
}

/// Spawns `f` on an owned or a shared stack.
fn spawn_on<T: 'static>(shared: bool, f: impl FnOnce() -> T + 'static) -> coro::JoinHandle<T> {
    // SAFETY: no closure in this file lends a reference into its stack while it waits.
    let b = unsafe { coro::Builder::new().shared(shared) };
    b.spawn(f).unwrap()
}

fn under_a_scope(shared: bool) {
    coro::run(|| {
        for (name, make) in calls() {
            let (call, _keep) = make();
            let drops = Rc::new(Cell::new(0));
            let d = Rc::clone(&drops);
            let h = spawn_on(shared, move || {
                let mut seen = None;
                let r = coro::with_timeout(SHORT, || {
                    let _c = Counted(d);
                    let r = call();
                    // Sticky: every later hooked call that would wait fails at once.
                    let again = std::net::TcpListener::bind("127.0.0.1:0")
                        .unwrap()
                        .accept()
                        .map(drop);
                    seen = Some((r, again));
                });
                (r, seen)
            });
            let (r, seen) = h.join().unwrap();
            assert!(matches!(r, Err(Error::TimedOut)), "{name}: {r:?}");
            let (r, again) = seen.unwrap();
            check_result(name, &r, libc::ETIMEDOUT);
            check_result("again", &again, libc::ETIMEDOUT);
            assert_eq!(drops.get(), 1, "{name}: the destructor ran once");
            check_runtime_goes_on(name);
        }
    });
}

#[test]
fn hooked_calls_under_a_deadline_scope_fail_with_etimedout() {
    under_a_scope(false);
}

#[test]
fn hooked_calls_under_a_deadline_scope_on_shared_stacks() {
    under_a_scope(true);
}

fn under_timeout(shared: bool) {
    coro::run(|| {
        for (name, make) in calls() {
            let (call, _keep) = make();
            let drops = Rc::new(Cell::new(0));
            let d = Rc::clone(&drops);
            let seen = Rc::new(Cell::new(None));
            let s = Rc::clone(&seen);
            let h = spawn_on(shared, move || {
                coro::timeout(SHORT, move || {
                    let _c = Counted(d);
                    s.set(Some(call()));
                })
            });
            let r = h.join().unwrap();
            assert!(matches!(r, Err(Error::TimedOut)), "{name}: {r:?}");
            check_result(name, &seen.take().unwrap(), libc::ETIMEDOUT);
            assert_eq!(drops.get(), 1, "{name}: the destructor ran once");
            check_runtime_goes_on(name);
        }
    });
}

#[test]
fn hooked_calls_under_coro_timeout_fail_with_etimedout() {
    under_timeout(false);
}

#[test]
fn hooked_calls_under_coro_timeout_on_shared_stacks() {
    under_timeout(true);
}

fn under_cancel(shared: bool) {
    coro::run(|| {
        for (name, make) in calls() {
            let (call, _keep) = make();
            let drops = Rc::new(Cell::new(0));
            let d = Rc::clone(&drops);
            let h = spawn_on(shared, move || {
                let _c = Counted(d);
                let r = call();
                let again = std::net::TcpListener::bind("127.0.0.1:0")
                    .unwrap()
                    .accept()
                    .map(drop);
                (r, again)
            });
            coro::sleep(SHORT); // it starts and waits in its call
            assert!(!h.is_finished(), "{name} did not wait");
            h.cancel();
            let (r, again) = h.join().unwrap();
            check_result(name, &r, libc::ECANCELED);
            check_result("again", &again, libc::ECANCELED);
            assert_eq!(drops.get(), 1, "{name}: the destructor ran once");
            check_runtime_goes_on(name);
        }
    });
}

#[test]
fn hooked_calls_under_cancel_fail_with_ecanceled() {
    under_cancel(false);
}

#[test]
fn hooked_calls_under_cancel_on_shared_stacks() {
    under_cancel(true);
}

#[test]
fn a_hooked_call_made_after_the_deadline_fails_before_it_starts() {
    coro::run(|| {
        let (mut a, mut b) = pair();
        b.write_all(b"ready").unwrap(); // a read would not even wait
        let r = coro::with_timeout(SHORT, || {
            coro::shield(|| coro::sleep(SHORT * 2)); // the deadline passes, unseen
            a.read(&mut [0; 8])
        });
        assert!(matches!(r, Err(Error::TimedOut)), "{r:?}");
        // Outside the scope the data is still there: the read did not consume it.
        let mut buf = [0; 5];
        a.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"ready");
    });
}

#[test]
fn io_code_that_handles_the_error_still_sees_the_scope_report_it() {
    coro::run(|| {
        let (mut a, _b) = pair();
        // The error is swallowed: the scope still says it timed out.
        let r = coro::with_timeout(SHORT, || a.read(&mut [0; 8]).unwrap_or_default());
        assert!(matches!(r, Err(Error::TimedOut)), "{r:?}");
    });
}

#[test]
fn a_server_loop_is_stopped_with_cancel() {
    coro::run(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let served = Rc::new(Cell::new(0));
        let n = Rc::clone(&served);
        let server = coro::spawn(move || -> io::Result<()> {
            loop {
                let (mut conn, _) = listener.accept()?;
                n.set(n.get() + 1);
                coro::spawn(move || {
                    let _ = conn.write_all(b"hi");
                });
            }
        });
        for _ in 0..3 {
            let mut c = TcpStream::connect(addr).unwrap();
            let mut buf = [0; 2];
            c.read_exact(&mut buf).unwrap();
        }
        server.cancel();
        let err = server.join().unwrap().unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ECANCELED));
        assert_eq!(served.get(), 3);
    });
}
