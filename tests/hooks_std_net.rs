//! std::net, std::thread::sleep and plain libc calls inside coroutines, through the hooks.
//!
//! Every test runs on ONE thread: without the hooks, the first blocking call would stop that
//! thread and the test would deadlock (a watchdog turns that into a failure).
#![cfg(feature = "hooks")] // without the hooks these coroutines would block their thread

use std::cell::{Cell, RefCell};
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream, ToSocketAddrs};
use std::os::fd::{AsRawFd, IntoRawFd};
use std::rc::Rc;
use std::time::{Duration, Instant};

mod common;
use common::watchdog;

/// Fails the test binary instead of hanging it if the hooks do not yield.
/// A listener on 127.0.0.1 with a backlog large enough for every test's connections.
fn listener() -> TcpListener {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    // SAFETY: listen on our own listening socket only raises its backlog.
    assert_eq!(unsafe { libc::listen(l.as_raw_fd(), 4096) }, 0);
    l
}

/// A connected TCP pair (made inside a coroutine, so both ends are hooked sockets).
/// Counts how many coroutines are inside a section at once, and the most there ever were:
/// waits that block the thread never let a second one in.
#[derive(Default)]
struct Overlap {
    now: Cell<usize>,
    most: Cell<usize>,
}

impl Overlap {
    fn during<R>(&self, f: impl FnOnce() -> R) -> R {
        self.now.set(self.now.get() + 1);
        self.most.set(self.most.get().max(self.now.get()));
        let r = f();
        self.now.set(self.now.get() - 1);
        r
    }
}

fn tcp_pair() -> (TcpStream, TcpStream) {
    let l = listener();
    let addr = l.local_addr().unwrap();
    let c = coro::spawn(move || TcpStream::connect(addr).unwrap());
    let (s, _) = l.accept().unwrap();
    (c.join().unwrap(), s)
}

fn errno() -> i32 {
    // SAFETY: this thread's errno slot.
    unsafe { *libc::__errno_location() }
}

#[test]
fn std_net_1000_coroutines_one_thread_byte_exact() {
    const CONNS: usize = 1000;
    let _watchdog = watchdog(120);
    coro::run(|| {
        assert!(coro::hooks::is_enabled());
        let l = listener();
        let addr = l.local_addr().unwrap();
        let server = coro::spawn(move || {
            let mut handlers = Vec::with_capacity(CONNS);
            for _ in 0..CONNS {
                let (mut s, _) = l.accept().unwrap();
                handlers.push(coro::spawn(move || {
                    let mut buf = [0u8; 4096];
                    let mut total = 0;
                    loop {
                        let n = s.read(&mut buf).unwrap();
                        if n == 0 {
                            return total;
                        }
                        s.write_all(&buf[..n]).unwrap();
                        total += n;
                    }
                }));
            }
            handlers
                .into_iter()
                .map(|h| h.join().unwrap())
                .sum::<usize>()
        });
        let clients: Vec<_> = (0..CONNS)
            .map(|i| {
                coro::spawn(move || {
                    // Sizes up to 40 KiB, some past one socket buffer; every byte depends on i.
                    let len = 1 + (i * 397) % (40 * 1024);
                    let msg: Vec<u8> = (0..len).map(|j| (i ^ (j * 13)) as u8).collect();
                    let mut s = TcpStream::connect(addr).unwrap();
                    s.write_all(&msg).unwrap();
                    s.shutdown(Shutdown::Write).unwrap();
                    let mut back = Vec::with_capacity(len);
                    s.read_to_end(&mut back).unwrap();
                    assert!(back == msg, "connection {i}: echoed bytes differ");
                    len
                })
            })
            .collect();
        let sent: usize = clients.into_iter().map(|c| c.join().unwrap()).sum();
        assert_eq!(server.join().unwrap(), sent);
    });
}

