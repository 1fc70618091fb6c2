//! The debugger's registry: a record of every live task, laid out in plain C for coro's gdb
//! script (`coro-core/gdb/coro-gdb.py`: `coro ps`, `coro bt ID`), which reads it from a stopped
//! process or a core file, in any build, without Rust debug info and without running code in
//! the program.
//!
//! ```text
//!  CORO_DEBUG_REGISTRY (exported symbol)      one Table per scheduler       records, by slab index
//!  +-----------------------------+            +------------------+          +--------------------+
//!  | magic "coro-dbg", version   |            | next ------------+--> ...   | task (0: empty)    |
//!  | record size                 |            | scheduler, tid   |          | control block      |
//!  | control block: sp, state    |            | records ---------+--------> | spawn site         |
//!  | state byte values           |            | len, live        |          | stack top, size,   |
//!  | switch frame: size, pc,     |            +------------------+          | occupant slot      |
//!  |   two registers and offsets |                                          +--------------------+
//!  | tables ---------------------+--> first Table
//!  | task: id, state, name       |
//!  | str and Location layouts    |
//!  +-----------------------------+
//! ```
//!
//! A record holds what a debugger cannot find from the task itself: the id, the task state
//! and the name are read from the `Task` (at offsets the registry gives), the spawn site's file
//! and line from its `Location` (whose layout, like a `Box<str>`'s, std does not fix: it is
//! measured once, at the first spawn, and published in the registry).
//!
//! A scheduler's records are indexed like its task slab (the slot index of a task's key), so a
//! spawn writes one record in place and a finish clears its id: no allocation in steady state,
//! no lookup, nothing on a switch. Each thread keeps its tables in a thread-local (one per
//! scheduler: a nested `coro::run` has its own) and gives them up when it exits, for the next
//! thread to take over. A table whose tasks have all finished is reused by the thread's next
//! scheduler.
//!
//! The script finds a suspended coroutine's registers from its saved stack pointer (the first
//! word of its control block) and the switch frame the registry describes
//! (`coro_asm::SUSPENDED_FRAME`). A shared-stack coroutine's frames are on its stack only while
//! it is the stack's occupant (the word at `occupant slot` names its control block); otherwise
//! they wait in its save buffer and a debugger cannot unwind them.
//!
//! Tasks left behind by a runtime that gave up on them (`Scheduler::abandon`) are never
//! finished, so their records stay; their tables are not reused.

use std::cell::RefCell;
use std::mem::offset_of;
use std::panic::Location;
use std::ptr;
use std::ptr::NonNull;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, Ordering};

use crate::coroutine::debugger as layout;
use crate::sys;

use super::scheduler::Scheduler;
use super::task::{Task, TaskState};

/// The version of the layout below; the gdb script refuses a version it does not know.
const VERSION: u32 = 2;

/// A layout offset not measured (yet, or ever): the debugger shows `?` for what needs it.
const UNKNOWN: u32 = u32::MAX;

/// The root of the registry, found by the debugger through its symbol.
#[repr(C)]
#[allow(dead_code)] // Written for the debugger; Rust never reads it back.
pub(crate) struct Registry {
    /// `b"coro-dbg"`.
    magic: [u8; 8],
    /// [`VERSION`].
    version: u32,
    /// `size_of::<Record>()`.
    record_size: u32,
    /// The offset of the saved stack pointer in a control block.
    sp_offset: u32,
    /// The offset of the coroutine's state byte in a control block.
    state_offset: u32,
    /// The coroutine state byte's values: fresh, suspended, running, finished.
    coroutine_states: [u8; 4],
    /// The task state byte's values: queued, yielded, running, parked, done (and 3 unused).
    task_states: [u8; 8],
    /// The bytes of a suspended coroutine's switch frame: its stack pointer where it resumes
    /// is the saved one plus this.
    frame_size: u32,
    /// The offset of the resume address in the switch frame.
    frame_pc: u32,
    /// The names (NUL-padded, as gdb spells them) of the two other registers the switch
    /// frame holds.
    frame_regs: [[u8; 8]; 2],
    /// Their offsets in the switch frame.
    frame_reg_offsets: [u32; 2],
    /// The first table of the list of every scheduler's table.
    tables: AtomicPtr<Table>,
    /// The offsets of the id (a u64), the state byte and the name (the address of a
    /// `Box<str>`, or null) in a `Task`.
    task_id: u32,
    task_state: u32,
    task_name: u32,
    /// The offsets of the pointer and the length words in a `Box<str>` (measured).
    str_ptr: AtomicU32,
    str_len: AtomicU32,
    /// The offsets in a `std::panic::Location` of its file's pointer and length words and of
    /// its line and column (u32 each) (measured).
    loc_file_ptr: AtomicU32,
    loc_file_len: AtomicU32,
    loc_line: AtomicU32,
    loc_column: AtomicU32,
}

