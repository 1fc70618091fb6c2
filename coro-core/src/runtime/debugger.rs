//! The debugger's registry, laid out in plain C for coro's gdb script
//! (`coro-core/gdb/coro-gdb.py`: `coro ps`, `coro bt ID`), which reads it from a stopped
//! process or a core file, in any build, without Rust debug info and without running code in
//! the program.
//!
//! ```text
//!  CORO_DEBUG_REGISTRY (exported symbol)    one Table per scheduler    its task slab's slots
//!  +------------------------------+         +------------------+       +------------------+
//!  | magic "coro-dbg", version    |         | next ------------+-> ... | generation, task +-> Rc
//!  | slab slot size               |         | slab, tid        |       | (task 0: empty)  |  of a
//!  | control block: sp, state     |         | slots -----------+-----> | ...              |  Task
//!  | state byte values            |         | len, live        |       +------------------+
//!  | switch frame: size, pc,      |         +------------------+
//!  |   two registers and offsets  |
//!  | tables ----------------------+--> first Table
//!  | task: id, state, name, site, |
//!  |   shared, control block      |
//!  | str, Location, Rc layouts    |
//!  | owned and shared stacks      |
//!  +------------------------------+
//! ```
//!
//! Nothing is kept per task: the debugger reads the tasks from each scheduler's task slab,
//! whose slots are in C layout (`runtime/tasks.rs`). A spawn publishes the address and length
//! of the slab's slots (which move only when the slab grows) in the scheduler's table, a finish
//! counts the task out, and the slab takes its slots back when it is dropped: no allocation,
//! nothing on a switch. Each thread keeps its tables in a thread-local (one per scheduler) and
//! gives them up when it exits, for the next thread to take over; a table whose slab was
//! dropped is reused by the thread's next scheduler.
//!
//! From a slot's word (the address of the task's `Rc` allocation) and the offsets the registry
//! gives, the debugger finds the `Task`: its id, state, name, spawn site (a `Location`),
//! whether it runs on a shared stack, and the word of its coroutine handle that holds the
//! address of the control block. From the block: the saved stack pointer (its first word), the
//! coroutine's state, and its stack: for an owned stack, the top and size words; for a shared
//! stack, a word holding the address of the shared stack's state, in which are its top, its
//! size and the address of the word naming its occupant. Offsets in types whose layout Rust
//! does not fix (a `Box<str>`, a `Location`, an `Rc`, the task's coroutine handle, a control
//! block's stack slot) are measured at the first spawn of a task on each kind of stack, from
//! values whose contents or addresses are known, and published in the registry; one not found
//! stays unknown, and the debugger shows `?` for what needs it.
//!
//! The script finds a suspended coroutine's registers from its saved stack pointer and the
//! switch frame the registry describes (`coro_asm::SUSPENDED_FRAME`). A shared-stack
//! coroutine's frames are on its stack only while it is the stack's occupant (the word that
//! names the occupant holds its control block); otherwise they wait in its save buffer and a
//! debugger cannot unwind them.

use std::cell::RefCell;
use std::mem::offset_of;
use std::panic::Location;
use std::ptr;
use std::ptr::NonNull;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, Ordering};

use crate::coroutine::debugger::{self as layout, StackLayout};
use crate::sys;

use super::scheduler::Scheduler;
use super::task::{Task, TaskState};
use super::tasks::{TaskSlab, TaskSlot};

/// The version of the layout below; the gdb script refuses a version it does not know.
const VERSION: u32 = 3;

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
    /// `size_of::<TaskSlot>()`.
    slot_size: u32,
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
    /// The offsets in a `Task` of its spawn site (the address of a `Location`) and of the
    /// byte that is 1 if it runs on a shared stack, else 0.
    task_site: u32,
    task_shared: u32,
    /// The offset in a slab slot of the task word: the address of the task's `Rc` allocation,
    /// or 0 for an empty slot.
    slot_task: u32,
    /// The offset of the `Task` in its `Rc` allocation (measured).
    rc_task: AtomicU32,
    /// The offset in a `Task` of the word holding its control block's address (measured).
    task_control: AtomicU32,
    /// The offsets in the control block of a coroutine on an owned stack of the stack's top
    /// and usable size words (measured).
    owned_stack: [AtomicU32; 2],
    /// The offset in the control block of a coroutine on a shared stack of the word holding
    /// an address, and the offsets from that address of the stack's top and usable size words
    /// and of the word holding the address of the word naming the stack's occupant (measured).
    shared_stack: [AtomicU32; 4],
}

