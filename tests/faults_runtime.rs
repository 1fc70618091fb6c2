//! The runtime and the hooks under what real programs do to them: signal handlers that make
//! hooked calls, and `fork` before and inside a running runtime. Each case runs in a child
//! process (re-running this test binary), bounded in time, since the failure it guards against
//! is a crash or a hang.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Output;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

mod common;
use common::in_child;

/// Runs this test binary again as a child, running only `test`, killed after `limit`.
fn run_child(test: &str, limit: Duration) -> Output {
    common::run_child(test, &[], limit)
}

/// Echoes one message over a fresh std::net connection between two coroutines, through the
/// hooks: works only if the hooks wait on this process's own loop.
fn echo_through_the_hooks() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = coro::spawn(move || {
        let (mut s, _) = listener.accept().unwrap(); // waits: the client connects after
        let mut buf = [0; 5];
        s.read_exact(&mut buf).unwrap();
        s.write_all(&buf).unwrap();
    });
    coro::sleep(Duration::from_millis(5));
    let mut c = TcpStream::connect(addr).unwrap();
    c.write_all(b"hello").unwrap();
    let mut back = [0; 5];
    c.read_exact(&mut back).unwrap();
    assert_eq!(&back, b"hello");
    server.join().unwrap();
}

static SIGNAL_FD: AtomicI32 = AtomicI32::new(-1);

/// A SIGALRM handler in the self-pipe style of signal crates: it writes one byte, through the
/// hooked `write`.
extern "C" fn on_alarm(_: libc::c_int) {
    let b = [1u8];
    // SAFETY: a one-byte write from a static buffer; write is async-signal-safe.
    unsafe { libc::write(SIGNAL_FD.load(Ordering::Relaxed), b.as_ptr().cast(), 1) };
}

/// Sends SIGALRM to this process every `us` microseconds, handled by [`on_alarm`].
fn alarm_every(us: i64) {
    // SAFETY: installs a handler that only writes to an fd, and a repeating timer.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_alarm as *const () as usize;
        sa.sa_flags = libc::SA_RESTART;
        libc::sigaction(libc::SIGALRM, &sa, std::ptr::null_mut());
        let tick = libc::timeval {
            tv_sec: 0,
            tv_usec: us,
        };
        let it = libc::itimerval {
            it_interval: tick,
            it_value: tick,
        };
        libc::setitimer(libc::ITIMER_REAL, &it, std::ptr::null_mut());
    }
}

/// Coroutines that connect, echo, sleep and yield for a while: many windows for a signal to
/// land in the scheduler's own code.
fn busy_runtime(for_how_long: Duration) {
    coro::run(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        const CLIENTS: usize = 10;
        let server = coro::spawn(move || {
            for _ in 0..CLIENTS {
                let (mut s, _) = listener.accept().unwrap();
                coro::spawn(move || {
                    let mut b = [0u8; 64];
                    while let Ok(n) = s.read(&mut b) {
                        if n == 0 || s.write_all(&b[..n]).is_err() {
                            break;
                        }
                    }
                });
            }
        });
        let clients: Vec<_> = (0..CLIENTS)
            .map(|_| {
                coro::spawn(move || {
                    let mut c = TcpStream::connect(addr).unwrap();
                    let start = Instant::now();
                    while start.elapsed() < for_how_long {
                        c.write_all(b"hello").unwrap();
                        let mut b = [0; 5];
                        c.read_exact(&mut b).unwrap();
                        assert_eq!(&b, b"hello");
                        coro::sleep(Duration::from_micros(100));
                        coro::yield_now();
                    }
                })
            })
            .collect();
        for c in clients {
            c.join().unwrap();
        }
        server.join().unwrap();
    });
}

#[test]
fn a_signal_handler_that_writes_to_a_pipe_while_coroutines_run() {
    if in_child() {
        let mut fds = [0; 2];
        // SAFETY: pipe2 writes two fds into the array.
        let r = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) };
        assert_eq!(r, 0);
        SIGNAL_FD.store(fds[1], Ordering::Relaxed);
        alarm_every(37);
        busy_runtime(Duration::from_millis(400));
        alarm_every(0);
        let mut n = 0;
        let mut b = [0u8; 4096];
        loop {
            // SAFETY: reads into a local buffer from our non-blocking pipe.
            let r = unsafe { libc::read(fds[0], b.as_mut_ptr().cast(), b.len()) };
            if r <= 0 {
                break;
            }
            n += r;
        }
        println!("signals seen: {n}");
        assert!(n > 0);
        return;
    }
    let out = run_child(
        "a_signal_handler_that_writes_to_a_pipe_while_coroutines_run",
        Duration::from_secs(60),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?}\n{stdout}\n{stderr}", out.status);
    assert!(stdout.contains("signals seen:"), "{stdout}");
}

