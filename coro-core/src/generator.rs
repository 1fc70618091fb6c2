//! Generators: a coroutine that gives out values, as an [`Iterator`].
//!
//! A [`Generator<T, R>`] runs its body on its own stack, with no scheduler: the first `next()`
//! starts the body, each `yielder.suspend(v)` (`co_yield!(v)` in a `#[coroutine(yield = T)]`
//! function) hands `v` to that `next()` and freezes the body until the following one, and when
//! the body returns its `R` is kept for [`return_value`](Generator::return_value) or
//! [`into_return`](Generator::into_return). Generators can be driven from plain code and from
//! inside coroutines (and other generators): each `next()` is a nested resume.
//!
//! Dropping a generator that has not finished unwinds its stack, so every destructor in the body
//! runs.

use std::fmt;
use std::iter::FusedIterator;

use crate::{Coroutine, CoroutineResult, Yielder};

/// A lazy sequence of `T`s made by a body that runs on its own stack, ending with an `R`.
///
/// ```
/// let mut squares = coro::Generator::new(|y: &coro::Yielder<(), u64>| {
///     for i in 1..=3 {
///         y.suspend(i * i);
///     }
///     "done"
/// });
/// assert_eq!(squares.by_ref().collect::<Vec<_>>(), [1, 4, 9]);
/// assert_eq!(squares.return_value(), Some("done"));
/// ```
pub struct Generator<T: 'static, R: 'static = ()> {
    co: Coroutine<(), T, R>,
    state: Progress<R>,
}

/// Where a generator is.
enum Progress<R> {
    /// The body may still yield.
    Running,
    /// The body returned this value, not yet taken.
    Returned(R),
    /// The body returned and its value was taken, or it panicked.
    Done,
}

impl<T: 'static, R: 'static> Generator<T, R> {
    /// Makes a generator running `body` on a stack of the default size; the body starts at the
    /// first [`next`](Iterator::next).
    ///
    /// # Panics
    ///
    /// If no stack can be mapped (the panic message says why).
    pub fn new<F>(body: F) -> Self
    where
        F: FnOnce(&Yielder<(), T>) -> R + 'static,
    {
        let co = Coroutine::new(move |y: &Yielder<(), T>, ()| body(y));
        crate::local::inherit_into(co.extension());
        Generator {
            co,
            state: Progress::Running,
        }
    }

    /// As [`new`](Self::new), on a stack of `size` bytes.
    ///
    /// # Errors
    ///
    /// [`Error::StackTooSmall`](crate::Error::StackTooSmall) or
    /// [`Error::StackAlloc`](crate::Error::StackAlloc) when the stack cannot be made.
    pub fn with_stack_size<F>(size: usize, body: F) -> crate::Result<Self>
    where
        F: FnOnce(&Yielder<(), T>) -> R + 'static,
    {
        let co = Coroutine::with_stack_size(size, move |y: &Yielder<(), T>, ()| body(y))?;
        crate::local::inherit_into(co.extension());
        Ok(Generator {
            co,
            state: Progress::Running,
        })
    }

    /// Runs the body to its next yield or to its end.
    ///
    /// Returns `None` once the body has returned (the value is kept for
    /// [`return_value`](Self::return_value)).
    ///
    /// # Panics
    ///
    /// A panic in the body comes out here, with its payload; the generator is then finished.
    pub fn resume(&mut self) -> Option<CoroutineResult<T, ()>> {
        if !matches!(self.state, Progress::Running) {
            return None;
        }
        // A panic unwinding out of `resume` leaves the generator finished.
        self.state = Progress::Done;
        match self.co.resume(()) {
            Ok(CoroutineResult::Yield(value)) => {
                self.state = Progress::Running;
                Some(CoroutineResult::Yield(value))
            }
            Ok(CoroutineResult::Return(ret)) => {
                self.state = Progress::Returned(ret);
                Some(CoroutineResult::Return(()))
            }
            Err(_) => None,
        }
    }

    /// Whether the body has ended (returned or panicked).
    pub fn is_finished(&self) -> bool {
        !matches!(self.state, Progress::Running)
    }

    /// Takes the body's return value, once the body has returned; `None` before that, after a
    /// panic, or when it was already taken.
    pub fn return_value(&mut self) -> Option<R> {
        match std::mem::replace(&mut self.state, Progress::Done) {
            Progress::Returned(ret) => Some(ret),
            Progress::Running => {
                self.state = Progress::Running;
                None
            }
            Progress::Done => None,
        }
    }

    /// Runs the body to its end, dropping the values it still yields, and returns its value.
    ///
    /// # Panics
    ///
    /// If the body panics (with its payload), or if its value was already taken with
    /// [`return_value`](Self::return_value).
    pub fn into_return(mut self) -> R {
        while self.resume().is_some() {}
        self.return_value().expect(
            "the generator's return value was already taken with `return_value()`; call `into_return` instead of it, not after it",
        )
    }
}

impl<T: 'static, R: 'static> Iterator for Generator<T, R> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        match self.resume()? {
            CoroutineResult::Yield(value) => Some(value),
            CoroutineResult::Return(()) => None,
        }
    }
}

impl<T: 'static, R: 'static> FusedIterator for Generator<T, R> {}

impl<T: 'static, R: 'static> fmt::Debug for Generator<T, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            Progress::Running => "running",
            Progress::Returned(_) => "returned",
            Progress::Done => "done",
        };
        f.debug_struct("Generator")
            .field("id", &self.co.id())
            .field("state", &state)
            .finish()
    }
}
