//! The few operating-system calls the bench makes itself: /proc readings, rlimits, dlsym.
//!
//! Every libc call of the bench's own (the load client's epoll aside, in `client.rs`) lives
//! here, behind the `syscall!` helper that turns `-1` into `io::Error`, as mio does.

use std::io;

/// Calls a libc function and turns a `-1` return into the thread's `errno` as `io::Error`.
macro_rules! syscall {
    ($fn:ident ( $($arg:expr),* $(,)? )) => {{
        // SAFETY: each caller passes arguments that satisfy the libc function's contract,
        // as its own SAFETY comment says.
        let res = unsafe { libc::$fn($($arg),*) };
        if res == -1 { Err(std::io::Error::last_os_error()) } else { Ok(res) }
    }};
}
pub(crate) use syscall;

/// A `kB` field (such as `VmHWM` or `VmRSS`) of `/proc/<pid>/status`, in bytes.
pub(crate) fn status_bytes(pid: Option<u32>, field: &str) -> io::Result<u64> {
    let path = match pid {
        Some(p) => format!("/proc/{p}/status"),
        None => "/proc/self/status".to_string(),
    };
    let text = std::fs::read_to_string(&path)?;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix(field).and_then(|r| r.strip_prefix(':')) {
            let kb: u64 = rest
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse()
                .map_err(|e| io::Error::other(format!("{path}: {field}: {e}")))?;
            return Ok(kb * 1024);
        }
    }
    Err(io::Error::other(format!("{path} has no {field} line")))
}

/// Resets this process's peak RSS (`VmHWM`) to its current RSS (Linux 4.0+).
pub(crate) fn reset_peak_rss(pid: Option<u32>) -> io::Result<()> {
    let path = match pid {
        Some(p) => format!("/proc/{p}/clear_refs"),
        None => "/proc/self/clear_refs".to_string(),
    };
    std::fs::write(path, "5")
}

/// User plus system CPU time of a process (all its threads), in seconds, from `/proc/PID/stat`.
pub(crate) fn cpu_seconds(pid: u32) -> io::Result<f64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Field 2 (comm) may hold spaces; everything after its closing ')' splits cleanly.
    let after = text.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    // After ')': state is field 3, so utime (14) and stime (15) are at indices 11 and 12.
    let parse = |i: usize| -> io::Result<u64> {
        fields
            .get(i)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| io::Error::other(format!("/proc/{pid}/stat: bad field {i}")))
    };
    let ticks = parse(11)? + parse(12)?;
    let hz = syscall!(sysconf(libc::_SC_CLK_TCK))? as f64;
    Ok(ticks as f64 / hz)
}

/// Raises RLIMIT_NOFILE to at least `want` (raising the hard limit too when allowed, as root).
pub(crate) fn raise_nofile(want: u64) -> io::Result<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid, writable rlimit.
    syscall!(getrlimit(libc::RLIMIT_NOFILE, &mut lim))?;
    if lim.rlim_cur >= want {
        return Ok(lim.rlim_cur);
    }
    let raised = libc::rlimit {
        rlim_cur: want,
        rlim_max: lim.rlim_max.max(want),
    };
    // SAFETY: `raised` is a valid rlimit.
    if syscall!(setrlimit(libc::RLIMIT_NOFILE, &raised)).is_err() {
        // Not allowed to raise the hard limit: take as much as it permits.
        let soft = libc::rlimit {
            rlim_cur: lim.rlim_max,
            rlim_max: lim.rlim_max,
        };
        // SAFETY: `soft` is a valid rlimit.
        syscall!(setrlimit(libc::RLIMIT_NOFILE, &soft))?;
        return Ok(lim.rlim_max);
    }
    Ok(want)
}

/// The signature of libc's `read`.
pub(crate) type ReadFn =
    unsafe extern "C" fn(libc::c_int, *mut libc::c_void, libc::size_t) -> libc::ssize_t;

/// `read` as the dynamic linker resolves it from this executable (`RTLD_DEFAULT`: coro's hook
/// when the hooks are linked) and libc's own (`RTLD_NEXT`), or None where dlsym finds none.
pub(crate) fn read_symbols() -> (Option<ReadFn>, Option<ReadFn>) {
    let look = |handle: *mut libc::c_void| -> Option<ReadFn> {
        // SAFETY: the name is a NUL-terminated C string; dlsym with a pseudo-handle is always
        // allowed.
        let p = unsafe { libc::dlsym(handle, c"read".as_ptr()) };
        // SAFETY: a non-null result for "read" is a function with read's C signature.
        (!p.is_null()).then(|| unsafe { std::mem::transmute::<*mut libc::c_void, ReadFn>(p) })
    };
    (look(libc::RTLD_DEFAULT), look(libc::RTLD_NEXT))
}

/// A pipe, both ends close-on-exec: (read end, write end).
pub(crate) fn pipe() -> io::Result<(std::os::fd::OwnedFd, std::os::fd::OwnedFd)> {
    use std::os::fd::FromRawFd;
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` is a writable array of two c_ints.
    syscall!(pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC))?;
    // SAFETY: pipe2 just returned two fresh fds that nobody else owns.
    Ok(unsafe {
        (
            std::os::fd::OwnedFd::from_raw_fd(fds[0]),
            std::os::fd::OwnedFd::from_raw_fd(fds[1]),
        )
    })
}
