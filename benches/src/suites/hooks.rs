//! `hooks`: what a hooked `read` costs outside any coroutine, against libc's own `read`.
//!
//! With coro's hooks linked, this executable defines `read`, so the dynamic linker resolves
//! `read` (RTLD_DEFAULT) to the hook, and `dlsym(RTLD_NEXT, "read")` to libc's. Both read one
//! byte from a pipe that is refilled, untimed, before every batch; the difference between the
//! two columns is the hook's cost outside a coroutine (the check "am I in a coroutine?" and
//! the indirect call to the real function).

use crate::Args;
use crate::harness::{Contender, compare, figure, get};
use crate::sys::{self, ReadFn};
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

/// Bytes put in the pipe before each timed batch (below the 64 KiB pipe buffer).
const BATCH: usize = 32 * 1024;

/// A contender that reads one byte at a time from a pipe through `read`.
fn reader(name: &'static str, read: ReadFn) -> Result<Contender<'static>, String> {
    let (r, w): (OwnedFd, OwnedFd) = sys::pipe().map_err(|e| format!("pipe: {e}"))?;
    let fill = vec![b'x'; BATCH];
    Ok(Contender::timed(name, move |iters| {
        let mut took = Duration::ZERO;
        let mut left = iters;
        let mut byte = 0u8;
        while left > 0 {
            let n = left.min(BATCH as u64) as usize;
            // Untimed: put exactly n bytes in the pipe with libc's write.
            let mut off = 0;
            while off < n {
                // SAFETY: `fill[off..n]` is a valid readable buffer.
                let wrote =
                    unsafe { libc::write(w.as_raw_fd(), fill[off..n].as_ptr().cast(), n - off) };
                if wrote <= 0 {
                    return Duration::MAX;
                }
                off += wrote as usize;
            }
            let start = Instant::now();
            for _ in 0..n {
                // SAFETY: `byte` is a valid one-byte buffer and `r` an open pipe end.
                let got = unsafe {
                    read(
                        std::hint::black_box(r.as_raw_fd()),
                        (&raw mut byte).cast(),
                        1,
                    )
                };
                std::hint::black_box(got);
            }
            took += start.elapsed();
            left -= n as u64;
        }
        took
    }))
}

/// Runs the suite.
pub(crate) fn run(args: &Args) -> Result<(), String> {
    let (linked, real) = sys::read_symbols();
    let (Some(linked), Some(real)) = (linked, real) else {
        return Err("dlsym found no read".into());
    };
    if linked as usize == real as usize {
        println!(
            "hooks: skipped: read resolves to libc's own here, so coro's hooks are not linked \
             (they land with issue 5, under the default cargo feature `hooks`)"
        );
        return Ok(());
    }
    let opts = args.harness()?;
    let mut cs = vec![reader("coro", linked)?, reader("libc", real)?];
    let ms = compare("1-byte pipe read, outside", &mut cs, opts);
    let (hooked, libc) = (get(&ms, "coro"), get(&ms, "libc"));
    println!(
        "hooks: the hook costs {:+.2} ns per call outside a coroutine",
        hooked - libc
    );
    figure(
        "hooked_read_outside",
        "ns",
        &[("coro", hooked), ("libc", libc)],
    );
    Ok(())
}