#[test]
fn thread_sleep_in_1000_coroutines_takes_one_sleep() {
    let _watchdog = watchdog(60);
    let overlap = Rc::new(Overlap::default());
    let o = Rc::clone(&overlap);
    coro::run(move || {
        let hs: Vec<_> = (0..1000)
            .map(|_| {
                let o = Rc::clone(&o);
                coro::spawn(move || {
                    let t = Instant::now();
                    o.during(|| std::thread::sleep(Duration::from_millis(200)));
                    t.elapsed()
                })
            })
            .collect();
        for h in hs {
            assert!(h.join().unwrap() >= Duration::from_millis(200));
        }
    });
    // A sleep that blocked the thread would let no second coroutine into its sleep.
    assert!(
        overlap.most.get() > 1,
        "the sleeps ran one after another ({} at most at once)",
        overlap.most.get()
    );
}

#[test]
fn libc_sleeps_yield() {
    let _watchdog = watchdog(60);
    let overlap = Rc::new(Overlap::default());
    let o = Rc::clone(&overlap);
    coro::run(move || {
        let hs: Vec<_> = (0..100)
            .map(|i| {
                let o = Rc::clone(&o);
                coro::spawn(move || {
                    o.during(|| {
                        // SAFETY: plain libc sleeps with valid arguments.
                        unsafe {
                            match i % 4 {
                                0 => assert_eq!(libc::usleep(150_000), 0),
                                1 => {
                                    let ts = libc::timespec {
                                        tv_sec: 0,
                                        tv_nsec: 150_000_000,
                                    };
                                    assert_eq!(libc::nanosleep(&ts, std::ptr::null_mut()), 0);
                                }
                                2 => {
                                    let ts = libc::timespec {
                                        tv_sec: 0,
                                        tv_nsec: 150_000_000,
                                    };
                                    let r = libc::clock_nanosleep(
                                        libc::CLOCK_MONOTONIC,
                                        0,
                                        &ts,
                                        std::ptr::null_mut(),
                                    );
                                    assert_eq!(r, 0);
                                }
                                _ => {
                                    let mut now = libc::timespec {
                                        tv_sec: 0,
                                        tv_nsec: 0,
                                    };
                                    libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now);
                                    let mut at = now;
                                    at.tv_nsec += 150_000_000;
                                    if at.tv_nsec >= 1_000_000_000 {
                                        at.tv_sec += 1;
                                        at.tv_nsec -= 1_000_000_000;
                                    }
                                    let r = libc::clock_nanosleep(
                                        libc::CLOCK_MONOTONIC,
                                        libc::TIMER_ABSTIME,
                                        &at,
                                        std::ptr::null_mut(),
                                    );
                                    assert_eq!(r, 0);
                                }
                            }
                        }
                    });
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
    });
    assert!(
        overlap.most.get() > 1,
        "the libc sleeps ran one after another"
    );
}

#[test]
fn user_nonblocking_gives_eagain() {
    let _watchdog = watchdog(60);
    coro::run(|| {
        let (mut a, b) = tcp_pair();
        a.set_nonblocking(true).unwrap();
        let err = a.read(&mut [0u8; 8]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::WouldBlock);
        // The raw call too, with errno EAGAIN.
        let mut buf = [0u8; 8];
        // SAFETY: a valid fd and buffer.
        let r = unsafe { libc::read(a.as_raw_fd(), buf.as_mut_ptr().cast(), 8) };
        assert_eq!((r, errno()), (-1, libc::EAGAIN));
        // F_GETFL shows the user's flag.
        // SAFETY: F_GETFL on an open fd.
        let fl = unsafe { libc::fcntl(a.as_raw_fd(), libc::F_GETFL) };
        assert_ne!(fl & libc::O_NONBLOCK, 0);
        drop(b);
    });
}

#[test]
fn so_rcvtimeo_times_out_without_blocking_the_thread() {
    let _watchdog = watchdog(60);
    coro::run(|| {
        let (mut a, _b) = tcp_pair();
        let ticks = Rc::new(Cell::new(0u32));
        let t2 = ticks.clone();
        let ticker = coro::spawn(move || {
            for _ in 0..10 {
                std::thread::sleep(Duration::from_millis(10));
                t2.set(t2.get() + 1);
            }
        });
        a.set_read_timeout(Some(Duration::from_millis(150)))
            .unwrap();
        let t = Instant::now();
        let err = a.read(&mut [0u8; 8]).unwrap_err();
        let waited = t.elapsed();
        assert_eq!(err.kind(), ErrorKind::WouldBlock, "{err}");
        assert!(
            waited >= Duration::from_millis(140),
            "timed out after {waited:?}"
        );
        // The ticker ran meanwhile: the read waited on the loop, not in the kernel.
        assert_eq!(ticks.get(), 10);
        ticker.join().unwrap();
        // The user's view of the socket is still blocking.
        // SAFETY: F_GETFL on an open fd.
        let fl = unsafe { libc::fcntl(a.as_raw_fd(), libc::F_GETFL) };
        assert_eq!(fl & libc::O_NONBLOCK, 0);
    });
}

#[test]
fn close_wakes_a_waiter_with_ebadf() {
    let _watchdog = watchdog(60);
    coro::run(|| {
        let (a, _b) = tcp_pair();
        let fd = a.into_raw_fd();
        let reader = coro::spawn(move || {
            let mut buf = [0u8; 8];
            // SAFETY: `fd` is open until the other coroutine closes it.
            let r = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), 8) };
            (r, errno())
        });
        std::thread::sleep(Duration::from_millis(50));
        // SAFETY: we own `fd` (taken out of the TcpStream above).
        assert_eq!(unsafe { libc::close(fd) }, 0);
        assert_eq!(reader.join().unwrap(), (-1, libc::EBADF));
    });
}

