//! Unit tests of the bench's own logic: the harness arithmetic, the argument parser, the /proc
//! readers and the load client against a local echo thread.

use crate::client::{self, LoadResult};
use crate::harness::{self, Contender, median};
use crate::{Args, sys};
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::time::Duration;

#[test]
fn median_of_odd_and_even_counts() {
    assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
    assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), 2.5);
    assert!(median(&mut []).is_nan());
}

#[test]
fn figure_values_are_formatted_by_size() {
    assert_eq!(harness::fmt_value(2.345, "bytes"), "2.35");
    assert_eq!(harness::fmt_value(368.4, "bytes"), "368");
    assert_eq!(harness::fmt_value(126.789, "ns"), "126.79");
    assert_eq!(harness::fmt_value(12345.6, "ns"), "12346");
    assert_eq!(harness::fmt_value(f64::NAN, "us"), "nan");
}

#[test]
fn figure_lines_parse_back() {
    let text = "switch: a human line\n\
                FIGURE switch_roundtrip ns coro 1.80 corosensei 1.59 context 109 generator nan\n\
                FIGURE switch_roundtrip_shared ns coro 11.48 owned 1.80\n";
    let figs = crate::suites::switch::parse_figures(text);
    let get = |f: &str, c: &str| {
        figs.iter()
            .find(|(ff, cc, _)| ff == f && cc == c)
            .map(|(_, _, v)| *v)
    };
    assert_eq!(get("switch_roundtrip", "coro"), Some(1.80));
    assert_eq!(get("switch_roundtrip", "context"), Some(109.0));
    assert!(get("switch_roundtrip", "generator").unwrap().is_nan());
    assert_eq!(get("switch_roundtrip_shared", "owned"), Some(1.80));
    assert_eq!(get("switch", "a"), None);
}

#[test]
fn args_parse_values_defaults_and_errors() {
    let a = Args {
        rest: vec![
            "--count".into(),
            "10_000_000".into(),
            "--servers".into(),
            "a,b".into(),
        ],
    };
    assert_eq!(a.get("--count", 1usize), Ok(10_000_000));
    assert_eq!(a.get("--secs", 2.5f64), Ok(2.5));
    assert_eq!(a.get_str("--servers"), Some("a,b"));
    let bad = Args {
        rest: vec!["--count".into(), "many".into()],
    };
    assert!(bad.get("--count", 1usize).is_err());
    let missing = Args {
        rest: vec!["--count".into()],
    };
    assert!(missing.get("--count", 1usize).is_err());
}

#[test]
fn compare_reports_every_contender_in_order() {
    let mut cs = vec![
        Contender::timed("fast", Duration::from_nanos),
        Contender::timed("slow", |iters| Duration::from_nanos(iters * 10)),
    ];
    let opts = harness::Options {
        rounds: 3,
        sample: Duration::from_micros(200),
    };
    let ms = harness::compare("test", &mut cs, opts);
    assert_eq!(ms.len(), 2);
    assert!((harness::get(&ms, "fast") - 1.0).abs() < 0.01, "{ms:?}");
    assert!((harness::get(&ms, "slow") - 10.0).abs() < 0.1, "{ms:?}");
    assert!(harness::get(&ms, "absent").is_nan());
}

#[test]
fn proc_readers_see_this_process() {
    let rss = sys::status_bytes(None, "VmRSS").expect("VmRSS");
    let hwm = sys::status_bytes(None, "VmHWM").expect("VmHWM");
    assert!(rss > 0 && hwm >= rss / 2, "rss {rss} hwm {hwm}");
    let cpu = sys::cpu_seconds(std::process::id()).expect("cpu");
    assert!(cpu >= 0.0);
    assert!(sys::status_bytes(None, "NoSuchField").is_err());
}

#[test]
fn p99_and_rates_of_a_load_result() {
    let mut r = LoadResult {
        requests: 100,
        elapsed: Duration::from_secs(2),
        latencies: (1..=100).map(|us| us * 1000).collect(),
        server_cpu: 0.5,
    };
    assert_eq!(r.p99_us(), 99.0);
    assert_eq!(r.rps(), 50.0);
    assert_eq!(r.per_cpu_second(), 200.0);
}

#[test]
fn load_client_round_trips_against_an_echo_thread() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = match l.local_addr().expect("addr") {
        std::net::SocketAddr::V4(a) => a,
        other => panic!("not v4: {other}"),
    };
    let server = std::thread::spawn(move || {
        let mut handlers = Vec::new();
        for _ in 0..4 {
            let (mut s, _) = l.accept().expect("accept");
            handlers.push(std::thread::spawn(move || {
                let mut buf = [0u8; 256];
                while let Ok(n) = s.read(&mut buf) {
                    if n == 0 || s.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            }));
        }
        handlers
    });
    let fds = client::connect_many(addr, 4).expect("connect");
    assert!(fds.iter().all(|f| f.as_raw_fd() >= 0));
    let mut r = client::run_load(
        &fds,
        32,
        Duration::from_millis(20),
        Duration::from_millis(200),
        std::process::id(),
    )
    .expect("load");
    assert!(r.requests > 0, "no echo completed");
    assert_eq!(r.latencies.len() as u64, r.requests);
    assert!(r.p99_us() > 0.0);
    drop(fds);
    for h in server.join().expect("server") {
        h.join().expect("handler");
    }
}

