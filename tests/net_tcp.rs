//! coro::net over TCP on 127.0.0.1 (port 0): echo at scale, resets, timeouts, EMFILE.

use std::io::{ErrorKind, Read, Write};
use std::net::Shutdown;
use std::rc::Rc;
use std::time::{Duration, Instant};

use coro::net::{TcpListener, TcpStream};

mod common;

/// Raises the soft fd limit to the hard one (1,000 connections need 2,000 fds in one process).
fn raise_fd_limit() {
    let mut rl = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `rl` is a valid out-pointer / in-pointer for these calls.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl);
        rl.rlim_cur = rl.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &rl);
    }
}

/// The bytes client `c` sends in round `r`: distinct per client and round, varying length.
fn message(c: usize, r: usize) -> Vec<u8> {
    let len = 1 + (c * 31 + r * 17) % 200;
    (0..len).map(|i| (c * 7 + r * 13 + i) as u8).collect()
}

#[test]
fn echo_between_1000_clients_and_servers_on_one_thread() {
    raise_fd_limit();
    const CLIENTS: usize = 1000;
    const ROUNDS: usize = 5;
    coro::run(|| {
        let listener = Rc::new(TcpListener::bind("127.0.0.1:0").unwrap());
        let addr = listener.local_addr().unwrap();
        let l = listener.clone();
        let server = coro::spawn(move || {
            let mut handlers = Vec::new();
            for _ in 0..CLIENTS {
                let (mut s, _) = l.accept().unwrap();
                handlers.push(coro::spawn(move || {
                    let mut buf = [0u8; 4096];
                    let mut echoed = 0;
                    loop {
                        let n = s.read(&mut buf).unwrap();
                        if n == 0 {
                            return echoed;
                        }
                        s.write_all(&buf[..n]).unwrap();
                        echoed += n;
                    }
                }));
            }
            handlers
                .into_iter()
                .map(|h| h.join().unwrap())
                .sum::<usize>()
        });
        let clients: Vec<_> = (0..CLIENTS)
            .map(|c| {
                coro::spawn(move || {
                    let mut s = TcpStream::connect(addr).unwrap();
                    s.set_nodelay(true).unwrap();
                    let mut sent = 0;
                    for r in 0..ROUNDS {
                        let msg = message(c, r);
                        s.write_all(&msg).unwrap();
                        let mut back = vec![0u8; msg.len()];
                        s.read_exact(&mut back).unwrap();
                        assert_eq!(back, msg, "client {c} round {r}");
                        sent += msg.len();
                    }
                    // One large message that cannot go out in one write.
                    let big: Vec<u8> = (0..100_000).map(|i| (i * 7 + c) as u8).collect();
                    let mut w = s.into_std_like();
                    let (reader, writer) = w.split();
                    let writer_h = coro::spawn(move || {
                        let mut writer = writer;
                        writer.write_all(&big).unwrap();
                        writer.shutdown(Shutdown::Write).unwrap();
                        big
                    });
                    let mut got = Vec::new();
                    let mut reader = reader;
                    reader.read_to_end(&mut got).unwrap();
                    let big = writer_h.join().unwrap();
                    assert!(got == big, "client {c}: big echo differs");
                    sent + big.len()
                })
            })
            .collect();
        let sent: usize = clients.into_iter().map(|h| h.join().unwrap()).sum();
        let echoed = server.join().unwrap();
        assert_eq!(sent, echoed);
    });
}