#[test]
fn hooks_off_blocks_the_thread() {
    let _watchdog = watchdog(60);
    coro::run(|| {
        let ticks = Rc::new(Cell::new(0u32));
        let stop = Rc::new(Cell::new(false));
        let (t2, s2) = (ticks.clone(), stop.clone());
        let ticker = coro::spawn(move || {
            while !s2.get() {
                std::thread::sleep(Duration::from_millis(5));
                t2.set(t2.get() + 1);
            }
        });
        coro::yield_now(); // the ticker starts, and sleeps
        // Hooks on: the ticker runs while this coroutine sleeps.
        let before = ticks.get();
        std::thread::sleep(Duration::from_millis(100));
        assert!(ticks.get() > before, "the ticker never ran with hooks on");

        coro::hooks::disable();
        assert!(!coro::hooks::is_enabled());
        // Hooks off: this sleep blocks the thread, so the ticker cannot run meanwhile.
        let before = ticks.get();
        let t = Instant::now();
        std::thread::sleep(Duration::from_millis(50));
        assert!(t.elapsed() >= Duration::from_millis(50));
        assert_eq!(ticks.get(), before, "the ticker ran while the thread slept");
        coro::hooks::enable();
        assert!(coro::hooks::is_enabled());
        stop.set(true);
        ticker.join().unwrap();
    });
}

#[test]
fn errno_survives_a_switch() {
    let _watchdog = watchdog(60);
    coro::run(|| {
        let (a, _b) = tcp_pair();
        a.set_read_timeout(Some(Duration::from_millis(60))).unwrap();
        // Another coroutine keeps setting errno to something else while the read waits.
        let noise = coro::spawn(|| {
            for _ in 0..20 {
                // SAFETY: this thread's errno slot.
                unsafe { *libc::__errno_location() = libc::EINVAL };
                std::thread::sleep(Duration::from_millis(5));
                // SAFETY: as above.
                unsafe { *libc::__errno_location() = libc::ENOENT };
            }
        });
        let mut buf = [0u8; 8];
        // SAFETY: a valid fd and buffer.
        let r = unsafe { libc::read(a.as_raw_fd(), buf.as_mut_ptr().cast(), 8) };
        assert_eq!((r, errno()), (-1, libc::EAGAIN));
        noise.join().unwrap();
    });
}

