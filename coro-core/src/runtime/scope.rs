//! [`scope`]: coroutines that borrow from the stack of the one that spawns them, all of them
//! ended before the scope returns (the shape of `std::thread::scope`).
//!
//! The children are ordinary tasks whose closures outlive no borrow: the scope waits for every
//! child's closure to end before it returns, on every path. If the scope's closure returns, it
//! waits for the children; if it unwinds (a panic, a cancel, an expired deadline), or a cancel
//! or an expiry reaches that wait, it cancels the children, then waits for them, shielded, since
//! their borrows must end before the frame they borrow from is unwound. A child's panic comes back from its handle's `join`, and,
//! if nobody joined that child, is raised by the scope once every child has ended.
//!
//! The caller must run on an owned stack: a coroutine on a shared stack has its frames copied
//! away while it waits, and the children's references into them would then point at another
//! coroutine's frames. The children may run on any stack.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::fmt;
use std::marker::PhantomData;
use std::panic::{self, AssertUnwindSafe};
use std::rc::Rc;
use std::thread;

use crate::error::Result;

use super::builder::Builder;
use super::cancel::{self, Cancelled};
use super::census::Wait;
use super::join::JoinHandle;
use super::park::{self, Unparker};
use super::scheduler::SCHED;
use super::task::Task;

/// What the scope knows of its children, kept apart from anything they borrow (so that the
/// scope's own drop needs nothing of `'scope`): how many closures still run, who waits for
/// them, and the payloads of their panics, by child, until a join takes them.
#[derive(Default)]
struct Shared {
    running: Cell<usize>,
    waiter: RefCell<Option<Unparker>>,
    panics: RefCell<Vec<Option<Box<dyn Any + Send>>>>,
}

/// Ends one child for the scope when its closure ends, by return or unwind.
struct Ended(Rc<Shared>);

impl Drop for Ended {
    fn drop(&mut self) {
        self.0.running.set(self.0.running.get() - 1);
        if self.0.running.get() == 0
            && let Some(w) = self.0.waiter.borrow_mut().take()
        {
            w.unpark();
        }
    }
}

/// A scope to spawn borrowing coroutines in; see [`scope`].
pub struct Scope<'scope, 'env: 'scope> {
    shared: Rc<Shared>,
    /// The children's tasks, to cancel them when the scope unwinds.
    tasks: RefCell<Vec<Rc<Task>>>,
    /// Invariant in `'scope`, as std's: a child may borrow from `'env` and from the scope.
    scope: PhantomData<&'scope mut &'scope ()>,
    env: PhantomData<&'env mut &'env ()>,
}

impl fmt::Debug for Scope<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scope")
            .field("running", &self.shared.running.get())
            .finish()
    }
}

/// How a child ended, when not with a value.
enum Failed {
    /// It panicked: the payload waits in the scope, at the child's index.
    Panicked,
    /// A cancel ended it.
    Cancelled,
}

/// A handle to a coroutine spawned in a [`Scope`]: [`join`](Self::join) takes its result.
pub struct ScopedJoinHandle<'scope, T> {
    handle: JoinHandle<()>,
    result: Rc<RefCell<Option<std::result::Result<T, Failed>>>>,
    shared: Rc<Shared>,
    index: usize,
    scope: PhantomData<&'scope ()>,
}

impl<T> fmt::Debug for ScopedJoinHandle<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScopedJoinHandle")
            .field("id", &self.handle.id())
            .field("finished", &self.handle.is_finished())
            .finish()
    }
}

impl<T> ScopedJoinHandle<'_, T> {
    /// Waits for the coroutine and returns its value, or the payload of its panic as `Err`
    /// (a [`Cancelled`] payload if a cancel ended it). A wait of coro's own, as
    /// [`JoinHandle::join`].
    pub fn join(self) -> thread::Result<T> {
        while !self.handle.is_finished() {
            self.handle.wait_once();
        }
        let cancelled = || -> Box<dyn Any + Send> { Box::new(Cancelled) };
        match self.result.borrow_mut().take() {
            Some(Ok(v)) => Ok(v),
            Some(Err(Failed::Panicked)) => Err(self.shared.panics.borrow_mut()[self.index]
                .take()
                .unwrap_or_else(cancelled)),
            Some(Err(Failed::Cancelled)) | None => Err(cancelled()),
        }
    }

    /// Cancels the coroutine; see [`JoinHandle::cancel`].
    pub fn cancel(&self) {
        self.handle.cancel();
    }

    /// Whether the coroutine has finished.
    pub fn is_finished(&self) -> bool {
        self.handle.is_finished()
    }

    /// The coroutine's id.
    pub fn id(&self) -> u64 {
        self.handle.id()
    }
}