#[test]
fn a_signal_handler_that_writes_to_a_socket_pair_while_coroutines_run() {
    if in_child() {
        // signal-hook's way: a non-blocking Unix socket pair, made before the runtime.
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        a.set_nonblocking(true).unwrap();
        b.set_nonblocking(true).unwrap();
        use std::os::fd::AsRawFd;
        SIGNAL_FD.store(a.as_raw_fd(), Ordering::Relaxed);
        alarm_every(37);
        busy_runtime(Duration::from_millis(400));
        alarm_every(0);
        let mut b = b;
        let mut n = 0;
        let mut buf = [0u8; 4096];
        while let Ok(k) = b.read(&mut buf) {
            if k == 0 {
                break;
            }
            n += k;
        }
        println!("signals seen: {n}");
        return;
    }
    let out = run_child(
        "a_signal_handler_that_writes_to_a_socket_pair_while_coroutines_run",
        Duration::from_secs(60),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?}\n{stdout}\n{stderr}", out.status);
}

/// Forks; the child runs `child` and exits with its verdict. Returns the child's exit status.
fn fork_and(child: impl FnOnce() -> bool) -> i32 {
    // SAFETY: fork in a process whose other threads (the test harness's) the child never uses.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let ok = std::panic::catch_unwind(std::panic::AssertUnwindSafe(child)).unwrap_or(false);
        std::process::exit(if ok { 0 } else { 1 });
    }
    let mut status = 0;
    // SAFETY: waits for our own child.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    }
}

#[test]
fn a_runtime_started_after_a_fork_has_working_hooks() {
    if in_child() {
        // The parent had a runtime before the fork (prefork servers do: they set up, then
        // fork the workers).
        coro::run(echo_through_the_hooks);
        let status = fork_and(|| {
            coro::run(echo_through_the_hooks);
            true
        });
        assert_eq!(status, 0, "the forked child's runtime works");
        coro::run(echo_through_the_hooks); // and so does the parent's next one
        println!("both ran");
        return;
    }
    let out = run_child(
        "a_runtime_started_after_a_fork_has_working_hooks",
        Duration::from_secs(60),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?}\n{stdout}\n{stderr}", out.status);
    assert!(stdout.contains("both ran"), "{stdout}");
}

#[test]
fn a_fork_inside_a_running_runtime_leaves_the_parent_its_wake_ups() {
    if in_child() {
        coro::run(|| {
            // The parent waits on a cross-thread channel (its eventfd), a timer and a socket
            // while a coroutine forks.
            let (tx, rx) = coro::channel::sync::unbounded::<u32>();
            let sender = std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(300));
                tx.send(7).unwrap();
            });
            let waiter = coro::spawn(move || rx.recv().unwrap());
            let sleeper = coro::spawn(|| coro::sleep(Duration::from_millis(200)));
            coro::yield_now();
            let status = fork_and(|| {
                // The child: its own loop, its own coroutines; the parent's are not here.
                coro::sleep(Duration::from_millis(20));
                echo_through_the_hooks();
                let h = coro::spawn(|| 40 + 2);
                h.join().unwrap() == 42
            });
            assert_eq!(status, 0, "the child ran on a loop of its own");
            assert_eq!(waiter.join().unwrap(), 7, "the parent kept its wake-up");
            sleeper.join().unwrap();
            sender.join().unwrap();
            echo_through_the_hooks();
        });
        println!("parent done");
        return;
    }
    let out = run_child(
        "a_fork_inside_a_running_runtime_leaves_the_parent_its_wake_ups",
        Duration::from_secs(60),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?}\n{stdout}\n{stderr}", out.status);
    assert!(stdout.contains("parent done"), "{stdout}");
}

