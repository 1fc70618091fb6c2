//! A scheduler in a fork child: what happens when a process forks while a runtime runs.
//!
//! The child is a copy of the forking thread, with a copy of its scheduler in memory, but the
//! epoll instance and the eventfd that scheduler holds are the *parent's* kernel objects:
//! waiting on that epoll in the child would take the parent's events. So a scheduler
//! remembers the fork generation it was made under (`sys::fork_generation`, counted by a
//! `pthread_atfork` child handler), and in a child:
//!
//! - the hooks leave it alone ([`Scheduler::inherited`]): they call libc as is, allocate
//!   nothing, and touch no epoll, as code between `fork` and `exec` must;
//! - the first use of coro's own API makes it the child's own ([`Scheduler::after_fork`]): a
//!   new epoll instance and eventfd, no registrations, no timers, and of the coroutines only
//!   the one that forked, as only the forking thread exists in the child. The others are
//!   forgotten: never run, never dropped (their destructors are the parent's to run).

use std::rc::Rc;

use crate::sys;

use super::scheduler::Scheduler;
use super::task::TaskState;

impl Scheduler {
    /// Whether this scheduler is a copy of the parent's, in a fork child that has not made it
    /// its own yet.
    #[inline]
    pub(crate) fn inherited(&self) -> bool {
        self.fork_generation.get() != sys::fork_generation()
    }

    /// In a fork child, makes this copy of the parent's scheduler the child's own (see the
    /// module's docs); nothing otherwise.
    #[inline]
    pub(crate) fn after_fork(&self) {
        if self.inherited() {
            self.make_own();
        }
    }

    #[cold]
    #[inline(never)]
    fn make_own(&self) {
        self.fork_generation.set(sys::fork_generation());
        self.forked.set(true);
        let remote = match self.driver.borrow_mut().renew() {
            Ok(remote) => remote,
            Err(e) => panic!(
                "coro: this process was forked from a running coro runtime and could not make an event loop of its own: {e}"
            ),
        };
        *self.remote.borrow_mut() = remote;
        // The census group's other members are threads the child does not have (and one may
        // have held its locks at the fork): the child's scheduler is a group of its own.
        *self.member.borrow_mut() = None;
        let keep = self.current_task();
        let gone = self
            .tasks
            .borrow_mut()
            .take_where(|t| keep.as_ref().is_none_or(|k| !Rc::ptr_eq(t, k)));
        for t in &gone {
            t.state.set(TaskState::Done);
            std::mem::forget(t.co.borrow_mut().take());
        }
        self.ready.borrow_mut().clear();
        self.deferred.borrow_mut().clear();
    }

    /// Whether this scheduler was made its own by a fork child (`run` then says why it has no
    /// value to return).
    pub(crate) fn forked(&self) -> bool {
        self.forked.get()
    }
}
