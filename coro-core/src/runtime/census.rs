//! The census: what every live coroutine of a runtime is doing, taken from the loop.
//!
//! Each task records, at no cost worth measuring, where it was spawned (a `#[track_caller]`
//! location), what its last park waits for ([`Wait`], written by the wait that parks it), and
//! the loop's coarse clock when it last gave its thread back. A census reads those, the
//! timers of the wheel and each coroutine's stack, and, when asked, a backtrace of every
//! suspended coroutine: the loop resumes it in a capture mode at its park point (see
//! `park::suspend`), where it takes its own backtrace and suspends again, its state and
//! queue position untouched.
//!
//! A census is always taken by the loop, never by a task: the asking coroutine leaves a
//! request in its runtime's [`Group`] (every thread of a multi-thread runtime is a member)
//! and parks; each member's loop answers with its part, and the last to answer wakes it.

use std::backtrace::Backtrace;
use std::cell::Cell;
use std::collections::HashMap;
use std::fmt;
use std::os::fd::RawFd;
use std::panic::Location;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

use super::driver::remote::Remote;
use super::park::{self, RemoteUnparker};
use super::scheduler::{SCHED, Scheduler};
use super::task::{Task, TaskState};

/// What a parked coroutine waits for.
///
/// The names are the calls that parked it: `call` for a hooked libc call (`"read"`,
/// `"accept"`, `"getaddrinfo"`), `what` for coro's own primitives
/// (`"coro::sync::Mutex::lock"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Wait {
    /// An fd to become readable (`write` false) or writable: a hooked call (`call` names
    /// it) or a `coro::net` call (`call` empty).
    Fd {
        /// The fd.
        fd: RawFd,
        /// Waiting to write (else to read).
        write: bool,
        /// The hooked call, or `""` for `coro::net`.
        call: &'static str,
    },
    /// Any of several fds: a hooked `poll`, `select` or `epoll_wait`, or [`coro::poll`](crate::poll()).
    Fds {
        /// How many fds.
        count: u32,
        /// The call.
        call: &'static str,
    },
    /// A sleep: [`coro::sleep`](crate::sleep), or a hooked `sleep`/`nanosleep`.
    Sleep {
        /// The call.
        call: &'static str,
    },
    /// A channel's receive or send.
    Channel {
        /// The operation, as `"coro::channel::Receiver::recv"`.
        what: &'static str,
    },
    /// A lock, condition, semaphore or wait group of [`coro::sync`](crate::sync).
    Lock {
        /// The operation, as `"coro::sync::Mutex::lock"`.
        what: &'static str,
    },
    /// [`JoinHandle::join`](crate::JoinHandle::join) on coroutine `id`.
    Join {
        /// The coroutine joined.
        id: u64,
    },
    /// [`JoinSet::join_next`](crate::JoinSet::join_next).
    JoinSet,
    /// The end of a [`coro::scope`](crate::scope()): its children to finish.
    Scope,
    /// A job on the [`spawn_blocking`](crate::spawn_blocking) pool.
    Blocking {
        /// `"spawn_blocking"`, or the hooked call that runs there (`"getaddrinfo"`).
        call: &'static str,
    },
    /// A `select!` over `arms` waitable things.
    Select {
        /// How many arms wait.
        arms: u32,
    },
    /// A census of the runtime (the coroutine that asked for it).
    Census,
    /// A park no wait named.
    Other,
}

impl fmt::Display for Wait {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dir = |write: bool| if write { "writable" } else { "readable" };
        match *self {
            Wait::Fd {
                fd,
                write,
                call: "",
            } => write!(f, "fd {fd} {}", dir(write)),
            Wait::Fd { fd, write, call } => write!(f, "{call}(fd {fd}) {}", dir(write)),
            Wait::Fds { count, call } => write!(f, "{call} on {count} fds"),
            Wait::Sleep { call } => write!(f, "{call}"),
            Wait::Channel { what } | Wait::Lock { what } => {
                f.write_str(what.strip_prefix("coro::").unwrap_or(what))
            }
            Wait::Join { id } => write!(f, "join #{id}"),
            Wait::JoinSet => f.write_str("JoinSet::join_next"),
            Wait::Scope => f.write_str("scope end"),
            Wait::Blocking { call } => write!(f, "{call} on the pool"),
            Wait::Select { arms } => write!(f, "select! over {arms} arms"),
            Wait::Census => f.write_str("census"),
            Wait::Other => f.write_str("-"),
        }
    }
}

