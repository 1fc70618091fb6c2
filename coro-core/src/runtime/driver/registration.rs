//! The readiness cache: one slot per fd, indexed by the fd number.
//!
//! Each fd is added to epoll once (edge-triggered, both directions). What epoll reports is
//! remembered here until the owner of the fd learns otherwise: a syscall that returns `EAGAIN`
//! (or a short read or write on a stream) clears the bit, and only then does the next I/O
//! call wait. So a busy connection costs one `read` and one `write` per request, and a wait
//! costs no allocation: the waiting task is pushed onto the slot's waiter list, whose capacity
//! is kept.

use std::io;
use std::ops::BitOr;
use std::os::fd::RawFd;
use std::rc::Rc;

use super::epoll::Poller;
use crate::runtime::task::Task;

/// Which direction of an fd a task waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Interest(u8);

impl Interest {
    /// Data to read (or a connection to accept, or end of stream, or an error).
    pub(crate) const READABLE: Interest = Interest(READ);
    /// Room to write (or a connect that completed, or an error).
    pub(crate) const WRITABLE: Interest = Interest(WRITE);

    /// The cached readiness bits that satisfy this interest.
    fn satisfied_by(self) -> u8 {
        let mut bits = ERROR | HUP;
        if self.0 & READ != 0 {
            bits |= READ | RDHUP;
        }
        if self.0 & WRITE != 0 {
            bits |= WRITE;
        }
        bits
    }
}

impl BitOr for Interest {
    type Output = Interest;
    fn bitor(self, rhs: Interest) -> Interest {
        Interest(self.0 | rhs.0)
    }
}

/// Readable.
const READ: u8 = 1;
/// Writable.
const WRITE: u8 = 2;
/// An error is pending (cleared with either direction: the retried syscall consumed it).
const ERROR: u8 = 4;
/// Hung up in both directions; sticky until the fd is closed.
const HUP: u8 = 8;
/// The peer shut down its writing side: reads return 0 at once; sticky.
const RDHUP: u8 = 16;

/// The event loop's token for the wake-up eventfd; fd tokens are `fd | generation << 32`.
pub(crate) const WAKE_TOKEN: u64 = u64::MAX;
/// The epoll token of the process's `SIGQUIT` eventfd (see `runtime/dump.rs`).
pub(crate) const DUMP_TOKEN: u64 = u64::MAX - 1;

/// A task waiting for an fd.
#[derive(Debug)]
struct Waiter {
    task: Rc<Task>,
    interest: u8,
}

/// The cache slot of one fd.
#[derive(Debug, Default)]
struct FdSlot {
    /// Registered with this scheduler's epoll.
    registered: bool,
    /// epoll refused the fd (a regular file): it is always ready.
    always_ready: bool,
    ready: u8,
    /// The readiness bits that satisfy `first` (its `Waiter::interest`), kept here, in the
    /// slot's byte fields, so that the first waiter takes one word.
    first_interest: u8,
    /// Bumped on every registration and close, so that a stale event or a waiter of a closed
    /// fd is told apart from the fd number's next user.
    generation: u32,
    /// The first waiter lives inline (the common case: one reader or one writer), so that a
    /// wait and a wake-up touch only this slot's cache line.
    first: Option<Rc<Task>>,
    /// Further waiters (several coroutines polling one fd), boxed: a slot is kept for every
    /// fd number up to the highest, and most fds never have a second waiter, so the slot stays
    /// three words. Capacity is kept once made.
    #[allow(clippy::box_collection)]
    more: Option<Box<Vec<Waiter>>>,
}

impl FdSlot {
    fn waiter_count(&self) -> usize {
        self.first.is_some() as usize + self.more.as_ref().map_or(0, |m| m.len())
    }

    /// The further waiters, made on first use.
    fn more(&mut self) -> &mut Vec<Waiter> {
        self.more.get_or_insert_with(Box::default)
    }

