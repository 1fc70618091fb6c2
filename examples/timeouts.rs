//! A time limit around a whole exchange (connect, write, read) with `coro::with_io_timeout`,
//! which returns the closure's `io::Result` with an expired deadline as one more `io::Error`
//! (of kind `TimedOut`), so that `?` takes both.
//!
//! ```text
//! cargo run --example timeouts
//! ```

use std::io::{self, BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use coro::net::{TcpListener, TcpStream};

// ANCHOR: ask
/// Sends `question` and reads the one-line answer, the whole exchange within `limit`. An
/// expired deadline is an `io::Error` of kind `TimedOut`, like any other failure of the
/// exchange, so the caller handles one `io::Result`.
fn ask(addr: SocketAddr, question: &str, limit: Duration) -> io::Result<String> {
    coro::with_io_timeout(limit, || {
        let stream = TcpStream::connect(addr)?;
        (&stream).write_all(format!("{question}\n").as_bytes())?;
        let mut answer = String::new();
        BufReader::new(&stream).read_line(&mut answer)?;
        Ok(answer.trim_end().to_string())
    })
}
// ANCHOR_END: ask

/// Answers "pong" to "ping"; to "slow", answers after a minute.
fn serve(listener: TcpListener) -> io::Result<()> {
    let mut connections = coro::JoinSet::new();
    loop {
        let (stream, _) = listener.accept()?;
        connections.spawn(move || -> io::Result<()> {
            let mut question = String::new();
            BufReader::new(&stream).read_line(&mut question)?;
            if question.trim_end() == "slow" {
                coro::sleep(Duration::from_secs(60));
            }
            (&stream).write_all(b"pong\n")
        });
        while connections.try_join_next().is_some() {}
    }
}

/// What each question got, and how long the slow one took.
#[derive(Debug)]
pub(crate) struct Answers {
    /// The answer to "ping".
    pub(crate) quick: io::Result<String>,
    /// The answer to "slow", asked with a limit of `limit`.
    pub(crate) slow: io::Result<String>,
    /// How long asking "slow" took.
    pub(crate) slow_took: Duration,
}

/// Runs a server and asks it twice, the second time with a limit it cannot meet.
pub(crate) fn run(limit: Duration) -> io::Result<Answers> {
    coro::run(|| {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let server = coro::spawn(move || serve(listener));
        let quick = ask(addr, "ping", Duration::from_secs(10));
        let start = Instant::now();
        let slow = ask(addr, "slow", limit);
        let slow_took = start.elapsed();
        server.cancel(); // its set of connections goes with it, and cancels them
        let _ = server.join();
        Ok(Answers {
            quick,
            slow,
            slow_took,
        })
    })
}

fn main() -> io::Result<()> {
    let a = run(Duration::from_millis(100))?;
    println!("ping: {:?}", a.quick);
    match &a.slow {
        Ok(answer) => println!("slow: {answer}"),
        Err(e) => println!("slow: {:?} error after {:?}: {e}", e.kind(), a.slow_took),
    }
    Ok(())
}