#[test]
fn poll_select_and_name_lookup_in_coroutines() {
    let _watchdog = watchdog(60);
    coro::run(|| {
        let (a, mut b) = tcp_pair();
        let fd = a.as_raw_fd();
        let writer = coro::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            b.write_all(b"x").unwrap();
            b
        });
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        assert_eq!(unsafe { libc::poll(&mut pfd, 1, 5000) }, 1);
        assert_ne!(pfd.revents & libc::POLLIN, 0);
        let _b = writer.join().unwrap();

        // A timeout with nothing to read, over two fds.
        let (c, _d) = tcp_pair();
        let mut fds = [
            libc::pollfd {
                fd: c.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: _d.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        let t = Instant::now();
        // SAFETY: two valid pollfds.
        assert_eq!(unsafe { libc::poll(fds.as_mut_ptr(), 2, 60) }, 0);
        assert!(t.elapsed() >= Duration::from_millis(55));

        // select: `a` still has its byte.
        // SAFETY: a zeroed fd_set with one fd set, and a timeval.
        unsafe {
            let mut set: libc::fd_set = std::mem::zeroed();
            libc::FD_SET(fd, &mut set);
            let mut tv = libc::timeval {
                tv_sec: 1,
                tv_usec: 0,
            };
            assert_eq!(
                libc::select(
                    fd + 1,
                    &mut set,
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                    &mut tv
                ),
                1
            );
            assert!(libc::FD_ISSET(fd, &set));
        }

        let addrs: Vec<_> = ("localhost", 80).to_socket_addrs().unwrap().collect();
        assert!(addrs.iter().any(|a| a.ip().is_loopback()), "{addrs:?}");
    });
}

#[test]
fn connect_refused_and_large_writes_complete() {
    let _watchdog = watchdog(60);
    coro::run(|| {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        drop(l);
        assert_eq!(
            TcpStream::connect(addr).unwrap_err().kind(),
            ErrorKind::ConnectionRefused
        );

        // One write of 8 MiB returns only when every byte is out (the reader is slow).
        let (mut a, mut b) = tcp_pair();
        let got = Rc::new(RefCell::new(Vec::new()));
        let g2 = got.clone();
        let reader = coro::spawn(move || {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = b.read(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                g2.borrow_mut().extend_from_slice(&buf[..n]);
                std::thread::sleep(Duration::from_micros(200));
            }
        });
        let data: Vec<u8> = (0..8 << 20).map(|i: u32| (i % 251) as u8).collect();
        // SAFETY: a valid fd and buffer.
        let n = unsafe { libc::write(a.as_raw_fd(), data.as_ptr().cast(), data.len()) };
        assert_eq!(
            n as usize,
            data.len(),
            "a blocking write must write everything"
        );
        a.flush().unwrap();
        drop(a);
        reader.join().unwrap();
        assert!(*got.borrow() == data);
    });
}

#[test]
fn recv_waitall_waits_for_every_byte() {
    let _watchdog = watchdog(60);
    coro::run(|| {
        let (a, mut b) = tcp_pair();
        let writer = coro::spawn(move || {
            for chunk in [&b"abc"[..], b"defg", b"hijk"] {
                std::thread::sleep(Duration::from_millis(20));
                b.write_all(chunk).unwrap();
            }
            b
        });
        let mut buf = [0u8; 10];
        // SAFETY: a valid fd and buffer.
        let n = unsafe {
            libc::recv(
                a.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                10,
                libc::MSG_WAITALL,
            )
        };
        assert_eq!(n, 10);
        assert_eq!(&buf, b"abcdefghij", "all of it, in order");
        drop(writer.join().unwrap());
    });
}