/// A stream shared by a reader and a writer coroutine of one thread.
trait Split {
    fn into_std_like(self) -> Rc<TcpStream>;
}
impl Split for TcpStream {
    fn into_std_like(self) -> Rc<TcpStream> {
        Rc::new(self)
    }
}
trait Halves {
    fn split(&mut self) -> (Half, Half);
}
impl Halves for Rc<TcpStream> {
    fn split(&mut self) -> (Half, Half) {
        (Half(self.clone()), Half(self.clone()))
    }
}
struct Half(Rc<TcpStream>);
impl Read for Half {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        (&*self.0).read(buf)
    }
}
impl Write for Half {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        (&*self.0).write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
impl Half {
    fn shutdown(&self, how: Shutdown) -> std::io::Result<()> {
        self.0.shutdown(how)
    }
}

#[test]
fn peer_reset_mid_stream_fails_only_that_coroutine() {
    coro::run(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let victim = coro::spawn(move || {
            let s = TcpStream::connect(addr).unwrap();
            (&s).write_all(b"partial").unwrap();
            coro::sleep(Duration::from_millis(20));
            // SO_LINGER 0: close sends RST instead of FIN.
            let linger = libc::linger {
                l_onoff: 1,
                l_linger: 0,
            };
            use std::os::fd::AsRawFd;
            // SAFETY: valid fd and option buffer.
            let rc = unsafe {
                libc::setsockopt(
                    s.as_raw_fd(),
                    libc::SOL_SOCKET,
                    libc::SO_LINGER,
                    (&raw const linger).cast(),
                    std::mem::size_of::<libc::linger>() as libc::socklen_t,
                )
            };
            assert_eq!(rc, 0);
            drop(s);
        });
        let healthy = coro::spawn(move || {
            let mut s = TcpStream::connect(addr).unwrap();
            coro::sleep(Duration::from_millis(60));
            s.write_all(b"still here").unwrap();
            let mut buf = [0u8; 10];
            s.read_exact(&mut buf).unwrap();
            assert_eq!(&buf, b"still here");
        });
        let (mut a, _) = listener.accept().unwrap();
        let (mut b, _) = listener.accept().unwrap();
        let (hb, ha) = (
            coro::spawn(move || {
                let mut buf = [0u8; 64];
                loop {
                    match b.read(&mut buf) {
                        Ok(0) => return Ok(()),
                        Ok(n) => b.write_all(&buf[..n]).unwrap(),
                        Err(e) => return Err(e),
                    }
                }
            }),
            coro::spawn(move || {
                let mut buf = [0u8; 64];
                loop {
                    match a.read(&mut buf) {
                        Ok(0) => return Ok(()),
                        Ok(n) => a.write_all(&buf[..n]).unwrap_or(()),
                        Err(e) => return Err(e),
                    }
                }
            }),
        );
        victim.join().unwrap();
        healthy.join().unwrap();
        // Accept order follows connect order here, but either handler may be the victim's.
        let results = [ha.join().unwrap(), hb.join().unwrap()];
        let resets = results
            .iter()
            .filter(|r| {
                r.as_ref()
                    .is_err_and(|e| e.kind() == ErrorKind::ConnectionReset)
            })
            .count();
        let clean = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!((resets, clean), (1, 1), "{results:?}");
    });
}

#[test]
fn read_timeout_gives_timed_out() {
    coro::run(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let quiet = coro::spawn(move || {
            let s = TcpStream::connect(addr).unwrap();
            coro::sleep(Duration::from_millis(200));
            drop(s);
        });
        let (mut s, peer) = listener.accept().unwrap();
        assert_eq!(s.peer_addr().unwrap(), peer);
        s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
        assert_eq!(s.read_timeout().unwrap(), Some(Duration::from_millis(50)));
        assert!(s.set_read_timeout(Some(Duration::ZERO)).is_err());
        let t = Instant::now();
        let err = s.read(&mut [0u8; 8]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TimedOut);
        assert!(t.elapsed() >= Duration::from_millis(50));
        // Meanwhile other coroutines ran: the quiet peer is still asleep, then closes.
        s.set_read_timeout(None).unwrap();
        assert_eq!(s.read(&mut [0u8; 8]).unwrap(), 0);
        quiet.join().unwrap();
    });
}

#[test]
fn connect_refused_and_options() {
    coro::run(|| {
        // Bind, learn a free port, close it: nothing listens there now.
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let err = TcpStream::connect(("127.0.0.1", port)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let s = TcpStream::connect(addr).unwrap();
        s.set_nodelay(true).unwrap();
        assert!(s.nodelay().unwrap());
        assert_eq!(s.peer_addr().unwrap(), addr);
        let (srv, _) = listener.accept().unwrap();
        assert_eq!(srv.peer_addr().unwrap(), s.local_addr().unwrap());
    });
}

#[test]
fn std_conversions_and_use_outside_a_runtime() {
    // Outside a coroutine the same types block the thread.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let th = std::thread::spawn(move || {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.write_all(b"std").unwrap();
        let mut buf = [0u8; 4];
        s.read_exact(&mut buf).unwrap();
        buf
    });
    let (s, _) = listener.accept().unwrap();
    let mut buf = [0u8; 3];
    (&s).read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"std");
    let mut std_s = s.into_std().unwrap();
    std_s.write_all(b"back").unwrap();
    assert_eq!(&th.join().unwrap(), b"back");
    let l = listener.into_std().unwrap();
    let l = TcpListener::from_std(l).unwrap();
    assert_eq!(l.local_addr().unwrap(), addr);
}

#[test]
fn emfile_on_accept_is_an_error_and_the_listener_keeps_working() {
    // Runs in a child process (this test binary re-executed) with a low RLIMIT_NOFILE.
    if common::in_child() {
        emfile_child();
        return;
    }
    let out = common::run_child(
        "emfile_on_accept_is_an_error_and_the_listener_keeps_working",
        &[],
        std::time::Duration::from_secs(120),
    );
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child failed:\n{text}");
    assert!(text.contains("EMFILE-SEEN"), "{text}");
}

