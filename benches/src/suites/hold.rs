//! `hold --conns N [--window W] [--servers a,b]`: N idle connections held open by the same
//! server written the way each peer's users would write it (`hold_servers.rs`: coro, coro-std,
//! tokio-ct, may), each in its own child process, one after the other in the same run.
//!
//! For each server: start it, let it settle, reset its peak RSS (`clear_refs`) and read its RSS
//! as the base; then open N connections and send one byte on each as soon as it is connected,
//! with at most [`WINDOW`] connections between their connect and their echo at any time
//! (`--window`), until every one has had its byte back: each connection has been accepted, its
//! task has run, echoed and gone back to wait in `read`, where it stays. The server's peak RSS
//! (`VmHWM`) over the base, divided by N, is the RSS per held connection (`hold_rss_per_conn`,
//! bytes); the wall time from the first connect to the last echo is the time to accept them all
//! (`hold_accept_ms`, ms). The client (`client::connect_and_ping`) is one thread on plain epoll,
//! the same for every server. Socket buffers are kernel memory and in neither figure; what a
//! runtime allocates at start-up is in the base (may fills a pool of 1,000 coroutines, stacks
//! touched, so its first 1,000 connections cost less than the next). The server is killed
//! before the client closes its side.

use super::child::ServerProc;
use super::hold_servers::SERVERS;
use crate::Args;
use crate::harness::figure;
use crate::sys;
use std::time::{Duration, Instant};

/// Time a fresh server gets to start its threads before its base RSS is read.
const SETTLE: Duration = Duration::from_millis(100);

/// Time the last connections' tasks get to park after their echo, before the peak is read.
const PARK: Duration = Duration::from_millis(100);

/// The longest one server may take to echo every connection's ping, from the first connect
/// (the client also gives up after 30 s without an echo).
const LIMIT: Duration = Duration::from_secs(120);

/// Connections between their connect and their echo at any time, by default: fewer than the
/// smallest listen backlog among the servers (std's and mio's `bind` listen with 128; coro::net
/// and may with 1,024), so that no server's accept queue overflows, no SYN is dropped and no
/// connect waits a second for the kernel to retry it. The time then measures the servers
/// rather than their backlogs. `--window 512` shows the burst instead.
const WINDOW: usize = 64;

/// What one server measured.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Held {
    /// The server's RSS before the first connection, in bytes.
    pub(crate) base: u64,
    /// The server's peak RSS once every connection is held, in bytes.
    pub(crate) peak: u64,
    /// Peak RSS growth per held connection, in bytes.
    pub(crate) rss_per_conn: f64,
    /// From the first connect until every connection's ping was echoed, in milliseconds.
    pub(crate) accept_ms: f64,
}

/// Runs the suite.
pub(crate) fn run(args: &Args) -> Result<(), String> {
    let conns: usize = args.get("--conns", 10_000)?;
    let window: usize = args.get("--window", WINDOW)?;
    if conns == 0 || window == 0 {
        return Err("--conns and --window must be at least 1".into());
    }
    let servers: Vec<(&str, &str)> = match args.get_str("--servers") {
        None => SERVERS.to_vec(),
        Some(list) => list
            .split(',')
            .map(|c| {
                SERVERS
                    .iter()
                    .find(|&&(col, _)| col == c)
                    .copied()
                    .ok_or_else(|| format!("unknown server {c:?} (one of {SERVERS:?})"))
            })
            .collect::<Result<_, _>>()?,
    };
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
    println!(
        "hold: {conns} connections per server, {window} at a time between connect and echo, \
         {}-byte buffers, servers {:?}",
        super::hold_servers::HOLD_BUF,
        servers.iter().map(|&(_, k)| k).collect::<Vec<_>>()
    );
    let mut rss = Vec::new();
    let mut accept = Vec::new();
    let mut failed = Vec::new();
    for &(col, kind) in &servers {
        let held = ServerProc::start(kind).and_then(|server| measure(server, conns, window));
        match held {
            Ok(h) => {
                println!(
                    "hold {col:<9} RSS {:>7} KiB -> peak {:>7} KiB: {:>6.0} bytes per connection, \
                     all {conns} accepted and echoed in {:.0} ms",
                    h.base / 1024,
                    h.peak / 1024,
                    h.rss_per_conn,
                    h.accept_ms
                );
                rss.push((col, h.rss_per_conn));
                accept.push((col, h.accept_ms));
            }
            Err(e) => {
                println!("hold {col:<9} FAILED: {e}");
                failed.push(col);
                rss.push((col, f64::NAN));
                accept.push((col, f64::NAN));
            }
        }
    }
    rss.push(("conns", conns as f64));
    accept.push(("conns", conns as f64));
    figure("hold_rss_per_conn", "bytes", &rss);
    figure("hold_accept_ms", "ms", &accept);
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!("servers failed: {failed:?}"))
    }
}

/// Holds `conns` connections on `server`, `window` at a time between connect and echo, as
/// the module docs describe, then kills it.
pub(crate) fn measure(mut server: ServerProc, conns: usize, window: usize) -> Result<Held, String> {
    let pid = Some(server.pid());
    std::thread::sleep(SETTLE);
    sys::reset_peak_rss(pid).map_err(|e| format!("clear_refs of the server: {e}"))?;
    let base = sys::status_bytes(pid, "VmRSS").map_err(|e| e.to_string())?;
    let start = Instant::now();
    let streams = crate::client::connect_and_ping(server.addr, conns, window, LIMIT)
        .map_err(|e| e.to_string())?;
    let accept_ms = start.elapsed().as_secs_f64() * 1e3;
    std::thread::sleep(PARK);
    if !server.alive() {
        return Err("the server died while connections were opened".into());
    }
    let peak = sys::status_bytes(pid, "VmHWM").map_err(|e| e.to_string())?;
    // Killed first, so that the server's side takes the TIME_WAITs, not the client's ports.
    drop(server);
    drop(streams);
    Ok(Held {
        base,
        peak,
        rss_per_conn: peak.saturating_sub(base) as f64 / conns as f64,
        accept_ms,
    })
}