    /// Takes the first waiter's task, and puts one of the further waiters, if any, in its place.
    fn take_first(&mut self) -> Option<Rc<Task>> {
        let task = self.first.take()?;
        self.promote();
        Some(task)
    }

    /// Makes `w` the first waiter (there is none).
    fn set_first(&mut self, w: Waiter) {
        debug_assert!(self.first.is_none());
        self.first_interest = w.interest;
        self.first = Some(w.task);
    }

    /// With no first waiter, makes one of the further waiters, if any, the first.
    fn promote(&mut self) {
        if self.first.is_none()
            && let Some(next) = self.more.as_mut().and_then(|m| m.pop())
        {
            self.set_first(next);
        }
    }
}

// A slot per fd number (and each idle connection of a server one fd): keep it at three words.
const _: () = assert!(size_of::<FdSlot>() == 24);

/// What [`FdTable::prepare`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Prepared {
    /// Registered; the generation identifies this registration.
    Registered(u32),
    /// Not pollable: treat as always ready.
    AlwaysReady,
}

/// The per-scheduler table of fd slots.
#[derive(Debug, Default)]
pub(crate) struct FdTable {
    slots: Vec<FdSlot>,
    /// How many waiters are queued over all slots (for deadlock detection).
    waiting: usize,
}

impl FdTable {
    fn slot(&mut self, fd: RawFd) -> &mut FdSlot {
        let i = fd as usize;
        if i >= self.slots.len() {
            // Slots up to the fd and a few more: the vector's capacity still grows by doubling
            // (amortized), but only the slots written take memory, not twice as many.
            let len = (i + 1).next_multiple_of(64);
            self.slots.resize_with(len, FdSlot::default);
        }
        &mut self.slots[i]
    }

    /// True if an I/O call on `fd` for `interest` should be tried now: the cache says ready,
    /// or the fd is not known yet (the call then tells).
    #[inline]
    pub(crate) fn is_ready(&self, fd: RawFd, interest: Interest) -> bool {
        match self.slots.get(fd as usize) {
            Some(s) if s.registered => s.ready & interest.satisfied_by() != 0,
            _ => true,
        }
    }

    /// Registers `fd` with epoll if it is not yet.
    pub(crate) fn prepare(&mut self, poller: &Poller, fd: RawFd) -> io::Result<Prepared> {
        if fd < 0 {
            return Err(io::Error::from_raw_os_error(libc::EBADF));
        }
        let slot = self.slot(fd);
        if slot.registered {
            return Ok(Prepared::Registered(slot.generation));
        }
        if slot.always_ready {
            return Ok(Prepared::AlwaysReady);
        }
        slot.generation = slot.generation.wrapping_add(1);
        let token = fd as u32 as u64 | (slot.generation as u64) << 32;
        let res = match poller.add(fd, token) {
            // Added behind our back (a dup of a closed fd, or a table reset): take it over.
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => poller.modify(fd, token),
            other => other,
        };
        match res {
            Ok(()) => {
                slot.registered = true;
                slot.ready = 0;
                Ok(Prepared::Registered(slot.generation))
            }
            Err(e) if e.raw_os_error() == Some(libc::EPERM) => {
                slot.always_ready = true;
                Ok(Prepared::AlwaysReady)
            }
            Err(e) => Err(e),
        }
    }

    /// Checks that epoll still watches the file that `fd` names now, and registers it anew if
    /// not: the fd was closed behind the table's back (by code that no hook saw, or on another
    /// thread) and its number reused, so that epoll would never report the new file. An
    /// `EPOLL_CTL_MOD` with the same token answers, and re-arms the edge (epoll reports what
    /// is ready now). For waits on fds the hooks did not make (`poll` on any fd), whose closes
    /// the table may never hear of.
    pub(crate) fn revalidate(&mut self, poller: &Poller, fd: RawFd) -> io::Result<Prepared> {
        let slot = self.slot(fd);
        if slot.registered {
            let token = fd as u32 as u64 | (slot.generation as u64) << 32;
            match poller.modify(fd, token) {
                Ok(()) => return Ok(Prepared::Registered(slot.generation)),
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => slot.registered = false,
                Err(e) => return Err(e),
            }
        }
        self.prepare(poller, fd)
    }