/// The registry: the one symbol coro's gdb script looks up.
#[unsafe(no_mangle)]
#[used]
pub(crate) static CORO_DEBUG_REGISTRY: Registry = Registry {
    magic: *b"coro-dbg",
    version: VERSION,
    record_size: size_of::<Record>() as u32,
    sp_offset: layout::SP_OFFSET as u32,
    state_offset: layout::STATE_OFFSET as u32,
    coroutine_states: layout::STATES,
    task_states: [
        task_state_byte(TaskState::Queued),
        task_state_byte(TaskState::Yielded),
        task_state_byte(TaskState::Running),
        task_state_byte(TaskState::Parked),
        task_state_byte(TaskState::Done),
        0xff,
        0xff,
        0xff,
    ],
    frame_size: coro_asm::SUSPENDED_FRAME.size as u32,
    frame_pc: coro_asm::SUSPENDED_FRAME.pc as u32,
    frame_regs: [
        reg_name(coro_asm::SUSPENDED_FRAME.regs[0].0),
        reg_name(coro_asm::SUSPENDED_FRAME.regs[1].0),
    ],
    frame_reg_offsets: [
        coro_asm::SUSPENDED_FRAME.regs[0].1 as u32,
        coro_asm::SUSPENDED_FRAME.regs[1].1 as u32,
    ],
    tables: AtomicPtr::new(ptr::null_mut()),
    task_id: offset_of!(Task, id) as u32,
    task_state: offset_of!(Task, state) as u32,
    task_name: offset_of!(Task, name) as u32,
    str_ptr: AtomicU32::new(UNKNOWN),
    str_len: AtomicU32::new(UNKNOWN),
    loc_file_ptr: AtomicU32::new(UNKNOWN),
    loc_file_len: AtomicU32::new(UNKNOWN),
    loc_line: AtomicU32::new(UNKNOWN),
    loc_column: AtomicU32::new(UNKNOWN),
};

/// The byte a `TaskState` is in memory, which the debugger compares with.
const fn task_state_byte(state: TaskState) -> u8 {
    // SAFETY: TaskState is a fieldless enum of a few variants: one byte (a transmute between
    // types of different sizes does not compile), every value of which is a valid u8.
    unsafe { std::mem::transmute::<TaskState, u8>(state) }
}

/// A register name, NUL-padded to 8 bytes.
const fn reg_name(name: &str) -> [u8; 8] {
    let bytes = name.as_bytes();
    assert!(bytes.len() < 8);
    let mut out = [0u8; 8];
    let mut i = 0;
    while i < bytes.len() {
        out[i] = bytes[i];
        i += 1;
    }
    out
}

/// One scheduler's records. Tables are never freed: a thread that exits gives its tables
/// up (`claimed` 0) and the next thread that needs one takes it over, so the list only grows to
/// the most threads that ever ran a scheduler at once, and changes without a lock (a lock held
/// by another thread at a `fork` would leave the child stuck).
#[repr(C)]
#[allow(dead_code)] // Written for the debugger; Rust reads only `next`, `claimed` and `live`.
pub(crate) struct Table {
    /// The next table of the global list, or null.
    next: AtomicPtr<Table>,
    /// 1 while a thread owns the table, else 0 (the rest is then empty).
    claimed: AtomicU32,
    /// The kernel id of the owning thread.
    tid: i32,
    /// The scheduler (its address) whose tasks these are.
    scheduler: usize,
    /// The records, indexed like the scheduler's task slab.
    records: *const Record,
    /// How many records there are (empty ones included).
    len: usize,
    /// How many records are not empty.
    live: usize,
}

