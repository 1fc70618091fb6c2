//! Coroutines by hand: `Coroutine`, `resume` and `suspend` with no runtime around them.
//!
//! Run it with `cargo run --example coroutines_by_hand` (add `--quick` for a small run). Every
//! part is a section of the book's chapter "Coroutines by hand", which includes the code between
//! the `ANCHOR` markers.

use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe};
use std::rc::Rc;

use coro::{Coroutine, CoroutineResult, Error, OwnedStack, SharedStack, Yielder};

fn main() -> coro::Result<()> {
    let quick = std::env::args().any(|a| a == "--quick");
    run(quick)
}

/// Runs every part; `quick` makes the last one small. Called by `main` and by the test
/// `tests/example_coroutines_by_hand.rs`.
pub(crate) fn run(quick: bool) -> coro::Result<()> {
    first()?;
    ping_pong()?;
    generator(if quick { 10 } else { 40 });
    // The panics below are expected: keep the default hook from printing them.
    let hook = panic::take_hook();
    panic::set_hook(Box::new(|_| {}));
    panics();
    let dropped = drop_runs_destructors();
    panic::set_hook(hook);
    dropped?;
    nesting()?;
    stack_choices()?;
    shared_stacks(if quick { 1_000 } else { 100_000 })?;
    println!("done");
    Ok(())
}

fn first() -> coro::Result<()> {
    println!("-- a first coroutine");
    // ANCHOR: first
    // Input (), yields u32, returns &str. Nothing runs yet: the body waits for the first resume.
    let mut co: Coroutine<(), u32, &'static str> = Coroutine::new(|yielder, ()| {
        println!("  body: started");
        yielder.suspend(1);
        println!("  body: resumed once");
        yielder.suspend(2);
        println!("  body: resumed twice");
        "finished"
    });

    while !co.is_finished() {
        match co.resume(())? {
            CoroutineResult::Yield(n) => println!("  caller: got Yield({n})"),
            CoroutineResult::Return(s) => println!("  caller: got Return({s:?})"),
        }
    }
    // Resuming a finished coroutine is an error, never undefined behaviour.
    assert!(matches!(co.resume(()), Err(Error::Finished)));
    // ANCHOR_END: first
    Ok(())
}

fn ping_pong() -> coro::Result<()> {
    println!("-- values both ways");
    // ANCHOR: ping_pong
    // A running sum: each resume sends a number in, each suspend hands the total out and
    // receives the next number. Sending 0 ends it.
    let mut sum: Coroutine<i64, i64, i64> = Coroutine::new(|yielder, mut input| {
        let mut total = 0;
        while input != 0 {
            total += input;
            input = yielder.suspend(total);
        }
        total
    });

    for n in [5, 10, 20] {
        if let CoroutineResult::Yield(total) = sum.resume(n)? {
            println!("  sent {n:>2}, running total {total}");
        }
    }
    let last = sum.resume(0)?;
    assert!(matches!(last, CoroutineResult::Return(35)));
    // ANCHOR_END: ping_pong
    Ok(())
}

// ANCHOR: generator_type
/// A generator by hand: a coroutine that yields `T` and takes no input, seen as an iterator.
struct Gen<T: 'static> {
    co: Coroutine<(), T, ()>,
}

impl<T: 'static> Gen<T> {
    fn new(body: impl FnOnce(&Yielder<(), T>) + 'static) -> Self {
        Gen {
            co: Coroutine::new(move |yielder, ()| body(yielder)),
        }
    }
}

impl<T: 'static> Iterator for Gen<T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        if self.co.is_finished() {
            return None;
        }
        match self.co.resume(()) {
            Ok(CoroutineResult::Yield(value)) => Some(value),
            Ok(CoroutineResult::Return(())) | Err(_) => None,
        }
    }
}
// ANCHOR_END: generator_type

fn generator(count: usize) {
    println!("-- a generator by hand");
    // ANCHOR: generator_use
    // An endless loop is fine: the body runs only as far as the consumer asks.
    let fibonacci = Gen::new(|yielder| {
        let (mut a, mut b) = (0u64, 1u64);
        loop {
            yielder.suspend(a);
            (a, b) = (b, a + b);
        }
    });
    let first: Vec<u64> = fibonacci.take(count).collect();
    println!("  {first:?}");
    // ANCHOR_END: generator_use
    assert_eq!(first[..6], [0, 1, 1, 2, 3, 5]);
}

