//! Soak: plain std::net code, through the hooks, under churn for a minute. Waves of thousands
//! of connections are opened against an echo server in the same runtime and closed again:
//! most finish with a half-close (the client shuts down its writing side and reads the echo to
//! the end), some reset the connection mid-way (SO_LINGER 0), some reset it before reading.
//! At the end no byte was lost, no fd leaked (`/proc/self/fd` counted before and after), and no
//! coroutine is left.
//!
//! `CORO_SOAK_SECS` sets the duration (60 by default).

use std::cell::Cell;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// Connections open at once in a wave (each is two fds: the client's and the server's).
const WAVE: usize = 2_500;

/// A small, seeded generator (xorshift64*), so that a failing run can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// Resets the connection when dropped: SO_LINGER with a zero timeout makes close send RST.
fn linger_zero(s: &TcpStream) {
    let l = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid linger struct on a socket we own; setsockopt is hooked and forwarded.
    let r = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&raw const l).cast(),
            size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(r, 0);
}

/// The echo server's handler: echoes until the peer half-closes (then closes its own side) or
/// the connection fails (a reset).
fn echo(mut s: TcpStream) {
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => {
                let _ = s.shutdown(Shutdown::Write);
                return;
            }
            Ok(n) => {
                if s.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}

/// What one client did.
#[derive(Default)]
struct Tally {
    echoed: Cell<u64>,
    bytes: Cell<u64>,
    resets: Cell<u64>,
}

/// One client: sends a random amount of random bytes, and either reads the whole echo after
/// a half-close, or resets the connection part-way.
fn client(addr: std::net::SocketAddr, seed: u64, tally: &Tally) {
    let mut rng = Rng(seed | 1);
    let len = rng.below(64 * 1024) as usize;
    let data: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
    let mut s = TcpStream::connect(addr).expect("connect");
    match rng.below(10) {
        // Reset after sending part of it.
        0 => {
            let _ = s.write_all(&data[..len / 2]);
            linger_zero(&s);
            tally.resets.set(tally.resets.get() + 1);
        }
        // Reset after reading part of the echo.
        1 => {
            let _ = s.write_all(&data);
            let mut some = vec![0u8; len / 3];
            let _ = s.read_exact(&mut some);
            linger_zero(&s);
            tally.resets.set(tally.resets.get() + 1);
        }
        // Half-close, read the echo to its end: every byte must come back, in order.
        _ => {
            // Write and read at once, so that a large message cannot fill both directions.
            let mut w = s.try_clone().expect("clone");
            let sender = coro::spawn(move || {
                w.write_all(&data).expect("send");
                w.shutdown(Shutdown::Write).expect("half-close");
                data
            });
            let mut back = Vec::with_capacity(len);
            s.read_to_end(&mut back).expect("read the echo");
            let data = sender.join().expect("the sender");
            assert_eq!(back.len(), data.len(), "bytes lost");
            assert!(back == data, "bytes changed");
            tally.echoed.set(tally.echoed.get() + 1);
            tally.bytes.set(tally.bytes.get() + len as u64);
        }
    }
}

#[test]
fn ten_thousand_connections_in_waves_with_resets_and_half_closes() {
    let secs = std::env::var("CORO_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    // Room for a wave: raise the soft fd limit to the hard one.
    let mut rl = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid struct.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl);
        rl.rlim_cur = rl.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &rl);
    }
    let wave = WAVE.min((rl.rlim_cur as usize).saturating_sub(200) / 2);
    let before = open_fds();
    let tally = Rc::new(Tally::default());
    let t = Rc::clone(&tally);
    let connections = coro::run(move || {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        // std listens with a backlog of 128, and a wave connects 2,500 at once: past the
        // backlog the kernel (with SYN cookies) may answer a client's first data with a reset,
        // when the server is slow to accept (a loaded machine, qemu). A second listen(2) on
        // the listening socket raises the backlog (capped by net.core.somaxconn).
        // SAFETY: listen(2) on a socket this test owns.
        let listening = unsafe { libc::listen(listener.as_raw_fd(), 4096) };
        assert_eq!(listening, 0, "listen");
        let addr = listener.local_addr().unwrap();
        let server = coro::spawn(move || -> std::io::Result<()> {
            loop {
                let (s, _) = listener.accept()?;
                coro::spawn(move || echo(s));
            }
        });
        let start = Instant::now();
        let mut seed = 0u64;
        let mut opened = 0usize;
        while start.elapsed() < Duration::from_secs(secs) || opened < 10_000 {
            let clients: Vec<_> = (0..wave)
                .map(|_| {
                    seed += 1;
                    let (t, s) = (Rc::clone(&t), seed);
                    coro::spawn(move || client(addr, s.wrapping_mul(0x9e37_79b9_7f4a_7c15), &t))
                })
                .collect();
            opened += clients.len();
            for c in clients {
                c.join().expect("a client failed");
            }
        }
        server.cancel();
        let err = server.join().unwrap().unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ECANCELED));
        // Let the handlers of the last resets see them and end.
        while coro::__private::runtime_counts().unwrap().0 > 1 {
            coro::sleep(Duration::from_millis(10));
        }
        let (live, fd_waits, timers) = coro::__private::runtime_counts().unwrap();
        assert_eq!(
            (live, fd_waits, timers),
            (1, 0, 0),
            "coroutines or waits left"
        );
        opened
    });
    let after = open_fds();
    println!(
        "{connections} connections in waves of {wave}: {} echoed ({} bytes, none lost), {} reset",
        tally.echoed.get(),
        tally.bytes.get(),
        tally.resets.get()
    );
    assert!(connections >= 10_000);
    assert!(tally.echoed.get() > 0 && tally.resets.get() > 0);
    assert_eq!(after, before, "file descriptors leaked");
}