/// Where a coroutine is in the scheduler's eyes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskStatus {
    /// Running now (it asked for the census, or runs on another thread's loop as the census
    /// is taken there: never, since a loop answers between tasks).
    Running,
    /// In the ready queue: woken, yielded, or not started yet.
    Ready,
    /// Parked until something wakes it; [`CoroutineReport::wait`] says what.
    Parked,
}

impl fmt::Display for TaskStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TaskStatus::Running => "running",
            TaskStatus::Ready => "ready",
            TaskStatus::Parked => "parked",
        })
    }
}

/// A coroutine's stack, as a census sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StackUse {
    /// On a shared (copy) stack, else on its own.
    pub shared: bool,
    /// The stack's usable size in bytes.
    pub size: usize,
    /// The bytes its frames take: from the stack pointer it suspended with to the top (for a
    /// shared stack's coroutine that another evicted, the bytes of its save buffer); 0 before
    /// its first run.
    pub in_use: usize,
}

/// One live coroutine in a [`Census`].
#[derive(Debug)]
pub struct CoroutineReport {
    /// Its id (as [`crate::current`] reports it).
    pub id: u64,
    /// Its name, if it has one.
    pub name: Option<String>,
    /// Where it was spawned: the call of `coro::spawn`, `Builder::spawn`, `go!`, a
    /// `#[coroutine]` function, `Scope::spawn` or `JoinSet::spawn`.
    pub spawned_at: &'static Location<'static>,
    /// The thread whose runtime runs it.
    pub thread: String,
    /// Running, ready or parked.
    pub status: TaskStatus,
    /// What it waits for, when parked.
    pub wait: Option<Wait>,
    /// How long until its timer fires (the deadline of a timed wait or of a deadline scope),
    /// if it has one. Zero when it is due.
    pub timer: Option<Duration>,
    /// How long since it last gave its thread back (to a millisecond or so: the loop's clock
    /// is read once per turn, not per switch).
    pub idle: Duration,
    /// Its stack.
    pub stack: StackUse,
    /// Whether it has started running.
    pub started: bool,
    /// A backtrace from its suspension point down to its entry, when the census was taken
    /// with backtraces and the coroutine had started.
    pub backtrace: Option<Backtrace>,
}

impl CoroutineReport {
    /// The backtrace as lines of text: the frames of the coroutine's own code, without those
    /// of the capture itself above its park point and those of coro's entry below its body.
    /// Empty without a backtrace.
    pub fn backtrace_lines(&self) -> Vec<String> {
        match &self.backtrace {
            Some(bt) => trim_backtrace(&bt.to_string()),
            None => Vec::new(),
        }
    }
}

/// The live coroutines of a runtime, every thread's, at one moment; from
/// [`coro::debug::census`](crate::debug::census).
///
/// Its `Display` is an aligned table, one coroutine per line; the alternate form (`{:#}`) adds
/// each coroutine's backtrace after the table, when the census has them.
#[derive(Debug, Default)]
pub struct Census {
    /// The coroutines, by thread and then by id.
    pub coroutines: Vec<CoroutineReport>,
}

impl Census {
    /// The coroutine with this id, if it is in the census.
    pub fn get(&self, id: u64) -> Option<&CoroutineReport> {
        self.coroutines.iter().find(|c| c.id == id)
    }

    /// How many coroutines it lists.
    pub fn len(&self) -> usize {
        self.coroutines.len()
    }

    /// Whether it lists none.
    pub fn is_empty(&self) -> bool {
        self.coroutines.is_empty()
    }
}

/// A byte count as a short human figure: `512`, `3.1K`, `8M`.
fn bytes(n: usize) -> String {
    const K: usize = 1024;
    match n {
        n if n < K => n.to_string(),
        n if n < K * K => short(n as f64 / K as f64, "K"),
        n if n < K * K * K => short(n as f64 / (K * K) as f64, "M"),
        n => short(n as f64 / (K * K * K) as f64, "G"),
    }
}

fn short(v: f64, unit: &str) -> String {
    if v < 10.0 && v.fract() > 0.05 {
        format!("{v:.1}{unit}")
    } else {
        format!("{v:.0}{unit}")
    }
}

