//! The stall watchdog: reports a coroutine that keeps its thread longer than a threshold
//! without reaching a suspension point (a tight loop, a blocking call the hooks do not cover),
//! which stalls every other coroutine of its thread.
//!
//! Off unless switched on ([`RuntimeBuilder::watchdog`](crate::RuntimeBuilder::watchdog), or
//! `CORO_WATCHDOG_MS`), and then cheap: a loop that runs a task stores the task's id, its spawn
//! site and an odd turn number into its [`Slot`] before the switch, and an even one after it
//! (relaxed stores to a line no other thread writes). One watchdog thread per process looks at
//! every slot a few times per threshold: a slot whose odd number has not moved for the
//! threshold is a stall, reported once, from the watchdog thread (the coroutine cannot speak:
//! it is the one stalling), with its id, spawn site, thread and how long so far. When the
//! coroutine gives its thread back, its own loop reports how long the stall lasted and where
//! the coroutine went on from: a backtrace taken at its park point, as the census takes them.
//! The stalled code itself cannot be unwound safely from another thread, so that backtrace
//! shows where the stall ended, usually the function that ran too long.

use std::panic::Location;
use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

use super::scheduler::Scheduler;
use super::task::Task;

/// What a loop shows the watchdog thread.
#[derive(Debug)]
pub(crate) struct Slot {
    /// Odd while a task runs, even while the loop runs; bumped at every switch.
    turn: AtomicU64,
    /// The id of the running task (valid while `turn` is odd).
    task: AtomicU64,
    /// Its spawn site.
    site: AtomicPtr<Location<'static>>,
    /// The odd turn a stall was reported for (0: none).
    reported: AtomicU64,
    /// When the watchdog saw the reported turn start (ms since the process's first watchdog).
    since_ms: AtomicU64,
    /// The loop's thread, for the report.
    thread: String,
    /// The stall threshold of this loop.
    threshold: Duration,
}

/// The threshold asked for through the environment (`CORO_WATCHDOG_MS`), if any.
pub(crate) fn threshold_from_env() -> Option<Duration> {
    static ENV: OnceLock<Option<Duration>> = OnceLock::new();
    *ENV.get_or_init(|| {
        let ms: u64 = std::env::var("CORO_WATCHDOG_MS")
            .ok()?
            .trim()
            .parse()
            .ok()?;
        (ms > 0).then(|| Duration::from_millis(ms))
    })
}

/// Every loop's slot, for the watchdog thread.
static SLOTS: Mutex<Vec<Weak<Slot>>> = Mutex::new(Vec::new());

/// When the watchdog started: the epoch of `since_ms`.
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// Whether the watchdog thread runs (the deadlock check does not count it: it wakes nobody).
pub(crate) fn running() -> bool {
    STARTED.get().is_some()
}

static STARTED: OnceLock<()> = OnceLock::new();

/// A slot for the loop of this thread, watched from now on with `threshold`.
pub(crate) fn watch(threshold: Duration) -> Arc<Slot> {
    let thread = std::thread::current();
    let slot = Arc::new(Slot {
        turn: AtomicU64::new(0),
        task: AtomicU64::new(0),
        site: AtomicPtr::new(std::ptr::null_mut()),
        reported: AtomicU64::new(0),
        since_ms: AtomicU64::new(0),
        thread: thread
            .name()
            .map_or_else(|| format!("{:?}", thread.id()), String::from),
        threshold: threshold.max(Duration::from_millis(1)),
    });
    {
        let mut slots = SLOTS.lock().unwrap_or_else(|e| e.into_inner());
        slots.retain(|s| s.strong_count() > 0);
        slots.push(Arc::downgrade(&slot));
    }
    STARTED.get_or_init(|| {
        epoch();
        let spawned = std::thread::Builder::new()
            .name("coro-watchdog".into())
            .spawn(watch_loop);
        if let Err(e) = spawned {
            eprintln!("coro: watchdog: could not start its thread: {e}");
        }
    });
    slot
}

