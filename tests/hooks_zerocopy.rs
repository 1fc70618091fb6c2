//! std's `io::copy` between sockets and pipes (which takes the kernel's short cut, `splice`),
//! `sendfile`, and `sendmmsg`/`recvmmsg`, on sockets the hooks made non-blocking: inside a
//! coroutine they wait on the event loop, outside one they finish as a blocking call would, and
//! a user's own non-blocking wish and a deadline scope still end them.
//!
//! Most tests run on ONE thread: a hooked call that blocked its thread would deadlock the test
//! (a watchdog turns that into a failure).
#![cfg(feature = "hooks")] // without the hooks these coroutines would block their thread

use std::io::{ErrorKind, PipeReader, PipeWriter, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsRawFd, RawFd};
use std::time::Duration;

mod common;
use common::watchdog;

/// A connected TCP pair on 127.0.0.1 (made inside a coroutine, so both ends are hooked).
fn tcp_pair() -> (TcpStream, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let c = coro::spawn(move || TcpStream::connect(addr).unwrap());
    let (s, _) = l.accept().unwrap();
    (c.join().unwrap(), s)
}

/// A TCP pair whose `a` end the hooks have already parked on (so it is non-blocking in the
/// kernel): `a` waits for one byte that `b` sends a little later.
fn parked_pair() -> (TcpStream, TcpStream) {
    let (mut a, b) = tcp_pair();
    let w = coro::spawn(move || {
        let mut b = b;
        coro::sleep(Duration::from_millis(5));
        b.write_all(b"!").unwrap();
        b
    });
    let mut one = [0u8; 1];
    a.read_exact(&mut one).unwrap();
    assert_eq!(&one, b"!");
    let b = w.join().unwrap();
    assert!(
        kernel_nonblocking(a.as_raw_fd()),
        "the hooks did not park on the socket"
    );
    (a, b)
}

/// Whether the kernel's description of `fd` is non-blocking (`fcntl` shows the user's view, so
/// this reads the flags from /proc).
fn kernel_nonblocking(fd: RawFd) -> bool {
    let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}")).unwrap();
    let flags = info
        .lines()
        .find_map(|l| l.strip_prefix("flags:"))
        .map(|f| u32::from_str_radix(f.trim(), 8).unwrap())
        .unwrap();
    flags & libc::O_NONBLOCK as u32 != 0
}

fn errno() -> i32 {
    // SAFETY: this thread's errno slot.
    unsafe { *libc::__errno_location() }
}

