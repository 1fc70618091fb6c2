//! `echo --conns C --secs S --size B [--runs R] [--servers a,b]`: every echo server in its own
//! child process, one load client (`client.rs`) in this process, the same for all.

use super::child::ServerProc;
use super::servers::KINDS;
use crate::Args;
use crate::client::{self, LoadResult};
use crate::harness::{figure, median};
use std::time::Duration;

/// Runs the suite.
pub(crate) fn run(args: &Args) -> Result<(), String> {
    let conns: usize = args.get("--conns", 1000)?;
    let secs: f64 = args.get("--secs", 2.0)?;
    let size: usize = args.get("--size", 64)?;
    let runs: usize = args.get::<usize>("--runs", 1)?.max(1);
    let warmup: f64 = args.get("--warmup", 0.5)?;
    if size == 0 || size > 16 * 1024 {
        return Err("--size must be 1..=16384 bytes".into());
    }
    let wanted: Vec<String> = match args.get_str("--servers") {
        Some(list) => list.split(',').map(str::to_string).collect(),
        None => KINDS.iter().map(|s| s.to_string()).collect(),
    };
    let mut kinds = Vec::new();
    for k in &wanted {
        if !KINDS.contains(&k.as_str()) {
            return Err(format!("unknown server {k:?} (one of {KINDS:?})"));
        }
        if super::coro_servers::available(k) {
            kinds.push(k.clone());
        } else {
            println!("echo: skipping {k}: {}", super::coro_servers::missing(k));
        }
    }
    let limit =
        crate::sys::raise_nofile(conns as u64 + 64).map_err(|e| format!("RLIMIT_NOFILE: {e}"))?;
    if limit < conns as u64 + 64 {
        return Err(format!(
            "{conns} connections need more file descriptors than RLIMIT_NOFILE allows here ({limit})"
        ));
    }
    println!(
        "echo: {conns} connections, {size}-byte messages, {secs} s measured after {warmup} s warm-up, \
         {runs} run(s), servers {kinds:?}"
    );
    let mut results: Vec<Vec<LoadResult>> = vec![Vec::new(); kinds.len()];
    for r in 0..runs {
        for k in 0..kinds.len() {
            // Rotate the order each run so that no server always goes first.
            let i = (r + k) % kinds.len();
            let kind = &kinds[i];
            let mut res = one(kind, conns, size, warmup, secs, &[])?;
            println!(
                "echo {kind:<10} run {}: {:>9.0} req/s  p99 {:>9.1} us  {:>9.0} req per server CPU-s  (server CPU {:.2} s)",
                r + 1,
                res.rps(),
                res.p99_us(),
                res.per_cpu_second(),
                res.server_cpu
            );
            if res.requests == 0 {
                println!(
                    "echo {kind:<10} run {}: WARNING: no echo completed in the window",
                    r + 1
                );
            }
            results[i].push(res);
        }
    }
    let mut col = |f: &dyn Fn(&mut LoadResult) -> f64| -> Vec<(&str, f64)> {
        kinds
            .iter()
            .zip(results.iter_mut())
            .map(|(k, rs)| {
                let mut v: Vec<f64> = rs.iter_mut().map(f).collect();
                (k.as_str(), median(&mut v))
            })
            .collect()
    };
    figure(&format!("echo_rps_{conns}"), "req/s", &col(&|r| r.rps()));
    figure(&format!("echo_p99_{conns}"), "us", &col(&|r| r.p99_us()));
    figure(
        &format!("echo_eff_{conns}"),
        "req/cpu-s",
        &col(&|r| r.per_cpu_second()),
    );
    Ok(())
}

/// One server, one load run.
pub(crate) fn one(
    kind: &str,
    conns: usize,
    size: usize,
    warmup: f64,
    secs: f64,
    env: &[(&str, &str)],
) -> Result<LoadResult, String> {
    let t0 = std::time::Instant::now();
    let mut server = ServerProc::start_with(kind, env)?;
    let fds = client::connect_many(server.addr, conns).map_err(|e| format!("{kind}: {e}"))?;
    let t1 = std::time::Instant::now();
    let res = client::run_load(
        &fds,
        size,
        Duration::from_secs_f64(warmup),
        Duration::from_secs_f64(secs),
        server.pid(),
    )
    .map_err(|e| format!("{kind}: {e}"))?;
    if !server.alive() {
        return Err(format!("server {kind} died during the run"));
    }
    let t2 = std::time::Instant::now();
    drop(fds);
    drop(server);
    if conns >= 5000 {
        println!(
            "echo {kind:<10} start+connect {:.2} s, load {:.2} s, teardown {:.2} s",
            (t1 - t0).as_secs_f64(),
            (t2 - t1).as_secs_f64(),
            t2.elapsed().as_secs_f64()
        );
    }
    Ok(res)
}