    /// Whether the table holds any state for `fd` (registered, or known to be unpollable).
    #[inline]
    pub(crate) fn is_known(&self, fd: RawFd) -> bool {
        self.slots
            .get(fd as usize)
            .is_some_and(|s| s.registered || s.always_ready)
    }

    /// The generation of `fd`'s registration, if it is registered.
    pub(crate) fn generation(&self, fd: RawFd) -> Option<u32> {
        self.slots
            .get(fd as usize)
            .filter(|s| s.registered)
            .map(|s| s.generation)
    }

    /// Forgets cached readiness for `interest` (the caller saw `EAGAIN` or drained the fd).
    /// Registers the fd first if needed, so that the next change is reported.
    pub(crate) fn clear(&mut self, poller: &Poller, fd: RawFd, interest: Interest) {
        if fd < 0 {
            return;
        }
        if self.prepare(poller, fd).is_ok() {
            let slot = self.slot(fd);
            slot.ready &= !(interest.0 | ERROR);
        }
    }

    /// Marks `fd` writable (a fresh connected socket): saves a wait before its first write.
    pub(crate) fn set_writable(&mut self, poller: &Poller, fd: RawFd) {
        if self.prepare(poller, fd).is_ok() {
            self.slot(fd).ready |= WRITE;
        }
    }

    /// Queues `task` to be woken when `fd` becomes ready for `interest`.
    pub(crate) fn add_waiter(&mut self, fd: RawFd, interest: Interest, task: Rc<Task>) {
        let slot = self.slot(fd);
        let w = Waiter {
            task,
            interest: interest.satisfied_by(),
        };
        if slot.first.is_none() {
            slot.set_first(w);
        } else {
            slot.more().push(w);
        }
        self.waiting += 1;
    }

    /// Takes `task` off `fd`'s waiter list (it woke for another reason); returns the list's
    /// reference to it, if it was there.
    pub(crate) fn remove_waiter(&mut self, fd: RawFd, task: &Task) -> Option<Rc<Task>> {
        let slot = self.slots.get_mut(fd as usize)?;
        let is = |t: &Rc<Task>| std::ptr::eq(Rc::as_ptr(t), task);
        let removed = if slot.first.as_ref().is_some_and(is) {
            slot.take_first()
        } else {
            let more = slot.more.as_mut()?;
            let i = more.iter().position(|w| is(&w.task))?;
            Some(more.swap_remove(i).task)
        };
        self.waiting -= 1;
        removed
    }

    /// Whether any task waits on any fd.
    pub(crate) fn has_waiters(&self) -> bool {
        self.waiting > 0
    }

    /// How many waits on fds are queued.
    pub(crate) fn waiters(&self) -> usize {
        self.waiting
    }

    /// Records an epoll event and hands every task it satisfies to `wake`.
    pub(crate) fn on_event(&mut self, token: u64, events: u32, mut wake: impl FnMut(Rc<Task>)) {
        let fd = token as u32 as usize;
        let generation = (token >> 32) as u32;
        let Some(slot) = self.slots.get_mut(fd) else {
            return;
        };
        if !slot.registered || slot.generation != generation {
            return; // a stale event of a closed fd
        }
        let mut bits = 0;
        let ev = events as i32;
        if ev & (libc::EPOLLIN | libc::EPOLLPRI) != 0 {
            bits |= READ;
        }
        if ev & libc::EPOLLOUT != 0 {
            bits |= WRITE;
        }
        if ev & libc::EPOLLERR != 0 {
            bits |= ERROR;
        }
        if ev & libc::EPOLLHUP != 0 {
            bits |= HUP;
        }
        if ev & libc::EPOLLRDHUP != 0 {
            bits |= RDHUP;
        }
        slot.ready |= bits;
        let ready = slot.ready;
        let satisfied = slot.first_interest & ready != 0;
        if let Some(task) = slot.first.take_if(|_| satisfied) {
            self.waiting -= 1;
            wake(task);
        }
        if let Some(more) = slot.more.as_mut() {
            let mut i = 0;
            while i < more.len() {
                if more[i].interest & ready != 0 {
                    let w = more.swap_remove(i);
                    self.waiting -= 1;
                    wake(w.task);
                } else {
                    i += 1;
                }
            }
        }
        slot.promote();
    }

