//! Stack sizes: `main` on a stack big enough for blocking code's large locals, replicated on
//! two threads with `#[coro::main(replicate = 2, stack_size = ..)]`, and every way to give a
//! spawned coroutine a stack of its own size, each checked with a census.
//!
//! ```text
//! cargo run --example stack_sizes
//! ```

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};

/// How many copies of `main` ran.
pub(crate) static COPIES: AtomicUsize = AtomicUsize::new(0);

/// Uses `N` bytes of stack at once, as ported blocking code with a large buffer does.
#[inline(never)]
fn checksum<const N: usize>() -> u64 {
    let buf = std::hint::black_box([1u8; N]);
    buf.iter().map(|&b| u64::from(b)).sum()
}

/// The size of the calling coroutine's stack, as a census of the runtime reports it.
pub(crate) fn my_stack() -> usize {
    let me = coro::current().expect("called in a coroutine").id;
    let census = coro::debug::census().expect("called in a runtime");
    census.get(me).expect("the caller is alive").stack.size
}

// ANCHOR: coroutine
/// A `#[coroutine]` function whose coroutine gets a 1 MiB stack.
#[coro::coroutine(stack_size = 1 << 20)]
fn parse() -> (usize, u64) {
    (my_stack(), checksum::<{ 256 << 10 }>())
}
// ANCHOR_END: coroutine

/// What each spawned coroutine below runs: its stack's size, and a 256 KiB local summed.
fn big() -> (usize, u64) {
    (my_stack(), checksum::<{ 256 << 10 }>())
}

// ANCHOR: spawn
/// Every way to choose the stack of a coroutine spawned from code: each reports its stack's
/// size and sums a 256 KiB local (`big`), which the default 128 KiB stack could not hold.
pub(crate) fn stacks() -> BTreeMap<&'static str, usize> {
    let mut sizes = BTreeMap::new();

    sizes.insert("#[coroutine(stack_size)]", parse().join().unwrap().0);
    let h = coro::go!(stack_size = 1 << 20; { big() });
    sizes.insert("go!(stack_size)", h.join().unwrap().0);
    let builder = coro::Builder::new().name("decoder").stack_size(2 << 20);
    sizes.insert(
        "go!(builder)",
        coro::go!(builder = builder; { big() }).join().unwrap().0,
    );
    let builder = coro::Builder::new().stack_size(1 << 20);
    sizes.insert(
        "Builder::spawn",
        builder.spawn(big).unwrap().join().unwrap().0,
    );
    coro::scope(|s| {
        let b = coro::Builder::new().stack_size(1 << 20);
        sizes.insert(
            "Scope::spawn_with",
            s.spawn_with(b, big).unwrap().join().unwrap().0,
        );
    });
    let mut set = coro::JoinSet::new();
    set.spawn_with(coro::Builder::new().stack_size(1 << 20), big)
        .unwrap();
    sizes.insert("JoinSet::spawn_with", set.join_next().unwrap().unwrap().0);
    // Without a size: the runtime's default (128 KiB unless its builder says otherwise).
    sizes.insert("go! (default)", coro::go! { my_stack() }.join().unwrap());
    sizes
}
// ANCHOR_END: spawn

// ANCHOR: main
/// Runs once on each of 2 threads, each with its own runtime, on a 16 MiB stack: room for a
/// 4 MiB local (the default, 8 MiB, holds 1 MiB ones).
#[coro::main(replicate = 2, stack_size = 16 << 20)]
pub(crate) fn main() -> std::io::Result<()> {
    COPIES.fetch_add(1, Ordering::SeqCst);
    let sum = checksum::<{ 4 << 20 }>();
    let thread = std::thread::current().name().unwrap_or("?").to_string();
    let mut report = format!(
        "{thread}: main's stack is {} MiB, its 4 MiB local sums to {sum}\n",
        my_stack() >> 20
    );
    for (how, size) in stacks() {
        report += &format!("{thread}:   {how}: {} KiB\n", size >> 10);
    }
    print!("{report}"); // one print per thread: the two copies run at the same time
    Ok(())
}
// ANCHOR_END: main
