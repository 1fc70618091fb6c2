//! The mapping budget: how many memory mappings the owned stacks may take, so that the rest of
//! the program always has some left.
//!
//! Linux allows a process `vm.max_map_count` mappings (65,530 by default), and every owned
//! stack takes [`MAPS_PER_STACK`] of them. Left alone, a program that makes stacks until the
//! kernel refuses one has no mapping left for anything else: the next large allocation (the
//! runtime's timing wheel growing, a `Vec` in the scheduler, a thread's stack) fails, and Rust
//! aborts with "memory allocation of N bytes failed". So the stacks stop short: a new stack is
//! refused, with the same [`Error::StackAlloc`](crate::Error) the kernel's refusal gives, when
//! fewer than [`RESERVE`] mappings would be left for the rest of the program.
//!
//! How it knows: the stacks' own mappings are counted here (an atomic add when a stack is
//! mapped, a sub when one is unmapped; stacks taken from and given back to the pool are not
//! mapped or unmapped, and cost nothing). The rest of the program's mappings are counted now and
//! then from `/proc/self/maps` (one line per mapping), and the limit is read from
//! `/proc/sys/vm/max_map_count`. A count reads the whole maps file (tens of thousands of lines
//! near the limit), so it is made only when the stacks' count crosses a ceiling that
//! the last count set halfway to the limit (at least 64 mappings on), and at most once every
//! [`RECOUNT_EVERY`] after that: a process that never comes near the limit counts once, at its
//! first stack, when it has a few dozen mappings.

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, IntoRawFd};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::sys;

/// The mappings an owned stack takes: the inaccessible guard part of its span and its
/// read-write top. (Two spans never merge: a span's guard always borders another span's
/// read-write top or something else.)
pub(crate) const MAPS_PER_STACK: usize = 2;

/// The mappings the stacks leave to the rest of the program, over what it already uses: 1,024,
/// or a quarter of `vm.max_map_count` when that is lower. That is room for what a program adds
/// after its stacks ran out: the allocator's large blocks (glibc maps each block of 128 KiB or
/// more on its own until it raises its threshold), a thread's stack and guard, a malloc arena,
/// a file mapped. It costs 512 stacks of the 32,000 the default limit allows (1.6%).
pub(crate) const RESERVE: usize = 1024;

/// The kernel's default `vm.max_map_count`, assumed when `/proc` cannot be read.
const DEFAULT_MAX_MAP_COUNT: usize = 65_530;

/// The least time between two counts of the process's mappings once near the limit: a program
/// that retries a refused spawn in a loop then spends at most one count (a read of the whole
/// maps file) every this long, and a count this old is close enough (the reserve covers the
/// difference).
const RECOUNT_EVERY: Duration = Duration::from_millis(100);

/// Mappings held by owned stacks, in use or idle in a pool, in the whole process.
static HELD: AtomicUsize = AtomicUsize::new(0);

/// What `HELD` may reach without a look at the rest of the process; 0 until the first count.
static CEILING: AtomicUsize = AtomicUsize::new(0);

/// The last count, for the slow path.
struct Count {
    /// `vm.max_map_count` when last read.
    max: usize,
    /// The mappings that are not stacks', when last counted (`None`: not yet, or unknown).
    others: Option<usize>,
    /// When they were counted.
    at: Option<Instant>,
    /// Where `/proc/self/maps` is read into: static, so that a count allocates nothing (it may
    /// run when no mapping is left to give the allocator).
    buf: [u8; 32 * 1024],
}

static COUNT: Mutex<Count> = Mutex::new(Count {
    max: DEFAULT_MAX_MAP_COUNT,
    others: None,
    at: None,
    buf: [0; 32 * 1024],
});

/// Takes the mappings for one new stack out of the budget, before it is mapped. The error says
/// how many mappings are in use and what the limit is; give them back with [`release`] if the
/// stack is not mapped after all.
#[inline]
pub(crate) fn acquire() -> io::Result<()> {
    let held = HELD.fetch_add(MAPS_PER_STACK, Ordering::Relaxed) + MAPS_PER_STACK;
    if held <= CEILING.load(Ordering::Relaxed) {
        return Ok(());
    }
    near_the_ceiling(held).inspect_err(|_| release())
}

/// Gives back the mappings of one stack, after it is unmapped (or when it was not mapped).
#[inline]
pub(crate) fn release() {
    HELD.fetch_sub(MAPS_PER_STACK, Ordering::Relaxed);
}

