//! The census on `SIGQUIT` and the stall watchdog, each in a child process (a signal handler
//! and a watchdog thread are process-wide), checked through what the child prints.

mod common;

use std::time::{Duration, Instant};

use common::{in_child, run_child};

/// Spins for `d` without reaching a suspension point.
#[inline(never)]
fn spin_without_yielding(d: Duration) {
    let start = Instant::now();
    while start.elapsed() < d {
        std::hint::spin_loop();
    }
}

#[inline(never)]
fn parked_in_a_named_function(rx: coro::channel::Receiver<()>) {
    rx.recv().unwrap();
}

#[test]
fn sigquit_prints_the_census_and_the_program_goes_on() {
    if in_child() {
        coro::run(|| {
            let (tx, rx) = coro::channel::unbounded::<()>();
            let h = coro::Builder::new()
                .name("quitter-waits")
                .spawn(move || parked_in_a_named_function(rx))
                .unwrap();
            coro::yield_now();
            // SAFETY: raise(3) sends the signal to this thread; the handler only bumps a
            // counter and writes an eventfd.
            assert_eq!(unsafe { libc::raise(libc::SIGQUIT) }, 0);
            coro::sleep(Duration::from_millis(20)); // the loop prints here
            tx.send(()).unwrap();
            h.join().unwrap();
            println!("the program went on");
        });
        return;
    }
    let out = run_child(
        "sigquit_prints_the_census_and_the_program_goes_on",
        &[("CORO_DUMP_ON_SIGQUIT", "1")],
        Duration::from_secs(60),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?}\n{stdout}\n{stderr}", out.status);
    assert!(stdout.contains("the program went on"), "{stdout}\n{stderr}");
    assert!(stderr.contains("SIGQUIT"), "{stderr}");
    assert!(stderr.contains("quitter-waits"), "{stderr}");
    assert!(stderr.contains("Receiver::recv"), "{stderr}");
    assert!(stderr.contains("parked_in_a_named_function"), "{stderr}");
}

#[test]
fn without_the_opt_in_sigquit_keeps_its_default() {
    if in_child() {
        coro::run(|| {
            // SAFETY: as above; with the default action the process ends here.
            unsafe { libc::raise(libc::SIGQUIT) };
            println!("not reached");
        });
        return;
    }
    let out = run_child(
        "without_the_opt_in_sigquit_keeps_its_default",
        &[],
        Duration::from_secs(60),
    );
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(out.status.signal(), Some(libc::SIGQUIT), "{:?}", out.status);
    assert!(!String::from_utf8_lossy(&out.stdout).contains("not reached"));
}

#[test]
fn the_watchdog_reports_a_coroutine_that_spins() {
    if in_child() {
        let rt = coro::Runtime::builder().watchdog(Duration::from_millis(100));
        rt.run(|_| {
            let h = coro::Builder::new()
                .name("spinner")
                .spawn(|| {
                    spin_without_yielding(Duration::from_millis(300));
                    coro::yield_now();
                })
                .unwrap();
            h.join().unwrap();
            println!("spun");
        });
        return;
    }
    let out = run_child(
        "the_watchdog_reports_a_coroutine_that_spins",
        &[],
        Duration::from_secs(60),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?}\n{stdout}\n{stderr}", out.status);
    assert!(stdout.contains("spun"), "{stdout}");
    // Once during the stall (from the watchdog thread), once when it ended (from the loop).
    let during: Vec<_> = stderr
        .lines()
        .filter(|l| l.contains("without reaching a suspension point"))
        .collect();
    assert_eq!(during.len(), 1, "{stderr}");
    assert!(during[0].contains(file!()), "{stderr}");
    let ended: Vec<_> = stderr
        .lines()
        .filter(|l| l.contains("'spinner'") && l.contains("gave thread"))
        .collect();
    assert_eq!(ended.len(), 1, "{stderr}");
    assert!(
        stderr.contains("the_watchdog_reports_a_coroutine_that_spins"),
        "the backtrace names the function it went on from: {stderr}"
    );
}

#[test]
fn the_watchdog_is_silent_for_a_coroutine_that_yields() {
    if in_child() {
        let rt = coro::Runtime::builder().watchdog(Duration::from_millis(100));
        rt.run(|_| {
            let h = coro::spawn(|| {
                let start = Instant::now();
                while start.elapsed() < Duration::from_millis(400) {
                    spin_without_yielding(Duration::from_millis(5));
                    coro::yield_now();
                }
            });
            // A second busy coroutine, so that the loop always has work.
            let g = coro::spawn(|| {
                for _ in 0..50 {
                    spin_without_yielding(Duration::from_millis(2));
                    coro::yield_now();
                }
            });
            h.join().unwrap();
            g.join().unwrap();
            println!("yielded");
        });
        return;
    }
    let out = run_child(
        "the_watchdog_is_silent_for_a_coroutine_that_yields",
        &[],
        Duration::from_secs(60),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?}\n{stdout}\n{stderr}", out.status);
    assert!(stdout.contains("yielded"), "{stdout}");
    assert!(!stderr.contains("watchdog"), "{stderr}");
}

#[test]
fn the_watchdog_comes_from_the_environment_too() {
    if in_child() {
        coro::run(|| {
            coro::spawn(|| spin_without_yielding(Duration::from_millis(250)))
                .join()
                .unwrap();
        });
        return;
    }
    let out = run_child(
        "the_watchdog_comes_from_the_environment_too",
        &[("CORO_WATCHDOG_MS", "80")],
        Duration::from_secs(60),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?}\n{stderr}", out.status);
    assert!(stderr.contains("threshold 80 ms"), "{stderr}");
}
