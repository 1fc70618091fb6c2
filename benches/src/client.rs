//! The one load client every echo server is measured with: a single thread, plain epoll.
//!
//! It holds `conns` connections, each with one message of `size` bytes in flight (a closed
//! loop: send, wait for the whole echo, send again), and records the latency of every echo that
//! completes inside the measured window. One `read` and one `write` per request, epoll
//! level-triggered with each fd registered once, so the client spends as few syscalls as the
//! servers it measures. The `hold` suite opens its connections with [`connect_and_ping`], on
//! the same plain epoll. Connections past 20,000 take their source address from 127.0.0.2,
//! 127.0.0.3, ... so that the ephemeral port range never runs out.

use crate::sys::syscall;
use std::io;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

/// Connections per source address before the next 127.0.0.x is used.
const PER_SOURCE: usize = 20_000;

/// A TCP socket with TCP_NODELAY, bound to `from` when given, connecting to `to`: blocking
/// when `wait` (the call returns once connected), else non-blocking (EINPROGRESS is success).
fn start_connect(to: SocketAddrV4, from: Option<Ipv4Addr>, wait: bool) -> io::Result<OwnedFd> {
    let nb = if wait { 0 } else { libc::SOCK_NONBLOCK };
    let fd = syscall!(socket(
        libc::AF_INET,
        libc::SOCK_STREAM | libc::SOCK_CLOEXEC | nb,
        0
    ))?;
    // SAFETY: `fd` was just returned by socket() and is owned by nobody else.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let one: libc::c_int = 1;
    let len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    let optp = (&raw const one).cast::<libc::c_void>();
    // SAFETY: `optp` points to a c_int of `len` bytes that lives across the call.
    syscall!(setsockopt(
        fd.as_raw_fd(),
        libc::IPPROTO_TCP,
        libc::TCP_NODELAY,
        optp,
        len
    ))?;
    if let Some(src) = from {
        // Let connect() pick the port, so each source address has the whole range to itself.
        // SAFETY: as above.
        syscall!(setsockopt(
            fd.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_BIND_ADDRESS_NO_PORT,
            optp,
            len
        ))?;
        let sa = sockaddr(SocketAddrV4::new(src, 0));
        let salen = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        // SAFETY: `sa` is a valid sockaddr_in of `salen` bytes.
        syscall!(bind(fd.as_raw_fd(), (&raw const sa).cast(), salen))?;
    }
    let sa = sockaddr(to);
    let salen = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    // SAFETY: `sa` is a valid sockaddr_in of `salen` bytes.
    match syscall!(connect(fd.as_raw_fd(), (&raw const sa).cast(), salen)) {
        Ok(_) => Ok(fd),
        Err(e) if !wait && e.raw_os_error() == Some(libc::EINPROGRESS) => Ok(fd),
        Err(e) => Err(e),
    }
}

/// A `sockaddr_in` for `a`.
fn sockaddr(a: SocketAddrV4) -> libc::sockaddr_in {
    libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: a.port().to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(*a.ip()).to_be(),
        },
        sin_zero: [0; 8],
    }
}

/// The source address for connection number `i` (None: let the kernel choose, 127.0.0.1).
pub(crate) fn source_for(i: usize, total: usize) -> Option<Ipv4Addr> {
    source_among(i, total, PER_SOURCE)
}

/// The source address for connection number `i` of `total`, `per` connections to an address.
pub(crate) fn source_among(i: usize, total: usize, per: usize) -> Option<Ipv4Addr> {
    if total <= per {
        None
    } else {
        Some(Ipv4Addr::new(127, 0, 0, 2 + (i / per) as u8))
    }
}

/// Connections per source address in [`connect_and_ping`]. Linux's connect() picks its
/// ephemeral port among the ports of one parity first (since 4.6), half the default range
/// 32768-60999; once those are taken to the same destination, every connect scans all of them
/// before it tries the other half: from one address, the 19,000th connection to a server cost
/// 205 us of kernel time in connect (strace -c), which made the `hold` accept time measure the
/// client's port search. Below half the range, each connect finds a free port at once.
const PING_PER_SOURCE: usize = 10_000;

/// Connections started at once by [`connect_many`].
const WINDOW: usize = 512;

