//! A blocking HTTP client from crates.io (ureq, built on std::net) fetching from a local
//! server in 1,000 coroutines at once, all on one thread: the syscall hooks make ureq's
//! blocking connect, write, read and name lookup yield to the other coroutines.
//!
//! ```text
//! cargo run --release --example blocking_http            # 1,000 requests at once
//! cargo run --release --example blocking_http -- --quick # 100
//! cargo run --release --example blocking_http -- --requests 5000
//! ```
//!
//! The server runs in coroutines of the same thread too (std::net only, a slow handler that
//! sleeps 100 ms per request), so the run takes about one handler's time, not a thousand.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

/// How long each request takes the server.
const HANDLER_TIME: Duration = Duration::from_millis(100);

// ANCHOR: server
/// Answers one HTTP/1.1 request: blocking std::net code, one coroutine per connection.
fn handle(stream: TcpStream) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let path = line.split(' ').nth(1).unwrap_or("/").to_string();
    loop {
        let mut header = String::new();
        match reader.read_line(&mut header) {
            Ok(0) | Err(_) => break,
            Ok(_) if header == "\r\n" => break,
            Ok(_) => {}
        }
    }
    std::thread::sleep(HANDLER_TIME);
    let body = format!("you asked for {path}\n");
    let mut stream = stream;
    let _ = write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}
// ANCHOR_END: server

/// Serves and fetches `requests` pages at once on this thread; returns how many came back right.
pub(crate) fn fetch_all(requests: usize) -> usize {
    coro::run(move || {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        // SAFETY: listen(2) on our own listening socket only raises its backlog (std uses 128).
        unsafe { libc::listen(std::os::fd::AsRawFd::as_raw_fd(&listener), 4096) };
        let port = listener.local_addr().expect("local_addr").port();
        coro::spawn(move || {
            for _ in 0..requests {
                let (stream, _) = listener.accept().expect("accept");
                coro::spawn(move || handle(stream));
            }
        });

        // ANCHOR: client
        let fetches: Vec<_> = (0..requests)
            .map(|i| {
                coro::spawn(move || {
                    let url = format!("http://localhost:{port}/page/{i}");
                    let body = ureq::get(&url).call().ok()?.into_string().ok()?;
                    (body == format!("you asked for /page/{i}\n")).then_some(())
                })
            })
            .collect();
        fetches
            .into_iter()
            .filter_map(|f| f.join().ok().flatten())
            .count()
        // ANCHOR_END: client
    })
}

fn main() {
    let mut requests = 1000usize;
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--quick" => requests = 100,
            "--requests" => {
                requests = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--requests N")
            }
            other => panic!("unknown argument {other}; use --quick or --requests N"),
        }
    }

    let start = Instant::now();
    let ok = fetch_all(requests);
    let took = start.elapsed();
    println!("{ok} of {requests} ureq requests answered correctly, on one thread, in {took:.2?}");
    assert_eq!(ok, requests, "some requests failed");
}
