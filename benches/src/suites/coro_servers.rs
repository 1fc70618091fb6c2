//! coro's echo servers, run in a child process by `coro-bench server KIND ADDR`:
//!
//! - `coro-std`: `std::net` inside coroutines, made non-blocking by coro's syscall hooks, one
//!   thread, each connection a coroutine on its own (pooled) stack.
//! - `coro-hold`: the same on **shared** stacks, for the `hold` suite: each connection's
//!   coroutine keeps a 512-byte read buffer in its frame, so a parked connection costs its
//!   live stack bytes (saved off the shared stack), its control block and the socket's state.
//! - `coro`, `coro-2t`: `coro::net` on one and on two threads, once the runtime's net module
//!   has its types (until then they are reported as missing).

use super::servers::{BUF, announce};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};

/// Whether this build has the server `kind`.
pub(crate) fn available(kind: &str) -> bool {
    matches!(kind, "coro-std" | "coro-hold") || !kind.starts_with("coro")
}

/// Why the server `kind` is not in this build.
pub(crate) fn missing(kind: &str) -> String {
    format!("server {kind} needs coro::net's TcpListener/TcpStream, which are not on main yet")
}

/// Runs the coro server `kind` on `addr`, or says why it cannot.
pub(crate) fn serve(kind: &str, addr: &str) -> Result<(), String> {
    match kind {
        "coro-std" => coro::run(|| std_server(addr, false)),
        "coro-hold" => coro::run(|| std_server(addr, true)),
        "coro" | "coro-2t" => Err(missing(kind)),
        other => Err(format!(
            "unknown server kind {other:?} (one of {:?})",
            super::servers::KINDS
        )),
    }
}

/// Echoes one connection with a heap buffer of [`BUF`] bytes, as the peers' servers do.
fn echo_heap(mut s: TcpStream) {
    let mut buf = vec![0u8; BUF];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if s.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
}

/// Echoes one connection with a small buffer in the coroutine's own frame.
fn echo_small(mut s: TcpStream) {
    let mut buf = [0u8; 512];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if s.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
}

/// A std::net accept loop inside `coro::run`: the hooks turn every blocking call into a wait
/// on coro's event loop. `shared` puts the connection coroutines on shared stacks.
fn std_server(addr: &str, shared: bool) -> Result<(), String> {
    let l = TcpListener::bind(addr).map_err(|e| e.to_string())?;
    announce(l.local_addr().map_err(|e| e.to_string())?)?;
    loop {
        let s = match l.accept() {
            Ok((s, _)) => s,
            Err(e) => {
                eprintln!("coro server: accept: {e}");
                continue;
            }
        };
        let _ = s.set_nodelay(true);
        let spawned = if shared {
            coro::Builder::new()
                .shared(true)
                .spawn(move || echo_small(s))
        } else {
            coro::Builder::new().spawn(move || echo_heap(s))
        };
        if let Err(e) = spawned {
            eprintln!("coro server: spawn: {e}");
        }
    }
}