impl<'scope> Scope<'scope, '_> {
    /// Spawns `f` as a coroutine that may borrow anything that outlives the scope.
    ///
    /// # Panics
    ///
    /// When no stack can be had, as [`crate::spawn`]; [`spawn_with`](Self::spawn_with)
    /// returns the error instead.
    #[track_caller]
    pub fn spawn<F, T>(&'scope self, f: F) -> ScopedJoinHandle<'scope, T>
    where
        F: FnOnce() -> T + 'scope,
        T: 'scope,
    {
        match self.spawn_with(Builder::new(), f) {
            Ok(h) => h,
            Err(e) => panic!("coro::Scope::spawn: {e}"),
        }
    }

    /// Spawns `f` with the options of `builder` (name, stack size, shared stack: the child
    /// may run on a shared stack, since what it borrows is not on its own stack).
    #[track_caller]
    pub fn spawn_with<F, T>(
        &'scope self,
        builder: Builder,
        f: F,
    ) -> Result<ScopedJoinHandle<'scope, T>>
    where
        F: FnOnce() -> T + 'scope,
        T: 'scope,
    {
        let result = Rc::new(RefCell::new(None));
        let index = {
            let mut panics = self.shared.panics.borrow_mut();
            panics.push(None);
            panics.len() - 1
        };
        let (filled, shared, ended) = (
            Rc::clone(&result),
            Rc::clone(&self.shared),
            Ended(Rc::clone(&self.shared)),
        );
        self.shared.running.set(self.shared.running.get() + 1);
        let body: Box<dyn FnOnce() + 'scope> = Box::new(move || {
            let _ended = ended;
            let r = match panic::catch_unwind(AssertUnwindSafe(f)) {
                Ok(v) => Ok(v),
                Err(p) if cancel::is_interrupt(&*p) => Err(Failed::Cancelled),
                Err(p) => {
                    shared.panics.borrow_mut()[index] = Some(p);
                    Err(Failed::Panicked)
                }
            };
            *filled.borrow_mut() = Some(r);
        });
        // SAFETY: the scope waits until this closure has ended (`Shared::running` reaches 0)
        // before `'scope` ends, on every path: its end waits for every child, shielded, even
        // when it unwinds; a closure that never runs (its spawn failed, or a cancel came first)
        // is dropped, which ends it too. So the closure and what it borrows outlive its run;
        // the lifetime is only erased for the scheduler's `'static` bound, as
        // `std::thread::scope` does for its threads.
        let body: Box<dyn FnOnce() + 'static> = unsafe { std::mem::transmute(body) };
        let handle = builder.spawn(body)?;
        self.tasks.borrow_mut().push(handle.task_rc());
        Ok(ScopedJoinHandle {
            handle,
            result,
            shared: Rc::clone(&self.shared),
            index,
            scope: PhantomData,
        })
    }
}

/// Runs `f` with a [`Scope`] in which it spawns coroutines that may borrow from the caller's
/// stack; returns once every one of them has ended, with `f`'s value.
///
/// If `f` panics or is cancelled, or a cancel or an expired deadline reaches the wait for the
/// children after `f` returned, the children are cancelled, and the panic (or the cancel, or
/// the expiry) goes on once they have all ended. A child's panic comes back from its handle's `join`; if
/// nobody joined a child that panicked, `scope` raises that panic once all have ended.
///
/// ```
/// let words = vec!["one", "two", "three"];
/// let total = coro::run(|| {
///     let mut lengths = vec![0; words.len()];
///     coro::scope(|s| {
///         for (word, len) in words.iter().zip(lengths.iter_mut()) {
///             s.spawn(move || *len = word.len()); // borrows `words` and `lengths`
///         }
///     });
///     lengths.iter().sum::<usize>()
/// });
/// assert_eq!(total, 11);
/// ```
///
/// # Panics
///
/// Outside a coroutine of a runtime; on a coroutine that runs on a shared stack (its frames
/// move while it waits, so nothing may borrow them: call `scope` from an owned stack); and as
/// described above.
pub fn scope<'env, F, T>(f: F) -> T
where
    F: for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> T,
{
    let on_shared = if SCHED.is_set() {
        SCHED.with(|s| s.with_current(|t| t.shared))
    } else {
        None
    };
    match on_shared {
        None => panic!(
            "coro::scope must be called from a coroutine of a runtime (inside `coro::run` or a coroutine it spawned)"
        ),
        Some(true) => panic!(
            "coro::scope was called from a coroutine on a shared stack, whose frames move while it waits, so its children could not borrow them: call it from a coroutine on an owned stack"
        ),
        Some(false) => {}
    }
    let scope = Scope {
        shared: Rc::new(Shared::default()),
        tasks: RefCell::new(Vec::new()),
        scope: PhantomData,
        env: PhantomData,
    };
    let mut r = panic::catch_unwind(AssertUnwindSafe(|| f(&scope)));
    // The closure returned: wait for the children where a cancel or an expired deadline can
    // still reach the wait, and treat one that does as the closure's own unwinding.
    if r.is_ok()
        && let Err(p) = panic::catch_unwind(AssertUnwindSafe(|| wait_for(&scope.shared)))
    {
        r = Err(p);
    }
    if r.is_err() {
        SCHED.with(|s| {
            for task in scope.tasks.borrow().iter() {
                s.cancel(task);
            }
        });
    }
    // Every child's closure ends before the frames it borrows can go, children spawned by
    // other children included. Shielded: neither a cancel nor a deadline may cut this short.
    super::cancel::shield(|| wait_for(&scope.shared));
    let unjoined_panic = scope
        .shared
        .panics
        .borrow_mut()
        .iter_mut()
        .find_map(Option::take);
    match (r, unjoined_panic) {
        (Err(p), _) | (Ok(_), Some(p)) => panic::resume_unwind(p),
        (Ok(v), None) => v,
    }
}

/// Parks until every child's closure has ended.
fn wait_for(shared: &Shared) {
    while shared.running.get() > 0 {
        *shared.waiter.borrow_mut() = Some(park::current_unparker());
        park::park(Wait::Scope);
    }
}