/// Opens `n` connections to `to` (blocking sockets, TCP_NODELAY), [`WINDOW`] at a time with
/// non-blocking connects: a SYN that a full accept queue drops is retried by the kernel after
/// a second, and a window lets those seconds overlap instead of adding up.
pub(crate) fn connect_many(to: SocketAddrV4, n: usize) -> io::Result<Vec<OwnedFd>> {
    let ep = epoll()?;
    let mut v = Vec::with_capacity(n);
    let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; WINDOW];
    let mut next_report = 20_000;
    let mut inflight = 0usize;
    let mut last_progress = Instant::now();
    while v.len() < n || inflight > 0 {
        // Keep WINDOW connects in flight: a dropped SYN delays only its own connection.
        while v.len() < n && inflight < WINDOW {
            let i = v.len();
            let fd = start_connect(to, source_for(i, n), false).map_err(|e| {
                io::Error::new(e.kind(), format!("connection {i} of {n} to {to}: {e}"))
            })?;
            epoll_add(&ep, fd.as_raw_fd(), libc::EPOLLOUT, i)?;
            v.push(fd);
            inflight += 1;
        }
        if last_progress.elapsed() > Duration::from_secs(30) {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "connecting to {to}: no connection completed for 30 s ({} of {n} started)",
                    v.len()
                ),
            ));
        }
        // SAFETY: `events` is a writable array of `events.len()` epoll_events.
        let k = match syscall!(epoll_wait(
            ep.as_raw_fd(),
            events.as_mut_ptr(),
            events.len() as i32,
            1000
        )) {
            Ok(k) => k as usize,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => 0,
            Err(e) => return Err(e),
        };
        for ev in &events[..k] {
            let i = ev.u64 as usize;
            let fd = v[i].as_raw_fd();
            let mut err: libc::c_int = 0;
            let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
            // SAFETY: `err` and `len` are valid for getsockopt to write.
            syscall!(getsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_ERROR,
                (&raw mut err).cast(),
                &mut len
            ))?;
            if err != 0 {
                let e = io::Error::from_raw_os_error(err);
                return Err(io::Error::new(
                    e.kind(),
                    format!("connection {i} of {n} to {to}: {e}"),
                ));
            }
            // SAFETY: `fd` is registered with `ep`; a null event is allowed for DEL.
            syscall!(epoll_ctl(
                ep.as_raw_fd(),
                libc::EPOLL_CTL_DEL,
                fd,
                std::ptr::null_mut()
            ))?;
            set_blocking(fd, true)?;
            inflight -= 1;
            last_progress = Instant::now();
        }
        if v.len() - inflight >= next_report {
            eprintln!("  connected {next_report} of {n}");
            next_report += 20_000;
        }
    }
    Ok(v)
}