fn panics() {
    println!("-- a panic in the body");
    // ANCHOR: panic
    let mut co: Coroutine<(), (), ()> = Coroutine::new(|_, ()| {
        panic!("boom inside the coroutine");
    });

    // The panic unwinds the coroutine's stack, then is raised again in the caller of resume,
    // with its payload intact; catch it there as you would any panic.
    let Err(payload) = panic::catch_unwind(AssertUnwindSafe(|| co.resume(()))) else {
        panic!("the panic should reach the resumer");
    };
    let message = payload.downcast_ref::<&str>();
    assert_eq!(message, Some(&"boom inside the coroutine"));

    // A coroutine that panicked is finished.
    assert!(co.is_finished());
    assert!(matches!(co.resume(()), Err(Error::Finished)));
    // ANCHOR_END: panic
    println!("  caught the panic in the resumer; the coroutine is finished");
}

// ANCHOR: noisy
/// Counts its drops, so that we can see which destructors ran.
struct Noisy {
    name: &'static str,
    drops: Rc<Cell<u32>>,
}

impl Noisy {
    fn new(name: &'static str, drops: &Rc<Cell<u32>>) -> Noisy {
        Noisy {
            name,
            drops: drops.clone(),
        }
    }
}

impl Drop for Noisy {
    fn drop(&mut self) {
        println!("  dropped {}", self.name);
        self.drops.set(self.drops.get() + 1);
    }
}
// ANCHOR_END: noisy

/// A panic payload of our own, to tell it apart from payloads we must pass on.
#[derive(Debug)]
struct Retry;

fn drop_runs_destructors() -> coro::Result<()> {
    println!("-- dropping a suspended coroutine");
    // ANCHOR: drop
    let drops = Rc::new(Cell::new(0));
    let counter = drops.clone();
    let mut co: Coroutine<(), (), ()> = Coroutine::new(move |yielder, ()| {
        let _outer = Noisy::new("outer", &counter);
        let _inner = Noisy::new("inner", &counter);
        yielder.suspend(()); // suspended here when dropped ...
        unreachable!("... and never resumed past this point");
    });

    co.resume(())?; // runs to the suspend
    drop(co); // unwinds the coroutine's stack: both destructors run
    assert_eq!(drops.get(), 2);
    // ANCHOR_END: drop

    // ANCHOR: catch_in_body
    // A body that catches panics of its own must pass every other payload on: dropping a
    // suspended coroutine unwinds it with a payload that belongs to coro.
    let mut careful: Coroutine<(), (), u32> = Coroutine::new(|yielder, ()| {
        let mut retries = 0;
        loop {
            let attempt = panic::catch_unwind(AssertUnwindSafe(|| {
                yielder.suspend(());
                if retries == 0 {
                    panic::panic_any(Retry);
                }
            }));
            match attempt {
                Ok(()) => return retries,
                Err(payload) if payload.is::<Retry>() => retries += 1, // ours: try again
                Err(payload) => panic::resume_unwind(payload),         // not ours: pass it on
            }
        }
    });
    careful.resume(())?; // suspended in the first attempt
    careful.resume(())?; // the first attempt panics with Retry; suspended in the second
    drop(careful); // the forced unwind goes through the catch_unwind and out again
    // ANCHOR_END: catch_in_body
    Ok(())
}

fn nesting() -> coro::Result<()> {
    println!("-- coroutines inside coroutines");
    // ANCHOR: nesting
    // A coroutine may create and resume others; each suspend returns to its own resumer.
    let mut outer: Coroutine<(), String, ()> = Coroutine::new(|yielder, ()| {
        let mut inner: Coroutine<(), u32, ()> = Coroutine::new(|yielder, ()| {
            for i in 1..=2 {
                yielder.suspend(i * 100);
            }
        });
        while let Ok(CoroutineResult::Yield(n)) = inner.resume(()) {
            yielder.suspend(format!("outer passes on {n}"));
        }
    });
    while let CoroutineResult::Yield(line) = outer.resume(())? {
        println!("  {line}");
    }
    // ANCHOR_END: nesting
    Ok(())
}

