//! The `hold` suite's servers: one idle-connection server written four ways, each the way its
//! peer's users would write it, each run in its own child process by `coro-bench server KIND
//! ADDR`.
//!
//! Every one accepts each connection, sets TCP_NODELAY, gives it a task of its own with a
//! [`HOLD_BUF`]-byte read buffer *inside* that task (the coroutine's frame, or the tokio task's
//! future), and echoes what it reads until the peer closes it. The `hold` client sends one
//! byte on every connection and waits for it to come back, after which each connection's task
//! sits parked in `read`: what the suite measures is what that parked task costs.
//!
//! - `coro-hold` (column `coro`): `coro::net` inside `coro::run`, one coroutine per connection
//!   on the thread's **shared** stacks (as libco's servers run their connections), so a parked
//!   connection costs its live frames (saved off the shared stack), its control block and the
//!   socket's registration.
//! - `coro-std-hold` (`coro-std`): the same with `std::net`, made to wait on coro's event loop
//!   by the syscall hooks: the code of a std::net server ported unchanged.
//! - `tokio-ct-hold` (`tokio-ct`): a `current_thread` runtime, `tokio::net::TcpStream` and one
//!   `tokio::spawn`ed task per connection, the buffer an array in the task's future (as
//!   tokio's README writes its echo server).
//! - `may-hold` (`may`): may with one worker, `may::net`, one `go!` coroutine per connection on
//!   may's default stack, the buffer an array in its frame.

use super::servers::{announce, echo};
use std::io::{Read, Write};

/// The read buffer of every hold server, per connection, in bytes.
pub(crate) const HOLD_BUF: usize = 512;

/// The hold servers: (FIGURE column, server kind), in column order, coro's first.
pub(crate) const SERVERS: &[(&str, &str)] = &[
    ("coro", "coro-hold"),
    ("coro-std", "coro-std-hold"),
    ("tokio-ct", "tokio-ct-hold"),
    ("may", "may-hold"),
];

/// Whether `kind` is one of the hold servers.
pub(crate) fn is_hold(kind: &str) -> bool {
    SERVERS.iter().any(|&(_, k)| k == kind)
}

/// Runs the hold server `kind` on `addr` until the process is killed.
pub(crate) fn serve(kind: &str, addr: &str) -> Result<(), String> {
    match kind {
        "coro-hold" => coro::run(|| coro_net(addr)),
        "coro-std-hold" => coro::run(|| coro_std(addr)),
        "tokio-ct-hold" => tokio_ct(addr),
        "may-hold" => may_one_worker(addr),
        other => Err(format!(
            "unknown hold server {other:?} (one of {SERVERS:?})"
        )),
    }
}

/// A connection's whole life: echo through a [`HOLD_BUF`]-byte buffer in this frame.
fn hold<S: Read + Write>(mut s: S) {
    echo(&mut s, &mut [0u8; HOLD_BUF]);
}

/// Spawns `hold(s)` as a coroutine on the thread's shared stacks.
fn spawn_shared<S: Read + Write + 'static>(s: S) {
    // SAFETY: `hold` keeps every reference into its stack (the buffer) to itself while it
    // waits; nothing outside the coroutine points into its frames, which shared stacks move
    // away while it is suspended.
    let builder = unsafe { coro::Builder::new().shared(true) };
    if let Err(e) = builder.spawn(move || hold(s)) {
        eprintln!("coro hold server: spawn: {e}");
    }
}

/// `coro-hold`: coro::net, one shared-stack coroutine per connection.
fn coro_net(addr: &str) -> Result<(), String> {
    let l = coro::net::TcpListener::bind(addr).map_err(|e| e.to_string())?;
    announce(l.local_addr().map_err(|e| e.to_string())?)?;
    loop {
        match l.accept() {
            Ok((s, _)) => {
                let _ = s.set_nodelay(true);
                spawn_shared(s);
            }
            Err(e) => eprintln!("coro hold server: accept: {e}"),
        }
    }
}

/// `coro-std-hold`: std::net through the hooks, one shared-stack coroutine per connection.
fn coro_std(addr: &str) -> Result<(), String> {
    let l = std::net::TcpListener::bind(addr).map_err(|e| e.to_string())?;
    announce(l.local_addr().map_err(|e| e.to_string())?)?;
    loop {
        match l.accept() {
            Ok((s, _)) => {
                let _ = s.set_nodelay(true);
                spawn_shared(s);
            }
            Err(e) => eprintln!("coro-std hold server: accept: {e}"),
        }
    }
}

/// `tokio-ct-hold`: current_thread runtime, one task per connection.
fn tokio_ct(addr: &str) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let l = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| e.to_string())?;
        announce(l.local_addr().map_err(|e| e.to_string())?)?;
        loop {
            let (mut s, _) = match l.accept().await {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("tokio hold server: accept: {e}");
                    continue;
                }
            };
            let _ = s.set_nodelay(true);
            tokio::spawn(async move {
                let mut buf = [0u8; HOLD_BUF];
                loop {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            if s.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                    }
                }
            });
        }
    })
}

/// `may-hold`: may with one worker, one coroutine per connection.
fn may_one_worker(addr: &str) -> Result<(), String> {
    may::config().set_workers(1);
    let l = may::net::TcpListener::bind(addr).map_err(|e| e.to_string())?;
    announce(l.local_addr().map_err(|e| e.to_string())?)?;
    let h = may::go!(move || {
        for s in l.incoming() {
            let s = match s {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("may hold server: accept: {e}");
                    continue;
                }
            };
            let _ = s.set_nodelay(true);
            may::go!(move || hold(s));
        }
    });
    h.join()
        .map_err(|_| "may hold accept loop panicked".to_string())
}
