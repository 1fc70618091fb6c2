//! coro::net Unix-domain streams and UDP.

use std::io::{Read, Write};

use coro::net::{UdpSocket, UnixListener, UnixStream};

#[test]
fn unix_listener_echo() {
    let dir = std::env::temp_dir().join(format!("coro-unix-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("echo.sock");
    let _ = std::fs::remove_file(&path);
    coro::run(|| {
        let listener = UnixListener::bind(&path).unwrap();
        let p = path.clone();
        let clients: Vec<_> = (0..50u8)
            .map(|i| {
                let p = p.clone();
                coro::spawn(move || {
                    let mut s = UnixStream::connect(&p).unwrap();
                    let msg = vec![i; 1000 + i as usize];
                    s.write_all(&msg).unwrap();
                    s.shutdown(std::net::Shutdown::Write).unwrap();
                    let mut back = Vec::new();
                    s.read_to_end(&mut back).unwrap();
                    assert_eq!(back, msg);
                })
            })
            .collect();
        for _ in 0..50 {
            let (mut s, _) = listener.accept().unwrap();
            coro::spawn(move || {
                let mut buf = Vec::new();
                s.read_to_end(&mut buf).unwrap();
                s.write_all(&buf).unwrap();
            });
        }
        for c in clients {
            c.join().unwrap();
        }
    });
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn unix_pair_and_udp() {
    coro::run(|| {
        let (a, mut b) = UnixStream::pair().unwrap();
        let h = coro::spawn(move || {
            let mut buf = [0u8; 3];
            b.read_exact(&mut buf).unwrap();
            buf
        });
        coro::yield_now();
        (&a).write_all(b"abc").unwrap();
        assert_eq!(&h.join().unwrap(), b"abc");

        let server = UdpSocket::bind("127.0.0.1:0").unwrap();
        let saddr = server.local_addr().unwrap();
        let srv = coro::spawn(move || {
            let mut buf = [0u8; 64];
            for _ in 0..10 {
                let (n, from) = server.recv_from(&mut buf).unwrap();
                server.send_to(&buf[..n], from).unwrap();
            }
        });
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        client.connect(saddr).unwrap();
        for i in 0..10u8 {
            client.send(&[i; 5]).unwrap();
            let mut buf = [0u8; 64];
            assert_eq!(client.recv(&mut buf).unwrap(), 5);
            assert_eq!(&buf[..5], &[i; 5]);
        }
        srv.join().unwrap();
        client
            .set_read_timeout(Some(std::time::Duration::from_millis(10)))
            .unwrap();
        let err = client.recv(&mut [0u8; 4]).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
    });
}