#[test]
fn a_forked_child_that_returns_from_run_is_told_why_it_cannot() {
    if in_child() {
        coro::run(|| {
            let h = coro::spawn(|| {
                let status = fork_and(|| {
                    // The child's coroutine ends and its `run` finds no main to return.
                    false
                });
                assert_eq!(status, 1);
                // A child that returns instead of exiting: its panic names the fork.
                // SAFETY: as in `fork_and`.
                let pid = unsafe { libc::fork() };
                if pid == 0 {
                    return; // the child goes back into the copied runtime
                }
                let mut st = 0;
                // SAFETY: waits for our own child.
                unsafe { libc::waitpid(pid, &mut st, 0) };
                println!("grandchild status {}", libc::WEXITSTATUS(st));
            });
            h.join().unwrap();
        });
        return;
    }
    let out = run_child(
        "a_forked_child_that_returns_from_run_is_told_why_it_cannot",
        Duration::from_secs(60),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // (Its exit status is the test harness's business: the grandchild is a copy of a harness
    // thread, so the panic reaches no harness that would turn it into status 101.)
    assert!(
        stderr.contains("forked from inside the runtime"),
        "{stderr}"
    );
    assert!(stdout.contains("grandchild status"), "{stdout}\n{stderr}");
}

/// Whether `/proc/self/stat` gives this process's thread count (qemu-user's gives 0).
fn thread_count_known() -> bool {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    rest.split_whitespace()
        .nth(17)
        .and_then(|n| n.parse::<usize>().ok())
        .is_some_and(|n| n > 0)
}

#[test]
fn both_ends_of_a_sync_channel_in_one_runtime_is_a_deadlock_not_a_hang() {
    if in_child() {
        if !thread_count_known() {
            // qemu-user's /proc/self/stat says 0 threads: the runtime cannot tell that no
            // other thread exists, and waits (as it must when it cannot know).
            println!("both cases right (skipped: no thread count in /proc/self/stat)");
            return;
        }
        // In a forked child of this thread, the runtime's thread is the only one: nothing
        // outside the runtime can send.
        let status = fork_and(|| {
            let r = std::panic::catch_unwind(|| {
                coro::run(|| {
                    let (tx, rx) = coro::channel::sync::unbounded::<u32>();
                    let _keep = tx; // held by this runtime's own (waiting) coroutine
                    rx.recv()
                })
            });
            let p = r.unwrap_err();
            let msg = p.downcast_ref::<String>().cloned().unwrap_or_default();
            eprintln!("run said: {msg}");
            msg.contains("deadlock")
        });
        assert_eq!(status, 0, "the wait was reported as a deadlock");
        // With another thread holding the sender, the same wait is no deadlock.
        let status = fork_and(|| {
            coro::run(|| {
                let (tx, rx) = coro::channel::sync::unbounded::<u32>();
                let t = std::thread::spawn(move || {
                    std::thread::sleep(Duration::from_millis(50));
                    tx.send(9).unwrap();
                });
                let got = rx.recv();
                t.join().unwrap();
                got == Ok(9)
            })
        });
        assert_eq!(status, 0, "a sender on another thread is waited for");
        println!("both cases right");
        return;
    }
    let out = run_child(
        "both_ends_of_a_sync_channel_in_one_runtime_is_a_deadlock_not_a_hang",
        Duration::from_secs(60),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?}\n{stdout}\n{stderr}", out.status);
    assert!(stdout.contains("both cases right"), "{stdout}\n{stderr}");
}

/// An accept loop that retries at once on every error, with too few fds to accept every
/// connection at once: the handlers that would close fds must get to run. `accept` is either
/// std's (through the hooks) or coro::net's.
fn serve_with_few_fds(coro_net: bool) {
    const CLIENTS: usize = 20;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    // The clients: another process, so that they do not share this one's fd limit.
    // SAFETY: fork; the child only uses std threads and sockets, then exits.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        let threads: Vec<_> = (0..CLIENTS)
            .map(|_| {
                std::thread::spawn(move || {
                    let mut c = TcpStream::connect(addr).unwrap();
                    c.write_all(b"x").unwrap();
                    let mut b = [0; 1];
                    c.read_exact(&mut b).unwrap();
                })
            })
            .collect();
        let ok = threads.into_iter().all(|t| t.join().is_ok());
        std::process::exit(if ok { 0 } else { 1 });
    }
    coro::run(move || {
        // The limit is on fd *numbers*: leave exactly two free below it (the lowest two).
        let a = std::fs::File::open("/dev/null").unwrap();
        let b = std::fs::File::open("/dev/null").unwrap();
        use std::os::fd::AsRawFd;
        let top = b.as_raw_fd().max(a.as_raw_fd());
        drop((a, b));
        let rl = libc::rlimit {
            rlim_cur: (top + 1) as libc::rlim_t,
            rlim_max: 20_000,
        };
        // SAFETY: a valid rlimit.
        assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &rl) }, 0);
        let served = std::rc::Rc::new(std::cell::Cell::new(0));
        let mut shortages = 0u64;
        let accept = {
            let coro_listener = coro::net::TcpListener::from_std(listener.try_clone().unwrap());
            move || -> std::io::Result<Box<dyn FnOnce()>> {
                if coro_net {
                    let (mut s, _) = coro_listener.as_ref().unwrap().accept()?;
                    Ok(Box::new(move || {
                        let mut b = [0; 1];
                        s.read_exact(&mut b).unwrap();
                        coro::sleep(Duration::from_millis(2));
                        s.write_all(&b).unwrap();
                    }))
                } else {
                    let (mut s, _) = listener.accept()?;
                    Ok(Box::new(move || {
                        let mut b = [0; 1];
                        s.read_exact(&mut b).unwrap();
                        coro::sleep(Duration::from_millis(2));
                        s.write_all(&b).unwrap();
                    }))
                }
            }
        };
        while served.get() < CLIENTS {
            match accept() {
                Ok(handle) => {
                    let n = served.clone();
                    coro::spawn(move || {
                        handle();
                        n.set(n.get() + 1);
                    });
                }
                // Retried at once: the accept itself must let the handlers run.
                Err(e) => {
                    assert!(
                        matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE)),
                        "{e}"
                    );
                    shortages += 1;
                }
            }
        }
        println!(
            "served {} with {shortages} fd shortages on the way",
            served.get()
        );
    });
    let mut status = 0;
    // SAFETY: waits for our own child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
}