/// One live task, as the debugger reads it. A `task` of 0 marks an empty slot.
#[repr(C)]
#[derive(Clone, Copy)]
#[allow(dead_code)] // Written for the debugger; Rust reads only `task`.
struct Record {
    /// The `Task`: its id, state and name are read from it (see `Registry`).
    task: usize,
    /// Its control block (see `coroutine::debugger::DebugView`).
    control: usize,
    /// Its spawn site, a `&'static Location`.
    site: usize,
    /// The top of its stack.
    stack_top: usize,
    /// The usable bytes of its stack.
    stack_size: usize,
    /// For a shared stack, the address of the word naming its occupant; 0 for an owned one.
    occupant_slot: usize,
}

const EMPTY: Record = Record {
    task: 0,
    control: 0,
    site: 0,
    stack_top: 0,
    stack_size: 0,
    occupant_slot: 0,
};

/// A table this thread owns, with the records it publishes.
struct Local {
    /// In the global list, claimed by this thread.
    table: NonNull<Table>,
    records: Vec<Record>,
}

/// This thread's tables (one per scheduler it runs), given up when the thread exits.
#[derive(Default)]
struct Tables(Vec<Local>);

thread_local! {
    static TABLES: RefCell<Tables> = RefCell::default();
}

impl Tables {
    /// The table of `scheduler`: the one it had, else one of this thread's whose tasks have
    /// all finished, else one claimed from the global list.
    fn of(&mut self, scheduler: usize) -> &mut Local {
        let i = match self.0.iter().position(|l| l.table().scheduler == scheduler) {
            Some(i) => i,
            None => match self.0.iter().position(|l| l.table().live == 0) {
                Some(i) => i,
                None => {
                    self.0.push(Local::claim());
                    self.0.len() - 1
                }
            },
        };
        let local = &mut self.0[i];
        // SAFETY: this thread owns the table (see `Local::table_mut`).
        unsafe { local.table_mut().scheduler = scheduler };
        local
    }
}

impl Local {
    /// A table of the global list that no thread owns, or a new one linked at its head.
    fn claim() -> Local {
        let head = &CORO_DEBUG_REGISTRY.tables;
        let mut t = head.load(Ordering::Acquire);
        while let Some(table) = NonNull::new(t) {
            // SAFETY: tables in the list are never freed.
            let r = unsafe { table.as_ref() };
            if r.claimed
                .compare_exchange(0, 1, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                return Local::owning(table);
            }
            t = r.next.load(Ordering::Acquire);
        }
        let table = NonNull::from(Box::leak(Box::new(Table {
            next: AtomicPtr::new(ptr::null_mut()),
            claimed: AtomicU32::new(1),
            tid: 0,
            scheduler: 0,
            records: ptr::null(),
            len: 0,
            live: 0,
        })));
        let mut next = head.load(Ordering::Relaxed);
        loop {
            // SAFETY: the table is ours and not yet in the list.
            unsafe { table.as_ref() }
                .next
                .store(next, Ordering::Relaxed);
            match head.compare_exchange_weak(
                next,
                table.as_ptr(),
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Local::owning(table),
                Err(now) => next = now,
            }
        }
    }

    /// This thread's hold on `table`, which it just claimed.
    fn owning(table: NonNull<Table>) -> Local {
        let mut local = Local {
            table,
            records: Vec::new(),
        };
        // SAFETY: just claimed.
        unsafe { local.table_mut().tid = sys::gettid() };
        local
    }

    fn table(&self) -> &Table {
        // SAFETY: tables are never freed; this thread owns this one, so only it writes.
        unsafe { self.table.as_ref() }
    }

    /// # Safety
    ///
    /// Only the thread that claimed the table may write it (its `claimed` word says which
    /// thread may, with acquire/release around each hand-over); the debugger reads it only
    /// while the process is stopped.
    unsafe fn table_mut(&mut self) -> &mut Table {
        // SAFETY: the caller's contract.
        unsafe { self.table.as_mut() }
    }

    /// Writes `record` at `index`, growing the records as needed.
    fn put(&mut self, index: usize, record: Record) {
        let grown = index >= self.records.len();
        if grown {
            self.records.resize(index + 1, EMPTY);
        }
        let slot = &mut self.records[index];
        let live = match (slot.task, record.task) {
            (0, 0) => 0,
            (0, _) => 1,
            (_, 0) => -1,
            _ => 0,
        };
        *slot = record;
        let (records, len) = (self.records.as_ptr(), self.records.len());
        // SAFETY: this thread owns the table.
        let table = unsafe { self.table_mut() };
        if grown {
            table.records = records;
            table.len = len;
        }
        table.live = table.live.wrapping_add_signed(live);
    }
}

