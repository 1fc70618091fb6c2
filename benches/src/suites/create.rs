//! `create`: create a coroutine, run it to its end, drop it — per coroutine, with every pool
//! warm (the harness's calibration runs first and fills them).

use crate::harness::{Contender, compare, figure, get};
use crate::{Args, peers};
use coro::Coroutine;
use std::hint::black_box;

/// coro on its default owned stack, taken from and given back to the per-thread pool.
fn coro_create() -> Contender<'static> {
    Contender::each("coro", || {
        let mut co = Coroutine::<(), (), u64>::new(|_, ()| black_box(7));
        black_box(co.resume(()).unwrap());
    })
}

/// Runs the suite.
pub(crate) fn run(args: &Args) -> Result<(), String> {
    let opts = args.harness()?;
    let workers: usize = args.get("--may-workers", 1)?;
    may::config().set_workers(workers);
    println!("create: may with {workers} worker thread(s) (--may-workers N to change)");
    let mut cs = vec![
        coro_create(),
        peers::corosensei_create(),
        peers::corosensei_reuse_create(),
        peers::may_create(),
    ];
    let ms = compare("create+run+drop", &mut cs, opts);
    let coro = get(&ms, "coro");
    println!(
        "create: coro is {:.2}x corosensei_reuse and {:.3}x may",
        coro / get(&ms, "corosensei_reuse"),
        coro / get(&ms, "may")
    );
    figure(
        "create",
        "ns",
        &[
            ("coro", coro),
            ("corosensei", get(&ms, "corosensei")),
            ("corosensei_reuse", get(&ms, "corosensei_reuse")),
            ("may", get(&ms, "may")),
        ],
    );
    Ok(())
}