/// Opens `n` connections to `to` and sends one byte on each, counting a connection done once
/// its byte has come back; at most `window` connections are between their connect and their
/// echo at any time (see the `hold` suite). Gives up after `limit` in all, or 30 s without a
/// connection done. Returns the connections, non-blocking, in the order they were started.
pub(crate) fn connect_and_ping(
    to: SocketAddrV4,
    n: usize,
    window: usize,
    limit: Duration,
) -> io::Result<Vec<OwnedFd>> {
    let window = window.max(1);
    let ep = epoll()?;
    let mut v: Vec<OwnedFd> = Vec::with_capacity(n);
    // Per connection: whether its connect has completed and its ping gone out.
    let mut pinged = vec![false; n];
    let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; window.min(1024)];
    let (mut inflight, mut done) = (0usize, 0usize);
    let start = Instant::now();
    let mut last_progress = start;
    let fail = |i: usize, what: &str, e: io::Error| {
        io::Error::new(
            e.kind(),
            format!("connection {i} of {n} to {to}: {what}: {e}"),
        )
    };
    while done < n {
        while v.len() < n && inflight < window {
            let i = v.len();
            let from = source_among(i, n, PING_PER_SOURCE);
            let fd = start_connect(to, from, false).map_err(|e| fail(i, "connect", e))?;
            epoll_add(&ep, fd.as_raw_fd(), libc::EPOLLOUT, i)?;
            v.push(fd);
            inflight += 1;
        }
        if last_progress.elapsed() > Duration::from_secs(30) || start.elapsed() > limit {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "connecting to {to}: {done} of {n} connections echoed their ping after {:.1} s \
                     ({:.1} s since the last one)",
                    start.elapsed().as_secs_f64(),
                    last_progress.elapsed().as_secs_f64()
                ),
            ));
        }
        // SAFETY: `events` is a writable array of `events.len()` epoll_events.
        let k = match syscall!(epoll_wait(
            ep.as_raw_fd(),
            events.as_mut_ptr(),
            events.len() as i32,
            1000
        )) {
            Ok(k) => k as usize,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => 0,
            Err(e) => return Err(e),
        };
        for ev in &events[..k] {
            let i = ev.u64 as usize;
            let fd = v[i].as_raw_fd();
            if !pinged[i] {
                // Connected (or failed): send the ping, then wait for its echo.
                let mut err: libc::c_int = 0;
                let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
                // SAFETY: `err` and `len` are valid for getsockopt to write.
                syscall!(getsockopt(
                    fd,
                    libc::SOL_SOCKET,
                    libc::SO_ERROR,
                    (&raw mut err).cast(),
                    &mut len
                ))?;
                if err != 0 {
                    return Err(fail(i, "connect", io::Error::from_raw_os_error(err)));
                }
                write_all(fd, b"h").map_err(|e| fail(i, "ping", e))?;
                let mut mod_ev = libc::epoll_event {
                    events: libc::EPOLLIN as u32,
                    u64: i as u64,
                };
                // SAFETY: `fd` is registered with `ep`; `mod_ev` is a valid epoll_event.
                syscall!(epoll_ctl(
                    ep.as_raw_fd(),
                    libc::EPOLL_CTL_MOD,
                    fd,
                    &mut mod_ev
                ))?;
                pinged[i] = true;
                continue;
            }
            let mut b = [0u8; 1];
            // SAFETY: `b` is a valid writable buffer of one byte.
            match syscall!(read(fd, b.as_mut_ptr().cast(), 1)) {
                Ok(1) => {}
                Ok(_) => {
                    let e = io::Error::new(io::ErrorKind::UnexpectedEof, "closed by the server");
                    return Err(fail(i, "echo", e));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(fail(i, "echo", e)),
            }
            // SAFETY: `fd` is registered with `ep`; a null event is allowed for DEL.
            syscall!(epoll_ctl(
                ep.as_raw_fd(),
                libc::EPOLL_CTL_DEL,
                fd,
                std::ptr::null_mut()
            ))?;
            inflight -= 1;
            done += 1;
            last_progress = Instant::now();
        }
    }
    Ok(v)
}

/// A fresh epoll instance.
fn epoll() -> io::Result<OwnedFd> {
    let ep = syscall!(epoll_create1(libc::EPOLL_CLOEXEC))?;
    // SAFETY: `ep` was just returned by epoll_create1 and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(ep) })
}

/// Watches `fd` on `ep` for `events`, reported with `token`.
fn epoll_add(ep: &OwnedFd, fd: RawFd, events: i32, token: usize) -> io::Result<()> {
    let mut ev = libc::epoll_event {
        events: events as u32,
        u64: token as u64,
    };
    // SAFETY: `ev` is a valid epoll_event; `ep` is open and `fd` is the caller's open fd.
    syscall!(epoll_ctl(ep.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut ev)).map(drop)
}

/// Clears O_NONBLOCK on `fd` when `blocking`, sets it otherwise.
fn set_blocking(fd: RawFd, blocking: bool) -> io::Result<()> {
    let flags = syscall!(fcntl(fd, libc::F_GETFL))?;
    let flags = if blocking {
        flags & !libc::O_NONBLOCK
    } else {
        flags | libc::O_NONBLOCK
    };
    syscall!(fcntl(fd, libc::F_SETFL, flags))?;
    Ok(())
}

