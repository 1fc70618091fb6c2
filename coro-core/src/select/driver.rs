//! The select loop: poll every arm from a random one, else register every arm and park, and
//! after a wake-up poll again.
//!
//! Each arm is an [`Op`]: something that can be completed now or not ([`Op::poll`]), and that
//! can leave a wake-up behind where the other side will find it ([`Op::register`]): a wait
//! node in a channel's queue, the joiner slot of a `JoinHandle`, a waiter on an fd, or only a
//! deadline for the park. A wake-up is a hint, never a hand-over of the result: the arm that
//! wins is decided by the selecting coroutine when it polls, so two arms can never both
//! complete. Where a wake-up does come with something (the slot that a bounded channel
//! reserves for the sender it wakes, a receive wake-up that a message waits behind), an arm
//! that does not win gives it on to the next waiting party when it unregisters, as the
//! channels' own waits do when they time out or unwind.
//!
//! Fairness: each poll round visits the arms in a random order (a permutation drawn as it goes,
//! from a per-thread xorshift generator), so when several arms are ready each of them wins
//! equally often, whatever order they are written in and whichever others are ready. (A
//! random first arm followed by the rest in order, as `tokio::select!` does, favours an arm
//! that follows arms that are not ready.)
//!
//! Cancellation: the park is one of coro's own waits, so a cancel or an expired deadline scope
//! unwinds from it; the arms are locals of the frame that called [`run`], and their
//! destructors ([`Branch`]'s `Drop`) unregister them on the way out.

use std::cell::Cell;
use std::hash::{BuildHasher, RandomState};
use std::time::Instant;

use crate::runtime::census::Wait;
use crate::runtime::park;

/// One operation of a `select!` arm.
///
/// The contract, which [`run`] relies on:
///
/// * [`poll`](Self::poll) completes the operation if it can now, and returns its output. It
///   first withdraws the registration, if there is one, keeping what a wake-up handed it (a
///   reserved slot) for this attempt. When it returns `None` the operation is unregistered.
/// * [`register`](Self::register) leaves a wake-up for the running party (a coroutine, or a
///   plain thread for the cross-thread flavours), to be triggered when the operation may
///   complete; it checks under the same lock that it cannot complete now, and returns false
///   (registering nothing) if it can. Called only on an unregistered operation.
/// * [`unregister`](Self::unregister) withdraws a registration, passing on what a wake-up
///   handed it. Idempotent; it also runs when the select unwinds.
pub trait Op {
    /// What the arm's pattern binds.
    type Output;
    /// Completes the operation now if it can.
    fn poll(&mut self) -> Option<Self::Output>;
    /// Registers for a wake-up; false if the operation can complete now.
    fn register(&mut self) -> bool;
    /// Withdraws the registration, passing on what a wake-up handed it.
    fn unregister(&mut self);
    /// When the operation completes by itself (a timer arm).
    fn deadline(&self) -> Option<Instant> {
        None
    }
    /// Whether a wait for this operation may block the caller where it runs now: false for a
    /// thread-local channel or a join handle outside a coro task, where nothing else on the
    /// thread can run to complete it (see `waiters::can_block`).
    fn can_block(&self) -> bool {
        true
    }
}

/// An arm: its operation and, once it won, the operation's output. Dropping it unregisters
/// the operation (the unwinding path; [`run`] unregisters the losers itself).
#[derive(Debug)]
pub struct Branch<O: Op> {
    op: O,
    out: Option<O::Output>,
}

impl<O: Op> Branch<O> {
    /// An arm around `op`.
    #[inline]
    pub fn new(op: O) -> Self {
        Branch { op, out: None }
    }

    /// The output, if this arm won.
    #[inline]
    pub fn take_output(&mut self) -> Option<O::Output> {
        self.out.take()
    }
}

impl<O: Op> Drop for Branch<O> {
    fn drop(&mut self) {
        self.op.unregister();
    }
}

/// A [`Branch`] with its output type erased, as [`run`] sees it.
pub trait Arm {
    /// [`Op::poll`], keeping the output in the branch; true if the arm won.
    fn poll(&mut self) -> bool;
    /// [`Op::register`].
    fn register(&mut self) -> bool;
    /// [`Op::unregister`].
    fn unregister(&mut self);
    /// [`Op::deadline`].
    fn deadline(&self) -> Option<Instant>;
    /// [`Op::can_block`].
    fn can_block(&self) -> bool;
}

impl<O: Op> Arm for Branch<O> {
    #[inline]
    fn poll(&mut self) -> bool {
        match self.op.poll() {
            Some(out) => {
                self.out = Some(out);
                true
            }
            None => false,
        }
    }
    fn register(&mut self) -> bool {
        self.op.register()
    }
    #[inline]
    fn unregister(&mut self) {
        self.op.unregister();
    }
    fn deadline(&self) -> Option<Instant> {
        self.op.deadline()
    }
    fn can_block(&self) -> bool {
        self.op.can_block()
    }
}