#[test]
fn a_socket_used_in_a_coroutine_still_blocks_outside() {
    let _watchdog = watchdog(60);
    // The hooks make `a` non-blocking in the kernel while a coroutine waits on it...
    let (mut a, b) = coro::run(|| {
        let (mut a, mut b) = tcp_pair();
        let w = coro::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            b.write_all(b"1").unwrap();
            b
        });
        let mut one = [0u8; 1];
        a.read_exact(&mut one).unwrap();
        (a, w.join().unwrap())
    });
    // ...and outside any coroutine it still behaves as the blocking socket the user has.
    // SAFETY: F_GETFL on an open fd.
    let fl = unsafe { libc::fcntl(a.as_raw_fd(), libc::F_GETFL) };
    assert_eq!(fl & libc::O_NONBLOCK, 0);
    let writer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        let mut b = b;
        b.write_all(b"late").unwrap();
        // Read a big write back, slowly.
        let mut got = vec![0u8; 4 << 20];
        b.read_exact(&mut got).unwrap();
        (got, b)
    });
    let mut buf = [0u8; 4];
    a.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"late");
    let data: Vec<u8> = (0..4 << 20).map(|i: u32| (i % 253) as u8).collect();
    a.write_all(&data).unwrap();
    let (got, _b) = writer.join().unwrap();
    assert!(got == data);
    // A timeout still times out, with EAGAIN.
    a.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    let t = Instant::now();
    assert_eq!(a.read(&mut buf).unwrap_err().kind(), ErrorKind::WouldBlock);
    assert!(t.elapsed() >= Duration::from_millis(45));
}

#[test]
fn an_fd_number_closed_on_another_thread_is_watched_afresh() {
    let _watchdog = watchdog(30);
    coro::run(|| {
        // `a` gets registered with this thread's event loop by a wait...
        let (mut a, mut b) = tcp_pair();
        let w = coro::spawn(move || {
            std::thread::sleep(Duration::from_millis(10));
            b.write_all(b"1").unwrap();
            b
        });
        a.read_exact(&mut [0u8; 1]).unwrap();
        let _b = w.join().unwrap();
        // ...then closed by a plain thread, where no hook can tell this loop.
        let num = a.as_raw_fd();
        std::thread::spawn(move || drop(a)).join().unwrap();
        // The next socket takes the same number; waiting on it must still work.
        let mut others = Vec::new();
        let l = loop {
            let l = listener();
            if l.as_raw_fd() == num {
                break l;
            }
            assert!(others.len() < 100, "the fd number {num} was not reused");
            others.push(l);
        };
        let addr = l.local_addr().unwrap();
        let c = coro::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            TcpStream::connect(addr).unwrap()
        });
        let (_s, _) = l.accept().unwrap();
        drop(c.join().unwrap());
    });
}

#[test]
fn hooks_work_on_every_thread_of_a_multi_thread_runtime() {
    let _watchdog = watchdog(60);
    // Each thread runs its own server and 200 clients (std::net only); one std listener is
    // shared by both threads' accept loops, so sockets cross from one thread's loop to the
    // other's.
    let shared = listener();
    let addr = shared.local_addr().unwrap();
    let shared = std::sync::Arc::new(shared);
    let served = coro::Runtime::builder().threads(2).run(|_| {
        let l = shared.try_clone().unwrap();
        let server = coro::spawn(move || {
            let mut hs = Vec::new();
            for _ in 0..200 {
                let (mut s, _) = l.accept().unwrap();
                hs.push(coro::spawn(move || {
                    let mut buf = [0u8; 64];
                    let n = s.read(&mut buf).unwrap();
                    std::thread::sleep(Duration::from_millis(20));
                    s.write_all(&buf[..n]).unwrap();
                }));
            }
            hs.into_iter().map(|h| h.join().unwrap()).count()
        });
        let clients: Vec<_> = (0..200)
            .map(|i| {
                coro::spawn(move || {
                    let mut s = TcpStream::connect(addr).unwrap();
                    let msg = format!("client {i}");
                    s.write_all(msg.as_bytes()).unwrap();
                    let mut back = vec![0u8; msg.len()];
                    s.read_exact(&mut back).unwrap();
                    assert_eq!(back, msg.as_bytes());
                })
            })
            .collect();
        for c in clients {
            c.join().unwrap();
        }
        server.join().unwrap()
    });
    assert_eq!(served, vec![200, 200]);
}