/// `len` bytes of a pattern that shows a lost, doubled or reordered chunk.
fn pattern(len: usize, seed: u32) -> Vec<u8> {
    (0..len as u32)
        .map(|i| (i.wrapping_add(seed).wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect()
}

/// Writes `data` in 16 KiB chunks, pausing (a hooked sleep) every 16 chunks.
fn write_slowly(w: &mut impl Write, data: &[u8]) {
    for (i, chunk) in data.chunks(16 << 10).enumerate() {
        w.write_all(chunk).unwrap();
        if i % 16 == 15 {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

/// Reads to the end in 16 KiB reads, pausing (a hooked sleep) every 16 reads.
fn read_slowly(r: &mut impl Read) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = vec![0u8; 16 << 10];
    for i in 0.. {
        let n = r.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
        if i % 16 == 15 {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    got
}

/// A thread that reads a pipe to its end.
fn drain_on_a_thread(mut r: PipeReader) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut got = Vec::new();
        r.read_to_end(&mut got).unwrap();
        got
    })
}

#[test]
fn copy_from_a_parked_socket_into_a_pipe_waits_in_the_coroutine() {
    let _watchdog = watchdog(60);
    let data = pattern(6 << 20, 1);
    let expect = data.clone();
    let got = coro::run(move || {
        let (mut a, b) = parked_pair();
        let sender = coro::spawn(move || {
            let mut b = b;
            write_slowly(&mut b, &data);
            b.shutdown(Shutdown::Write).unwrap();
        });
        let (r, mut w) = std::io::pipe().unwrap();
        let reader = drain_on_a_thread(r);
        let n = std::io::copy(&mut a, &mut w).expect("copy socket -> pipe");
        drop(w);
        sender.join().unwrap();
        assert_eq!(n, 6 << 20);
        reader.join().unwrap()
    });
    assert_eq!(got.len(), expect.len());
    assert!(got == expect, "bytes differ");
}

#[test]
fn copy_from_a_pipe_into_a_parked_socket_waits_in_the_coroutine() {
    let _watchdog = watchdog(60);
    let data = pattern(6 << 20, 2);
    let expect = data.clone();
    let got = coro::run(move || {
        let (mut a, mut b) = parked_pair();
        let (r, w) = std::io::pipe().unwrap();
        let mut r: PipeReader = r;
        // The pipe fills slowly (from a thread), and the peer reads slowly: the copy waits on
        // both ends in turn.
        let filler = std::thread::spawn(move || {
            let mut w: PipeWriter = w;
            write_slowly(&mut w, &data);
        });
        let peer = coro::spawn(move || read_slowly(&mut b));
        let n = std::io::copy(&mut r, &mut a).expect("copy pipe -> socket");
        a.shutdown(Shutdown::Write).unwrap();
        filler.join().unwrap();
        assert_eq!(n, 6 << 20);
        peer.join().unwrap()
    });
    assert_eq!(got.len(), expect.len());
    assert!(got == expect, "bytes differ");
}

#[test]
fn a_relay_through_a_pipe_runs_on_one_thread() {
    // socket -> pipe -> socket, every end in a coroutine of one thread: both copies wait on
    // the loop for the pipe as well as for their socket, or the test deadlocks.
    let _watchdog = watchdog(60);
    let data = pattern(8 << 20, 3);
    let expect = data.clone();
    let got = coro::run(move || {
        let (mut src, src_peer) = parked_pair();
        let (mut dst, mut dst_peer) = parked_pair();
        let (mut r, mut w) = std::io::pipe().unwrap();
        let sender = coro::spawn(move || {
            let mut p = src_peer;
            write_slowly(&mut p, &data);
            p.shutdown(Shutdown::Write).unwrap();
        });
        let inbound = coro::spawn(move || {
            let n = std::io::copy(&mut src, &mut w).expect("copy socket -> pipe");
            drop(w);
            n
        });
        let outbound = coro::spawn(move || {
            let n = std::io::copy(&mut r, &mut dst).expect("copy pipe -> socket");
            dst.shutdown(Shutdown::Write).unwrap();
            n
        });
        let got = read_slowly(&mut dst_peer);
        sender.join().unwrap();
        assert_eq!(inbound.join().unwrap(), 8 << 20);
        assert_eq!(outbound.join().unwrap(), 8 << 20);
        got
    });
    assert_eq!(got.len(), expect.len());
    assert!(got == expect, "bytes differ");
}

#[test]
fn copy_outside_a_coroutine_on_a_socket_the_hooks_made_non_blocking() {
    let _watchdog = watchdog(60);
    // Two pairs whose `a` ends the hooks made non-blocking inside a coroutine.
    let ((mut a1, b1), (mut a2, b2)) = coro::run(|| (parked_pair(), parked_pair()));
    assert!(kernel_nonblocking(a1.as_raw_fd()) && kernel_nonblocking(a2.as_raw_fd()));

    // Socket -> pipe, with a slow sender on a thread: the copy must wait, not say WouldBlock.
    let data = pattern(4 << 20, 4);
    let sent = data.clone();
    let sender = std::thread::spawn(move || {
        let mut b = b1;
        write_slowly(&mut b, &sent);
        b.shutdown(Shutdown::Write).unwrap();
    });
    let (r, mut w) = std::io::pipe().unwrap();
    let reader = drain_on_a_thread(r);
    let n = std::io::copy(&mut a1, &mut w).expect("copy socket -> pipe outside");
    drop(w);
    sender.join().unwrap();
    assert_eq!(n, 4 << 20);
    assert!(
        reader.join().unwrap() == data,
        "bytes differ (socket -> pipe)"
    );

    // Pipe -> socket, with a slow reader on a thread: the socket fills and the copy waits.
    let data = pattern(4 << 20, 5);
    let (mut r, w) = std::io::pipe().unwrap();
    let fill = data.clone();
    let filler = std::thread::spawn(move || {
        let mut w = w;
        w.write_all(&fill).unwrap();
    });
    let peer = std::thread::spawn(move || {
        let mut b = b2;
        read_slowly(&mut b)
    });
    let n = std::io::copy(&mut r, &mut a2).expect("copy pipe -> socket outside");
    a2.shutdown(Shutdown::Write).unwrap();
    filler.join().unwrap();
    assert_eq!(n, 4 << 20);
    assert!(
        peer.join().unwrap() == data,
        "bytes differ (pipe -> socket)"
    );
}

#[test]
fn sendfile_to_a_parked_socket_sends_everything_in_one_call() {
    let _watchdog = watchdog(60);
    let data = pattern(4 << 20, 6);
    let path = std::env::temp_dir().join(format!("coro-zerocopy-{}", std::process::id()));
    std::fs::write(&path, &data).unwrap();
    let file = std::fs::File::open(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    let got = coro::run(move || {
        let (a, mut b) = parked_pair();
        let peer = coro::spawn(move || read_slowly(&mut b));
        let mut off: libc::off_t = 0;
        // SAFETY: valid fds and offset; the socket blocks for the user, so the whole file goes.
        let n = unsafe { libc::sendfile(a.as_raw_fd(), file.as_raw_fd(), &mut off, 4 << 20) };
        assert_eq!(n, 4 << 20, "errno {}", errno());
        assert_eq!(off, 4 << 20);
        a.shutdown(Shutdown::Write).unwrap();
        peer.join().unwrap()
    });
    assert!(got == data, "bytes differ");
}

#[test]
fn user_non_blocking_wishes_pass_eagain_through() {
    let _watchdog = watchdog(60);
    coro::run(|| {
        let (a, _b) = parked_pair();
        let (_r, w) = std::io::pipe().unwrap();
        // SPLICE_F_NONBLOCK: nothing to read, so EAGAIN at once.
        // SAFETY: valid fds, no offsets.
        let n = unsafe {
            libc::splice(
                a.as_raw_fd(),
                std::ptr::null_mut(),
                w.as_raw_fd(),
                std::ptr::null_mut(),
                4096,
                libc::SPLICE_F_NONBLOCK,
            )
        };
        assert_eq!((n, errno()), (-1, libc::EAGAIN));
        // The user's O_NONBLOCK on the socket: io::copy says WouldBlock.
        a.set_nonblocking(true).unwrap();
        let mut w = w;
        let err = std::io::copy(&mut &a, &mut w).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::WouldBlock);
        a.set_nonblocking(false).unwrap();

        // The user's O_NONBLOCK on a full pipe: the socket has data, the pipe is the one that
        // blocks, and its EAGAIN is the user's.
        let (mut c, mut d) = parked_pair();
        d.write_all(&[7u8; 1024]).unwrap();
        let (_r2, w2) = std::io::pipe().unwrap();
        // SAFETY: F_SETFL with an integer argument on our own pipe.
        unsafe {
            let fl = libc::fcntl(w2.as_raw_fd(), libc::F_GETFL);
            assert_eq!(
                libc::fcntl(w2.as_raw_fd(), libc::F_SETFL, fl | libc::O_NONBLOCK),
                0
            );
        }
        let mut w2 = w2;
        while w2.write(&[0u8; 4096]).is_ok() {}
        let err = std::io::copy(&mut c, &mut w2).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::WouldBlock);
        let mut buf = [0u8; 1024];
        c.read_exact(&mut buf).unwrap();
        assert_eq!(buf, [7u8; 1024]);

        // MSG_DONTWAIT on recvmmsg: EAGAIN at once.
        let u = UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut bufs = vec![vec![0u8; 8]; 2];
        let (_iov, mut msgs) = mmsgs(&mut bufs);
        // SAFETY: valid messages and buffers.
        let n = unsafe {
            libc::recvmmsg(
                u.as_raw_fd(),
                msgs.as_mut_ptr(),
                2,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        assert_eq!((n, errno()), (-1, libc::EAGAIN));
    });
}

/// One message header a buffer, each with its one iovec (kept alive in the first vector).
fn mmsgs(bufs: &mut [Vec<u8>]) -> (Vec<libc::iovec>, Vec<libc::mmsghdr>) {
    let mut iov: Vec<libc::iovec> = bufs
        .iter_mut()
        .map(|b| libc::iovec {
            iov_base: b.as_mut_ptr().cast(),
            iov_len: b.len(),
        })
        .collect();
    let msgs = iov
        .iter_mut()
        .map(|v| {
            // SAFETY: an all-zero mmsghdr is a valid empty header.
            let mut m: libc::mmsghdr = unsafe { std::mem::zeroed() };
            m.msg_hdr.msg_iov = v;
            m.msg_hdr.msg_iovlen = 1;
            m
        })
        .collect();
    (iov, msgs)
}

#[test]
fn recvmmsg_on_udp_waits_for_every_message_in_a_coroutine() {
    let _watchdog = watchdog(60);
    coro::run(|| {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").unwrap();
        a.connect(b.local_addr().unwrap()).unwrap();
        b.connect(a.local_addr().unwrap()).unwrap();
        // Park the hooks on `b` once, so that it is non-blocking in the kernel.
        let w = coro::spawn(move || {
            coro::sleep(Duration::from_millis(5));
            a.send(b"x").unwrap();
            a
        });
        assert_eq!(b.recv(&mut [0u8; 1]).unwrap(), 1);
        let a = w.join().unwrap();
        assert!(kernel_nonblocking(b.as_raw_fd()));

        // The receiver asks for 8 messages on a blocking socket: it waits for all 8, which
        // come in two batches with a pause between (from this same thread), then for one
        // with MSG_WAITFORONE.
        let receiver = coro::spawn(move || {
            let mut bufs = vec![vec![0u8; 8]; 8];
            let (_iov, mut msgs) = mmsgs(&mut bufs);
            // SAFETY: 8 valid messages over `bufs`.
            let n = unsafe {
                libc::recvmmsg(b.as_raw_fd(), msgs.as_mut_ptr(), 8, 0, std::ptr::null_mut())
            };
            assert_eq!(n, 8, "errno {}", errno());
            let lens: Vec<u32> = msgs.iter().map(|m| m.msg_len).collect();
            let mut more = vec![vec![0u8; 8]; 4];
            let (_iov, mut msgs) = mmsgs(&mut more);
            // SAFETY: 4 valid messages over `more`.
            let m = unsafe {
                libc::recvmmsg(
                    b.as_raw_fd(),
                    msgs.as_mut_ptr(),
                    4,
                    libc::MSG_WAITFORONE,
                    std::ptr::null_mut(),
                )
            };
            assert_eq!(m, 1, "errno {}", errno());
            (bufs, lens, more.swap_remove(0))
        });
        let mut out: Vec<Vec<u8>> = (0..8).map(|i| vec![i as u8; 8]).collect();
        let (_iov, mut msgs) = mmsgs(&mut out);
        coro::sleep(Duration::from_millis(10));
        for half in [0, 4] {
            // SAFETY: 4 valid messages from `half` on.
            let n = unsafe { libc::sendmmsg(a.as_raw_fd(), msgs.as_mut_ptr().add(half), 4, 0) };
            assert_eq!(n, 4, "errno {}", errno());
            coro::sleep(Duration::from_millis(10));
        }
        let mut last = vec![vec![9u8; 8]];
        let (_iov, mut msgs) = mmsgs(&mut last);
        // SAFETY: one valid message.
        let n = unsafe { libc::sendmmsg(a.as_raw_fd(), msgs.as_mut_ptr(), 1, 0) };
        assert_eq!(n, 1, "errno {}", errno());
        let (got, lens, one) = receiver.join().unwrap();
        assert_eq!(lens, vec![8; 8]);
        assert_eq!(got, out);
        assert_eq!(one, vec![9u8; 8]);
    });
}

#[test]
fn sendmmsg_waits_for_room_in_a_coroutine() {
    // A datagram pair whose receiver drains slowly: 1024 messages of 4 KiB overflow the
    // sender's buffer, so one sendmmsg must wait (on this same thread) until all are queued.
    let _watchdog = watchdog(60);
    coro::run(|| {
        let (a, b) = std::os::unix::net::UnixDatagram::pair().unwrap();
        const COUNT: usize = 1024;
        let receiver = coro::spawn(move || {
            let mut seen = Vec::new();
            while seen.len() < COUNT {
                let mut bufs = vec![vec![0u8; 4096]; 64];
                let (_iov, mut msgs) = mmsgs(&mut bufs);
                // SAFETY: 64 valid messages over `bufs`.
                let n = unsafe {
                    libc::recvmmsg(
                        b.as_raw_fd(),
                        msgs.as_mut_ptr(),
                        64,
                        libc::MSG_WAITFORONE,
                        std::ptr::null_mut(),
                    )
                };
                assert!(n > 0, "errno {}", errno());
                for (m, buf) in msgs.iter().zip(&bufs).take(n as usize) {
                    assert_eq!(m.msg_len, 4096);
                    seen.push(buf.clone());
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            seen
        });
        let mut out: Vec<Vec<u8>> = (0..COUNT).map(|i| pattern(4096, i as u32)).collect();
        let (_iov, mut msgs) = mmsgs(&mut out);
        // SAFETY: COUNT valid messages.
        let n = unsafe { libc::sendmmsg(a.as_raw_fd(), msgs.as_mut_ptr(), COUNT as u32, 0) };
        assert_eq!(n, COUNT as i32, "errno {}", errno());
        assert!(msgs.iter().all(|m| m.msg_len == 4096));
        assert!(
            kernel_nonblocking(a.as_raw_fd()),
            "sendmmsg never had to wait"
        );
        assert!(receiver.join().unwrap() == out, "messages differ");
    });
}

#[test]
fn sendmmsg_on_a_stream_sends_whole_messages_in_order() {
    // Messages larger than the socket buffer, to a slow reader: each is cut short by a full
    // buffer and must be finished before the next one starts.
    let _watchdog = watchdog(60);
    let mut out: Vec<Vec<u8>> = (0..8).map(|i| pattern(512 << 10, 100 + i)).collect();
    let expect = out.concat();
    let got = coro::run(move || {
        let (a, mut b) = parked_pair();
        let peer = coro::spawn(move || read_slowly(&mut b));
        let (_iov, mut msgs) = mmsgs(&mut out);
        // SAFETY: 8 valid messages.
        let n = unsafe { libc::sendmmsg(a.as_raw_fd(), msgs.as_mut_ptr(), 8, 0) };
        assert_eq!(n, 8, "errno {}", errno());
        assert!(msgs.iter().all(|m| m.msg_len == 512 << 10));
        a.shutdown(Shutdown::Write).unwrap();
        peer.join().unwrap()
    });
    assert_eq!(got.len(), expect.len());
    assert!(got == expect, "bytes differ");
}

#[test]
fn a_deadline_scope_ends_a_splice_that_would_wait_forever() {
    let _watchdog = watchdog(60);
    coro::run(|| {
        let (a, _b) = parked_pair(); // `_b` never writes
        let (_r, w) = std::io::pipe().unwrap();
        let mut seen = None;
        let r = coro::with_timeout(Duration::from_millis(30), || {
            // SAFETY: valid fds, no offsets.
            let n = unsafe {
                libc::splice(
                    a.as_raw_fd(),
                    std::ptr::null_mut(),
                    w.as_raw_fd(),
                    std::ptr::null_mut(),
                    4096,
                    0,
                )
            };
            let e = errno();
            // The interrupt stays pending: io::copy (splice again) fails the same way.
            let copied = std::io::copy(&mut &a, &mut &w);
            seen = Some((n, e, copied));
        });
        assert!(matches!(r, Err(coro::Error::TimedOut)), "{r:?}");
        let (n, e, copied) = seen.expect("the scope's body returned");
        assert_eq!((n, e), (-1, libc::ETIMEDOUT));
        assert_eq!(copied.unwrap_err().raw_os_error(), Some(libc::ETIMEDOUT));
    });
}