/// Runs a select over `arms`: returns true once one of them won (its branch holds the output,
/// every other arm is unregistered), or false at once if none is ready and `default` is true.
///
/// Parks while no arm is ready, until the earliest deadline among the arms; an interrupt
/// unwinds from the park (see the module header).
///
/// # Panics
///
/// If it must wait outside a coro task, with no deadline, and no arm can be completed by
/// anything that can run meanwhile (only thread-local channels and join handles).
#[inline]
pub fn run(arms: &mut [&mut dyn Arm], default: bool) -> bool {
    // The first arm of the random order: when it is ready (the common case when all are),
    // the select is over without building the order, and nothing was registered anywhere.
    let first = random_below(arms.len());
    arms[first].poll() || run_on(arms, default, first)
}

/// The rest of [`run`], once the arm `first` was found not ready.
#[inline(never)]
fn run_on(arms: &mut [&mut dyn Arm], default: bool, first: usize) -> bool {
    let n = arms.len();
    let mut inline = [0usize; INLINE];
    let mut heap = Vec::new();
    let order = if n <= INLINE {
        &mut inline[..n]
    } else {
        heap.resize(n, 0);
        &mut heap[..]
    };
    // Whether an arm may be registered (a winner must then unregister the others).
    let mut registered = false;
    let mut tried = Some(first);
    loop {
        for (i, slot) in order.iter_mut().enumerate() {
            *slot = i;
        }
        // The random permutation, drawn as it is needed (Fisher-Yates); its first arm may
        // have been tried already.
        let mut k = 0;
        if let Some(first) = tried.take() {
            order.swap(0, first);
            k = 1;
        }
        while k < n {
            order.swap(k, k + random_below(n - k));
            let i = order[k];
            if arms[i].poll() {
                if registered {
                    for (j, arm) in arms.iter_mut().enumerate() {
                        if j != i {
                            arm.unregister();
                        }
                    }
                }
                return true;
            }
            k += 1;
        }
        if default {
            // Nothing was registered: the first round only polls.
            return false;
        }
        registered = true;
        if !register_all(arms) {
            // An arm became ready between its poll and its registration (another thread).
            continue;
        }
        let deadline = arms.iter().filter_map(|a| a.deadline()).min();
        if deadline.is_none() && !park::in_task() && !arms.iter().any(|a| a.can_block()) {
            for arm in arms.iter_mut() {
                arm.unregister();
            }
            cannot_block();
        }
        park::park_deadline(
            deadline,
            Wait::Select {
                arms: u32::try_from(n).unwrap_or(u32::MAX),
            },
        );
    }
}

/// Selects of up to this many arms keep their poll order on the stack.
const INLINE: usize = 16;

/// Registers every arm; false (with those before it still registered) as soon as one is ready.
fn register_all(arms: &mut [&mut dyn Arm]) -> bool {
    arms.iter_mut().all(|a| a.register())
}

#[cold]
fn cannot_block() -> ! {
    panic!(
        "coro::select! would block forever: it was called outside a coro task, where nothing else on this thread can run to complete its arms (thread-local channels, join handles); call it inside `coro::run` / `coro::spawn`, or add a `default` or `sleep(..)` arm"
    )
}

thread_local! {
    /// The state of this thread's xorshift generator; 0 until first used.
    static RNG: Cell<u64> = const { Cell::new(0) };
}

/// A random number below `n` (which is at least 1), from this thread's generator.
#[inline]
fn random_below(n: usize) -> usize {
    if n == 1 {
        return 0;
    }
    RNG.with(|rng| {
        let mut x = rng.get();
        if x == 0 {
            x = seed();
        }
        // xorshift64*, as the timing wheel's tests use: fast, and plenty for picking an arm.
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        rng.set(x);
        let r = x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32;
        // The high bits scaled to [0, n): no division, and unbiased enough for n < 2^32.
        ((r * n as u64) >> 32) as usize
    })
}

/// A seed that differs between threads and runs (std's random hash keys); never 0.
#[cold]
fn seed() -> u64 {
    RandomState::new().hash_one(std::thread::current().id()) | 1
}

/// What `recv(x)` accepts in a `select!` arm: a receiving half, by reference (the macro calls
/// the method, so auto-referencing borrows `x`).
pub trait SelectRecv {
    /// What the arm's pattern binds.
    type Output;
    /// The arm's operation.
    fn select_recv(self) -> impl Op<Output = Self::Output>;
}

/// What `send(x, value)` accepts in a `select!` arm: a sending half, by reference.
pub trait SelectSend {
    /// The message type.
    type Item;
    /// What the arm's pattern binds.
    type Output;
    /// The arm's operation, which holds `value` until it is sent or the arm is dropped.
    fn select_send(self, value: Self::Item) -> impl Op<Output = Self::Output>;
}

/// What `changed(x)` accepts in a `select!` arm: a watch receiver, by `&mut`.
pub trait SelectChanged {
    /// What the arm's pattern binds.
    type Output;
    /// The arm's operation.
    fn select_changed(self) -> impl Op<Output = Self::Output>;
}

/// What `join(x)` accepts in a `select!` arm: a `JoinHandle`, by `&mut`.
pub trait SelectJoin {
    /// What the arm's pattern binds.
    type Output;
    /// The arm's operation.
    fn select_join(self) -> impl Op<Output = Self::Output>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_below_covers_its_range_evenly() {
        let mut counts = [0u32; 3];
        for _ in 0..30_000 {
            counts[random_below(3)] += 1;
        }
        for c in counts {
            assert!((9_000..11_000).contains(&c), "{counts:?}");
        }
        assert_eq!(random_below(1), 0);
    }
}
