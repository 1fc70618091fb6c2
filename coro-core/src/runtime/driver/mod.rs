//! The driver: what a scheduler blocks on. An epoll instance with each fd registered once
//! ([`epoll`], [`registration`]), a timing wheel for the timers of parked tasks ([`wheel`]), and
//! the eventfd through which other threads wake tasks ([`remote`]).
//!
//! The driver knows tasks only as the values it hands back when their fd is ready or their
//! timer fires; what runs them is the scheduler's business.

pub(crate) mod epoll;
pub(crate) mod registration;
pub(crate) mod remote;
pub(crate) mod wheel;

use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::error::Result;
use crate::sys;

use super::task::Task;
use epoll::Poller;
use registration::{DUMP_TOKEN, FdTable, WAKE_TOKEN};
use remote::Remote;
use wheel::Wheel;

/// What blocks: epoll, the fd readiness table and the timers.
#[derive(Debug)]
pub(crate) struct Driver {
    pub(crate) poller: Poller,
    pub(crate) fds: FdTable,
    /// Timers of parked tasks, in milliseconds since `start`.
    pub(crate) wheel: Wheel<Rc<Task>>,
    start: Instant,
    /// How many times the loop has waited here (it waits once per idle period, never spins).
    pub(crate) waits: u64,
}

impl Driver {
    /// A driver with a new epoll instance, and the wake-up queue whose eventfd it watches.
    pub(crate) fn new() -> Result<(Driver, Arc<Remote>)> {
        let (poller, remote) = Self::new_loop()?;
        let driver = Driver {
            poller,
            fds: FdTable::default(),
            wheel: Wheel::new(),
            start: Instant::now(),
            waits: 0,
        };
        Ok((driver, remote))
    }

    /// A new epoll instance with a new wake-up eventfd in it.
    fn new_loop() -> Result<(Poller, Arc<Remote>)> {
        let poller = Poller::new()?;
        let remote = Remote::new()?;
        poller.add(remote.fd(), WAKE_TOKEN)?;
        if let Some(fd) = super::dump::eventfd() {
            poller.add(fd, DUMP_TOKEN)?;
        }
        Ok((poller, remote))
    }

    /// Starts over with a new epoll instance and wake-up queue, forgetting every registration
    /// and timer (in a fork child, whose inherited ones are the parent's).
    pub(crate) fn renew(&mut self) -> Result<Arc<Remote>> {
        let (poller, remote) = Self::new_loop()?;
        self.poller = poller;
        self.fds = FdTable::default();
        self.wheel = Wheel::new();
        Ok(remote)
    }

    /// The wheel tick of a deadline, rounded up so a timer never fires early.
    pub(crate) fn deadline_tick(&self, deadline: Instant) -> u64 {
        let d = deadline.saturating_duration_since(self.start);
        d.as_nanos().div_ceil(1_000_000) as u64
    }

    /// The wheel tick of `now`, rounded down.
    pub(crate) fn now_tick(&self, now: Instant) -> u64 {
        now.saturating_duration_since(self.start).as_millis() as u64
    }

    /// Every armed timer: its task and when it fires (to the millisecond tick).
    pub(crate) fn timers(&self) -> impl Iterator<Item = (&Rc<Task>, Instant)> {
        self.wheel
            .iter()
            .map(|(tick, t)| (t, self.start + Duration::from_millis(tick)))
    }

    /// Files a timer for `task` at `at`; the key removes it.
    pub(crate) fn add_timer(
        &mut self,
        at: Instant,
        now: Instant,
        task: Rc<Task>,
    ) -> wheel::TimerKey {
        if self.wheel.is_empty() {
            // The wheel is only advanced while it holds timers; bring an idle one up to date
            // so the new timer is filed relative to now (no early cascade wake-ups).
            let tick = self.now_tick(now);
            self.wheel.advance(tick, |_| {});
        }
        let tick = self.deadline_tick(at);
        self.wheel.insert(tick, task)
    }

    /// Waits for I/O and timers (at most until the nearest timer when `block`, not at all
    /// otherwise) and hands every task that an event or a timer wakes to `wake`. Returns true
    /// if another thread rang the wake-up eventfd (the caller then drains the queue).
    pub(crate) fn wait(&mut self, block: bool, mut wake: impl FnMut(Rc<Task>)) -> bool {
        self.waits += 1;
        let timeout = if !block {
            0
        } else {
            match self.wheel.next_deadline() {
                None => -1,
                Some(tick) => {
                    let at = self.start + Duration::from_millis(tick);
                    sys::timeout_ms(at.saturating_duration_since(Instant::now()))
                }
            }
        };
        let mut remote = false;
        match self.poller.wait(timeout) {
            Ok(events) => {
                for (token, bits) in events {
                    if token == WAKE_TOKEN {
                        remote = true;
                    } else if token == DUMP_TOKEN {
                        // A SIGQUIT: the loop looks at the dump counter after every wait.
                    } else {
                        self.fds.on_event(token, bits, &mut wake);
                    }
                }
            }
            Err(e) => panic!("coro: epoll_wait failed: {e}"),
        }
        if !self.wheel.is_empty() {
            let now = self.now_tick(Instant::now());
            self.wheel.advance(now, &mut wake);
        }
        remote
    }
}