/// A duration as a short human figure: `0ms`, `250ms`, `3.2s`, `5m`.
fn millis(d: Duration) -> String {
    let ms = d.as_millis();
    match ms {
        ms if ms < 1000 => format!("{ms}ms"),
        ms if ms < 60_000 => format!("{:.1}s", ms as f64 / 1000.0),
        ms => format!("{}m", ms / 60_000),
    }
}

impl CoroutineReport {
    /// The cells of its row in the table.
    fn cells(&self) -> [String; 9] {
        let wait = match (&self.wait, self.status) {
            (Some(w), TaskStatus::Parked) => w.to_string(),
            _ => "-".into(),
        };
        let stack = format!(
            "{} {}/{}",
            if self.stack.shared { "shared" } else { "owned" },
            bytes(self.stack.in_use),
            bytes(self.stack.size)
        );
        [
            self.id.to_string(),
            self.name.clone().unwrap_or_else(|| "-".into()),
            self.thread.clone(),
            if self.started {
                self.status.to_string()
            } else {
                "new".into()
            },
            wait,
            self.timer.map_or_else(|| "-".into(), millis),
            millis(self.idle),
            stack,
            format!(
                "{}:{}:{}",
                self.spawned_at.file(),
                self.spawned_at.line(),
                self.spawned_at.column()
            ),
        ]
    }
}

impl fmt::Display for Census {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const HEAD: [&str; 9] = [
            "ID",
            "NAME",
            "THREAD",
            "STATE",
            "WAIT",
            "TIMER",
            "IDLE",
            "STACK",
            "SPAWNED AT",
        ];
        let rows: Vec<[String; 9]> = self.coroutines.iter().map(|c| c.cells()).collect();
        let mut width = HEAD.map(str::len);
        for row in &rows {
            for (w, cell) in width.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let line = |f: &mut fmt::Formatter<'_>, cells: &[&str]| -> fmt::Result {
            let mut out = String::new();
            for (i, (cell, w)) in cells.iter().zip(width).enumerate() {
                if i == 0 {
                    out.push_str(&format!("{cell:>w$}"));
                } else if i + 1 == cells.len() {
                    out.push_str(&format!("  {cell}"));
                } else {
                    out.push_str(&format!("  {cell:<w$}"));
                }
            }
            writeln!(f, "{}", out.trim_end())
        };
        line(f, &HEAD)?;
        for row in &rows {
            let cells: Vec<&str> = row.iter().map(String::as_str).collect();
            line(f, &cells)?;
        }
        if f.alternate() {
            for c in &self.coroutines {
                let lines = c.backtrace_lines();
                if lines.is_empty() {
                    continue;
                }
                let name = c
                    .name
                    .as_deref()
                    .map(|n| format!(" '{n}'"))
                    .unwrap_or_default();
                writeln!(f, "\ncoroutine {}{name}:", c.id)?;
                for l in lines {
                    writeln!(f, "{l}")?;
                }
            }
        }
        Ok(())
    }
}

