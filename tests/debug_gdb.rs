//! coro's gdb commands (`coro-core/gdb/coro-gdb.py`, also `scripts/coro-gdb.py`): `coro ps`
//! lists the coroutines of a stopped program and `coro bt` prints a suspended one's frames, in
//! a live process and in a core file, with the script sourced or auto-loaded from the
//! binary's `.debug_gdb_scripts` section.
//!
//! The program gdb runs is this test binary itself, in its ignored test `target` (with
//! `CORO_GDB_TARGET` set): coroutines parked in known functions, then a `SIGTRAP` that stops
//! it under gdb. Without gdb (or a gdb without Python) each test says so and skips.

use std::io::Read;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Parks the calling coroutine in a hooked `read` of `stream` (std's `UnixStream`, which the
/// hooks turn into a wait): the frame every `coro bt` below looks for.
#[inline(never)]
fn wait_for_request(stream: &mut UnixStream) -> usize {
    let mut buf = [0u8; 64];
    let n = stream.read(&mut buf).unwrap_or(0);
    std::hint::black_box(&buf);
    n
}

/// Parks the calling coroutine in a channel's `recv`.
#[inline(never)]
fn wait_for_message(rx: coro::channel::Receiver<u32>) -> u32 {
    rx.recv().unwrap_or(0)
}

/// Parks the calling coroutine in a sleep. (Work after the sleep keeps it from being a tail
/// call, whose frame a release build would drop.)
#[inline(never)]
fn take_a_nap() -> u32 {
    coro::sleep(Duration::from_secs(3600));
    std::hint::black_box(1)
}

/// The program gdb runs: a runtime that ends, a `SIGTRAP`; then five kinds of parked
/// coroutines and a second `SIGTRAP`.
///
/// - the first runtime's 100 tasks have all finished and its task slab is freed: `coro ps`
///   lists no coroutine;
/// - `reader`: owned stack, in `wait_for_request`;
/// - `shared-1` .. `shared-5`: shared stacks of 64 KiB, in `wait_for_request`; the runtime
///   spreads them over 4 stacks, so two share one, and the one that ran last holds it (the
///   other's frames are in its save buffer);
/// - `listener`: in `wait_for_message`; `sleeper`: in `take_a_nap`.
#[test]
#[ignore = "the program that debug_gdb's tests run under gdb"]
fn target() {
    assert!(
        std::env::var_os("CORO_GDB_TARGET").is_some(),
        "run by the other tests of this file under gdb, with CORO_GDB_TARGET set"
    );
    coro::run(|| {
        let tasks: Vec<_> = (0..100).map(|_| coro::spawn(coro::yield_now)).collect();
        for t in tasks {
            t.join().unwrap();
        }
    });
    println!("CORO-GDB-TARGET: ended");
    // SAFETY: raise has no preconditions; gdb stops the program here.
    unsafe { libc::raise(libc::SIGTRAP) };
    coro::run(|| {
        let mut keep = Vec::new();
        let (mut a, b) = UnixStream::pair().unwrap();
        keep.push(b);
        coro::Builder::new()
            .name("reader")
            .spawn(move || wait_for_request(&mut a))
            .unwrap();
        for i in 1..=5 {
            let (mut a, b) = UnixStream::pair().unwrap();
            keep.push(b);
            // SAFETY: the body lends no reference into its stack to anyone.
            let builder = unsafe { coro::Builder::new().shared(true) };
            builder
                .name(format!("shared-{i}"))
                .stack_size(64 * 1024)
                .spawn(move || wait_for_request(&mut a))
                .unwrap();
        }
        let (tx, rx) = coro::channel::unbounded::<u32>();
        coro::Builder::new()
            .name("listener")
            .spawn(move || wait_for_message(rx))
            .unwrap();
        coro::Builder::new()
            .name("sleeper")
            .spawn(take_a_nap)
            .unwrap();
        // Every coroutine above runs once and parks.
        coro::yield_now();
        coro::yield_now();
        println!("CORO-GDB-TARGET: parked");
        // SAFETY: raise has no preconditions; gdb stops the program here.
        unsafe { libc::raise(libc::SIGTRAP) };
        // Only reached if someone continues the program: end it without waiting an hour.
        drop(tx);
        std::process::exit(0);
    });
}

/// gdb, if it is installed and has Python and can run this binary; else the reason why not.
fn gdb() -> Result<(), String> {
    if let Some(runner) = std::env::var_os("CROSS_TEST_RUNNER") {
        return Err(format!(
            "this binary runs under {} (cross-test): the machine's gdb debugs native programs",
            runner.to_string_lossy()
        ));
    }
    if !cfg!(target_arch = "x86_64") {
        return Err("coro's gdb commands are tested on x86_64 only".to_owned());
    }
    match Command::new("gdb")
        .args(["-nx", "-batch", "-ex", "python print('coro-gdb-python-ok')"])
        .output()
    {
        Err(e) => Err(format!(
            "gdb cannot be run ({e}); install it (apt-get install gdb)"
        )),
        Ok(out) if String::from_utf8_lossy(&out.stdout).contains("coro-gdb-python-ok") => Ok(()),
        Ok(out) => Err(format!(
            "gdb has no Python support: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )),
    }
}

/// Skips the calling test, saying why, when gdb cannot be used here.
macro_rules! require_gdb {
    () => {
        if let Err(why) = gdb() {
            println!("skipped: {why}");
            eprintln!("skipped: {why}");
            return;
        }
    };
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/coro-gdb.py")
}

/// Runs gdb in batch mode with `pre` (options before the program) and `cmds` (each an `-ex`),
/// on `args`; returns everything it printed.
fn run_gdb(pre: &[&str], cmds: &[&str], args: &[&str]) -> String {
    let mut c = Command::new("gdb");
    c.args(["-nx", "-batch"]);
    c.args(pre);
    for cmd in cmds {
        c.args(["-ex", cmd]);
    }
    c.args(args);
    c.env("CORO_GDB_TARGET", "1");
    let out = c.output().expect("gdb runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    println!("---- gdb output ----\n{text}---- end ----");
    text
}

/// The arguments that make this binary run `target`.
fn target_args() -> Vec<String> {
    let exe = std::env::current_exe().unwrap();
    [
        "--args",
        exe.to_str().unwrap(),
        "--ignored",
        "--exact",
        "target",
        "--nocapture",
        "--test-threads=1",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// The lines of `coro ps` output (from its header to its count).
fn ps_lines(out: &str) -> Vec<&str> {
    let start = out
        .lines()
        .position(|l| l.starts_with("ID ") && l.contains("SPAWNED AT"))
        .unwrap_or_else(|| panic!("no `coro ps` table in:\n{out}"));
    out.lines()
        .skip(start)
        .take_while(|l| !l.ends_with("coroutine(s)"))
        .collect()
}

/// The `coro ps` row of the coroutine named `name`.
fn row<'a>(lines: &[&'a str], name: &str) -> &'a str {
    lines
        .iter()
        .find(|l| l.split_whitespace().any(|w| w == name))
        .unwrap_or_else(|| panic!("no coroutine named {name} in:\n{}", lines.join("\n")))
}

/// What `coro bt NAME` printed in `out`: from its head line (`coroutine ID (NAME)...`) to the
/// next command's head line or the end.
fn bt_of(out: &str, name: &str) -> String {
    let head = format!("({name})");
    let mut lines = out
        .lines()
        .skip_while(|l| !(l.starts_with("coroutine ") && l.contains(&head)));
    let first = lines
        .next()
        .unwrap_or_else(|| panic!("no `coro bt {name}` in:\n{out}"));
    let rest = lines.take_while(|l| !l.starts_with("coroutine ") && !l.starts_with("Saved "));
    std::iter::once(first)
        .chain(rest)
        .collect::<Vec<_>>()
        .join("\n")
}

/// What every gdb session below checks of `coro ps` and `coro bt`, in the output after
/// [`PARKED`].
fn check_session(out: &str) {
    let at = out
        .find(PARKED_MARK)
        .unwrap_or_else(|| panic!("no {PARKED_MARK} in:\n{out}"));
    let out = &out[at..];
    let lines = ps_lines(out);
    assert_eq!(lines.len(), 1 + 9, "{}", lines.join("\n"));
    for name in ["reader", "listener", "sleeper"].into_iter().chain(SHARED) {
        let r = row(&lines, name);
        assert!(r.contains("parked"), "{name} is not parked: {r}");
        assert!(r.contains("debug_gdb.rs:"), "{name}'s spawn site: {r}");
    }
    let reader = row(&lines, "reader");
    assert!(reader.contains("owned 128K"), "{reader}");
    // What a coroutine waits for is read through Rust's debug info about types, which the dev
    // profile has and the release profile's line tables do not (the column then shows `-`).
    if cfg!(debug_assertions) {
        assert!(reader.contains("Fd{fd: "), "the wait of {reader}");
        assert!(row(&lines, "listener").contains("Receiver::recv"));
        assert!(row(&lines, "sleeper").contains("coro::sleep"));
    }
    // The main coroutine is running: it raised the signal.
    assert!(
        lines
            .iter()
            .any(|l| l.contains("running") && l.contains(" main ")),
        "no running main coroutine in:\n{}",
        lines.join("\n")
    );

    let reader = bt_of(out, "reader");
    assert!(reader.contains("wait_for_request"), "{reader}");
    assert!(reader.contains("debug_gdb.rs"), "{reader}");
    assert!(bt_of(out, "listener").contains("wait_for_message"));
    assert!(bt_of(out, "sleeper").contains("take_a_nap"));

    // Five coroutines on four shared stacks: exactly one was evicted by the one that shares
    // its stack; the others' frames are in place.
    let mut evicted = 0;
    for name in SHARED {
        let r = row(&lines, name);
        assert!(r.contains("shared 64K"), "{r}");
        let bt = bt_of(out, name);
        if r.contains("saved") {
            evicted += 1;
            assert!(bt.contains("save buffer"), "{bt}");
            assert!(!bt.contains("wait_for_request"), "{bt}");
        } else {
            assert!(r.contains("B used"), "{r}");
            assert!(bt.contains("wait_for_request"), "{bt}");
        }
    }
    assert_eq!(evicted, 1, "{}", lines.join("\n"));
}

/// What gdb echoes where the commands at the program's second stop begin.
const PARKED_MARK: &str = "CORO-GDB-SESSION: parked";

/// The command that echoes [`PARKED_MARK`].
const PARKED: &str = "echo CORO-GDB-SESSION: parked\n";

/// The commands at the program's first stop, after its first runtime ended, and what they
/// print: no coroutine.
const ENDED: &[&str] = &["coro ps", "continue"];

/// Checks what [`ENDED`] printed in a session that ran the program.
fn check_ended(out: &str) {
    let at = out
        .find("CORO-GDB-TARGET: ended")
        .unwrap_or_else(|| panic!("the first runtime did not end in:\n{out}"));
    let out = &out[at..out.find(PARKED_MARK).unwrap_or(out.len())];
    assert_eq!(ps_lines(out).len(), 1, "{out}");
    assert!(out.contains("\n0 coroutine(s)"), "{out}");
}

const SHARED: [&str; 5] = ["shared-1", "shared-2", "shared-3", "shared-4", "shared-5"];

const COMMANDS: &[&str] = &[
    PARKED,
    "coro ps",
    "coro bt reader",
    "coro bt listener",
    "coro bt sleeper",
    "coro bt shared-1",
    "coro bt shared-2",
    "coro bt shared-3",
    "coro bt shared-4",
    "coro bt shared-5",
];

#[test]
fn live_process_and_core_file() {
    require_gdb!();
    let script = script();
    let source = format!("source {}", script.display());
    let core = std::env::temp_dir().join(format!("coro-gdb-test-{}.core", std::process::id()));
    // A core file is about 260 MB: removed when the test ends, whether it passes or fails.
    let _remove = RemoveOnDrop(core.clone());
    let gcore = format!("gcore {}", core.display());
    let mut cmds = vec![source.as_str(), "run"];
    cmds.extend_from_slice(ENDED);
    cmds.extend_from_slice(COMMANDS);
    cmds.push(&gcore);
    let args = target_args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = run_gdb(&[], &cmds, &args);
    assert!(out.contains("CORO-GDB-TARGET: parked"), "{out}");
    assert!(out.contains("SIGTRAP"), "{out}");
    check_ended(&out);
    check_session(&out);

    // The core file gdb wrote, opened in a new gdb: the same answers, read from the file.
    assert!(core.exists(), "gcore wrote no core file:\n{out}");
    let exe = std::env::current_exe().unwrap();
    let mut cmds = vec![source.as_str()];
    cmds.extend_from_slice(COMMANDS);
    let out = run_gdb(&[], &cmds, &[exe.to_str().unwrap(), core.to_str().unwrap()]);
    check_session(&out);
}

/// Removes a file when dropped, on a test's success and on its panic alike.
struct RemoveOnDrop(std::path::PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn script_auto_loads_from_the_binary() {
    require_gdb!();
    // No `source`: gdb runs the copy in the binary's .debug_gdb_scripts section, once
    // auto-loading is allowed for it.
    let mut cmds = vec!["run"];
    cmds.extend_from_slice(ENDED);
    cmds.extend_from_slice(COMMANDS);
    let args = target_args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = run_gdb(&["-iex", "set auto-load safe-path /"], &cmds, &args);
    check_ended(&out);
    check_session(&out);
}