fn emfile_child() {
    coro::run(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let spare = std::fs::File::open("/dev/null").unwrap();
        // Allow only a few more fds than are open now.
        let open = std::fs::read_dir("/proc/self/fd").unwrap().count();
        let rl = libc::rlimit {
            rlim_cur: (open + 4) as libc::rlim_t,
            rlim_max: 4096,
        };
        // SAFETY: valid rlimit.
        assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &rl) }, 0);
        // Connect until the fd table is full: the connections wait in the listener's backlog.
        let mut clients = Vec::new();
        loop {
            match TcpStream::connect(addr) {
                Ok(c) => clients.push(c),
                Err(e) => {
                    assert_eq!(e.raw_os_error(), Some(libc::EMFILE), "{e}");
                    break;
                }
            }
        }
        assert!(!clients.is_empty());
        // No fd left for the accepted socket: EMFILE comes back as an error, twice.
        for _ in 0..2 {
            let err = listener.accept().unwrap_err();
            assert_eq!(err.raw_os_error(), Some(libc::EMFILE), "{err}");
        }
        println!("EMFILE-SEEN");
        // Free one fd: the listener still works and accepts a pending connection.
        drop(spare);
        let (mut s, peer) = listener.accept().unwrap();
        let c = clients
            .iter()
            .find(|c| c.local_addr().unwrap() == peer)
            .unwrap();
        (&*c).write_all(b"ok").unwrap();
        let mut buf = [0u8; 2];
        s.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"ok");
    });
}

/// A peer that echoes everything until the end of the stream, then closes.
fn echo_peer(listener: TcpListener) -> coro::JoinHandle<()> {
    coro::spawn(move || {
        let (s, _) = listener.accept().unwrap();
        let (mut r, mut w) = s.into_split();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = r.read(&mut buf).unwrap();
            if n == 0 {
                break; // dropping `w` shuts the writing side: the client sees the end
            }
            w.write_all(&buf[..n]).unwrap();
        }
    })
}

#[test]
fn split_halves_read_and_write_at_once_in_two_coroutines() {
    coro::run(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let peer = echo_peer(listener);
        let (mut r, mut w) = TcpStream::connect(addr).unwrap().into_split();
        // Far more than the socket buffers hold: the writer must wait while the reader reads.
        const LEN: usize = 16 << 20;
        let writer = coro::spawn(move || {
            let chunk: Vec<u8> = (0..65_536u32).map(|i| (i * 7 % 251) as u8).collect();
            let mut sent = 0;
            while sent < LEN {
                w.write_all(&chunk).unwrap();
                sent += chunk.len();
            }
            // `w` drops here: the peer sees the end after everything.
        });
        let mut got = 0usize;
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            let n = r.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            for (k, b) in buf[..n].iter().enumerate() {
                let i = ((got + k) % 65_536) as u32;
                assert_eq!(*b, (i * 7 % 251) as u8, "byte {}", got + k);
            }
            got += n;
        }
        assert_eq!(got, LEN);
        writer.join().unwrap();
        peer.join().unwrap();
    });
}

#[test]
fn try_clone_gives_a_second_handle_and_halves_reunite() {
    use std::os::fd::AsRawFd;
    coro::run(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let peer = echo_peer(listener);
        let s = TcpStream::connect(addr).unwrap();
        let mut clone = s.try_clone().unwrap();
        assert_ne!(clone.as_raw_fd(), s.as_raw_fd());
        assert_eq!(clone.peer_addr().unwrap(), s.peer_addr().unwrap());
        // One coroutine waits to read on the original while the clone writes.
        let reader = coro::spawn(move || {
            let mut buf = [0u8; 5];
            (&s).read_exact(&mut buf).unwrap();
            assert_eq!(&buf, b"hello");
            s
        });
        coro::yield_now();
        clone.write_all(b"hello").unwrap();
        let s = reader.join().unwrap();
        drop(clone);

        // Halves of two different streams do not reunite; the halves of one do.
        let other = TcpListener::bind("127.0.0.1:0").unwrap();
        let (r_other, w_other) = TcpStream::connect(other.local_addr().unwrap())
            .unwrap()
            .into_split();
        let (r, w) = s.into_split();
        let Err((r, w_other)) = r.reunite(w_other) else {
            panic!("halves of two streams reunited")
        };
        drop((r_other, w_other));
        let Ok(s) = r.reunite(w) else {
            panic!("the halves of one stream did not reunite")
        };
        s.shutdown(Shutdown::Write).unwrap(); // the peer sees the end, and ends
        peer.join().unwrap();
    });
}