impl Drop for Tables {
    fn drop(&mut self) {
        for local in &mut self.0 {
            // SAFETY: this thread owns the table until the release below.
            let table = unsafe { local.table_mut() };
            table.records = ptr::null();
            table.len = 0;
            table.live = 0;
            table.scheduler = 0;
            table.tid = 0;
            table.claimed.store(0, Ordering::Release);
        }
    }
}

/// Records the task `task` that `scheduler` just spawned (its slab key is set).
pub(crate) fn spawned(scheduler: &Scheduler, task: &Rc<Task>) {
    let Some(view) = task.co.borrow().as_ref().map(|co| co.debug_view()) else {
        return;
    };
    if !MEASURED.load(Ordering::Relaxed) {
        measure_layouts(task.site);
    }
    let record = Record {
        task: ptr::from_ref::<Task>(task) as usize,
        control: view.control,
        site: ptr::from_ref(task.site) as usize,
        stack_top: view.stack_top,
        stack_size: view.stack_size,
        occupant_slot: view.occupant_slot,
    };
    let _ = TABLES.try_with(|tables| {
        tables
            .borrow_mut()
            .of(ptr::from_ref(scheduler) as usize)
            .put(task.key.get().0 as usize, record);
    });
}

/// Whether [`measure_layouts`] has run on a site whose line and column differ (which tells them
/// apart).
static MEASURED: AtomicBool = AtomicBool::new(false);

/// Measures where a `Box<str>` keeps its pointer and length, and where a `Location` keeps its
/// file, line and column (std fixes neither layout), from values whose contents are known, and
/// publishes the offsets in the registry. A part not found stays [`UNKNOWN`].
#[cold]
fn measure_layouts(site: &'static Location<'static>) {
    if site.line() == site.column() {
        return; // Try again with the next spawn's site.
    }
    MEASURED.store(true, Ordering::Relaxed);
    let r = &CORO_DEBUG_REGISTRY;
    let name: Box<str> = Box::from("coro");
    let words: [usize; 2] = {
        const { assert!(size_of::<Box<str>>() == 2 * size_of::<usize>()) };
        // SAFETY: a `Box<str>` is two words (checked above); they are only read.
        unsafe { std::mem::transmute_copy(&name) }
    };
    let at = |w: &[usize], v: usize| w.iter().position(|&x| x == v);
    let word = size_of::<usize>();
    if let (Some(p), Some(l)) = (at(&words, name.as_ptr() as usize), at(&words, name.len())) {
        r.str_ptr.store((p * word) as u32, Ordering::Relaxed);
        r.str_len.store((l * word) as u32, Ordering::Relaxed);
    }
    // The Location's words and its u32 halves.
    let size = size_of::<Location<'static>>();
    let base = ptr::from_ref(site).cast::<u8>();
    // SAFETY: `site` is a live `Location` of `size` bytes, read as plain bytes.
    let bytes = unsafe { std::slice::from_raw_parts(base, size) };
    let read = |i: usize, n: usize| {
        bytes[i..i + n]
            .iter()
            .rev()
            .fold(0usize, |a, &b| a << 8 | b as usize)
    };
    // The first `n`-byte field at a multiple of `n` holding `v`, overlapping none of the
    // fields already found (`taken`: offset and size).
    let find = |n: usize, v: usize, taken: &[(usize, usize)]| {
        (0..size / n)
            .map(|i| i * n)
            .find(|&i| read(i, n) == v && !taken.iter().any(|&(o, m)| i < o + m && o < i + n))
    };
    let file = site.file();
    let file_ptr = find(word, file.as_ptr() as usize, &[]);
    let file_len = file_ptr.and_then(|p| find(word, file.len(), &[(p, word)]));
    if let (Some(p), Some(l)) = (file_ptr, file_len)
        && let Some(line) = find(4, site.line() as usize, &[(p, word), (l, word)])
        && let Some(column) = find(
            4,
            site.column() as usize,
            &[(p, word), (l, word), (line, 4)],
        )
    {
        r.loc_file_ptr.store(p as u32, Ordering::Relaxed);
        r.loc_file_len.store(l as u32, Ordering::Relaxed);
        r.loc_line.store(line as u32, Ordering::Relaxed);
        r.loc_column.store(column as u32, Ordering::Relaxed);
    }
}

