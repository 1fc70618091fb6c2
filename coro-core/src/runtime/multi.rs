//! [`Runtime`]: one scheduler per thread on several threads (libco's one loop per thread).

use std::panic;
use std::thread;

use crate::error::Result;

use super::run::{RunOptions, run_main};

/// Entry point for multi-threaded runs: `Runtime::builder().threads(n).run(f)`.
///
/// Each of the `n` threads runs its own scheduler with `f(i)` as its first coroutine;
/// coroutines never move between threads. Listeners made with
/// [`TcpListener::bind_reuseport`](crate::net::TcpListener::bind_reuseport) let every thread
/// accept its own share of the connections.
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// let sum = AtomicUsize::new(0);
/// let ids = coro::Runtime::builder().threads(3).run(|i| {
///     let h = coro::spawn(move || i * 10);
///     sum.fetch_add(h.join().unwrap(), Ordering::Relaxed);
///     i
/// });
/// assert_eq!(ids, vec![0, 1, 2]);
/// assert_eq!(sum.into_inner(), 30);
/// ```
#[derive(Debug)]
pub struct Runtime(());

impl Runtime {
    /// A builder with one thread.
    pub fn builder() -> RuntimeBuilder {
        RuntimeBuilder {
            threads: 1,
            blocking_threads: None,
            name: "coro-worker".into(),
            options: RunOptions::default(),
        }
    }
}

/// Configures and starts a multi-threaded run; see [`Runtime`].
#[derive(Debug, Clone)]
pub struct RuntimeBuilder {
    threads: usize,
    blocking_threads: Option<usize>,
    name: String,
    options: RunOptions,
}

impl RuntimeBuilder {
    /// How many threads, each with its own scheduler (at least 1). Thread 0 is the caller's.
    pub fn threads(mut self, n: usize) -> Self {
        self.threads = n.max(1);
        self
    }

    /// The size of the process-wide [`spawn_blocking`](crate::spawn_blocking) pool (default 4).
    pub fn blocking_threads(mut self, n: usize) -> Self {
        self.blocking_threads = Some(n);
        self
    }

    /// The stack size, in bytes, of every coroutine spawned without one of its own (default
    /// [`DEFAULT_STACK_SIZE`](crate::DEFAULT_STACK_SIZE)).
    pub fn stack_size(mut self, size: usize) -> Self {
        self.options.stack_size = size;
        self
    }

    /// The stack size, in bytes, of the first coroutine on each thread, the one that runs
    /// `f` (default [`MAIN_STACK_SIZE`](crate::MAIN_STACK_SIZE), 8 MiB).
    pub fn main_stack_size(mut self, size: usize) -> Self {
        self.options.main_stack_size = size;
        self
    }

    /// Whether `SIGQUIT` prints the census of every thread's coroutines, with backtraces, to
    /// standard error, after which the program goes on (default false, or true when the
    /// environment has `CORO_DUMP_ON_SIGQUIT=1`). Once on, it stays on for the process: the
    /// handler replaces `SIGQUIT`'s default action (a core dump) and any handler installed
    /// before. See [`coro::debug`](crate::debug).
    pub fn dump_on_sigquit(mut self, on: bool) -> Self {
        self.options.dump_on_sigquit = on;
        self
    }

    /// Switches the stall watchdog on with `threshold`: a coroutine that keeps its thread
    /// longer than that without reaching a suspension point (a tight loop, a blocking call the
    /// hooks do not cover) is reported on standard error, once per stall, with its id, spawn
    /// site and how long; when it gives the thread back, its loop reports how long the stall
    /// lasted and a backtrace of where it went on from. Off by default, or on with the
    /// environment's `CORO_WATCHDOG_MS=<ms>`. It costs a few relaxed stores per switch, and one
    /// thread for the process that wakes every quarter threshold. See
    /// [`coro::debug`](crate::debug).
    pub fn watchdog(mut self, threshold: std::time::Duration) -> Self {
        self.options.watchdog = Some(threshold);
        self
    }

    /// The name prefix of the spawned threads (`coro-worker-1`, ...).
    pub fn thread_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Runs `f(i)` as the first coroutine on thread `i` for every `i` in `0..threads`, each
    /// with its own scheduler, until every coroutine on every thread has finished; returns the
    /// values in thread order. A panic on any thread is re-raised here after all have ended.
    ///
    /// # Panics
    ///
    /// Called inside a runtime, or when a thread cannot be started; see [`try_run`](Self::try_run).
    #[track_caller]
    pub fn run<T, F>(self, f: F) -> Vec<T>
    where
        F: Fn(usize) -> T + Sync,
        T: Send,
    {
        match self.try_run(f) {
            Ok(v) => v,
            Err(e) => panic!("coro::Runtime::run: {e}"),
        }
    }

    /// As [`run`](Self::run), with set-up failures as errors.
    #[track_caller]
    pub fn try_run<T, F>(self, f: F) -> Result<Vec<T>>
    where
        F: Fn(usize) -> T + Sync,
        T: Send,
    {
        if let Some(n) = self.blocking_threads {
            super::pool::set_size(n);
        }
        let f = &f;
        let site = std::panic::Location::caller();
        let options = &RunOptions {
            group: Some(Default::default()),
            ..self.options.clone()
        };
        thread::scope(|scope| {
            let mut handles = Vec::with_capacity(self.threads - 1);
            for i in 1..self.threads {
                let h = thread::Builder::new()
                    .name(format!("{}-{i}", self.name))
                    .spawn_scoped(scope, move || run_main(options, i, site, || f(i)))?;
                handles.push(h);
            }
            let first = panic::catch_unwind(panic::AssertUnwindSafe(|| {
                run_main(options, 0, site, || f(0))
            }));
            let mut out = Vec::with_capacity(self.threads);
            let mut panicked = None;
            let mut error = None;
            let mut push = |r: thread::Result<Result<T>>| match r {
                Ok(Ok(v)) => out.push(v),
                Ok(Err(e)) => error = error.take().or(Some(e)),
                Err(p) => panicked = panicked.take().or(Some(p)),
            };
            push(first);
            for h in handles {
                push(h.join());
            }
            if let Some(p) = panicked {
                panic::resume_unwind(p);
            }
            match error {
                Some(e) => Err(e),
                None => Ok(out),
            }
        })
    }
}
