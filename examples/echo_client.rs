//! An echo load client on coro::net: many connections, one coroutine each, on one thread.
//!
//! ```text
//! cargo run --release --example echo_client -- --addr 127.0.0.1:7878 --conns 1000 --msgs 100
//! cargo run --example echo_client -- --quick     # against a built-in server, small sizes
//! ```

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use coro::net::{TcpListener, TcpStream};

// ANCHOR: client
/// One connection: sends `msgs` messages of `size` bytes, reads each echo back and checks it.
/// Returns the round-trip latencies.
fn client(addr: SocketAddr, msgs: usize, size: usize, id: usize) -> io::Result<Vec<Duration>> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let msg: Vec<u8> = (0..size).map(|i| (i + id) as u8).collect();
    let mut back = vec![0u8; size];
    let mut latencies = Vec::with_capacity(msgs);
    for _ in 0..msgs {
        let t = Instant::now();
        stream.write_all(&msg)?;
        stream.read_exact(&mut back)?;
        latencies.push(t.elapsed());
        if back != msg {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "echo differs"));
        }
    }
    Ok(latencies)
}
// ANCHOR_END: client

// ANCHOR: load
/// Runs `conns` clients at once and prints requests per second and the p99 latency.
fn load(addr: SocketAddr, conns: usize, msgs: usize, size: usize) -> io::Result<usize> {
    let start = Instant::now();
    let handles: Vec<_> = (0..conns)
        .map(|id| {
            // SAFETY: the body keeps every reference into its stack to itself while it
            // waits (shared stacks move a suspended coroutine's frames away).
            unsafe { coro::Builder::new().shared(true) }.spawn(move || client(addr, msgs, size, id))
        })
        .collect::<coro::Result<_>>()
        .map_err(io::Error::from)?;
    let mut all = Vec::with_capacity(conns * msgs);
    for h in handles {
        all.extend(h.join().expect("client panicked")?);
    }
    let secs = start.elapsed().as_secs_f64();
    all.sort_unstable();
    let p99 = all.get(all.len() * 99 / 100).copied().unwrap_or_default();
    println!(
        "{} requests over {conns} connections in {secs:.2} s: {:.0} req/s, p99 {} us",
        all.len(),
        all.len() as f64 / secs,
        p99.as_micros()
    );
    Ok(all.len())
}
// ANCHOR_END: load

/// The `--quick` mode: a built-in echo server and 100 clients of 20 messages each.
pub(crate) fn quick() -> io::Result<usize> {
    coro::run(|| {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        coro::spawn(move || {
            for _ in 0..100 {
                let (mut s, _) = listener.accept().expect("accept");
                coro::spawn(move || {
                    let mut buf = [0u8; 1024];
                    loop {
                        match s.read(&mut buf) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => s.write_all(&buf[..n]).expect("write"),
                        }
                    }
                });
            }
        });
        load(addr, 100, 20, 64)
    })
}

fn main() -> io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--quick") {
        quick()?;
        return Ok(());
    }
    let get = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
    };
    let num = |name: &str, d: usize| {
        get(name)
            .map_or(Ok(d), |s| s.parse())
            .map_err(io::Error::other)
    };
    let addr: SocketAddr = get("--addr")
        .map_or("127.0.0.1:7878", |s| s.as_str())
        .parse()
        .map_err(io::Error::other)?;
    let (conns, msgs, size) = (
        num("--conns", 100)?,
        num("--msgs", 100)?,
        num("--size", 64)?,
    );
    coro::run(|| load(addr, conns, msgs, size)).map(drop)
}
