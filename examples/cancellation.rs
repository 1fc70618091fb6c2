//! Cancellation and deadlines: a deadline scope around plain `std::net` code, scopes that
//! nest, a server loop stopped with `JoinHandle::cancel`, cleanup that must finish, and what a
//! cancelled coroutine sees at each kind of wait.
//!
//! ```text
//! cargo run --example cancellation
//! ```

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

// ANCHOR: scope
/// Asks a server for one line, within `limit`: plain blocking `std::net` code, given a deadline
/// from outside. Every wait inside the scope sees it (here the hooked `connect`, `write` and
/// `read` that std makes); the first that is still waiting when it passes fails with
/// `ETIMEDOUT`, `?` carries the error out, and the scope reports `Error::TimedOut`.
fn ask(addr: SocketAddr, limit: Duration) -> Result<io::Result<String>, coro::Error> {
    coro::with_timeout(limit, || {
        let mut s = TcpStream::connect(addr)?;
        s.write_all(b"hello?\n")?;
        let mut line = String::new();
        let mut byte = [0u8; 1];
        while s.read(&mut byte)? == 1 && byte[0] != b'\n' {
            line.push(byte[0] as char);
        }
        Ok(line)
    })
}
// ANCHOR_END: scope

/// A server that answers each question after `delay`.
fn slow_server(delay: Duration) -> io::Result<(SocketAddr, coro::JoinHandle<io::Result<()>>)> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let server = coro::spawn(move || -> io::Result<()> {
        loop {
            let (mut conn, _) = listener.accept()?;
            coro::spawn(move || {
                let mut q = [0u8; 7];
                if conn.read_exact(&mut q).is_ok() {
                    std::thread::sleep(delay); // hooked: only this coroutine sleeps
                    let _ = conn.write_all(b"forty-two\n");
                }
            });
        }
    });
    Ok((addr, server))
}

// ANCHOR: nested
/// Scopes nest: the earliest deadline in force applies, and an expiry is reported by the scope
/// that set it. Here each try has 50 ms, within an overall budget of 300 ms. When the budget
/// runs out inside a try, the hooked call fails, the try's scope ends without a time-out of
/// its own, and then raises the budget's expiry, which ends the loop: a retry loop inside a
/// scope cannot spin past its deadline.
fn retry_within_budget(addr: SocketAddr) -> (Result<(), coro::Error>, Vec<String>) {
    let mut log = Vec::new();
    let budget = coro::with_timeout(Duration::from_millis(300), || {
        for attempt in 1.. {
            match ask(addr, Duration::from_millis(50)) {
                Ok(Ok(answer)) => {
                    log.push(format!("attempt {attempt}: {answer}"));
                    return;
                }
                Ok(Err(e)) => log.push(format!("attempt {attempt}: {e}")),
                Err(e) => log.push(format!("attempt {attempt}: {e}")),
            }
        }
    });
    (budget, log)
}
// ANCHOR_END: nested

// ANCHOR: cancel
/// A server loop has no natural end: stop it with `JoinHandle::cancel`. Its hooked `accept`
/// fails with `ECANCELED`, the loop's `?` returns the error, and the listener and every other
/// value on its stack are dropped on the way out.
fn stop_a_server() -> io::Result<i32> {
    let (addr, server) = slow_server(Duration::ZERO)?;
    let answer = ask(addr, Duration::from_secs(5)).expect("in time")?;
    assert_eq!(answer, "forty-two");
    server.cancel();
    let err = server.join().expect("no panic").unwrap_err();
    Ok(err.raw_os_error().unwrap_or(0)) // ECANCELED
}
// ANCHOR_END: cancel

// ANCHOR: shield
/// Says goodbye when dropped, even when its coroutine was cancelled: a wait in a destructor
/// during an unwind runs normally, and `coro::shield` holds a cancel off anywhere else.
struct Session {
    name: &'static str,
    log: std::rc::Rc<std::cell::RefCell<Vec<String>>>,
}

impl Drop for Session {
    fn drop(&mut self) {
        // Cleanup that waits: a flush to a peer, a lock released over the network. During an
        // unwind coro's own waits do not raise again; `shield` makes that explicit, and covers
        // the cleanup that runs on the normal path too.
        coro::shield(|| coro::sleep(Duration::from_millis(5)));
        self.log
            .borrow_mut()
            .push(format!("{}: goodbye sent", self.name));
    }
}

fn cleanup_after_cancel() -> Vec<String> {
    let log = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let l = log.clone();
    let worker = coro::spawn(move || {
        let _session = Session {
            name: "worker",
            log: l,
        };
        coro::sleep(Duration::from_secs(3600)); // cancelled here: unwinds
    });
    coro::yield_now();
    worker.cancel();
    let payload = worker.join().unwrap_err();
    assert!(payload.is::<coro::Cancelled>());
    log.take()
}
// ANCHOR_END: shield

/// What every part prints, for the test that runs this example.
#[derive(Debug)]
pub(crate) struct Report {
    /// `ask` against a server slower than the limit.
    pub(crate) too_slow: Result<io::Result<String>, coro::Error>,
    /// `ask` against the same server with time to spare.
    pub(crate) in_time: Result<io::Result<String>, coro::Error>,
    /// The nested scopes: the budget's outcome and the log of tries.
    pub(crate) retries: (Result<(), coro::Error>, Vec<String>),
    /// The errno the cancelled server loop's accept returned.
    pub(crate) server_errno: i32,
    /// The cleanup log.
    pub(crate) cleanup: Vec<String>,
    /// How long everything took.
    pub(crate) took: Duration,
}

/// Runs every part.
pub(crate) fn run() -> io::Result<Report> {
    coro::run(|| {
        let start = Instant::now();
        let (addr, slow) = slow_server(Duration::from_millis(100))?;
        let too_slow = ask(addr, Duration::from_millis(20));
        let in_time = ask(addr, Duration::from_secs(5));
        let retries = retry_within_budget(addr);
        slow.cancel();
        let _ = slow.join();
        let server_errno = stop_a_server()?;
        let cleanup = cleanup_after_cancel();
        Ok(Report {
            too_slow,
            in_time,
            retries,
            server_errno,
            cleanup,
            took: start.elapsed(),
        })
    })
}

fn main() -> io::Result<()> {
    let r = run()?;
    println!("ask within 20 ms, answer after 100 ms:  {:?}", r.too_slow);
    println!("ask within 5 s:                         {:?}", r.in_time);
    println!("50 ms tries within a 300 ms budget:     {:?}", r.retries.0);
    for line in &r.retries.1 {
        println!("    {line}");
    }
    println!(
        "server loop cancelled, accept returned: errno {} ({})",
        r.server_errno,
        io::Error::from_raw_os_error(r.server_errno)
    );
    println!("cleanup after a cancel:                 {:?}", r.cleanup);
    println!("all in {:?}", r.took);
    Ok(())
}
