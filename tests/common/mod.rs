//! What several integration tests share: running one test of the same binary again as a child
//! process (through `CROSS_TEST_RUNNER` under cross-test's qemu), with a time limit.

#![allow(dead_code)] // each test binary uses its own part

use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The variable that tells a test it runs as the child.
pub(crate) const CHILD_VAR: &str = "CORO_TEST_CHILD";

/// Whether this process is a child started by [`run_child`].
pub(crate) fn in_child() -> bool {
    std::env::var_os(CHILD_VAR).is_some()
}

/// Runs test `test` of this binary as a child with the extra environment `env`, killing it
/// after `limit`; returns its output. Panics if it had to be killed.
pub(crate) fn run_child(test: &str, env: &[(&str, &str)], limit: Duration) -> Output {
    let mut cmd = match std::env::var("CROSS_TEST_RUNNER") {
        Ok(runner) if !runner.is_empty() => {
            let mut parts = runner.split_whitespace();
            let mut c = Command::new(parts.next().unwrap());
            c.args(parts).arg(std::env::current_exe().unwrap());
            c
        }
        _ => Command::new(std::env::current_exe().unwrap()),
    };
    cmd.args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_VAR, "1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id() as i32;
    let done = Arc::new(AtomicBool::new(false));
    let killer = {
        let done = Arc::clone(&done);
        std::thread::spawn(move || {
            let start = Instant::now();
            while !done.load(Ordering::Acquire) {
                if start.elapsed() > limit {
                    // SAFETY: kill(2) on our own child's pid. It is reaped only inside
                    // `wait_with_output`, and `done` is set right after: only in that window
                    // of microseconds, past the limit, could the pid name another process.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                    return true;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            false
        })
    };
    // Reads both pipes to their end while waiting, so a chatty child never blocks on them.
    let out = child.wait_with_output().unwrap();
    done.store(true, Ordering::Release);
    assert!(
        !killer.join().unwrap(),
        "the child hung (killed after {limit:?})\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Exits the test binary with a message if the test that armed it runs longer than `secs`
/// (a hook that blocks its thread would hang it instead); disarmed when dropped, so a test
/// that passed never fires it while later tests of the binary run.
#[must_use = "the watchdog is disarmed when this guard is dropped"]
pub(crate) struct Watchdog(Arc<AtomicBool>);

/// Arms a [`Watchdog`] for the current test: keep the guard for the test's whole body.
pub(crate) fn watchdog(secs: u64) -> Watchdog {
    let done = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&done);
    let test = std::thread::current().name().unwrap_or("a test").to_owned();
    std::thread::spawn(move || {
        for _ in 0..secs * 10 {
            std::thread::sleep(Duration::from_millis(100));
            if flag.load(Ordering::Relaxed) {
                return;
            }
        }
        eprintln!("watchdog: {test} did not finish in {secs} s (did a hook block its thread?)");
        std::process::exit(101);
    });
    Watchdog(done)
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}
