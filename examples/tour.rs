//! The tour of coro: `cargo run --release --example tour`.
//!
//! In under a minute, with a line for each step, it shows what coro is for:
//!
//! 1. the cost of a switch between two coroutines (10 million round trips),
//! 2. one million coroutines parked on shared stacks, and the memory each one costs,
//! 3. an echo server written with plain `std::net` (the syscall hooks make it coroutine code)
//!    and one written with `coro::net`, each serving 1,000 concurrent clients on one thread,
//! 4. a generator and coroutine-local storage.
//!
//! `--quick` runs every step at a small size (the test `tests/example_tour.rs` does that).

use std::cell::{Cell, RefCell};
use std::hint::black_box;
use std::io::{self, Read, Write};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use coro::{Coroutine, SharedStack, Yielder, co_local, co_yield};

fn main() -> coro::Result<()> {
    let quick = std::env::args().any(|a| a == "--quick");
    run(quick)?;
    Ok(())
}

/// What the tour measured, for the test to check.
#[derive(Debug)]
#[allow(dead_code)] // the fields are read by the test
pub(crate) struct Report {
    pub(crate) ns_per_round_trip: f64,
    pub(crate) parked: usize,
    pub(crate) bytes_per_parked: f64,
    pub(crate) echo: Vec<(&'static str, EchoStats)>,
    pub(crate) fibonacci: Vec<u64>,
}

/// Runs the four steps; `quick` makes each of them small.
pub(crate) fn run(quick: bool) -> coro::Result<Report> {
    println!("coro tour{}", if quick { " (quick)" } else { "" });
    let ns_per_round_trip = switching(if quick { 100_000 } else { 10_000_000 })?;
    let (parked, bytes_per_parked) = parking(if quick { 10_000 } else { 1_000_000 })?;
    let (clients, secs) = if quick { (50, 0.3) } else { (1_000, 2.0) };
    let echo = vec![
        ("coro::net", echo(Server::CoroNet, clients, secs)?),
        ("std::net + hooks", echo(Server::StdNet, clients, secs)?),
    ];
    let fibonacci = generators_and_locals()?;
    println!();
    println!("Where next: the book (`mdbook serve book`), starting with the Quick start;");
    println!("the examples (`ls examples/`); the benchmarks against corosensei, may and tokio");
    println!(
        "(`cargo run --release -p coro-bench -- switch`, see the book's Performance chapter)."
    );
    Ok(Report {
        ns_per_round_trip,
        parked,
        bytes_per_parked,
        echo,
        fibonacci,
    })
}

// ANCHOR: switching
/// Step 1: a coroutine that adds one to what it is given, resumed `n` times.
fn switching(n: u64) -> coro::Result<f64> {
    println!("\n[1/4] Switching: resume a coroutine and let it yield back, {n} times");
    let mut co = Coroutine::new(|y, mut v: u64| {
        loop {
            v = y.suspend(v + 1);
        }
    });
    let start = Instant::now();
    let mut v = 0;
    for _ in 0..n {
        v = co
            .resume(black_box(v))?
            .as_yield()
            .expect("the coroutine never returns");
    }
    let ns = start.elapsed().as_nanos() as f64 / n as f64;
    assert_eq!(v, n);
    println!(
        "      {ns:.1} ns per resume + yield round trip ({:.1} ns per switch)",
        ns / 2.0
    );
    Ok(ns)
}
// ANCHOR_END: switching

// ANCHOR: parking
/// Step 2: `count` coroutines, each suspended with a small live frame, on 8 shared stacks.
fn parking(count: usize) -> coro::Result<(usize, f64)> {
    println!("\n[2/4] Parking {count} coroutines on 8 shared stacks of 64 KiB");
    let stacks = (0..8)
        .map(|_| SharedStack::new(64 * 1024))
        .collect::<coro::Result<Vec<_>>>()?;
    let before = resident_bytes();
    let start = Instant::now();
    let mut parked = Vec::with_capacity(count);
    for i in 0..count as u64 {
        let body = move |y: &Yielder<(), ()>, ()| {
            let frame = black_box([i, i + 1, i + 2, i + 3]); // lives on the stack while parked
            y.suspend(());
            frame.iter().sum::<u64>()
        };
        // SAFETY: nothing outside the body holds a reference into its stack (shared stacks move
        // a suspended coroutine's frames away; see the book's Safety model).
        let mut co = unsafe { Coroutine::with_shared_stack(&stacks[i as usize % 8], body) };
        co.resume(())?; // runs to its suspend; its frame is copied out when the next one runs
        parked.push(co);
    }
    let after = resident_bytes();
    let per = (after.saturating_sub(before)) as f64 / count as f64;
    println!(
        "      parked in {:.2?}: {:.0} bytes of memory each (resident set +{} MiB)",
        start.elapsed(),
        per,
        (after.saturating_sub(before)) >> 20
    );
    // Wake each one: its frame is copied back, and it returns what it kept on its stack.
    for (i, co) in parked.iter_mut().enumerate() {
        let i = i as u64;
        assert_eq!(co.resume(())?.as_return(), Some(4 * i + 6));
    }
    println!("      resumed all {count}: every frame came back intact");
    Ok((count, per))
}
// ANCHOR_END: parking

/// The resident set size of this process, from /proc/self/statm.
fn resident_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

#[derive(Clone, Copy, Debug)]
enum Server {
    StdNet,
    CoroNet,
}

/// What one echo run measured.
#[derive(Debug)]
#[allow(dead_code)] // read by the test
pub(crate) struct EchoStats {
    pub(crate) requests: u64,
    pub(crate) per_sec: f64,
    pub(crate) p99_us: u64,
}

const MESSAGE: usize = 64;

// ANCHOR: echo_handler
/// An echo connection handler. It takes any blocking stream: a plain `std::net::TcpStream`
/// (inside a coroutine the hooks turn its blocking reads and writes into waits on the event
/// loop) or a `coro::net::TcpStream` (the same methods, yielding while they wait).
fn echo_conn<S: Read + Write>(mut stream: S) -> io::Result<()> {
    let mut buf = [0u8; MESSAGE];
    loop {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        stream.write_all(&buf[..n])?;
    }
}
// ANCHOR_END: echo_handler

/// Step 3: one server thread, one client thread with `clients` coroutines for `secs` seconds.
fn echo(kind: Server, clients: usize, secs: f64) -> coro::Result<EchoStats> {
    let label = match kind {
        Server::StdNet => "std::net (hooked)",
        Server::CoroNet => "coro::net",
    };
    println!("\n[3/4] Echo server on {label}, one thread; {clients} clients on another, {secs} s");
    let stop = Arc::new(AtomicBool::new(false));
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let server_stop = stop.clone();
    let server = std::thread::spawn(move || -> io::Result<()> {
        coro::run(move || -> io::Result<()> {
            match kind {
                Server::StdNet => {
                    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
                    addr_tx.send(listener.local_addr()?).ok();
                    for stream in listener.incoming() {
                        if server_stop.load(Ordering::Relaxed) {
                            break;
                        }
                        let stream = stream?;
                        stream.set_nodelay(true)?;
                        coro::spawn(move || echo_conn(stream).ok());
                    }
                }
                Server::CoroNet => {
                    let listener = coro::net::TcpListener::bind("127.0.0.1:0")?;
                    addr_tx.send(listener.local_addr()?).ok();
                    for stream in listener.incoming() {
                        if server_stop.load(Ordering::Relaxed) {
                            break;
                        }
                        let stream = stream?;
                        stream.set_nodelay(true)?;
                        coro::spawn(move || echo_conn(stream).ok());
                    }
                }
            }
            Ok(())
        })
    });
    let addr = addr_rx
        .recv()
        .map_err(|_| io::Error::other("the echo server did not start"))?;
    let stats = std::thread::spawn(move || load(addr, clients, Duration::from_secs_f64(secs)))
        .join()
        .map_err(|_| io::Error::other("the load client panicked"))??;
    // Wake the accept loop so it sees the stop flag, and let the server finish.
    stop.store(true, Ordering::Relaxed);
    drop(std::net::TcpStream::connect(addr));
    server
        .join()
        .map_err(|_| io::Error::other("the echo server panicked"))??;
    println!(
        "      {} requests: {:.0} requests/s, p99 latency {} us",
        stats.requests, stats.per_sec, stats.p99_us
    );
    Ok(stats)
}

/// The load: `clients` coroutines on one thread, each sending a message and reading the echo
/// back, byte-exact, until `run_for` has passed.
fn load(addr: std::net::SocketAddr, clients: usize, run_for: Duration) -> io::Result<EchoStats> {
    coro::run(move || {
        let latencies = Rc::new(RefCell::new(Vec::<u32>::new()));
        let deadline = Instant::now() + run_for;
        let start = Instant::now();
        let handles: Vec<_> = (0..clients)
            .map(|c| {
                let latencies = latencies.clone();
                coro::spawn(move || -> io::Result<()> {
                    let mut stream = coro::net::TcpStream::connect(addr)?;
                    stream.set_nodelay(true)?;
                    let mut msg = [0u8; MESSAGE];
                    let mut back = [0u8; MESSAGE];
                    let mut mine = Vec::new();
                    let mut n = 0u64;
                    while Instant::now() < deadline {
                        msg[..8].copy_from_slice(&(c as u64 * 1_000_000 + n).to_le_bytes());
                        let sent = Instant::now();
                        stream.write_all(&msg)?;
                        stream.read_exact(&mut back)?;
                        mine.push(sent.elapsed().as_micros() as u32);
                        if back != msg {
                            return Err(io::Error::other("the echo differs from the request"));
                        }
                        n += 1;
                    }
                    latencies.borrow_mut().extend(mine);
                    Ok(())
                })
            })
            .collect();
        for h in handles {
            h.join()
                .map_err(|_| io::Error::other("a client panicked"))??;
        }
        let elapsed = start.elapsed().as_secs_f64();
        let mut all = latencies.take();
        all.sort_unstable();
        let requests = all.len() as u64;
        let p99_us = all
            .get(all.len().saturating_sub(1) * 99 / 100)
            .copied()
            .unwrap_or(0) as u64;
        Ok(EchoStats {
            requests,
            per_sec: requests as f64 / elapsed,
            p99_us,
        })
    })
}

// ANCHOR: generator
/// A generator: calling it makes a lazy iterator that runs on its own stack.
#[coro::coroutine(yield = u64)]
fn fibonacci(limit: u64) {
    let (mut a, mut b) = (0u64, 1u64);
    while a <= limit {
        co_yield!(a);
        (a, b) = (b, a + b);
    }
}
// ANCHOR_END: generator

// ANCHOR: co_local
co_local! {
    /// Which request the current coroutine serves: each coroutine has its own.
    static REQUEST: Cell<u32> = Cell::new(0);
}
// ANCHOR_END: co_local

/// Step 4: a generator, and coroutine-local values that stay apart across switches.
fn generators_and_locals() -> coro::Result<Vec<u64>> {
    println!("\n[4/4] A generator and coroutine-local storage");
    let fib: Vec<u64> = fibonacci(100).collect();
    println!("      fibonacci(100) as an iterator: {fib:?}");
    let seen = coro::run(|| {
        let handles: Vec<_> = (1..=3u32)
            .map(|id| {
                coro::spawn(move || {
                    REQUEST.set(id);
                    coro::yield_now(); // the others set theirs meanwhile
                    REQUEST.get()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or(0))
            .collect::<Vec<_>>()
    });
    println!("      three coroutines set REQUEST to 1, 2, 3, yielded, and read back {seen:?}");
    assert_eq!(seen, [1, 2, 3]);
    println!(
        "      outside any coroutine the thread's own value is untouched: {}",
        REQUEST.get()
    );
    Ok(fib)
}
