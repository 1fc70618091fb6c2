//! An echo server on coro::net: one coroutine per connection, plain blocking-style code.
//!
//! ```text
//! cargo run --release --example echo_server -- --addr 127.0.0.1:7878 [--threads 2]
//! cargo run --example echo_server -- --quick     # serve 50 built-in clients, check, exit
//! ```
//!
//! With `--threads N` every thread runs its own scheduler and its own `SO_REUSEPORT` listener
//! on the same port; the kernel spreads the connections over them.

use std::io::{self, Read, Write};
use std::net::SocketAddr;

use coro::net::{TcpListener, TcpStream};

// ANCHOR: handle
/// Echoes everything the peer sends until it closes its side.
fn handle(mut stream: TcpStream) -> io::Result<u64> {
    let mut buf = [0u8; 4096];
    let mut total = 0;
    loop {
        // Suspends this coroutine (not the thread) until data arrives.
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Ok(total);
        }
        stream.write_all(&buf[..n])?;
        total += n as u64;
    }
}
// ANCHOR_END: handle

// ANCHOR: serve
/// Accepts connections forever (or `limit` of them), one coroutine each.
fn serve(listener: TcpListener, limit: Option<usize>) -> io::Result<()> {
    let mut accepted = 0;
    while limit.is_none_or(|l| accepted < l) {
        match listener.accept() {
            Ok((stream, _peer)) => {
                stream.set_nodelay(true)?;
                // Shared stacks: an idle connection costs only its live stack bytes.
                // SAFETY: the body keeps every reference into its stack to itself while it
                // waits (shared stacks move a suspended coroutine's frames away).
                unsafe { coro::Builder::new().shared(true) }.spawn(move || {
                    if let Err(e) = handle(stream) {
                        eprintln!("connection ended: {e}");
                    }
                })?;
                accepted += 1;
            }
            // Out of fds (EMFILE) and the like: report, back off, keep serving.
            Err(e) => {
                eprintln!("accept: {e}");
                coro::sleep(std::time::Duration::from_millis(10));
            }
        }
    }
    Ok(())
}
// ANCHOR_END: serve

// ANCHOR: multi
/// Serves on `addr` with `threads` schedulers, each with its own `SO_REUSEPORT` listener.
fn serve_threads(addr: SocketAddr, threads: usize) -> io::Result<()> {
    let results = coro::Runtime::builder().threads(threads).run(|_thread| {
        let listener = TcpListener::bind_reuseport(addr)?;
        serve(listener, None)
    });
    results.into_iter().collect()
}
// ANCHOR_END: multi

/// The `--quick` mode: a server and 50 clients in one runtime, every byte checked.
pub(crate) fn quick() -> io::Result<u64> {
    coro::run(|| {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let server = coro::spawn(move || serve(listener, Some(50)));
        let clients: Vec<_> = (0..50u8)
            .map(|i| {
                coro::spawn(move || -> io::Result<u64> {
                    let mut s = TcpStream::connect(addr)?;
                    let msg = vec![i; 100 + i as usize * 10];
                    for _ in 0..10 {
                        s.write_all(&msg)?;
                        let mut back = vec![0; msg.len()];
                        s.read_exact(&mut back)?;
                        assert_eq!(back, msg);
                    }
                    Ok(10 * msg.len() as u64)
                })
            })
            .collect();
        let mut total = 0;
        for c in clients {
            total += c.join().expect("client panicked")?;
        }
        server.join().expect("server panicked")?;
        Ok(total)
    })
}

fn main() -> io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--quick") {
        let n = quick()?;
        println!("echoed {n} bytes for 50 clients");
        return Ok(());
    }
    let get = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
    };
    let addr: SocketAddr = get("--addr")
        .map_or("127.0.0.1:7878", |s| s.as_str())
        .parse()
        .map_err(io::Error::other)?;
    let threads: usize = get("--threads")
        .map_or(Ok(1), |s| s.parse())
        .map_err(io::Error::other)?;
    println!("echo server on {addr} with {threads} thread(s)");
    if threads == 1 {
        coro::run(|| serve(TcpListener::bind(addr)?, None))
    } else {
        serve_threads(addr, threads)
    }
}
