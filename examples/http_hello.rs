//! A tiny HTTP/1.1 "hello" server on coro::net, with keep-alive: one coroutine per connection.
//!
//! ```text
//! cargo run --release --example http_hello -- --addr 127.0.0.1:8080 [--threads 2]
//! curl http://127.0.0.1:8080/
//! cargo run --example http_hello -- --quick      # serve built-in requests, check, exit
//! ```

use std::io::{self, Read, Write};
use std::net::SocketAddr;

use coro::net::{TcpListener, TcpStream};

const BODY: &str = "Hello, world!\n";

// ANCHOR: conn
/// Serves requests on one connection until the client closes it or sends `Connection: close`.
fn conn(mut stream: TcpStream) -> io::Result<()> {
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    loop {
        // Read until the end of a request head ("\r\n\r\n"); bodies are not supported.
        let end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let n = stream.read(&mut chunk)?;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&chunk[..n]);
            if buf.len() > 64 * 1024 {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "request head too large",
                ));
            }
        };
        let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
        let close = head.contains("\r\nconnection: close");
        let response = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n{}\r\n{BODY}",
            BODY.len(),
            if close { "Connection: close\r\n" } else { "" }
        );
        stream.write_all(response.as_bytes())?;
        buf.drain(..end);
        if close {
            return Ok(());
        }
    }
}
// ANCHOR_END: conn

// ANCHOR: accept
/// Accepts forever (or `limit` connections), one coroutine per connection.
fn serve(listener: TcpListener, limit: Option<usize>) -> io::Result<()> {
    let mut n = 0;
    while limit.is_none_or(|l| n < l) {
        let (stream, _) = listener.accept()?;
        // SAFETY: the body keeps every reference into its stack to itself while it
        // waits (shared stacks move a suspended coroutine's frames away).
        unsafe { coro::Builder::new().shared(true) }.spawn(move || conn(stream))?;
        n += 1;
    }
    Ok(())
}
// ANCHOR_END: accept

/// The `--quick` mode: 20 keep-alive clients send 5 requests each; every response is checked.
pub(crate) fn quick() -> io::Result<usize> {
    coro::run(|| {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let server = coro::spawn(move || serve(listener, Some(20)));
        let clients: Vec<_> = (0..20)
            .map(|_| {
                coro::spawn(move || -> io::Result<usize> {
                    let mut s = TcpStream::connect(addr)?;
                    let mut ok = 0;
                    for i in 0..5 {
                        let last = i == 4;
                        let req = format!(
                            "GET / HTTP/1.1\r\nHost: x\r\n{}\r\n",
                            if last { "Connection: close\r\n" } else { "" }
                        );
                        s.write_all(req.as_bytes())?;
                        let mut resp = Vec::new();
                        let mut b = [0u8; 256];
                        while !resp.ends_with(BODY.as_bytes()) {
                            let n = s.read(&mut b)?;
                            if n == 0 {
                                break;
                            }
                            resp.extend_from_slice(&b[..n]);
                        }
                        let text = String::from_utf8_lossy(&resp);
                        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
                        assert!(text.ends_with(BODY));
                        ok += 1;
                    }
                    // The server closed after `Connection: close`.
                    assert_eq!(s.read(&mut [0u8; 1])?, 0);
                    Ok(ok)
                })
            })
            .collect();
        let mut ok = 0;
        for c in clients {
            ok += c.join().expect("client panicked")?;
        }
        server.join().expect("server panicked")?;
        Ok(ok)
    })
}

fn main() -> io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--quick") {
        println!("{} responses checked", quick()?);
        return Ok(());
    }
    let get = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
    };
    let addr: SocketAddr = get("--addr")
        .map_or("127.0.0.1:8080", |s| s.as_str())
        .parse()
        .map_err(io::Error::other)?;
    let threads: usize = get("--threads")
        .map_or(Ok(1), |s| s.parse())
        .map_err(io::Error::other)?;
    println!("http_hello on http://{addr}/ with {threads} thread(s)");
    let results = coro::Runtime::builder().threads(threads).run(|_| {
        let listener = TcpListener::bind_reuseport(addr)?;
        serve(listener, None)
    });
    results.into_iter().collect()
}