/// The registry: the one symbol coro's gdb script looks up.
#[unsafe(no_mangle)]
#[used]
pub(crate) static CORO_DEBUG_REGISTRY: Registry = Registry {
    magic: *b"coro-dbg",
    version: VERSION,
    slot_size: size_of::<TaskSlot>() as u32,
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
    task_site: offset_of!(Task, site) as u32,
    task_shared: offset_of!(Task, shared) as u32,
    slot_task: offset_of!(TaskSlot, task) as u32,
    rc_task: AtomicU32::new(UNKNOWN),
    task_control: AtomicU32::new(UNKNOWN),
    owned_stack: [const { AtomicU32::new(UNKNOWN) }; 2],
    shared_stack: [const { AtomicU32::new(UNKNOWN) }; 4],
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

/// One scheduler's view for the debugger. Tables are never freed: a thread that exits gives
/// its tables up (`claimed` 0) and the next thread that needs one takes it over, so the list
/// only grows to the most threads that ever ran a scheduler at once, and changes without a
/// lock (a lock held by another thread at a `fork` would leave the child stuck).
#[repr(C)]
#[allow(dead_code)] // Written for the debugger; Rust reads only `next`, `claimed` and `slab`.
pub(crate) struct Table {
    /// The next table of the global list, or null.
    next: AtomicPtr<Table>,
    /// 1 while a thread owns the table, else 0 (the rest is then empty).
    claimed: AtomicU32,
    /// The kernel id of the owning thread.
    tid: i32,
    /// The task slab (its address) whose slots these are, or 0 once it is dropped.
    slab: usize,
    /// The slab's slots, indexed by the slot index of a task's key.
    slots: *const TaskSlot,
    /// How many slots there are (empty ones included).
    len: usize,
    /// How many tasks were spawned and have not finished (tasks a runtime gave up on with
    /// `Scheduler::abandon` included, until the slab is dropped).
    live: usize,
}

/// A table this thread owns.
struct Local {
    /// In the global list, claimed by this thread.
    table: NonNull<Table>,
}

/// This thread's tables (one per scheduler it runs), given up when the thread exits.
#[derive(Default)]
struct Tables(Vec<Local>);

thread_local! {
    static TABLES: RefCell<Tables> = RefCell::default();
}

impl Tables {
    /// The table of the slab at `slab`, if it has one.
    fn find(&mut self, slab: usize) -> Option<&mut Local> {
        self.0.iter_mut().find(|l| l.table().slab == slab)
    }

    /// The table of the slab at `slab`: the one it had, else one of this thread's whose slab
    /// was dropped, else one claimed from the global list.
    fn of(&mut self, slab: usize) -> &mut Local {
        let i = match self.0.iter().position(|l| l.table().slab == slab) {
            Some(i) => i,
            None => match self.0.iter().position(|l| l.table().slab == 0) {
                Some(i) => i,
                None => {
                    self.0.push(Local::claim());
                    self.0.len() - 1
                }
            },
        };
        let local = &mut self.0[i];
        // SAFETY: this thread owns the table (see `Local::table_mut`).
        unsafe { local.table_mut().slab = slab };
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
            slab: 0,
            slots: ptr::null(),
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
        let mut local = Local { table };
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

    /// Empties the table, which no slab uses any more.
    fn clear(&mut self) {
        // SAFETY: this thread owns the table.
        let table = unsafe { self.table_mut() };
        table.slab = 0;
        table.slots = ptr::null();
        table.len = 0;
        table.live = 0;
    }
}

impl Drop for Tables {
    fn drop(&mut self) {
        for local in &mut self.0 {
            local.clear();
            // SAFETY: this thread owns the table until the release below.
            unsafe { local.table_mut().tid = 0 };
            local.table().claimed.store(0, Ordering::Release);
        }
    }
}

/// Publishes the slots of `scheduler`'s slab, which now holds `task`, just spawned.
pub(crate) fn spawned(scheduler: &Scheduler, task: &Rc<Task>) {
    let kind = &MEASURED[usize::from(task.shared)];
    if !kind.load(Ordering::Relaxed) && measure_layouts(task) {
        kind.store(true, Ordering::Relaxed);
    }
    let _ = TABLES.try_with(|tables| {
        let mut tables = tables.borrow_mut();
        // SAFETY: this thread owns the table.
        let table = unsafe { tables.of(scheduler.tasks.as_ptr() as usize).table_mut() };
        // Not borrowed by the spawn any more; if it were, the next spawn publishes them.
        if let Ok(slab) = scheduler.tasks.try_borrow() {
            table.slots = slab.slots().as_ptr();
            table.len = slab.slots().len();
        }
        table.live += 1;
    });
}

/// Counts out the task `task`, which `scheduler` is finishing.
pub(crate) fn finished(scheduler: &Scheduler, _task: &Task) {
    let _ = TABLES.try_with(|tables| {
        if let Some(local) = tables.borrow_mut().find(scheduler.tasks.as_ptr() as usize) {
            // SAFETY: this thread owns the table.
            let table = unsafe { local.table_mut() };
            table.live = table.live.saturating_sub(1);
        }
    });
}

/// Takes back the slots of `slab`, which is being dropped.
pub(crate) fn slab_dropped(slab: &TaskSlab) {
    let slab = ptr::from_ref(slab) as usize;
    let _ = TABLES.try_with(|tables| {
        if let Some(local) = tables.borrow_mut().find(slab) {
            local.clear();
        }
    });
}

/// Whether [`measure_layouts`] has measured what a task on an owned stack (0) and on a shared
/// stack (1) needs.
static MEASURED: [AtomicBool; 2] = [const { AtomicBool::new(false) }; 2];

// The registry says where to read the shared-stack byte: it must stay a `bool`.
const _: fn(&Task) -> &bool = |task| &task.shared;

/// Measures, from `task` and values whose contents or addresses are known, the layouts std
/// and the compiler do not fix: where a `Box<str>` keeps its pointer and length, where a
/// `Location` keeps its file, line and column, where an `Rc` keeps its value, where a task
/// keeps its control block's address, and where a control block keeps the stack `task` runs
/// on; and publishes the offsets in the registry. A part not found stays [`UNKNOWN`]. False if
/// the task's spawn site cannot tell its line and column apart: the next spawn tries again.
#[cold]
fn measure_layouts(task: &Rc<Task>) -> bool {
    let site = task.site;
    if site.line() == site.column() {
        return false;
    }
    let r = &CORO_DEBUG_REGISTRY;
    let set = |field: &AtomicU32, offset: usize| {
        if let Ok(offset) = u32::try_from(offset) {
            field.store(offset, Ordering::Relaxed);
        }
    };
    let name: Box<str> = Box::from("coro");
    let words: [usize; 2] = {
        const { assert!(size_of::<Box<str>>() == 2 * size_of::<usize>()) };
        // SAFETY: a `Box<str>` is two words (checked above); they are only read.
        unsafe { std::mem::transmute_copy(&name) }
    };
    let at = |w: &[usize], v: usize| w.iter().position(|&x| x == v);
    let word = size_of::<usize>();
    if let (Some(p), Some(l)) = (at(&words, name.as_ptr() as usize), at(&words, name.len())) {
        set(&r.str_ptr, p * word);
        set(&r.str_len, l * word);
    }
    if let Some((p, l, line, column)) = measure_location(site) {
        set(&r.loc_file_ptr, p);
        set(&r.loc_file_len, l);
        set(&r.loc_line, line);
        set(&r.loc_column, column);
    }
    // The slab's task word is the `Rc`'s one pointer (an `Option<Rc>` is the same word, 0 for
    // `None`).
    const { assert!(size_of::<Option<Rc<Task>>>() == size_of::<usize>()) };
    // SAFETY: an `Rc` is one pointer (its `Option` is one word, checked above), read as an
    // integer; the copy is not used as an `Rc`.
    let rc: usize = unsafe { std::mem::transmute_copy(task) };
    let addr = Rc::as_ptr(task) as usize;
    set(&r.rc_task, addr.wrapping_sub(rc));
    let co = task.co.borrow();
    let Some(co) = co.as_ref() else {
        return true;
    };
    let control = co.control_word().wrapping_sub(addr);
    if control < size_of::<Task>() {
        set(&r.task_control, control);
    }
    let (fields, offsets): (&[AtomicU32], &[usize]) = match co.stack_layout() {
        Some(StackLayout::Owned { top, size }) => (&r.owned_stack, &[top, size]),
        Some(StackLayout::Shared {
            handle,
            top,
            size,
            occupant,
        }) => (&r.shared_stack, &[handle, top, size, occupant]),
        None => (&[], &[]),
    };
    for (field, &offset) in fields.iter().zip(offsets) {
        set(field, offset);
    }
    true
}

/// The offsets in a `Location` of its file's pointer and length words, its line and its
/// column, found from `site`'s values (its line and column differ).
fn measure_location(site: &'static Location<'static>) -> Option<(usize, usize, usize, usize)> {
    let word = size_of::<usize>();
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
    let p = find(word, file.as_ptr() as usize, &[])?;
    let l = find(word, file.len(), &[(p, word)])?;
    let line = find(4, site.line() as usize, &[(p, word), (l, word)])?;
    let column = find(
        4,
        site.column() as usize,
        &[(p, word), (l, word), (line, 4)],
    )?;
    Some((p, l, line, column))
}

// The layout the gdb script reads (coro-core/gdb/coro-gdb.py), pinned: a change here is a new
// VERSION and a change there.
const _: () = {
    assert!(offset_of!(Registry, version) == 8);
    assert!(offset_of!(Registry, slot_size) == 12);
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
    assert!(offset_of!(Table, slab) == 16);
    assert!(offset_of!(Table, slots) == 24);
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
    assert!(offset_of!(Registry, task_site) == 116);
    assert!(offset_of!(Registry, task_shared) == 120);
    assert!(offset_of!(Registry, slot_task) == 124);
    assert!(offset_of!(Registry, rc_task) == 128);
    assert!(offset_of!(Registry, task_control) == 132);
    assert!(offset_of!(Registry, owned_stack) == 136);
    assert!(offset_of!(Registry, shared_stack) == 144);
    assert!(size_of::<Registry>() == 160);
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

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::runtime::scheduler::SCHED;

    /// A word of this process's memory, read as the debugger reads it.
    fn word(addr: usize) -> usize {
        // SAFETY: the tests read only addresses the registry leads to while what they point
        // at is alive (this thread's tables, its live tasks and their blocks and stacks).
        unsafe { (addr as *const usize).read() }
    }

    /// A measured offset, which the tests expect known.
    fn offset(field: &AtomicU32) -> usize {
        let offset = field.load(Ordering::Relaxed);
        assert_ne!(offset, UNKNOWN);
        offset as usize
    }

    /// The tables this thread owns, as the debugger finds them.
    fn my_tables() -> Vec<&'static Table> {
        let tid = sys::gettid();
        let mut out = Vec::new();
        let mut t = CORO_DEBUG_REGISTRY.tables.load(Ordering::Acquire);
        // SAFETY: tables are never freed; this thread's are written only by this thread.
        while let Some(table) = unsafe { t.as_ref() } {
            if table.claimed.load(Ordering::Acquire) == 1 && table.tid == tid {
                out.push(table);
            }
            t = table.next.load(Ordering::Acquire);
        }
        out
    }

    /// The addresses of the tasks the debugger finds in this thread's tables.
    fn listed_tasks() -> Vec<usize> {
        let r = &CORO_DEBUG_REGISTRY;
        let mut out = Vec::new();
        for table in my_tables() {
            for i in 0..table.len {
                let slot = table.slots as usize + i * r.slot_size as usize;
                let rc = word(slot + r.slot_task as usize);
                if rc != 0 {
                    out.push(rc + offset(&r.rc_task));
                }
            }
        }
        out
    }

    /// Spawns a task that yields `n` times.
    fn yielder(builder: crate::Builder, n: usize) {
        builder
            .spawn(move || {
                for _ in 0..n {
                    crate::yield_now();
                }
            })
            .unwrap();
    }

    #[test]
    fn the_registry_leads_to_every_task_its_block_and_its_stack() {
        crate::run(|| {
            yielder(crate::Builder::new().name("owned").stack_size(64 * 1024), 3);
            for _ in 0..5 {
                // SAFETY: the body lends no reference into its stack.
                let shared = unsafe { crate::Builder::new().shared(true) };
                yielder(shared.stack_size(32 * 1024), 3);
            }
            crate::yield_now();
            let r = &CORO_DEBUG_REGISTRY;
            let tasks = SCHED.with(|s| s.tasks.borrow().all());
            let listed: HashSet<usize> = listed_tasks().into_iter().collect();
            let live: HashSet<usize> = tasks.iter().map(|t| Rc::as_ptr(t) as usize).collect();
            assert_eq!(listed, live);
            for t in &tasks {
                let task = Rc::as_ptr(t) as usize;
                assert_eq!(word(task + r.task_id as usize) as u64, t.id);
                assert_eq!(
                    word(task + r.task_site as usize),
                    ptr::from_ref(t.site) as usize
                );
                if t.id == crate::current_id().unwrap() {
                    continue; // Running: its coroutine is borrowed by the scheduler.
                }
                let co = t.co.borrow();
                let (shared, size, used) = co.as_ref().unwrap().stack_use();
                // SAFETY: the byte the registry names is a `bool` (checked at compile time).
                let shared_byte = unsafe { *((task + r.task_shared as usize) as *const u8) };
                assert_eq!(shared_byte != 0, shared);
                let control = word(task + offset(&r.task_control));
                let (top, stack_size, occupant) = if shared {
                    let [handle, top, size, occupant] = &r.shared_stack;
                    let state = word(control + offset(handle));
                    (
                        word(state + offset(top)),
                        word(state + offset(size)),
                        word(word(state + offset(occupant))),
                    )
                } else {
                    let [top, size] = &r.owned_stack;
                    (
                        word(control + offset(top)),
                        word(control + offset(size)),
                        control,
                    )
                };
                assert_eq!(stack_size, size);
                // The word naming the occupant is the stack's region's, the owner of its
                // frames.
                assert_eq!(occupant, crate::stack::region_owner(top - 1) as usize);
                // Every task but this one is suspended.
                let sp = word(control + r.sp_offset as usize);
                if occupant == control {
                    assert_eq!(top - sp, used);
                }
            }
        });
    }

    #[test]
    fn a_scheduler_that_ended_leaves_no_slots() {
        crate::run(|| {
            let tasks: Vec<_> = (0..10).map(|_| crate::spawn(crate::yield_now)).collect();
            let published = |live| {
                let slab = SCHED.with(|s| s.tasks.as_ptr() as usize);
                let table = my_tables().into_iter().find(|t| t.slab == slab).unwrap();
                assert_eq!(table.live, live);
            };
            published(11);
            for t in tasks {
                t.join().unwrap();
            }
            published(1);
        });
        assert!(listed_tasks().is_empty());
        assert!(my_tables().iter().all(|t| t.slab == 0 && t.slots.is_null()));
    }
}
