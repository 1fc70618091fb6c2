//! A line-based chat server: every line a client sends goes to every other client. Each
//! connection must read its socket and, at the same time, write what the others said, so it
//! is two coroutines on one stream: the stream split into a read half and a write half.
//!
//! ```text
//! cargo run --example chat            # serves on 127.0.0.1:7001; try `nc 127.0.0.1 7001`
//! cargo run --example chat -- --quick # a server and three clients in one process
//! ```

use std::cell::RefCell;
use std::io::{self, BufRead, BufReader, Write};
use std::rc::Rc;

use coro::channel;
use coro::net::{TcpListener, TcpStream};

/// Every connected client's outbox, by id.
type Outboxes = Rc<RefCell<Vec<(u64, channel::Sender<String>)>>>;

// ANCHOR: split
/// One connection: the read half feeds the room, the write half drains this client's outbox.
/// While the reader coroutine waits in `read`, the writer coroutine writes; when the client
/// goes, the reader ends, drops the outbox, and the writer ends with it.
fn connection(stream: TcpStream, id: u64, room: Outboxes) {
    let (read, mut write) = stream.into_split();
    let (outbox, inbox) = channel::unbounded::<String>();
    room.borrow_mut().push((id, outbox));
    let writer = coro::spawn(move || -> io::Result<()> {
        for line in inbox {
            write.write_all(line.as_bytes())?;
        }
        Ok(()) // dropping the write half shuts the writing side down
    });
    for line in BufReader::new(read).lines() {
        let Ok(line) = line else { break };
        let message = format!("{id}: {line}\n");
        for (other, outbox) in room.borrow().iter() {
            if *other != id {
                let _ = outbox.send(message.clone());
            }
        }
    }
    room.borrow_mut().retain(|(other, _)| *other != id);
    let _ = writer.join();
}
// ANCHOR_END: split

/// Accepts clients for ever (or `limit` of them), one coroutine pair each.
fn serve(listener: TcpListener, limit: Option<u64>) -> io::Result<()> {
    let room: Outboxes = Rc::default();
    let mut handlers = Vec::new();
    for id in 1.. {
        if limit.is_some_and(|n| id > n) {
            break;
        }
        let (stream, _) = listener.accept()?;
        let room = Rc::clone(&room);
        handlers.push(coro::spawn(move || connection(stream, id, room)));
    }
    for h in handlers {
        let _ = h.join();
    }
    Ok(())
}

// ANCHOR: by_ref
/// A client that says one line and reads until it has heard `expect` lines from the others.
/// `&TcpStream` is `Read` and `Write` too, so one stream serves both without splitting when
/// one coroutine does both in turn; `try_clone` gives a second handle when two coroutines
/// must each own one.
fn client(addr: std::net::SocketAddr, say: &str, expect: usize) -> io::Result<Vec<String>> {
    let stream = TcpStream::connect(addr)?;
    coro::sleep(std::time::Duration::from_millis(50)); // the others join the room meanwhile
    (&stream).write_all(format!("{say}\n").as_bytes())?;
    let mut heard = Vec::new();
    let mut lines = BufReader::new(&stream).lines();
    while heard.len() < expect {
        match lines.next() {
            Some(line) => heard.push(line?),
            None => break,
        }
    }
    Ok(heard)
}
// ANCHOR_END: by_ref

/// Runs a server and three clients in one process; returns what each client heard.
pub(crate) fn run_quick() -> io::Result<Vec<Vec<String>>> {
    coro::run(|| {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let server = coro::spawn(move || serve(listener, Some(3)));
        // Each client connects, then speaks once all three are in the room, so that each
        // hears the other two.
        let clients: Vec<_> = ["hello", "hi", "hey"]
            .into_iter()
            .map(|say| coro::spawn(move || client(addr, say, 2)))
            .collect();
        let heard: io::Result<Vec<_>> = clients.into_iter().map(|c| c.join().unwrap()).collect();
        server.join().unwrap()?;
        heard
    })
}

fn main() -> io::Result<()> {
    if std::env::args().any(|a| a == "--quick") {
        for (i, heard) in run_quick()?.iter().enumerate() {
            println!("client {}: {heard:?}", i + 1);
        }
        return Ok(());
    }
    coro::run(|| {
        let listener = TcpListener::bind("127.0.0.1:7001")?;
        println!("chat on 127.0.0.1:7001");
        serve(listener, None)
    })
}