/// Forgets the task `task`, which `scheduler` is finishing.
pub(crate) fn finished(scheduler: &Scheduler, task: &Task) {
    let _ = TABLES.try_with(|tables| {
        tables
            .borrow_mut()
            .of(ptr::from_ref(scheduler) as usize)
            .put(task.key.get().0 as usize, EMPTY);
    });
}

// The layout the gdb script reads (coro-core/gdb/coro-gdb.py), pinned: a change here is a new
// VERSION and a change there.
const _: () = {
    assert!(offset_of!(Registry, version) == 8);
    assert!(offset_of!(Registry, record_size) == 12);
    assert!(offset_of!(Registry, sp_offset) == 16);
    assert!(offset_of!(Registry, state_offset) == 20);
    assert!(offset_of!(Registry, coroutine_states) == 24);
    assert!(offset_of!(Registry, task_states) == 28);
    assert!(offset_of!(Registry, frame_size) == 36);
    assert!(offset_of!(Registry, frame_pc) == 40);
    assert!(offset_of!(Registry, frame_regs) == 44);
    assert!(offset_of!(Registry, frame_reg_offsets) == 60);
    assert!(offset_of!(Registry, tables) == 72);
    assert!(offset_of!(Table, next) == 0);
    assert!(offset_of!(Table, claimed) == 8);
    assert!(offset_of!(Table, tid) == 12);
    assert!(offset_of!(Table, scheduler) == 16);
    assert!(offset_of!(Table, records) == 24);
    assert!(offset_of!(Table, len) == 32);
    assert!(offset_of!(Table, live) == 40);
    assert!(offset_of!(Registry, task_id) == 80);
    assert!(offset_of!(Registry, task_state) == 84);
    assert!(offset_of!(Registry, task_name) == 88);
    assert!(offset_of!(Registry, str_ptr) == 92);
    assert!(offset_of!(Registry, str_len) == 96);
    assert!(offset_of!(Registry, loc_file_ptr) == 100);
    assert!(offset_of!(Registry, loc_file_len) == 104);
    assert!(offset_of!(Registry, loc_line) == 108);
    assert!(offset_of!(Registry, loc_column) == 112);
    assert!(offset_of!(Record, task) == 0);
    assert!(offset_of!(Record, control) == 8);
    assert!(offset_of!(Record, site) == 16);
    assert!(offset_of!(Record, stack_top) == 24);
    assert!(offset_of!(Record, stack_size) == 32);
    assert!(offset_of!(Record, occupant_slot) == 40);
    assert!(size_of::<Record>() == 48);
};

/// The gdb script, carried in the binary's `.debug_gdb_scripts` section as an inline script
/// (gdb's entry kind 4: the kind byte, a first line naming the script, the script, a NUL), so
/// that gdb defines `coro ps` and `coro bt` by itself when it loads a program built with coro
/// and auto-loading is allowed for it (`add-auto-load-safe-path`).
#[unsafe(link_section = ".debug_gdb_scripts")]
#[used]
static GDB_SCRIPT: [u8; GDB_SCRIPT_LEN] = gdb_script();

/// The script's text, the same file as `scripts/coro-gdb.py` in the repository.
const GDB_SCRIPT_TEXT: &str = include_str!("../../gdb/coro-gdb.py");

/// The entry's head: kind 4 (inline Python), then the script's name on a line of its own.
const GDB_SCRIPT_HEAD: &[u8] = b"\x04coro-gdb.py\n";

const GDB_SCRIPT_LEN: usize = GDB_SCRIPT_HEAD.len() + GDB_SCRIPT_TEXT.len() + 1;

/// The section entry: head, script, NUL.
const fn gdb_script() -> [u8; GDB_SCRIPT_LEN] {
    let mut out = [0u8; GDB_SCRIPT_LEN];
    let text = GDB_SCRIPT_TEXT.as_bytes();
    let mut i = 0;
    while i < GDB_SCRIPT_HEAD.len() {
        out[i] = GDB_SCRIPT_HEAD[i];
        i += 1;
    }
    let mut j = 0;
    while j < text.len() {
        // A NUL would end the entry early.
        assert!(text[j] != 0);
        out[i + j] = text[j];
        j += 1;
    }
    out
}
