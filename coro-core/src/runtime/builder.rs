//! [`Builder`]: spawns a coroutine with a name, a stack size, or on a shared stack.

use crate::error::{Error, Result};

use super::join::JoinHandle;
use super::scheduler::SCHED;

/// Options for a new coroutine, like [`std::thread::Builder`].
///
/// ```
/// coro::run(|| {
///     let h = coro::Builder::new()
///         .name("worker")
///         .stack_size(64 * 1024)
///         .spawn(|| coro::current().unwrap().name)
///         .unwrap();
///     assert_eq!(h.join().unwrap().as_deref(), Some("worker"));
/// });
/// ```
#[derive(Debug, Clone, Default)]
pub struct Builder {
    pub(crate) name: Option<Box<str>>,
    pub(crate) stack_size: Option<usize>,
    pub(crate) shared: bool,
}

impl Builder {
    /// Default options: no name, an owned stack of [`crate::DEFAULT_STACK_SIZE`] bytes.
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Names the coroutine (see [`crate::current`]).
    pub fn name(mut self, name: impl Into<String>) -> Builder {
        self.name = Some(name.into().into_boxed_str());
        self
    }

    /// The stack size in bytes (of the owned stack, or of the shared stacks used).
    pub fn stack_size(mut self, size: usize) -> Builder {
        self.stack_size = Some(size);
        self
    }

    /// Runs the coroutine on one of the thread's shared (copy) stacks instead of its own: a
    /// suspended coroutine then costs only its live stack bytes, at the price of a copy when
    /// it is switched out and back in while another used the stack.
    ///
    /// # Safety
    ///
    /// With `shared` true, the coroutine's body must not let anything use a reference into its
    /// stack while it is suspended (parked on I/O, a timer, a lock, `yield_now`...): other
    /// coroutines' frames occupy those addresses meanwhile. That rules out lending a local to
    /// another thread through a scoped API (`std::thread::scope`) across a wait, or installing
    /// one in a scoped thread-local another coroutine can read. Owned and heap values are not
    /// affected. See [`crate::Coroutine::with_shared_stack`] and the book's Safety model.
    pub unsafe fn shared(mut self, shared: bool) -> Builder {
        self.shared = shared;
        self
    }

    /// Spawns `f` as a coroutine on this thread's scheduler; it runs after the coroutines
    /// already queued.
    ///
    /// Errors: [`Error::NoRuntime`] outside [`crate::run`]; [`Error::StackAlloc`],
    /// [`Error::StackTooSmall`] or [`Error::StackTooLarge`] when the stack cannot be had.
    #[track_caller]
    pub fn spawn<T, F>(self, f: F) -> Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + 'static,
        T: 'static,
    {
        if !SCHED.is_set() {
            return Err(Error::NoRuntime);
        }
        let site = std::panic::Location::caller();
        SCHED.with(|s| s.spawn(&self, site, f))
    }
}
