//! Outside any coroutine, the hooked libc calls behave exactly as libc's: a suite of plain std
//! I/O with coro linked (and its hooks in the symbol table).

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream, ToSocketAddrs, UdpSocket};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

#[test]
fn hooks_are_linked_and_off_outside_coroutines() {
    assert_eq!(
        coro::hooks::installed(),
        cfg!(feature = "hooks"),
        "coro's read should be the process's read exactly when the feature is on"
    );
    assert!(!coro::hooks::is_enabled());
    coro::hooks::disable();
    coro::hooks::enable();
    assert!(!coro::hooks::is_enabled());
}

#[test]
fn tcp_between_threads_is_byte_exact() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let data: Vec<u8> = (0..4 << 20)
        .map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let expect = data.clone();
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut got = Vec::new();
        s.read_to_end(&mut got).unwrap();
        s.write_all(&got).unwrap();
        got.len()
    });
    let mut c = TcpStream::connect(addr).unwrap();
    c.write_all(&data).unwrap();
    c.shutdown(std::net::Shutdown::Write).unwrap();
    let mut back = Vec::new();
    c.read_to_end(&mut back).unwrap();
    assert_eq!(server.join().unwrap(), expect.len());
    assert!(back == expect, "echoed bytes differ");
}

#[test]
fn udp_round_trip() {
    let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").unwrap();
    a.send_to(b"ping", b.local_addr().unwrap()).unwrap();
    let mut buf = [0u8; 16];
    let (n, from) = b.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"ping");
    assert_eq!(from, a.local_addr().unwrap());
}

#[test]
fn read_timeout_and_nonblocking_keep_their_meaning() {
    let (a, mut b) = UnixStream::pair().unwrap();
    b.set_read_timeout(Some(Duration::from_millis(80))).unwrap();
    let t = Instant::now();
    let err = b.read(&mut [0u8; 4]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WouldBlock);
    assert!(
        t.elapsed() >= Duration::from_millis(70),
        "timed out after {:?}",
        t.elapsed()
    );

    b.set_nonblocking(true).unwrap();
    // SAFETY: F_GETFL on an open fd.
    let fl = unsafe { libc::fcntl(b.as_raw_fd(), libc::F_GETFL) };
    assert_ne!(fl & libc::O_NONBLOCK, 0);
    assert_eq!(
        b.read(&mut [0u8; 4]).unwrap_err().kind(),
        ErrorKind::WouldBlock
    );
    b.set_nonblocking(false).unwrap();
    // SAFETY: as above.
    let fl = unsafe { libc::fcntl(b.as_raw_fd(), libc::F_GETFL) };
    assert_eq!(fl & libc::O_NONBLOCK, 0);
    (&a).write_all(b"abc").unwrap();
    let mut buf = [0u8; 3];
    b.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"abc");
}

#[test]
fn files_and_pipes() {
    let path = std::env::temp_dir().join(format!("coro-hooks-outside-{}", std::process::id()));
    std::fs::write(&path, b"hello file").unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"hello file");
    std::fs::remove_file(&path).unwrap();

    let mut fds = [0; 2];
    // SAFETY: pipe writes two fds.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: valid fds and buffers.
    unsafe {
        assert_eq!(libc::write(fds[1], b"xy".as_ptr().cast(), 2), 2);
        let mut buf = [0u8; 2];
        assert_eq!(libc::read(fds[0], buf.as_mut_ptr().cast(), 2), 2);
        assert_eq!(&buf, b"xy");
        assert_eq!(libc::close(fds[0]), 0);
        assert_eq!(libc::close(fds[1]), 0);
        // An fd that is not open: EBADF, with errno set as libc sets it. (Not the number just
        // closed, which a test on another thread may have been given meanwhile: the fd limit,
        // which no open fd can reach.)
        let mut rl = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl), 0);
        let never_open = rl.rlim_cur.min(i32::MAX as libc::rlim_t) as i32;
        assert_eq!(libc::read(never_open, buf.as_mut_ptr().cast(), 2), -1);
        assert_eq!(*libc::__errno_location(), libc::EBADF);
        assert_eq!(libc::close(never_open), -1);
        assert_eq!(*libc::__errno_location(), libc::EBADF);
    }
}

#[test]
fn sleeps_sleep() {
    let t = Instant::now();
    std::thread::sleep(Duration::from_millis(30));
    assert!(t.elapsed() >= Duration::from_millis(30));
    let t = Instant::now();
    // SAFETY: usleep has no preconditions.
    assert_eq!(unsafe { libc::usleep(20_000) }, 0);
    assert!(t.elapsed() >= Duration::from_millis(20));
}

#[test]
fn poll_and_select_time_out_and_see_data() {
    let (a, b) = UnixStream::pair().unwrap();
    let mut pfd = libc::pollfd {
        fd: b.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    let t = Instant::now();
    // SAFETY: one valid pollfd.
    assert_eq!(unsafe { libc::poll(&mut pfd, 1, 50) }, 0);
    assert!(t.elapsed() >= Duration::from_millis(45));
    (&a).write_all(b"!").unwrap();
    // SAFETY: as above.
    assert_eq!(unsafe { libc::poll(&mut pfd, 1, 1000) }, 1);
    assert_ne!(pfd.revents & libc::POLLIN, 0);

    // SAFETY: a zeroed fd_set with one fd set, and a timeval.
    unsafe {
        let mut set: libc::fd_set = std::mem::zeroed();
        libc::FD_SET(b.as_raw_fd(), &mut set);
        let mut tv = libc::timeval {
            tv_sec: 1,
            tv_usec: 0,
        };
        let r = libc::select(
            b.as_raw_fd() + 1,
            &mut set,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            &mut tv,
        );
        assert_eq!(r, 1);
        assert!(libc::FD_ISSET(b.as_raw_fd(), &set));
    }
}

#[test]
fn connect_errors_and_name_lookup() {
    // A port nobody listens on: refused, as libc reports it.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    let err = TcpStream::connect(addr).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
    let err = TcpStream::connect_timeout(&addr, Duration::from_secs(1)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused);

    let addrs: Vec<_> = ("localhost", 80).to_socket_addrs().unwrap().collect();
    assert!(addrs.iter().any(|a| a.ip().is_loopback()), "{addrs:?}");
    assert!("no-such-host.invalid:80".to_socket_addrs().is_err());
}

#[test]
fn try_clone_and_fcntl_dup_share_the_socket() {
    let (a, b) = UnixStream::pair().unwrap();
    let b2 = b.try_clone().unwrap();
    (&a).write_all(b"dup").unwrap();
    let mut buf = [0u8; 3];
    (&b2).read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"dup");
}