#[test]
fn udp_ping_pong_between_coroutines() {
    let _watchdog = watchdog(60);
    coro::run(|| {
        let a = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let (a_addr, b_addr) = (a.local_addr().unwrap(), b.local_addr().unwrap());
        // `b` waits first: without the hooks its recv_from would block the only thread.
        let ponger = coro::spawn(move || {
            let mut buf = [0u8; 64];
            for _ in 0..100 {
                let (n, from) = b.recv_from(&mut buf).unwrap();
                assert_eq!(from, a_addr);
                b.send_to(&buf[..n], from).unwrap();
            }
        });
        let mut buf = [0u8; 64];
        for i in 0..100u32 {
            let msg = i.to_le_bytes();
            a.send_to(&msg, b_addr).unwrap();
            let (n, from) = a.recv_from(&mut buf).unwrap();
            assert_eq!((&buf[..n], from), (&msg[..], b_addr));
        }
        ponger.join().unwrap();
    });
}

#[test]
fn a_forked_child_leaves_the_parents_event_loop_alone() {
    use std::os::unix::process::CommandExt;
    let _watchdog = watchdog(60);
    coro::run(|| {
        let (mut a, b) = tcp_pair();
        let b = std::rc::Rc::new(RefCell::new(b));
        let send_later = |b: std::rc::Rc<RefCell<TcpStream>>| {
            coro::spawn(move || {
                std::thread::sleep(Duration::from_millis(20));
                b.borrow_mut().write_all(b"x").unwrap();
            })
        };
        // `a` is registered with this thread's epoll by a wait.
        let w = send_later(b.clone());
        a.read_exact(&mut [0u8; 1]).unwrap();
        w.join().unwrap();
        // A child made by fork (pre_exec forces it) closes its copy of `a` before exec. It
        // shares this process's epoll instance: a hook that deregistered the fd there would
        // leave the next wait on `a` asleep forever.
        let fd = a.as_raw_fd();
        let mut cmd = std::process::Command::new("true");
        // SAFETY: the closure only calls close(2), which is async-signal-safe.
        unsafe {
            cmd.pre_exec(move || {
                libc::close(fd);
                Ok(())
            })
        };
        assert!(cmd.status().unwrap().success());
        let w = send_later(b.clone());
        a.read_exact(&mut [0u8; 1]).unwrap();
        w.join().unwrap();
    });
}

#[test]
fn dup_and_dup2_copies_wait_like_the_original() {
    let _watchdog = watchdog(60);
    coro::run(|| {
        let (a, mut b) = tcp_pair();
        // SAFETY: dup/dup2 of an open fd; the copies are closed below.
        let (d1, d2) = unsafe {
            let d1 = libc::dup(a.as_raw_fd());
            let spare = libc::dup(a.as_raw_fd());
            (d1, libc::dup2(a.as_raw_fd(), spare))
        };
        assert!(d1 >= 0 && d2 >= 0);
        let w = coro::spawn(move || {
            for chunk in [b"one", b"two"] {
                std::thread::sleep(Duration::from_millis(20));
                b.write_all(chunk).unwrap();
            }
            b
        });
        for (fd, want) in [(d1, b"one"), (d2, b"two")] {
            let mut buf = [0u8; 3];
            // SAFETY: an open fd and a valid buffer.
            let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), 3) };
            assert_eq!((n, &buf), (3, want));
            // SAFETY: F_GETFL on an open fd.
            let fl = unsafe { libc::fcntl(fd, libc::F_GETFL) };
            // The copies look blocking, as the original does.
            assert_eq!(fl & libc::O_NONBLOCK, 0);
        }
        drop(w.join().unwrap());
        // SAFETY: closing our own copies.
        unsafe {
            libc::close(d1);
            libc::close(d2);
        }
    });
}
