//! An echo server written with `std::net` and `std::thread::sleep` only, run as coroutines:
//! the syscall hooks make every blocking call yield, so one thread serves 10,000 connections.
//!
//! ```text
//! cargo run --release --example std_echo_server            # 10,000 connections
//! cargo run --release --example std_echo_server -- --quick # 200 connections
//! cargo run --release --example std_echo_server -- --conns 5000 --msgs 3
//! ```
//!
//! The program is its own load generator: it re-runs itself with `--client` in a child
//! process, which opens the connections from coroutines too (blocking std::net code again).

use std::cell::Cell;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

/// How fast the load generator opens connections.
const CONNECTS_PER_MS: u64 = 20;

thread_local! {
    /// Connections open on the server now, and the most at any time.
    static OPEN: Cell<(usize, usize)> = const { Cell::new((0, 0)) };
}

// ANCHOR: server
/// Accepts `conns` connections and echoes each in its own coroutine; returns the bytes echoed.
#[coro::coroutine]
fn serve(listener: TcpListener, conns: usize) -> u64 {
    let mut handlers = Vec::with_capacity(conns);
    for _ in 0..conns {
        let (stream, _) = listener.accept().expect("accept");
        handlers.push(echo(stream));
    }
    handlers
        .into_iter()
        .map(|h| h.join().expect("echo coroutine"))
        .sum()
}

/// Echoes one connection until the peer closes it: plain blocking std::net code.
#[coro::coroutine]
fn echo(mut stream: TcpStream) -> u64 {
    OPEN.set((OPEN.get().0 + 1, OPEN.get().1.max(OPEN.get().0 + 1)));
    let total = echo_until_closed(&mut stream);
    OPEN.set((OPEN.get().0 - 1, OPEN.get().1));
    total
}

fn echo_until_closed(stream: &mut TcpStream) -> u64 {
    let mut buf = [0u8; 4096];
    let mut total = 0;
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return total,
            Ok(n) => {
                if stream.write_all(&buf[..n]).is_err() {
                    return total;
                }
                total += n as u64;
            }
        }
    }
}
// ANCHOR_END: server

// ANCHOR: client
/// One client: connects (the connects are spread over `ramp`),
/// waits until every client is connected, then sends `msgs` messages with a pause between
/// them and checks each echo byte for byte.
#[coro::coroutine]
fn client(addr: SocketAddr, id: usize, conns: usize, msgs: usize, start: Instant) -> bool {
    let ramp = Duration::from_micros((conns as u64 * 1000) / CONNECTS_PER_MS);
    std::thread::sleep(ramp * id as u32 / conns as u32);
    let Ok(mut stream) = TcpStream::connect(addr) else {
        return false;
    };
    // All connections are open at once from here on.
    std::thread::sleep(
        (start + ramp + Duration::from_millis(200)).saturating_duration_since(Instant::now()),
    );
    for m in 0..msgs {
        let msg = format!("hello from client {id}, message {m}\n");
        let mut back = vec![0u8; msg.len()];
        if stream.write_all(msg.as_bytes()).is_err() || stream.read_exact(&mut back).is_err() {
            return false;
        }
        if back != msg.as_bytes() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    true
}
// ANCHOR_END: client

struct Args {
    conns: usize,
    msgs: usize,
    client_of: Option<SocketAddr>,
}

fn args() -> Args {
    let mut a = Args {
        conns: 10_000,
        msgs: 5,
        client_of: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--quick" => (a.conns, a.msgs) = (200, 2),
            "--conns" => a.conns = it.next().and_then(|v| v.parse().ok()).expect("--conns N"),
            "--msgs" => a.msgs = it.next().and_then(|v| v.parse().ok()).expect("--msgs N"),
            "--client" => a.client_of = it.next().and_then(|v| v.parse().ok()),
            other => panic!("unknown argument {other}; use --quick, --conns N, --msgs N"),
        }
    }
    a
}

/// Runs `conns` clients against `addr` (each a coroutine on this thread); true if every one
/// got its echoes back intact.
fn run_clients(addr: SocketAddr, conns: usize, msgs: usize) -> bool {
    let ok = coro::run(move || {
        let start = Instant::now();
        let hs: Vec<_> = (0..conns)
            .map(|i| client(addr, i, conns, msgs, start))
            .collect();
        hs.into_iter()
            .map(|h| h.join().unwrap_or(false))
            .filter(|&ok| ok)
            .count()
    });
    if ok != conns {
        eprintln!("only {ok} of {conns} clients got their echoes back intact");
    }
    ok == conns
}

/// Where the load generator runs: a child process (its own fd table: 10,000 connections need
/// 20,000 fds in all), or a thread of this process (small runs, tests).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Clients {
    Process,
    Thread,
}

/// Serves `conns` connections from this thread's coroutines while the clients run; returns
/// the bytes echoed and the most connections open at once. Panics if anything went wrong.
pub(crate) fn demo(conns: usize, msgs: usize, clients: Clients) -> (u64, usize) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    // std listens with a backlog of 128; 10,000 clients connecting within half a second
    // overflow it on a busy machine (and the kernel then drops SYNs, which the clients resend
    // after 1, 3, 7... seconds). The one libc call of this program raises it to somaxconn.
    // SAFETY: listen(2) on our own listening socket only changes its backlog.
    unsafe { libc::listen(std::os::fd::AsRawFd::as_raw_fd(&listener), 4096) };
    let addr = listener.local_addr().expect("local_addr");
    let load: Box<dyn FnOnce() -> bool> = match clients {
        Clients::Process => {
            let mut child =
                std::process::Command::new(std::env::current_exe().expect("current_exe"))
                    .args(["--client", &addr.to_string(), "--conns", &conns.to_string()])
                    .args(["--msgs", &msgs.to_string()])
                    .spawn()
                    .expect("start the client process");
            Box::new(move || child.wait().expect("client process").success())
        }
        Clients::Thread => {
            let t = std::thread::spawn(move || run_clients(addr, conns, msgs));
            Box::new(move || t.join().unwrap_or(false))
        }
    };
    OPEN.set((0, 0));
    let echoed = coro::run(move || serve(listener, conns).join().expect("server"));
    assert!(load(), "the clients failed");
    let expected: usize = (0..conns)
        .flat_map(|id| {
            (0..msgs).map(move |m| format!("hello from client {id}, message {m}\n").len())
        })
        .sum();
    assert_eq!(echoed, expected as u64, "echoed byte count");
    (echoed, OPEN.get().1)
}

fn main() {
    let a = args();
    if let Some(addr) = a.client_of {
        std::process::exit(if run_clients(addr, a.conns, a.msgs) {
            0
        } else {
            1
        });
    }
    let start = Instant::now();
    // Both ends of every connection in one process need two fds each: past a few thousand,
    // the clients get their own process (and fd table).
    let clients = if a.conns <= 2000 {
        Clients::Thread
    } else {
        Clients::Process
    };
    let (echoed, peak) = demo(a.conns, a.msgs, clients);
    println!(
        "served {} connections, {peak} open at once ({} messages, {echoed} bytes echoed byte-exact), on one thread in {:.2?}",
        a.conns,
        a.conns * a.msgs,
        start.elapsed()
    );
}