#[test]
fn an_accept_loop_short_of_fds_lets_the_handlers_run() {
    if in_child() {
        serve_with_few_fds(std::env::var_os("CORO_NET").is_some());
        return;
    }
    for net in [false, true] {
        let env: &[(&str, &str)] = if net { &[("CORO_NET", "1")] } else { &[] };
        let out = common::run_child(
            "an_accept_loop_short_of_fds_lets_the_handlers_run",
            env,
            Duration::from_secs(120),
        );
        let status = Some(out.status);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            status.is_some_and(|s| s.success()),
            "coro_net={net}: livelock or failure {status:?}\n{stdout}\n{stderr}"
        );
        assert!(stdout.contains("served 20"), "{stdout}");
    }
}

#[test]
fn poll_on_an_fd_number_closed_behind_the_loops_back_and_reused() {
    coro::run(|| {
        // Waits without a timeout of its own; the scope only bounds the test if the data is
        // never seen (the poll then fails with ETIMEDOUT instead of returning 1).
        let poll_in = |fd: i32| -> i32 {
            let mut p = libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd; the hooked poll waits on the loop.
            coro::with_timeout(Duration::from_secs(10), || unsafe {
                libc::poll(&mut p, 1, -1)
            })
            .unwrap_or(-1)
        };
        let pipe = || {
            let mut fds = [0; 2];
            // SAFETY: pipe2 writes two fds into the array.
            assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
            fds
        };
        let write_later = |fd: i32| {
            coro::spawn(move || {
                coro::sleep(Duration::from_millis(10));
                // SAFETY: a one-byte write to a pipe we own.
                unsafe { libc::write(fd, b"x".as_ptr().cast(), 1) };
            })
        };
        let [r1, w1] = pipe();
        let writer = write_later(w1);
        assert_eq!(
            poll_in(r1),
            1,
            "the first pipe is waited on through the loop"
        );
        writer.join().unwrap();
        // Closed behind every hook's back (a raw system call), as code that bypasses libc
        // would: the loop's table still says the number is registered.
        // SAFETY: closes fds we own and never use again.
        unsafe {
            libc::syscall(libc::SYS_close, r1);
            libc::syscall(libc::SYS_close, w1);
        }
        let [r2, w2] = pipe();
        assert_eq!(r2, r1, "the number is reused");
        let writer = write_later(w2);
        assert_eq!(
            poll_in(r2),
            1,
            "the new pipe is registered anew and its data seen"
        );
        writer.join().unwrap();
        // SAFETY: closes fds we own.
        unsafe {
            libc::close(r2);
            libc::close(w2);
        }
    });
}
