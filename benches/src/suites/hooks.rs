//! `hooks`: what a hooked `read` costs outside any coroutine, against libc's own `read`.
//!
//! With coro's hooks linked, this executable defines `read`, so the dynamic linker resolves
//! `read` (RTLD_DEFAULT) to the hook, and `dlsym(RTLD_NEXT, "read")` to libc's. Both read one
//! byte from a pipe that is refilled, untimed, before every round; the difference between the
//! two columns is the hook's cost outside a coroutine (the check "am I in a coroutine?" and
//! the indirect call to the real function). The two reads alternate in short chunks inside
//! every round, and each round's difference is kept, so that the machine's drifts cancel.

use crate::Args;
use crate::harness::{figure, median};
use crate::sys::{self, ReadFn};
use std::hint::black_box;
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

/// Calls per timed chunk; chunks of the two reads alternate, so drifts in the machine's speed
/// (this one is shared and noisy) hit both alike. Not a divisor of 4096, so that the reads
/// which empty a pipe page (and free it) fall to both columns alike.
const CHUNK: usize = 250;

/// Chunks of each read per round (the pipe holds 2 * CHUNKS * CHUNK bytes, below 64 KiB).
const CHUNKS: usize = 60;

/// Reads `CHUNK` bytes one at a time through `read`, returning the elapsed time.
fn chunk(read: ReadFn, fd: libc::c_int) -> Duration {
    let mut byte = 0u8;
    let start = Instant::now();
    for _ in 0..CHUNK {
        // SAFETY: `byte` is a valid one-byte buffer and `fd` an open pipe end holding data.
        let got = unsafe { read(black_box(fd), (&raw mut byte).cast(), 1) };
        black_box(got);
    }
    start.elapsed()
}

/// Puts exactly `n` bytes in the pipe (untimed).
fn fill(w: &OwnedFd, n: usize) -> Result<(), String> {
    let buf = vec![b'x'; n];
    let mut off = 0;
    while off < n {
        // SAFETY: `buf[off..]` is a valid readable buffer of `n - off` bytes.
        let wrote = unsafe { libc::write(w.as_raw_fd(), buf[off..].as_ptr().cast(), n - off) };
        if wrote <= 0 {
            return Err(format!("pipe write: {}", std::io::Error::last_os_error()));
        }
        off += wrote as usize;
    }
    Ok(())
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
    let rounds: usize = args.get::<usize>("--rounds", 101)?.max(1);
    let (r, w) = sys::pipe().map_err(|e| format!("pipe: {e}"))?;
    let fd = r.as_raw_fd();
    let (mut hooked, mut libc, mut diff) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds + 5 {
        fill(&w, 2 * CHUNKS * CHUNK)?;
        let (mut a, mut b) = (Duration::ZERO, Duration::ZERO);
        for c in 0..CHUNKS {
            // Alternate which goes first, chunk by chunk.
            if c % 2 == 0 {
                a += chunk(linked, fd);
                b += chunk(real, fd);
            } else {
                b += chunk(real, fd);
                a += chunk(linked, fd);
            }
        }
        if round < 5 {
            continue; // warm-up
        }
        let per = |d: Duration| d.as_secs_f64() * 1e9 / (CHUNKS * CHUNK) as f64;
        hooked.push(per(a));
        libc.push(per(b));
        diff.push(per(a) - per(b));
    }
    // The machine's load comes and goes in bursts longer than a round, so the two columns'
    // own medians can fall in different bursts. Keep the pairs: average both over the quieter
    // half of the rounds (smallest sum), and give the median of the per-round differences.
    let mut order: Vec<usize> = (0..hooked.len()).collect();
    order.sort_by(|&i, &j| (hooked[i] + libc[i]).total_cmp(&(hooked[j] + libc[j])));
    let quiet = &order[..order.len().div_ceil(2)];
    let mean = |v: &[f64]| quiet.iter().map(|&i| v[i]).sum::<f64>() / quiet.len() as f64;
    let (h, l, d) = (mean(&hooked), mean(&libc), median(&mut diff));
    println!(
        "1-byte pipe read, outside a coroutine: hooked {h:.2} ns, libc {l:.2} ns (mean over the \
         quieter {} of {rounds} rounds, each of {CHUNKS} alternating chunks of {CHUNK} calls)",
        quiet.len()
    );
    println!(
        "hooks: the hook costs {:+.2} ns per call outside a coroutine ({d:+.2} ns: median of \
         the per-round differences)",
        h - l
    );
    figure("hooked_read_outside", "ns", &[("coro", h), ("libc", l)]);
    Ok(())
}
