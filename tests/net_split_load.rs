//! Split halves under load: many connections at once, each side of each one split into a read
//! half and a write half owned by two coroutines, every byte checked. The server's reader
//! hands what it reads to its writer through a bounded channel, so the two halves of one
//! stream wait at the same time, each for its own direction, while every other connection
//! does the same.

use std::io::{Read, Write};

use coro::channel;
use coro::net::{TcpListener, TcpStream};

/// Connections at once.
const CONNS: usize = 64;
/// Bytes each client sends (and gets back): 32 MiB each way over all connections.
const LEN: usize = 512 << 10;

/// Byte `i` of connection `c`'s stream.
fn byte(c: usize, i: usize) -> u8 {
    (c.wrapping_mul(31) ^ i.wrapping_mul(7) ^ (i >> 11)) as u8
}

/// Echoes one connection through two coroutines: the read half's coroutine reads, the write
/// half's writes, a bounded channel between them. Returns the bytes echoed.
fn echo_split(stream: TcpStream) -> usize {
    let (mut read, mut write) = stream.into_split();
    let (tx, rx) = channel::bounded::<Vec<u8>>(4);
    let writer = coro::spawn(move || {
        let mut echoed = 0;
        for chunk in rx {
            write.write_all(&chunk).unwrap();
            echoed += chunk.len();
        }
        echoed // dropping `write` shuts the writing side: the client reads the end
    });
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = read.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        tx.send(buf[..n].to_vec()).unwrap();
    }
    drop(tx);
    writer.join().unwrap()
}

/// Client `c`: its write half's coroutine sends `LEN` bytes while its read half's coroutine
/// reads the echo and checks every byte. Returns the bytes read back.
fn client(addr: std::net::SocketAddr, c: usize) -> usize {
    let (mut read, mut write) = TcpStream::connect(addr).unwrap().into_split();
    let writer = coro::spawn(move || {
        let chunk_len = 8 * 1024 + c * 97; // uneven chunks, different per client
        let mut sent = 0;
        while sent < LEN {
            let n = chunk_len.min(LEN - sent);
            let chunk: Vec<u8> = (sent..sent + n).map(|i| byte(c, i)).collect();
            write.write_all(&chunk).unwrap();
            sent += n;
        }
    });
    let mut got = 0;
    let mut buf = vec![0u8; 8 * 1024];
    loop {
        let n = read.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        for (k, b) in buf[..n].iter().enumerate() {
            assert_eq!(*b, byte(c, got + k), "client {c}, byte {}", got + k);
        }
        got += n;
    }
    writer.join().unwrap();
    got
}

#[test]
fn many_split_connections_echo_every_byte_at_once() {
    coro::run(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = coro::spawn(move || {
            let mut conns = coro::JoinSet::new();
            for _ in 0..CONNS {
                let (stream, _) = listener.accept().unwrap();
                conns.spawn(move || echo_split(stream));
            }
            conns.join_all()
        });
        let clients: Vec<_> = (0..CONNS)
            .map(|c| coro::spawn(move || client(addr, c)))
            .collect();
        for (c, h) in clients.into_iter().enumerate() {
            assert_eq!(h.join().unwrap(), LEN, "client {c}");
        }
        let echoed = server.join().unwrap();
        assert_eq!(echoed.len(), CONNS);
        assert!(echoed.into_iter().all(|r| r.unwrap() == LEN));
    });
}
