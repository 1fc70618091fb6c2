//! Seeing inside a running program: a few coroutines parked in different waits (a hooked
//! `read`, a channel, a sleep) and one that stalls its thread for 300 ms. The stall watchdog
//! (on at 100 ms) reports the staller while it stalls and again when it lets go; then the
//! census lists every coroutine with what it waits for and a backtrace of each.
//!
//! Run it with `cargo run --example debugging`. Send the process a `SIGQUIT` (Ctrl-\) while
//! it runs with `CORO_DUMP_ON_SIGQUIT=1` to get the same census on demand.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use coro::debug::Census;

/// A handler waiting for its client's request: parks in the hooked `read` of std's socket.
#[inline(never)]
fn wait_for_request(mut conn: TcpStream) -> usize {
    let mut buf = [0u8; 512];
    conn.read(&mut buf).unwrap_or(0)
}

/// Computes without ever reaching a suspension point: the whole thread waits meanwhile.
#[inline(never)]
fn crunch_numbers(d: Duration) -> u64 {
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < d {
        n = std::hint::black_box(n.wrapping_mul(6364136223846793005).wrapping_add(1));
    }
    n
}

/// Starts the coroutines, lets the staller stall, takes the census with backtraces, then ends
/// them all. Returns the census.
pub(crate) fn run() -> std::io::Result<Census> {
    // ANCHOR: setup
    let census = coro::Runtime::builder()
        .watchdog(Duration::from_millis(100))
        .run(|_| -> std::io::Result<Census> {
            let listener = TcpListener::bind("127.0.0.1:0")?;
            let mut client = TcpStream::connect(listener.local_addr()?)?;
            let (conn, _) = listener.accept()?;
            let reader = coro::Builder::new()
                .name("reader")
                .spawn(move || wait_for_request(conn))
                .unwrap();
            // ANCHOR_END: setup

            let (jobs, next_job) = coro::channel::unbounded::<&str>();
            let consumer = coro::Builder::new()
                .name("consumer")
                .spawn(move || next_job.recv())
                .unwrap();

            let sleeper = coro::Builder::new()
                .name("sleeper")
                .spawn(|| coro::sleep(Duration::from_secs(60)))
                .unwrap();

            let (done, wait_done) = coro::channel::unbounded::<()>();
            let cruncher = coro::Builder::new()
                .name("cruncher")
                .spawn(move || {
                    let n = crunch_numbers(Duration::from_millis(300));
                    wait_done.recv().ok();
                    n
                })
                .unwrap();

            // ANCHOR: census
            coro::yield_now(); // each runs to its wait; the cruncher holds the thread first
            let census = coro::debug::census_with_backtraces().unwrap();
            // ANCHOR_END: census

            client.write_all(b"GET / HTTP/1.0\r\n\r\n")?;
            jobs.send("resize image 7").unwrap();
            sleeper.cancel();
            done.send(()).unwrap();
            reader.join().unwrap();
            consumer.join().unwrap().unwrap();
            assert!(sleeper.join().is_err(), "cancelled");
            cruncher.join().unwrap();
            Ok(census)
        });
    census.into_iter().next().expect("one thread")
}

fn main() -> std::io::Result<()> {
    let census = run()?;
    println!("{census:#}");
    Ok(())
}