#[test]
fn source_addresses_rotate_past_twenty_thousand() {
    assert_eq!(client::source_for(5, 1000), None);
    assert_eq!(
        client::source_for(0, 100_000),
        Some(std::net::Ipv4Addr::new(127, 0, 0, 2))
    );
    assert_eq!(
        client::source_for(45_000, 100_000),
        Some(std::net::Ipv4Addr::new(127, 0, 0, 4))
    );
    // The hold suite's client: 10,000 connections to an address.
    assert_eq!(client::source_among(1999, 2000, 10_000), None);
    assert_eq!(
        client::source_among(9_999, 19_000, 10_000),
        Some(std::net::Ipv4Addr::new(127, 0, 0, 2))
    );
    assert_eq!(
        client::source_among(10_000, 19_000, 10_000),
        Some(std::net::Ipv4Addr::new(127, 0, 0, 3))
    );
}

#[test]
fn figures_script_turns_lines_into_a_table_and_a_chart() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = std::env::temp_dir().join(format!("coro-bench-figures-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let input = dir.join("in.txt");
    std::fs::write(
        &input,
        "human line\nFIGURE switch_roundtrip ns coro 2.00 corosensei 4.00\n\
         FIGURE memory_per_coroutine bytes coro 150 count 10000000\n",
    )
    .expect("write input");
    let (md, svg) = (dir.join("t.md"), dir.join("f.svg"));
    let out = match std::process::Command::new("python3")
        .arg(root.join("scripts/figures.py"))
        .arg(&input)
        .arg("--md")
        .arg(&md)
        .arg("--svg")
        .arg(&svg)
        .output()
    {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("python3 is not installed: scripts/figures.py not exercised");
            return;
        }
        Err(e) => panic!("python3: {e}"),
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table = std::fs::read_to_string(&md).expect("table");
    assert!(
        table.contains("| switch_roundtrip | ns | coro | 2.00 |"),
        "{table}"
    );
    assert!(table.contains("| corosensei | 4.00 | 0.50x |"), "{table}");
    assert!(
        table.contains("memory_per_coroutine (count 10,000,000)"),
        "{table}"
    );
    let chart = std::fs::read_to_string(&svg).expect("svg");
    assert!(
        chart.starts_with("<svg") && chart.contains("corosensei"),
        "{chart}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The environment variable that turns [`hold_server_child`] into a server.
const TEST_SERVER: &str = "CORO_BENCH_TEST_SERVER";

/// Not a test on its own (it returns at once): when [`hold_servers_hold_and_report`] runs this
/// test binary again with [`TEST_SERVER`] set to a server kind, this is that server, started
/// the way `coro-bench server KIND ADDR` starts it (a unit test cannot run the bench binary).
#[test]
fn hold_server_child() {
    let Ok(kind) = std::env::var(TEST_SERVER) else {
        return;
    };
    let err = crate::suites::servers::serve(&[kind.clone(), "127.0.0.1:0".into()]);
    eprintln!("server {kind}: {err:?}");
    std::process::exit(1);
}

#[test]
fn hold_servers_hold_and_report() {
    use crate::suites::{child::ServerProc, hold, hold_servers};
    let conns = 200;
    let exe = std::env::current_exe().expect("current_exe");
    for &(col, kind) in hold_servers::SERVERS {
        let mut cmd = std::process::Command::new(&exe);
        cmd.args(["tests::hold_server_child", "--exact", "--nocapture", "-q"])
            .env(TEST_SERVER, kind);
        let server = ServerProc::spawn(cmd, kind).expect("start the server");
        let pid = server.pid();
        let h = hold::measure(server, conns, 64).unwrap_or_else(|e| panic!("{col}: {e}"));
        eprintln!("hold {col}: {h:?}");
        // Positive, and far less than a thread's stack. Not bounded below by the buffer: may's
        // first 1,000 coroutines come from a pool it fills at start-up, inside the base.
        assert!(
            h.rss_per_conn > 0.0 && h.rss_per_conn < 256.0 * 1024.0,
            "{col}: {h:?}"
        );
        assert!(h.peak > h.base, "{col}: {h:?}");
        assert!(h.accept_ms > 0.0 && h.accept_ms < 60_000.0, "{col}: {h:?}");
        // measure() killed and reaped the server.
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists(),
            "{col}: server {pid} still running"
        );
    }
}