fn stack_choices() -> coro::Result<()> {
    println!("-- choosing a stack");
    fn body(yielder: &Yielder<(), usize>, (): ()) -> &'static str {
        let frame = [7u8; 512];
        yielder.suspend(frame.iter().map(|&b| b as usize).sum());
        "done"
    }
    // ANCHOR: stacks
    let a = Coroutine::new(body); // owned, DEFAULT_STACK_SIZE (128 KiB), from the pool
    let b = Coroutine::with_stack_size(16 * 1024, body)?; // owned, 16 KiB
    let c = Coroutine::with_stack(OwnedStack::new(1 << 20)?, body); // owned, one you made
    let shared = SharedStack::new(256 * 1024)?;
    // SAFETY: nothing outside `body` holds a reference into its stack (see the Safety model).
    let d = unsafe { Coroutine::with_shared_stack(&shared, body) }; // shared with others on `shared`
    // ANCHOR_END: stacks
    for mut co in [a, b, c, d] {
        assert!(matches!(co.resume(())?, CoroutineResult::Yield(3584)));
        assert!(matches!(co.resume(())?, CoroutineResult::Return("done")));
    }
    Ok(())
}

fn shared_stacks(count: usize) -> coro::Result<()> {
    println!("-- {count} coroutines on two shared stacks");
    // ANCHOR: shared
    // Two stacks for all of them: each coroutine's live frame is copied out when another one
    // takes its stack, and copied back when it runs again.
    let stacks = [SharedStack::new(64 * 1024)?, SharedStack::new(64 * 1024)?];
    let mut coroutines: Vec<Coroutine<(), u64, u64>> = (0..count)
        .map(|i| {
            let body = move |yielder: &Yielder<(), u64>, ()| {
                let mine = [i as u64; 4]; // lives on the shared stack, across switches
                for round in 0..3 {
                    yielder.suspend(mine.iter().sum::<u64>() + round);
                }
                mine[0]
            };
            // SAFETY: nothing outside the body holds a reference into its stack (see the
            // Safety model chapter: shared stacks move a suspended coroutine's frames away).
            unsafe { Coroutine::with_shared_stack(&stacks[i % 2], body) }
        })
        .collect();

    // Resume them all, round after round: each finds its own frame where it left it.
    let mut total = 0;
    for round in 0..4 {
        for (i, co) in coroutines.iter_mut().enumerate() {
            match co.resume(())? {
                CoroutineResult::Yield(value) => assert_eq!(value, 4 * i as u64 + round),
                CoroutineResult::Return(value) => total += value,
            }
        }
    }
    // ANCHOR_END: shared
    let count = count as u64;
    assert_eq!(total, count * (count - 1) / 2);
    println!("  every coroutine came back with its own frame intact");

    // ANCHOR: busy
    // A coroutine cannot be resumed while its shared stack holds the frames of a coroutine
    // that is running: here the outer one is running on `stack`, so the inner one, which
    // needs the same stack, gets an error instead of overwriting its caller's frames.
    let stack = SharedStack::new(64 * 1024)?;
    let inner_stack = stack.clone();
    let outer_body = move |_: &Yielder<(), ()>, ()| {
        // SAFETY: an empty body holds no reference at all.
        let mut inner: Coroutine<(), (), ()> =
            unsafe { Coroutine::with_shared_stack(&inner_stack, |_, ()| {}) };
        matches!(inner.resume(()), Err(Error::SharedStackBusy { .. }))
    };
    // SAFETY: nothing outside the body holds a reference into its stack.
    let mut outer: Coroutine<(), (), bool> =
        unsafe { Coroutine::with_shared_stack(&stack, outer_body) };
    assert!(matches!(outer.resume(())?, CoroutineResult::Return(true)));
    // ANCHOR_END: busy
    println!("  a nested resume on a busy shared stack is an error, as it should be");
    Ok(())
}