/// The kernel refused a stack's mapping with ENOMEM although the budget allowed it: the rest of
/// the program uses more mappings than the last count saw (or an address-space limit was hit).
/// The next stack looks again.
#[cold]
pub(crate) fn kernel_refused() {
    CEILING.store(0, Ordering::Relaxed);
}

/// The slow path of [`acquire`]: `held` (this stack included) passed the ceiling. Counts the
/// process's mappings if the last count is old, and either sets a new ceiling or refuses.
#[cold]
#[inline(never)]
fn near_the_ceiling(held: usize) -> io::Result<()> {
    let mut count = COUNT
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let count = &mut *count;
    let stale = count.at.is_none_or(|at| at.elapsed() >= RECOUNT_EVERY);
    if stale {
        count.max = read_max_map_count().unwrap_or(DEFAULT_MAX_MAP_COUNT);
        // The stacks' own mappings are in the count; `held` includes this one, not yet mapped.
        let stacks = held - MAPS_PER_STACK;
        count.others = count_mappings(&mut count.buf).map(|all| all.saturating_sub(stacks));
        count.at = Some(Instant::now());
    }
    let reserve = RESERVE.min(count.max / 4);
    // Unknown (no /proc): the reserve has to cover the rest of the program as well.
    let others = count.others.unwrap_or(0);
    let allowed = count.max.saturating_sub(others.saturating_add(reserve));
    if held > allowed {
        return Err(refusal(held - MAPS_PER_STACK + others, count.max, reserve));
    }
    // Next look halfway to the limit, or at the limit when it is near.
    let gap = allowed - held;
    CEILING.store(held + (gap / 2).max(gap.min(64)), Ordering::Relaxed);
    Ok(())
}

/// The error for a stack the budget refuses.
#[cold]
fn refusal(in_use: usize, max: usize, reserve: usize) -> io::Error {
    io::Error::new(
        io::ErrorKind::OutOfMemory,
        format!(
            "{in_use} of the {max} memory mappings the process may have (vm.max_map_count) are \
             in use, and coro keeps the last {reserve} for the rest of the program"
        ),
    )
}

/// `vm.max_map_count`, if `/proc` can be read.
fn read_max_map_count() -> Option<usize> {
    let mut buf = [0u8; 32];
    let n = read_some("/proc/sys/vm/max_map_count", &mut buf)?;
    std::str::from_utf8(&buf[..n]).ok()?.trim().parse().ok()
}

/// The number of mappings the process has: the lines of `/proc/self/maps`.
fn count_mappings(buf: &mut [u8]) -> Option<usize> {
    let file = File::open("/proc/self/maps").ok()?;
    let mut lines = 0;
    let ok = loop {
        // The real read(2), not the `read` hook (this may run inside a coroutine).
        match sys::retry_eintr(|| sys::read(file.as_raw_fd(), buf)) {
            Ok(0) => break true,
            Ok(n) => lines += buf[..n].iter().filter(|&&b| b == b'\n').count(),
            Err(_) => break false,
        }
    };
    sys::close(file.into_raw_fd());
    ok.then_some(lines)
}

/// Reads the start of the file at `path` into `buf`; the number of bytes read.
fn read_some(path: &str, buf: &mut [u8]) -> Option<usize> {
    let file = File::open(path).ok()?;
    let n = sys::retry_eintr(|| sys::read(file.as_raw_fd(), buf));
    sys::close(file.into_raw_fd());
    n.ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_and_the_mappings_can_be_read() {
        let max = read_max_map_count().expect("/proc/sys/vm/max_map_count");
        assert!(max > RESERVE, "{max}");
        let mut buf = [0u8; 4096];
        let n = count_mappings(&mut buf).expect("/proc/self/maps");
        assert!(n > 5 && n < max, "{n}");
    }

    #[test]
    fn the_refusal_names_the_limit_and_the_reserve() {
        let e = refusal(64_507, 65_530, RESERVE);
        assert_eq!(e.kind(), io::ErrorKind::OutOfMemory);
        let msg = e.to_string();
        assert!(msg.contains("64507 of the 65530 memory mappings"), "{msg}");
        assert!(msg.contains("vm.max_map_count"), "{msg}");
        assert!(msg.contains("keeps the last 1024"), "{msg}");
    }
}
