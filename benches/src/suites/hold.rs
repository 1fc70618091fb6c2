//! `hold --conns N`: N idle connections held open by one coro server process (connection
//! coroutines on shared stacks); reports the server's peak RSS growth per connection.

use super::child::ServerProc;
use crate::Args;
use crate::harness::figure;
use crate::sys;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;

/// Runs the suite.
pub(crate) fn run(args: &Args) -> Result<(), String> {
    let conns: usize = args.get("--conns", 10_000)?;
    let kind = "coro-hold";
    if !super::coro_servers::available(kind) {
        println!("hold: skipped: {}", super::coro_servers::missing(kind));
        return Ok(());
    }
    let limit = sys::raise_nofile(conns as u64 + 64).map_err(|e| format!("RLIMIT_NOFILE: {e}"))?;
    if limit < conns as u64 + 64 {
        return Err(format!(
            "{conns} connections need {} file descriptors in the client and in the server, but \
             RLIMIT_NOFILE cannot go past {limit} here (raising the hard limit needs \
             CAP_SYS_RESOURCE); use --conns {} or less",
            conns + 64,
            limit.saturating_sub(64)
        ));
    }
    let mut server = ServerProc::start(kind)?;
    let pid = Some(server.pid());
    std::thread::sleep(std::time::Duration::from_millis(100));
    sys::reset_peak_rss(pid).map_err(|e| format!("clear_refs of the server: {e}"))?;
    let base = sys::status_bytes(pid, "VmRSS").map_err(|e| e.to_string())?;
    println!(
        "hold: server {kind} pid {} listening on {}, RSS {} KiB",
        server.pid(),
        server.addr,
        base / 1024
    );
    let fds = crate::client::connect_many(server.addr, conns).map_err(|e| e.to_string())?;
    // One byte there and back on every connection: the server has accepted each one and its
    // coroutine has run and gone back to waiting in read.
    let mut streams: Vec<std::net::TcpStream> =
        fds.into_iter().map(std::net::TcpStream::from).collect();
    for s in &mut streams {
        s.write_all(b"h").map_err(|e| format!("ping: {e}"))?;
    }
    let mut b = [0u8; 1];
    for (i, s) in streams.iter_mut().enumerate() {
        s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .map_err(|e| e.to_string())?;
        s.read_exact(&mut b)
            .map_err(|e| format!("connection {i}: no echo of the ping from the server: {e}"))?;
    }
    if !server.alive() {
        return Err("the server died while connections were opened".into());
    }
    let peak = sys::status_bytes(pid, "VmHWM").map_err(|e| e.to_string())?;
    let per = (peak.saturating_sub(base)) as f64 / conns as f64;
    println!(
        "hold: {conns} connections held, server peak RSS {} KiB (+{} KiB): {per:.0} bytes per connection",
        peak / 1024,
        (peak - base) / 1024
    );
    figure(
        "hold_rss_per_conn",
        "bytes",
        &[("coro", per), ("conns", conns as f64)],
    );
    let _keep: Vec<OwnedFd> = streams.into_iter().map(OwnedFd::from).collect();
    Ok(())
}
