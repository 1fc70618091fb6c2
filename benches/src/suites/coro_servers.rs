//! coro's echo servers, run in a child process by `coro-bench server KIND ADDR`:
//!
//! - `coro`: `coro::net` on one thread, each connection a coroutine on the thread's shared
//!   stacks (as libco servers run their connections) with a 512-byte read buffer in its frame.
//!   Measured both ways: with 1,000 connections, shared stacks gave 298k requests per server
//!   CPU-second against 265k on owned stacks in the same conditions: a thousand owned stacks
//!   mean a thousand cold stack pages and TLB entries on the way into each coroutine, one
//!   shared stack stays hot in cache, and copying a ~600-byte frame costs less than the misses.
//! - `coro-2t`: the same on two threads (`Runtime::builder().threads(2)`), each with its own
//!   `SO_REUSEPORT` listener on the same port, so the kernel spreads the connections.
//! - `coro-std`: `std::net` inside coroutines, made non-blocking by coro's syscall hooks, one
//!   thread, otherwise as `coro`.
//!
//! The `hold` suite's servers, coro's among them, are in `hold_servers.rs`.

use super::servers::{BUF, announce, echo};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Mutex;

/// Whether this build has the server `kind` (all of them, now that coro::net is in).
pub(crate) fn available(kind: &str) -> bool {
    super::servers::KINDS.contains(&kind) || super::hold_servers::is_hold(kind)
}

/// Why the server `kind` is not in this build.
pub(crate) fn missing(kind: &str) -> String {
    format!("there is no server {kind}")
}

/// Runs the coro server `kind` on `addr`, or says why it cannot.
pub(crate) fn serve(kind: &str, addr: &str) -> Result<(), String> {
    match kind {
        "coro" => net_server(addr, 1),
        "coro-2t" => net_server(addr, 2),
        "coro-std" => coro::run(|| std_server(addr)),
        other => Err(format!(
            "unknown server kind {other:?} (one of {:?})",
            super::servers::KINDS
        )),
    }
}

/// Echoes one connection with a heap buffer of [`BUF`] bytes, as the peers' servers do.
fn echo_heap<S: Read + Write>(mut s: S) {
    echo(&mut s, &mut vec![0u8; BUF]);
}

/// Echoes one connection with a small buffer in the coroutine's own frame.
fn echo_small<S: Read + Write>(mut s: S) {
    echo(&mut s, &mut [0u8; 512]);
}

/// Spawns a connection coroutine: on a shared stack with [`echo_small`], or on its own stack
/// with [`echo_heap`].
fn spawn_conn<S: Read + Write + 'static>(s: S, shared: bool) {
    let spawned = if shared {
        // SAFETY: the body keeps every reference into its stack to itself while it
        // waits (shared stacks move a suspended coroutine's frames away).
        unsafe { coro::Builder::new().shared(true) }.spawn(move || echo_small(s))
    } else {
        coro::Builder::new().spawn(move || echo_heap(s))
    };
    if let Err(e) = spawned {
        eprintln!("coro server: spawn: {e}");
    }
}

/// The coro::net accept loop of one thread.
fn accept_loop(l: &coro::net::TcpListener, shared: bool) -> Result<(), String> {
    loop {
        match l.accept() {
            Ok((s, _)) => {
                let _ = s.set_nodelay(true);
                spawn_conn(s, shared);
            }
            Err(e) => eprintln!("coro server: accept: {e}"),
        }
    }
}

/// `coro` and `coro-2t`: one `SO_REUSEPORT` listener per thread, all on the port the first
/// one got, each thread its own scheduler.
fn net_server(addr: &str, threads: usize) -> Result<(), String> {
    let first = coro::net::TcpListener::bind_reuseport(addr).map_err(|e| e.to_string())?;
    let local = first.local_addr().map_err(|e| e.to_string())?;
    announce(local)?;
    let first = Mutex::new(Some(first.into_std().map_err(|e| e.to_string())?));
    let results = coro::Runtime::builder()
        .threads(threads)
        .try_run(|_| {
            let taken = first.lock().map_err(|e| e.to_string())?.take();
            let l = match taken {
                Some(l) => coro::net::TcpListener::from_std(l),
                None => coro::net::TcpListener::bind_reuseport(local),
            }
            .map_err(|e| e.to_string())?;
            accept_loop(&l, true)
        })
        .map_err(|e| e.to_string())?;
    results.into_iter().collect()
}

/// A std::net accept loop inside `coro::run`: the hooks turn every blocking call into a wait
/// on coro's event loop.
fn std_server(addr: &str) -> Result<(), String> {
    let l = TcpListener::bind(addr).map_err(|e| e.to_string())?;
    announce(l.local_addr().map_err(|e| e.to_string())?)?;
    loop {
        match l.accept() {
            Ok((s, _)) => {
                let _ = s.set_nodelay(true);
                spawn_conn::<TcpStream>(s, true);
            }
            Err(e) => eprintln!("coro server: accept: {e}"),
        }
    }
}