/// The frames of a rendered backtrace that belong to the coroutine's own code, renumbered
/// from 0: without the capture's own frames and the scheduler's park machinery at the top
/// (the first frame shown is the call that waits: a hook, a channel's `recv`, `coro::sleep`),
/// and without coro's entry code and the `catch_unwind` around the body at the bottom.
fn trim_backtrace(text: &str) -> Vec<String> {
    // A frame is a numbered line ("  12: name") and the "at file:line" lines after it.
    let mut frames: Vec<Vec<&str>> = Vec::new();
    for l in text.lines() {
        let t = l.trim_start();
        let numbered = t
            .split_once(':')
            .is_some_and(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        match frames.last_mut() {
            Some(frame) if !numbered => frame.push(l),
            _ => frames.push(vec![l]),
        }
    }
    fn name<'a>(frame: &[&'a str]) -> &'a str {
        frame[0].split_once(':').map_or("", |(_, n)| n).trim()
    }
    /// The scheduler's frames between a wait and the switch.
    fn machinery(n: &str) -> bool {
        n.starts_with("coro_core::runtime::")
            || n.contains("coro_core::runtime::park::")
            || n.starts_with("scoped_tls::")
    }
    /// The frames around a body: its `catch_unwind` and the boxed closure calls.
    fn wrapper(n: &str) -> bool {
        n.starts_with("std::panicking::")
            || n.starts_with("std::panic::catch_unwind")
            || n == "__rust_try"
            || n.starts_with("<core::panic::unwind_safe::AssertUnwindSafe")
            || n.starts_with("core::ops::function::FnOnce::call_once")
            || n.starts_with("<alloc::boxed::Box<F,A> as core::ops::function::FnOnce")
            || n.starts_with("coro_core::runtime::multi::")
    }
    let mut start = frames
        .iter()
        .rposition(|fr| name(fr).contains("runtime::park::suspend"))
        .map_or(0, |i| i + 1);
    while start < frames.len() && machinery(name(&frames[start])) {
        start += 1;
    }
    let mut end = frames
        .iter()
        .skip(start)
        .position(|fr| {
            let n = name(fr);
            n.starts_with("coro_core::coroutine::entry::")
                || n.starts_with("coro_core::runtime::scheduler::Scheduler::spawn")
                || n.starts_with("coro_core::runtime::run::run_main")
        })
        .map_or(frames.len(), |i| i + start);
    while end > start && wrapper(name(&frames[end - 1])) {
        end -= 1;
    }
    let mut out = Vec::new();
    for (i, frame) in frames[start..end].iter().enumerate() {
        out.push(format!("{i:>4}: {}", name(frame)));
        for at in &frame[1..] {
            out.push(format!("      {}", at.trim()));
        }
    }
    out
}

/// Writes `census`, with its backtraces, to standard error in one piece, under a header
/// naming `why`.
pub(crate) fn print_dump(census: &Census, why: &str) {
    use std::io::Write;
    let text = format!(
        "coro: {} live coroutine(s) (pid {}, {why})\n{census:#}\n",
        census.len(),
        std::process::id()
    );
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

thread_local! {
    /// The backtrace a task takes of itself in capture mode, for the loop to collect.
    static CAPTURED: Cell<Option<Backtrace>> = const { Cell::new(None) };
}

/// Called by a task resumed in capture mode at its park point: takes its backtrace.
#[cold]
#[inline(never)]
pub(super) fn capture_here() {
    CAPTURED.set(Some(Backtrace::force_capture()));
}

/// `Task::suspend_mode`: not in `park::suspend`.
pub(crate) const NOT_SUSPENDED: u8 = 0;
/// `Task::suspend_mode`: suspended in `park::suspend`, where a capture can be asked.
pub(crate) const SUSPENDED: u8 = 1;
/// `Task::suspend_mode`: resumed to take its backtrace, then suspend again.
pub(crate) const CAPTURE: u8 = 2;

impl Scheduler {
    /// A backtrace of the suspended task `t`, taken by resuming it in capture mode (from the
    /// loop, with no task running). None if it is not suspended at a park point (it has not
    /// started) or the resume fails (a shared stack whose occupant cannot be evicted).
    fn capture(&self, t: &Rc<Task>) -> Option<Backtrace> {
        if t.suspend_mode.get() != SUSPENDED {
            return None;
        }
        let mut co = t.co.try_borrow_mut().ok()?;
        let co = co.as_mut()?;
        t.suspend_mode.set(CAPTURE);
        let r = co.resume(());
        // It sets SUSPENDED again before it suspends; a failed resume never ran it.
        t.suspend_mode.set(SUSPENDED);
        r.ok()?;
        CAPTURED.take()
    }

    /// The backtrace of the suspended task `t` as trimmed lines (see `capture`).
    pub(super) fn capture_lines(&self, t: &Rc<Task>) -> Option<Vec<String>> {
        self.capture(t).map(|bt| trim_backtrace(&bt.to_string()))
    }

    /// This scheduler's part of a census, taken from the loop (no task runs).
    pub(super) fn census_part(&self, backtraces: bool) -> Vec<CoroutineReport> {
        let thread = std::thread::current().name().map_or_else(
            || format!("{:?}", std::thread::current().id()),
            String::from,
        );
        let now = Instant::now();
        let clock = self.clock_now(now);
        let timers: HashMap<u64, Instant> = {
            let d = self.driver.borrow();
            d.timers().map(|(t, at)| (t.id, at)).collect()
        };
        let mut tasks = self.tasks.borrow().all();
        tasks.sort_by_key(|t| t.id);
        tasks
            .iter()
            .filter(|t| t.state.get() != TaskState::Done)
            .map(|t| {
                let (stack, started) = match t.co.try_borrow().ok().as_deref() {
                    Some(Some(co)) => {
                        let (shared, size, in_use) = co.stack_use();
                        (
                            StackUse {
                                shared,
                                size,
                                in_use,
                            },
                            co.is_started(),
                        )
                    }
                    _ => (
                        StackUse {
                            shared: t.shared,
                            size: 0,
                            in_use: 0,
                        },
                        false,
                    ),
                };
                let status = match t.state.get() {
                    TaskState::Parked => TaskStatus::Parked,
                    TaskState::Running => TaskStatus::Running,
                    _ => TaskStatus::Ready,
                };
                CoroutineReport {
                    id: t.id,
                    name: t.name().map(String::from),
                    spawned_at: t.site,
                    thread: thread.clone(),
                    status,
                    wait: (status == TaskStatus::Parked).then(|| t.wait.get()),
                    timer: timers
                        .get(&t.id)
                        .map(|at| at.saturating_duration_since(now)),
                    idle: Duration::from_millis(clock.wrapping_sub(t.ran_at.get()) as u64),
                    stack,
                    started,
                    backtrace: if backtraces { self.capture(t) } else { None },
                }
            })
            .collect()
    }
}

/// A census request: every member of the group adds its part, and the last to answer wakes
/// the coroutine that asked.
struct Request {
    backtraces: bool,
    parts: Mutex<Vec<(usize, Vec<CoroutineReport>)>>,
    remaining: AtomicUsize,
    waker: RemoteUnparker,
}

impl Request {
    /// Adds member `index`'s part; wakes the asker if it was the last.
    fn answer(&self, index: usize, part: Vec<CoroutineReport>) {
        self.parts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((index, part));
        if self.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.waker.unpark();
        }
    }

    fn done(&self) -> bool {
        self.remaining.load(Ordering::Acquire) == 0
    }
}