impl Slot {
    /// Before the loop switches to `t`.
    #[inline]
    pub(crate) fn enter(&self, t: &Task) {
        self.task.store(t.id, Ordering::Relaxed);
        self.site.store(
            t.site as *const Location<'static> as *mut _,
            Ordering::Relaxed,
        );
        let turn = self.turn.load(Ordering::Relaxed) + 1;
        self.turn.store(turn, Ordering::Release);
    }

    /// After the switch back; true if the turn that just ended was reported as a stall.
    #[inline]
    pub(crate) fn leave(&self) -> bool {
        let turn = self.turn.load(Ordering::Relaxed);
        self.turn.store(turn + 1, Ordering::Release);
        self.reported.load(Ordering::Acquire) == turn
    }
}

/// The watchdog thread: looks at every slot a few times per threshold.
fn watch_loop() {
    // Per slot: (the odd turn seen last, when it was first seen).
    let mut seen: Vec<(Weak<Slot>, u64, Instant)> = Vec::new();
    loop {
        let slots: Vec<Arc<Slot>> = SLOTS
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter_map(Weak::upgrade)
            .collect();
        let tick = slots
            .iter()
            .map(|s| s.threshold / 4)
            .min()
            .unwrap_or(Duration::from_millis(100))
            .clamp(Duration::from_millis(1), Duration::from_millis(250));
        seen.retain(|(w, _, _)| w.strong_count() > 0);
        let now = Instant::now();
        for slot in &slots {
            let turn = slot.turn.load(Ordering::Acquire);
            let entry = seen
                .iter_mut()
                .find(|(w, _, _)| std::ptr::eq(w.as_ptr(), Arc::as_ptr(slot)));
            let entry = match entry {
                Some(e) => e,
                None => {
                    seen.push((Arc::downgrade(slot), turn, now));
                    continue;
                }
            };
            if entry.1 != turn {
                entry.1 = turn;
                entry.2 = now;
                continue;
            }
            let stalled = now.duration_since(entry.2);
            if turn % 2 == 1
                && stalled >= slot.threshold
                && slot.reported.load(Ordering::Acquire) != turn
            {
                let id = slot.task.load(Ordering::Relaxed);
                let site = slot.site.load(Ordering::Relaxed);
                // SAFETY: the site is a `&'static Location` stored by `enter` (never null
                // once a turn is odd): it lives for the whole program.
                let site = unsafe { site.as_ref() }
                    .map_or_else(|| "an unknown place".to_string(), |l| l.to_string());
                let since = entry.2.saturating_duration_since(epoch()).as_millis() as u64;
                slot.since_ms.store(since, Ordering::Relaxed);
                slot.reported.store(turn, Ordering::Release);
                eprintln!(
                    "coro: watchdog: coroutine {id} (spawned at {site}) has held thread '{}' for {} ms without reaching a suspension point (threshold {} ms); every other coroutine of that thread waits",
                    slot.thread,
                    stalled.as_millis(),
                    slot.threshold.as_millis()
                );
            }
        }
        std::thread::sleep(tick);
    }
}

impl Scheduler {
    /// After a task whose run was reported as a stall gave its thread back: says how long the
    /// stall lasted and where the task went on from.
    #[cold]
    #[inline(never)]
    pub(super) fn stall_ended(&self, slot: &Slot, t: &std::rc::Rc<Task>) {
        let since = Duration::from_millis(slot.since_ms.load(Ordering::Relaxed));
        let lasted = epoch().elapsed().saturating_sub(since);
        let name = t.name().map(|n| format!(" '{n}'")).unwrap_or_default();
        let mut text = format!(
            "coro: watchdog: coroutine {}{name} (spawned at {}) gave thread '{}' back after about {} ms",
            t.id,
            t.site,
            slot.thread,
            lasted.as_millis()
        );
        match self.capture_lines(t) {
            Some(lines) if !lines.is_empty() => {
                text.push_str("; it went on from:\n");
                for l in lines {
                    text.push_str(&l);
                    text.push('\n');
                }
            }
            _ => text.push_str(" (it finished, or has no park point to show)\n"),
        }
        let _ = std::io::Write::write_all(&mut std::io::stderr().lock(), text.as_bytes());
    }
}
