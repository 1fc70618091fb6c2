//! The echo servers, each run in its own child process by `coro-bench server KIND ADDR`.
//!
//! A server binds ADDR (port 0 picks a free one), prints `LISTENING <addr>` on stdout, then
//! echoes every connection until it is killed. Every server does the same work per request:
//! read up to [`BUF`] bytes, write them all back, TCP_NODELAY on each accepted socket.
//! The `hold` suite's servers (`*-hold`) are in `hold_servers.rs`.
//!
//! A server started by the bench (see `child.rs`) finds [`LIFELINE`] set in its environment
//! and its stdin a pipe from the bench: it exits as soon as that pipe reaches end-of-file, that
//! is when the bench drops its handle or dies, so that no server outlives the bench.

use std::io::{Read, Write};

/// Read buffer of the peers' servers, per connection.
pub(crate) const BUF: usize = 4096;

/// The server kinds, in FIGURE column order (coro's first).
pub(crate) const KINDS: &[&str] = &[
    "coro",
    "coro-2t",
    "coro-std",
    "tokio-ct",
    "tokio-mt2",
    "may-1",
    "may-2",
];

/// Echoes one connection through `buf` until the peer closes it or an error: the loop every
/// blocking-style server here runs (tokio's is the same loop, awaited).
#[inline]
pub(crate) fn echo<S: Read + Write>(s: &mut S, buf: &mut [u8]) {
    loop {
        match s.read(buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if s.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
}

/// Announces the bound address to the parent, which waits for this line.
pub(crate) fn announce(addr: std::net::SocketAddr) -> Result<(), String> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "LISTENING {addr}")
        .and_then(|()| out.flush())
        .map_err(|e| e.to_string())
}

/// Entry point of the hidden `server KIND ADDR` sub-command.
pub(crate) fn serve(args: &[String]) -> Result<(), String> {
    let [kind, addr] = args else {
        return Err("usage: coro-bench server KIND ADDR".to_string());
    };
    if std::env::var_os(LIFELINE).is_some() {
        watch_lifeline()?;
    }
    crate::sys::raise_nofile(1 << 20).map_err(|e| format!("RLIMIT_NOFILE: {e}"))?;
    match kind.as_str() {
        k if super::hold_servers::is_hold(k) => super::hold_servers::serve(k, addr),
        "tokio-ct" => tokio_server(addr, None),
        "tokio-mt2" => tokio_server(addr, Some(2)),
        "may-1" => may_server(addr, 1),
        "may-2" => may_server(addr, 2),
        other => super::coro_servers::serve(other, addr),
    }
}

/// The environment variable that tells a server its stdin is the bench's lifeline.
pub(crate) const LIFELINE: &str = "CORO_BENCH_LIFELINE";

/// Starts a thread that reads stdin until end-of-file, then ends the process.
fn watch_lifeline() -> Result<(), String> {
    std::thread::Builder::new()
        .name("lifeline".into())
        .spawn(|| {
            let mut sink = [0u8; 64];
            let mut stdin = std::io::stdin().lock();
            loop {
                match stdin.read(&mut sink) {
                    Ok(0) => std::process::exit(0),
                    Ok(_) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(_) => std::process::exit(0),
                }
            }
        })
        .map(drop)
        .map_err(|e| format!("lifeline thread: {e}"))
}

/// tokio: current_thread (`workers` None) or the multi-thread runtime with that many workers.
fn tokio_server(addr: &str, workers: Option<usize>) -> Result<(), String> {
    let rt = match workers {
        None => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
        Some(n) => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(n)
            .enable_all()
            .build(),
    }
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
                    eprintln!("tokio server: accept: {e}");
                    continue;
                }
            };
            let _ = s.set_nodelay(true);
            tokio::spawn(async move {
                let mut buf = vec![0u8; BUF];
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

/// may with `workers` worker threads.
fn may_server(addr: &str, workers: usize) -> Result<(), String> {
    may::config().set_workers(workers);
    let l = may::net::TcpListener::bind(addr).map_err(|e| e.to_string())?;
    announce(l.local_addr().map_err(|e| e.to_string())?)?;
    let h = may::go!(move || {
        for s in l.incoming() {
            let mut s = match s {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("may server: accept: {e}");
                    continue;
                }
            };
            let _ = s.set_nodelay(true);
            may::go!(move || echo(&mut s, &mut vec![0u8; BUF]));
        }
    });
    h.join().map_err(|_| "may accept loop panicked".to_string())
}