/// One scheduler's place in its group: where requests wait for its loop.
pub(crate) struct Member {
    index: usize,
    /// Requests this loop has not answered yet.
    inbox: Mutex<Vec<Arc<Request>>>,
    /// Set with the inbox, read by the loop once a turn.
    pending: AtomicBool,
    /// The scheduler's wake-up queue, to ring its eventfd (weak: a strong reference would
    /// look like a handle another thread could wake a task with, to the deadlock check).
    remote: Mutex<Weak<Remote>>,
}

impl Member {
    /// Leaves a request and wakes the loop.
    fn post(&self, r: Arc<Request>) {
        self.inbox.lock().unwrap_or_else(|e| e.into_inner()).push(r);
        self.pending.store(true, Ordering::Release);
        let remote = self
            .remote
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .upgrade();
        if let Some(remote) = remote {
            remote.ring();
        }
    }

    /// Whether requests wait (one load, once a turn of the loop).
    #[inline]
    pub(super) fn has_requests(&self) -> bool {
        self.pending.load(Ordering::Acquire)
    }

    fn take(&self) -> Vec<Arc<Request>> {
        self.pending.store(false, Ordering::Release);
        std::mem::take(&mut *self.inbox.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// The schedulers of one runtime: one for [`crate::run`], one per thread for
/// [`Runtime`](crate::Runtime).
#[derive(Default)]
pub(crate) struct Group {
    members: Mutex<Vec<Arc<Member>>>,
}

impl fmt::Debug for Group {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Group").finish_non_exhaustive()
    }
}

impl Group {
    /// Adds a scheduler as member `index`.
    pub(super) fn join(&self, index: usize, remote: &Arc<Remote>) -> Arc<Member> {
        let m = Arc::new(Member {
            index,
            inbox: Mutex::new(Vec::new()),
            pending: AtomicBool::new(false),
            remote: Mutex::new(Arc::downgrade(remote)),
        });
        self.members
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(m.clone());
        m
    }

    /// Takes a member out (its loop has ended): the requests it has not answered get an
    /// empty part, so that nobody waits for it.
    pub(super) fn leave(&self, m: &Arc<Member>) {
        let mut members = self.members.lock().unwrap_or_else(|e| e.into_inner());
        members.retain(|x| !Arc::ptr_eq(x, m));
        drop(members);
        for r in m.take() {
            r.answer(m.index, Vec::new());
        }
    }

    /// Posts a request to every member; returns it.
    fn request(
        &self,
        backtraces: bool,
        waker: RemoteUnparker,
        only: Option<&Arc<Member>>,
    ) -> Arc<Request> {
        let members = self.members.lock().unwrap_or_else(|e| e.into_inner());
        let targets: Vec<&Arc<Member>> = match only {
            Some(m) => vec![m],
            None => members.iter().collect(),
        };
        let r = Arc::new(Request {
            backtraces,
            parts: Mutex::new(Vec::new()),
            remaining: AtomicUsize::new(targets.len()),
            waker,
        });
        for m in targets {
            m.post(r.clone());
        }
        r
    }
}

impl Scheduler {
    /// Answers the census requests left for this loop (no task runs).
    pub(super) fn answer_requests(&self, member: &Member) {
        for r in member.take() {
            let part = self.census_part(r.backtraces);
            r.answer(member.index, part);
        }
    }
}

/// Takes a census of the runtime the calling coroutine runs in (every thread's coroutines, for
/// a multi-thread [`Runtime`](crate::Runtime)), with a backtrace of each suspended coroutine
/// when `backtraces` is true. The caller parks until every loop has answered.
pub(crate) fn take(backtraces: bool) -> Result<Census> {
    if !SCHED.is_set() {
        return Err(Error::NoRuntime);
    }
    if !park::in_task() {
        return Err(Error::NoRuntime);
    }
    let (group, own) = SCHED.with(|s| s.census_group());
    // In a fork child the other threads are gone: only this loop answers.
    let only = SCHED.with(|s| s.forked()).then_some(&own);
    let r = group.request(backtraces, park::current_remote_unparker(), only);
    while !r.done() {
        park::park(Wait::Census);
    }
    let mut parts = std::mem::take(&mut *r.parts.lock().unwrap_or_else(|e| e.into_inner()));
    parts.sort_by_key(|(i, _)| *i);
    Ok(Census {
        coroutines: parts.into_iter().flat_map(|(_, p)| p).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wait_is_small() {
        assert!(std::mem::size_of::<Wait>() <= 24);
    }

    #[test]
    fn waits_read_as_calls() {
        let w = Wait::Fd {
            fd: 7,
            write: false,
            call: "read",
        };
        assert_eq!(w.to_string(), "read(fd 7) readable");
        let net = Wait::Fd {
            fd: 3,
            write: true,
            call: "",
        };
        assert_eq!(net.to_string(), "fd 3 writable");
        let m = Wait::Lock {
            what: "coro::sync::Mutex::lock",
        };
        assert_eq!(m.to_string(), "sync::Mutex::lock");
        assert_eq!(Wait::Join { id: 4 }.to_string(), "join #4");
    }

    #[test]
    fn figures_are_short() {
        assert_eq!(bytes(512), "512");
        assert_eq!(bytes(3200), "3.1K");
        assert_eq!(bytes(8 << 20), "8M");
        assert_eq!(millis(Duration::from_millis(250)), "250ms");
        assert_eq!(millis(Duration::from_millis(3200)), "3.2s");
    }

    #[test]
    fn a_backtrace_is_trimmed_to_the_coroutines_frames() {
        let text = "   0: std::backtrace::Backtrace::force_capture\n\
                    \x20            at /rust/library/std/src/backtrace.rs:312:9\n\
                    \x20  1: coro_core::runtime::census::capture_here\n\
                    \x20  2: coro_core::runtime::park::suspend\n\
                    \x20  3: coro_core::runtime::park::<impl coro_core::runtime::scheduler::Scheduler>::park_wait\n\
                    \x20  4: scoped_tls::ScopedKey<T>::with\n\
                    \x20  5: coro_core::hooks::io::read\n\
                    \x20  6: app::wait_for_request\n\
                    \x20            at ./src/main.rs:10:5\n\
                    \x20  7: std::panicking::catch_unwind\n\
                    \x20  8: __rust_try\n\
                    \x20  9: coro_core::runtime::scheduler::Scheduler::spawn::{{closure}}\n\
                    \x20 10: coro_core::coroutine::entry::run\n";
        let lines = trim_backtrace(text);
        assert_eq!(
            lines,
            vec![
                "   0: coro_core::hooks::io::read",
                "   1: app::wait_for_request",
                "      at ./src/main.rs:10:5",
            ]
        );
    }
}