    /// Forgets `fd` (it is being closed): deregisters it and wakes all its waiters.
    pub(crate) fn close(&mut self, poller: &Poller, fd: RawFd, mut wake: impl FnMut(Rc<Task>)) {
        let Some(slot) = self.slots.get_mut(fd as usize) else {
            return;
        };
        if slot.registered {
            poller.delete(fd);
        }
        slot.registered = false;
        slot.always_ready = false;
        slot.ready = 0;
        slot.generation = slot.generation.wrapping_add(1);
        self.waiting -= slot.waiter_count();
        if let Some(task) = slot.first.take() {
            wake(task);
        }
        if let Some(more) = slot.more.as_mut() {
            for w in more.drain(..) {
                wake(w.task);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsRawFd;
    use std::panic::Location;
    use std::rc::Rc;

    use super::{FdTable, Interest, Prepared};
    use crate::coroutine::Coroutine;
    use crate::runtime::driver::epoll::Poller;
    use crate::runtime::task::Task;
    use crate::sys;

    fn task() -> Rc<Task> {
        let co = Coroutine::<(), (), ()>::new(|_, ()| {});
        Rc::new(Task::new(co, None, false, Location::caller(), 0))
    }

    /// Registers `fd` with `table` and returns its epoll token.
    fn register(table: &mut FdTable, poller: &Poller, fd: i32) -> u64 {
        let Prepared::Registered(generation) = table.prepare(poller, fd).unwrap() else {
            panic!("a pipe is pollable")
        };
        fd as u32 as u64 | u64::from(generation) << 32
    }

    /// The ids of the tasks an event wakes.
    fn woken(table: &mut FdTable, token: u64, events: i32) -> Vec<u64> {
        let mut woken = Vec::new();
        table.on_event(token, events as u32, |t| woken.push(t.id));
        woken
    }

    /// A reader and a writer on one fd: each event wakes only the waiter it satisfies, whether
    /// that waiter is the slot's first or a further one, and a further waiter made first keeps
    /// its own interest.
    #[test]
    fn each_waiter_of_an_fd_is_woken_by_its_own_interest() {
        let poller = Poller::new().unwrap();
        let (r, _w) = sys::pipe().unwrap();
        let fd = r.as_raw_fd();
        let mut table = FdTable::default();
        let (reader, writer) = (task(), task());

        // The reader first, the writer further.
        let token = register(&mut table, &poller, fd);
        table.add_waiter(fd, Interest::READABLE, reader.clone());
        table.add_waiter(fd, Interest::WRITABLE, writer.clone());
        assert_eq!(woken(&mut table, token, libc::EPOLLOUT), [writer.id]);
        assert_eq!(table.waiters(), 1);
        assert_eq!(woken(&mut table, token, libc::EPOLLIN), [reader.id]);
        assert_eq!(table.waiters(), 0);

        // The writer made first when the reader leaves: a read event still does not wake it.
        table.close(&poller, fd, |_| {});
        let token = register(&mut table, &poller, fd);
        table.add_waiter(fd, Interest::READABLE, reader.clone());
        table.add_waiter(fd, Interest::WRITABLE, writer.clone());
        let removed = table.remove_waiter(fd, &reader).expect("the reader waits");
        assert!(Rc::ptr_eq(&removed, &reader));
        assert_eq!(woken(&mut table, token, libc::EPOLLIN), Vec::<u64>::new());
        assert_eq!(woken(&mut table, token, libc::EPOLLOUT), [writer.id]);
        assert_eq!(table.waiters(), 0);
    }
}
