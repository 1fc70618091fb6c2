//! `select!`: one coroutine per connection that reads its socket, receives news from a
//! broadcast channel and hangs up when the client is idle, without a second coroutine or a
//! cloned socket; and a server that waits for its session or a time limit.
//!
//! ```text
//! cargo run --example select
//! ```

use std::io::{self, BufRead, BufReader, Read, Write};
use std::time::Duration;

use coro::channel::{self, BroadcastReceiver, BroadcastRecvError};
use coro::net::{TcpListener, TcpStream};

// ANCHOR: session
/// Serves one connection: echoes each chunk it reads in capitals, writes each piece of news
/// the server broadcasts, and hangs up once the client has sent nothing for `idle` (the timer
/// starts anew with each select). Returns how many chunks it echoed.
fn session(
    mut conn: TcpStream,
    mut news: BroadcastReceiver<String>,
    idle: Duration,
) -> io::Result<u32> {
    let mut buf = [0u8; 512];
    let mut echoed = 0;
    loop {
        coro::select! {
            readable(conn) -> ready => {
                ready?;
                // The arm's borrow of `conn` has ended: the body reads and writes it.
                let n = conn.read(&mut buf)?;
                if n == 0 {
                    return Ok(echoed); // the client hung up
                }
                conn.write_all(&buf[..n].to_ascii_uppercase())?;
                echoed += 1;
            }
            recv(news) -> item => match item {
                Ok(item) => conn.write_all(format!("news: {item}\n").as_bytes())?,
                Err(BroadcastRecvError::Lagged(n)) => {
                    conn.write_all(format!("news: {n} items missed\n").as_bytes())?
                }
                // Every sender is gone: the server is shutting down.
                Err(BroadcastRecvError::Disconnected) => return Ok(echoed),
            },
            sleep(idle) => {
                conn.write_all(b"idle: bye\n")?;
                return Ok(echoed);
            }
        }
    }
}
// ANCHOR_END: session

/// What the example saw: the lines the client read, and what the session reported.
#[derive(Debug)]
pub(crate) struct Transcript {
    /// The lines the client received, in order.
    pub(crate) lines: Vec<String>,
    /// The chunks the session echoed.
    pub(crate) echoed: u32,
}

/// Runs a server with one session and a client that talks to it, then stays quiet.
pub(crate) fn run(idle: Duration) -> io::Result<Transcript> {
    coro::run(|| {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let (news_tx, _) = channel::broadcast::<String>(16);
        let news = news_tx.subscribe();
        let client = coro::spawn(move || client(addr));
        let (conn, _) = listener.accept()?;
        let mut session = coro::spawn(move || session(conn, news, idle));
        // The session subscribed before this send, so the news waits for it.
        news_tx.send("coro 0.1 is out".to_string()).ok();
        // ANCHOR: server
        // Wait for the session to end, but not forever.
        let echoed = coro::select! {
            join(session) -> r => r.expect("the session does not panic")?,
            sleep(Duration::from_secs(10)) => {
                session.cancel();
                return Err(io::Error::new(io::ErrorKind::TimedOut, "session stuck"));
            }
        };
        // ANCHOR_END: server
        let lines = client.join().expect("the client does not panic")?;
        Ok(Transcript { lines, echoed })
    })
}

/// Says hello, then reads every line the server sends until it hangs up.
fn client(addr: std::net::SocketAddr) -> io::Result<Vec<String>> {
    let conn = TcpStream::connect(addr)?;
    let mut reader = BufReader::new(&conn);
    let mut lines = Vec::new();
    let mut line = String::new();
    // The news first (the server sends it at once), then the echo.
    reader.read_line(&mut line)?;
    lines.push(line.trim_end().to_string());
    (&conn).write_all(b"hello, select\n")?;
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Ok(lines);
        }
        lines.push(line.trim_end().to_string());
    }
}

fn main() -> io::Result<()> {
    let t = run(Duration::from_millis(200))?;
    for line in &t.lines {
        println!("client read: {line}");
    }
    println!("the session echoed {} chunk(s)", t.echoed);
    Ok(())
}
