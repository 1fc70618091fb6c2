//! [`run_main`]: the life of a runtime, from the first task to the teardown.

/// The stack of the first coroutine, `main`, unless a [`RuntimeBuilder`](crate::RuntimeBuilder)
/// says otherwise: 8 MiB, the stack a Linux program's main thread gets. `main` is where ported
/// blocking code runs first, with its large locals and deep calls; the stack is mapped lazily,
/// so only the pages it touches cost memory, and its address space comes out of the 16 MiB
/// region every owned stack has anyway.
pub const MAIN_STACK_SIZE: usize = 8 << 20;

/// How a runtime's coroutines get their stacks, and what watches them.
#[derive(Debug, Clone)]
pub(crate) struct RunOptions {
    /// The stack of the first coroutine.
    pub(crate) main_stack_size: usize,
    /// The stack of every coroutine spawned without a size of its own.
    pub(crate) stack_size: usize,
    /// The schedulers of the same runtime (the threads of a multi-thread one), for the
    /// census; None for a runtime of one thread.
    pub(crate) group: Option<Arc<Group>>,
    /// Whether `SIGQUIT` prints the census (also switched on by `CORO_DUMP_ON_SIGQUIT=1`).
    pub(crate) dump_on_sigquit: bool,
    /// The stall watchdog's threshold, if it is on (also `CORO_WATCHDOG_MS`).
    pub(crate) watchdog: Option<std::time::Duration>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            main_stack_size: MAIN_STACK_SIZE,
            stack_size: crate::DEFAULT_STACK_SIZE,
            group: None,
            dump_on_sigquit: false,
            watchdog: None,
        }
    }
}

use std::panic::{self, AssertUnwindSafe, Location};
use std::sync::Arc;

use crate::error::{Error, Result};

use super::builder::Builder;
use super::cancel;
use super::census::Group;
use super::scheduler::{SCHED, Scheduler};

impl Scheduler {
    /// What is left when `run_loop` ends early because the scheduler itself failed (an
    /// internal panic): the coroutines still alive cannot be run to their end, and unwinding
    /// them from outside could cross a foreign frame, so they are leaked.
    fn teardown_after_failure(&self) {
        self.clear_current();
        if self.tasks.borrow().live() > 0 {
            self.abandon("cannot run to their end: the runtime itself failed");
        }
        self.ready.borrow_mut().clear();
        self.deferred.borrow_mut().clear();
        self.driver.borrow_mut().wheel.clear();
    }
}

/// Runs `f` as the first task of a new scheduler on this thread and drives the loop until
/// every task has finished. See [`crate::run`]. `index` is the thread's place in a
/// multi-thread runtime (0 otherwise), `site` where the runtime was started.
pub(crate) fn run_main<T, F: FnOnce() -> T>(
    options: &RunOptions,
    index: usize,
    site: &'static Location<'static>,
    f: F,
) -> Result<T> {
    if SCHED.is_set() {
        return Err(Error::NestedRun);
    }
    if options.dump_on_sigquit || super::dump::wanted_by_env() {
        super::dump::enable()?;
    }
    let sched = Scheduler::new(options.stack_size)?;
    if let Some(threshold) = options
        .watchdog
        .or_else(super::watchdog::threshold_from_env)
    {
        let _ = sched.watch.set(super::watchdog::watch(threshold));
    }
    let group = options.group.clone().unwrap_or_default();
    let member = group.join(index, &sched.remote());
    *sched.member.borrow_mut() = Some((group.clone(), member.clone()));
    /// Takes the scheduler out of its group however `run_main` ends, so that no census
    /// waits for a loop that is gone.
    struct Leave(Arc<Group>, Arc<super::census::Member>);
    impl Drop for Leave {
        fn drop(&mut self) {
            self.0.leave(&self.1);
        }
    }
    let _leave = Leave(group, member);
    let mut out: Option<T> = None;
    let slot: *mut Option<T> = &mut out;
    let mut main_panic: Option<Box<dyn std::any::Any + Send>> = None;
    let panic_slot: *mut Option<Box<dyn std::any::Any + Send>> = &mut main_panic;
    let main: Box<dyn FnOnce() + '_> = Box::new(move || {
        let v = match panic::catch_unwind(AssertUnwindSafe(f)) {
            Ok(v) => v,
            Err(p) => {
                // A panic in main shuts the runtime down: the other tasks are cancelled and
                // run until they have unwound, then `run` re-raises it (as `block_on` does:
                // nothing waits on tasks that may never end once `main` is gone).
                // SAFETY: as for `out` below: the slot outlives the main task.
                unsafe { *panic_slot = Some(p) };
                SCHED.with(|s| s.shutdown());
                return;
            }
        };
        // SAFETY: `out` outlives the main task: `run_main` does not return (or unwind past
        // `out`) while the main task lives: the loop runs until every task has finished, and a
        // failure of the loop itself leaks the tasks left, which then never run again.
        unsafe { *slot = Some(v) };
    });
    // SAFETY: see above: the main task never runs after this call, so neither do the borrows in
    // `f` and `out`; the lifetime is only erased for the coroutine's `'static` bound.
    let main: Box<dyn FnOnce() + 'static> = unsafe { std::mem::transmute(main) };

    /// Runs when the loop unwinds (an internal failure): see `teardown_after_failure`.
    struct Teardown<'a>(&'a Scheduler);
    impl Drop for Teardown<'_> {
        fn drop(&mut self) {
            self.0.teardown_after_failure();
        }
    }

    SCHED.set(&sched, || -> Result<()> {
        let teardown = Teardown(&sched);
        sched.spawn(
            &Builder::new()
                .name("main")
                .stack_size(options.main_stack_size),
            site,
            main,
        )?;
        sched.run_loop();
        std::mem::forget(teardown);
        Ok(())
    })?;
    if let Some(msg) = sched.take_fatal() {
        panic!("{msg}");
    }
    if let Some(p) = main_panic
        && !cancel::is_interrupt(&*p)
    {
        panic::resume_unwind(p);
    }
    match out {
        Some(v) => Ok(v),
        None if sched.forked() => panic!(
            "coro::run: this process was forked from inside the runtime, by a coroutine other than the main one: in the child only the forking coroutine exists, so `run` has no value to return; end the child with `std::process::exit` (or `exec`)"
        ),
        // The main task was cancelled by the shutdown, or left in a shielded wait.
        None => panic!("coro::run: the main coroutine did not finish (it was cancelled)"),
    }
}