/// Writes all of `buf` to a non-blocking socket (spinning on a full buffer, which a closed
/// loop with one small message in flight never meets in practice).
pub(crate) fn write_all(fd: RawFd, buf: &[u8]) -> io::Result<()> {
    let mut off = 0;
    while off < buf.len() {
        let rest = &buf[off..];
        // SAFETY: `rest` is a valid readable buffer of `rest.len()` bytes.
        match syscall!(write(fd, rest.as_ptr().cast(), rest.len())) {
            Ok(n) => off += n as usize,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::hint::spin_loop(),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// What one load run measured.
#[derive(Debug, Clone)]
pub(crate) struct LoadResult {
    /// Echoes completed inside the measured window.
    pub(crate) requests: u64,
    /// Length of the measured window.
    pub(crate) elapsed: Duration,
    /// Latency of each echo completed in the window, in nanoseconds.
    pub(crate) latencies: Vec<u64>,
    /// Server CPU seconds (user + system) spent inside the window.
    pub(crate) server_cpu: f64,
}

impl LoadResult {
    /// Requests per second.
    pub(crate) fn rps(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }

    /// The 99th-percentile latency in microseconds.
    pub(crate) fn p99_us(&mut self) -> f64 {
        if self.latencies.is_empty() {
            return f64::NAN;
        }
        self.latencies.sort_unstable();
        let i = ((self.latencies.len() as f64 * 0.99).ceil() as usize)
            .clamp(1, self.latencies.len())
            - 1;
        self.latencies[i] as f64 / 1000.0
    }

    /// Requests per server CPU-second.
    pub(crate) fn per_cpu_second(&self) -> f64 {
        self.requests as f64 / self.server_cpu
    }
}

/// Per-connection state of the closed loop.
#[derive(Debug, Clone, Copy)]
struct Conn {
    /// When the message in flight was sent (ns since the run's start).
    sent: u64,
    /// Bytes of its echo received so far.
    got: usize,
}

/// Drives `conns` (already connected) for `warmup` then `secs`, reading the server's CPU
/// time (`server_pid`) at both ends of the measured window.
pub(crate) fn run_load(
    conns: &[OwnedFd],
    size: usize,
    warmup: Duration,
    secs: Duration,
    server_pid: u32,
) -> io::Result<LoadResult> {
    let ep = epoll()?;
    for (i, c) in conns.iter().enumerate() {
        set_blocking(c.as_raw_fd(), false)?;
        epoll_add(&ep, c.as_raw_fd(), libc::EPOLLIN, i)?;
    }
    let msg: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
    let mut buf = vec![0u8; size.max(4096)];
    let base = Instant::now();
    let now_ns = || base.elapsed().as_nanos() as u64;
    let mut state = vec![Conn { sent: 0, got: 0 }; conns.len()];
    for (i, c) in conns.iter().enumerate() {
        state[i].sent = now_ns();
        write_all(c.as_raw_fd(), &msg)?;
    }
    let window_start = warmup.as_nanos() as u64;
    let window_end = window_start + secs.as_nanos() as u64;
    let mut cpu_start = None;
    let mut requests = 0u64;
    let mut latencies = Vec::with_capacity(1 << 20);
    let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 1024];
    loop {
        let t = now_ns();
        if cpu_start.is_none() && t >= window_start {
            cpu_start = Some(crate::sys::cpu_seconds(server_pid)?);
        }
        if t >= window_end {
            break;
        }
        // SAFETY: `events` is a writable array of `events.len()` epoll_events.
        let n = match syscall!(epoll_wait(
            ep.as_raw_fd(),
            events.as_mut_ptr(),
            events.len() as i32,
            50
        )) {
            Ok(n) => n as usize,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => 0,
            Err(e) => return Err(e),
        };
        for ev in &events[..n] {
            let i = ev.u64 as usize;
            let fd = conns[i].as_raw_fd();
            // SAFETY: `buf` is a valid writable buffer of `buf.len()` bytes.
            let r = match syscall!(read(fd, buf.as_mut_ptr().cast(), buf.len())) {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!("server closed connection {i}"),
                    ));
                }
                Ok(r) => r as usize,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Err(io::Error::new(e.kind(), format!("connection {i}: {e}"))),
            };
            let st = &mut state[i];
            st.got += r;
            if st.got >= size {
                st.got -= size;
                let done = now_ns();
                if done >= window_start && done < window_end {
                    requests += 1;
                    latencies.push(done - st.sent);
                }
                st.sent = done;
                write_all(fd, &msg)?;
            }
        }
    }
    let cpu_end = crate::sys::cpu_seconds(server_pid)?;
    Ok(LoadResult {
        requests,
        elapsed: secs,
        latencies,
        server_cpu: cpu_end - cpu_start.unwrap_or(cpu_end),
    })
}
