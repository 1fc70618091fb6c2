//! The peers' side of the in-process suites: corosensei, context, generator and may, each set
//! up outside the timed loop and handed to the harness as a [`Contender`].

use crate::harness::Contender;
use std::hint::black_box;

/// corosensei: resume + suspend round trip on its default (owned) stack.
pub(crate) fn corosensei_switch() -> Contender<'static> {
    let mut co = corosensei::Coroutine::<(), (), ()>::new(|y, ()| {
        loop {
            y.suspend(());
        }
    });
    Contender::each("corosensei", move || {
        black_box(co.resume(()));
    })
}

/// The body of a `context` coroutine: jump straight back, forever.
extern "C" fn context_entry(mut t: context::Transfer) -> ! {
    loop {
        // SAFETY: `t.context` is the context that just resumed us, suspended and valid.
        t = unsafe { t.context.resume(black_box(t.data)) };
    }
}

/// context (Boost.Context's fcontext): a resume is a jump there, the yield a jump back.
pub(crate) fn context_switch() -> Contender<'static> {
    let stack = context::stack::ProtectedFixedSizeStack::default();
    // SAFETY: `stack` outlives the context: both move into the closure below, and the
    // context is only ever resumed while the closure (and so the stack) is alive.
    let ctx = unsafe { context::Context::new(&stack, context_entry) };
    // SAFETY: a fresh context may be resumed once; it jumps back with its own handle.
    let mut t = Some(unsafe { ctx.resume(0) });
    Contender::each("context", move || {
        let _keep = &stack;
        let cur = t.take().map(|t| t.context);
        if let Some(c) = cur {
            // SAFETY: `c` is the suspended context handed back by the previous jump.
            t = Some(unsafe { c.resume(black_box(1)) });
        }
    })
}

/// generator: `resume` of a generator that yields forever.
pub(crate) fn generator_switch() -> Contender<'static> {
    let mut g = generator::Gn::<()>::new_scoped(|mut s| {
        loop {
            s.yield_with(());
        }
    });
    Contender::each("generator", move || {
        black_box(g.resume());
    })
}

/// corosensei: create on a fresh `DefaultStack` (an mmap each time), run to the end, drop.
pub(crate) fn corosensei_create() -> Contender<'static> {
    Contender::each("corosensei", || {
        let mut co = corosensei::Coroutine::<(), (), u64>::new(|_, ()| black_box(7));
        black_box(co.resume(()));
    })
}

/// corosensei: create on one stack reused through `with_stack` / `into_stack`, run, drop.
pub(crate) fn corosensei_reuse_create() -> Contender<'static> {
    let mut stack = Some(corosensei::stack::DefaultStack::default());
    Contender::each("corosensei_reuse", move || {
        let s = stack.take().unwrap_or_default();
        let mut co = corosensei::Coroutine::<(), (), u64, _>::with_stack(s, |_, ()| black_box(7));
        black_box(co.resume(()));
        stack = Some(co.into_stack());
    })
}

/// may: `go!` spawn of a coroutine that returns at once, joined from a may coroutine (so the
/// join parks a coroutine, not this thread; one outer spawn per sample carries the loop).
pub(crate) fn may_create() -> Contender<'static> {
    Contender::timed("may", |iters| {
        let outer = may::go!(move || {
            let start = std::time::Instant::now();
            for _ in 0..iters {
                let h = may::go!(|| black_box(7u64));
                black_box(h.join().ok());
            }
            start.elapsed()
        });
        outer.join().unwrap_or_default()
    })
}
