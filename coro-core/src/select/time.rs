//! The timer arms of `select!`: `sleep(d)` completes once `d` has passed since the select
//! began (since the arm's expression was evaluated), `sleep_until(t)` once the clock reaches
//! `t`. They register nothing: their deadline is the park's (the earliest of a select's timer
//! arms), so a select waits on one timer of the loop's wheel whatever else it waits for.

use std::time::{Duration, Instant};

use super::driver::Op;

/// A timer arm: complete once `at` has passed; never if `at` is `None` (a duration too long
/// for an `Instant`).
#[derive(Debug, Clone, Copy)]
struct Timer {
    at: Option<Instant>,
}

impl Op for Timer {
    type Output = ();
    fn poll(&mut self) -> Option<()> {
        match self.at {
            Some(at) if Instant::now() >= at => Some(()),
            _ => None,
        }
    }
    fn register(&mut self) -> bool {
        self.at.is_none_or(|at| Instant::now() < at)
    }
    fn unregister(&mut self) {}
    fn deadline(&self) -> Option<Instant> {
        self.at
    }
    fn can_block(&self) -> bool {
        self.at.is_some()
    }
}

/// `sleep(d)`: completes once `d` has passed.
pub fn sleep(d: Duration) -> impl Op<Output = ()> {
    Timer {
        at: Instant::now().checked_add(d),
    }
}

/// `sleep_until(t)`: completes once the clock reaches `t`.
pub fn sleep_until(t: Instant) -> impl Op<Output = ()> {
    Timer { at: Some(t) }
}
