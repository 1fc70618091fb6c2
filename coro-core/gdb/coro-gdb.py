# coro's gdb commands: `coro ps` lists the live coroutines of a program that uses coro, and
# `coro bt ID` prints the backtrace of a suspended one, from a live process or a core file.
#
#   (gdb) source /path/to/coro/scripts/coro-gdb.py        # or: gdb -x scripts/coro-gdb.py ...
#   (gdb) coro ps
#   (gdb) coro bt 7                                       # by id, or by name: coro bt reader
#   (gdb) coro bt 7 full                                  # `bt full` for the coroutine
#
# Every binary built with coro also carries this script in its `.debug_gdb_scripts` section,
# which gdb runs when it loads the binary if auto-loading is allowed for it, e.g. with
# `gdb -iex 'add-auto-load-safe-path /path/to/project' ./target/debug/app`.
#
# How it works. The program keeps a registry that needs neither Rust debug info nor running
# code in the program (coro-core/src/runtime/debugger.rs): the exported symbol
# CORO_DEBUG_REGISTRY heads a list of tables, one per scheduler, each with the address and
# length of its scheduler's task slab, whose slots hold the live tasks; the registry gives the
# offsets that lead from a slot to the task's id, name, state and spawn site, to its
# coroutine's control block, and from the block to its stack. A suspended coroutine's
# control block starts with its saved stack pointer, under which the switch left its resume
# address and callee-saved registers (the registry says where: coro_asm::SUSPENDED_FRAME).
# `coro bt` never writes a register or memory: it installs, for the one command, a Python
# unwinder that makes the caller of the selected thread's innermost frame the suspended
# coroutine (its pc, stack pointer and saved registers), lets gdb unwind from there with the
# program's own unwind tables, and prints those frames. That works on core files too.
#
# Limits: x86_64, aarch64 and riscv64 registers are known; tasks of coro's runtime are listed
# (hand-made `Coroutine` values and generators are not); a coroutine on a shared stack can be
# shown only while its frames are on the stack (it is the stack's occupant): an evicted one's
# frames wait in its save buffer, at other addresses, where gdb cannot unwind them.

import struct

import gdb
from gdb.unwinder import Unwinder, register_unwinder

REGISTRY_SYMBOL = "CORO_DEBUG_REGISTRY"
MAGIC = b"coro-dbg"
VERSION = 3
UNKNOWN = 0xFFFFFFFF
TASK_STATES = ("queued", "yielded", "running", "parked", "done")
COROUTINE_STATES = ("fresh", "suspended", "running", "finished")

# The stack pointer's and program counter's names per architecture (gdb's names).
SP_PC = {
    "i386:x86-64": ("rsp", "rip"),
    "aarch64": ("sp", "pc"),
    "riscv:rv64": ("sp", "pc"),
}


class CoroError(Exception):
    pass


def _read(addr, size):
    try:
        return bytes(gdb.selected_inferior().read_memory(addr, size))
    except gdb.MemoryError as e:
        raise CoroError("cannot read %d bytes at %#x: %s" % (size, addr, e))


def _u64(addr):
    return struct.unpack("<Q", _read(addr, 8))[0]


def _u8(addr):
    return _read(addr, 1)[0]


def _str(addr, length, limit=4096):
    if addr == 0 or length == 0:
        return ""
    return _read(addr, min(length, limit)).decode("utf-8", "replace")


def _registry_address():
    try:
        out = gdb.execute("info address " + REGISTRY_SYMBOL, to_string=True)
    except gdb.error:
        raise CoroError(
            "no %s in this program: it does not use coro, or its symbols are stripped"
            % REGISTRY_SYMBOL
        )
    for word in out.replace(".", " ").split():
        if word.startswith("0x"):
            return int(word, 16)
    raise CoroError("cannot find the address of %s in: %s" % (REGISTRY_SYMBOL, out.strip()))


class Layout:
    """The registry's header: where things are in the program's memory."""

    def __init__(self):
        self.addr = _registry_address()
        head = _read(self.addr, 160)
        if head[0:8] != MAGIC:
            raise CoroError("%s at %#x has no magic: not coro's registry" % (REGISTRY_SYMBOL, self.addr))
        (self.version, self.slot_size, self.sp_offset, self.state_offset) = struct.unpack_from("<IIII", head, 8)
        if self.version != VERSION:
            raise CoroError(
                "the program's registry is version %d, this script reads version %d: use the "
                "script of the coro the program was built with" % (self.version, VERSION)
            )
        self.coroutine_states = dict(zip(head[24:28], COROUTINE_STATES))
        self.task_states = dict(zip(head[28:33], TASK_STATES))
        (self.frame_size, self.frame_pc) = struct.unpack_from("<II", head, 36)
        names = [head[44:52].split(b"\0")[0].decode(), head[52:60].split(b"\0")[0].decode()]
        offsets = struct.unpack_from("<II", head, 60)
        self.frame_regs = list(zip(names, offsets))
        (self.tables,) = struct.unpack_from("<Q", head, 72)
        # Where a task keeps its id, state byte and name, and how a Box<str> and a Location
        # are laid out (UNKNOWN when the program has not measured it).
        (self.task_id, self.task_state, self.task_name) = struct.unpack_from("<III", head, 80)
        (self.str_ptr, self.str_len) = struct.unpack_from("<II", head, 92)
        (self.loc_file_ptr, self.loc_file_len, self.loc_line, self.loc_column) = struct.unpack_from("<IIII", head, 100)
        # Where a task keeps its spawn site and its shared-stack byte, where a slab slot keeps
        # the address of a task's Rc allocation, and where that allocation keeps the task.
        (self.task_site, self.task_shared, self.slot_task, self.rc_task) = struct.unpack_from("<IIII", head, 116)
        # Where a task keeps its control block's address; where a control block keeps its
        # owned stack's top and size, or the address of its shared stack's state, and where
        # that keeps the shared stack's top, size and the address of its occupant word.
        (self.task_control, self.owned_top, self.owned_size) = struct.unpack_from("<III", head, 132)
        (self.shared_stack, self.shared_top, self.shared_size, self.shared_occupant) = struct.unpack_from("<IIII", head, 144)


class Task:
    """One live task, read from its scheduler's task slab."""

    def __init__(self, layout, tid, addr):
        self.task = addr
        self.tid = tid
        self.id = _u64(addr + layout.task_id)
        self.name = self._name(layout)
        self.site = self._site(layout, _u64(addr + layout.task_site))
        self.task_state = layout.task_states.get(_u8(addr + layout.task_state), "?")
        self.shared = _u8(addr + layout.task_shared) != 0
        # A done task (being finished) no longer has its coroutine.
        self.control = 0
        if layout.task_control != UNKNOWN and self.task_state != "done":
            self.control = _u64(addr + layout.task_control)
        self.state = "?"
        self.sp = 0
        if self.control:
            self.state = layout.coroutine_states.get(_u8(self.control + layout.state_offset), "?")
            self.sp = _u64(self.control + layout.sp_offset)
        (self.stack_top, self.stack_size, occupant_slot) = self._stack(layout)
        # On a shared stack, the frames are in place only while the stack's occupant is this
        # coroutine's control block.
        self.in_place = not self.shared or (occupant_slot != 0 and _u64(occupant_slot) == self.control)

    def _stack(self, layout):
        """The stack's top and usable size, and for a shared stack the address of the word
        naming its occupant (0 for an owned one); zeros where the layout is unknown."""
        if not self.control:
            return (0, 0, 0)
        if not self.shared:
            if UNKNOWN in (layout.owned_top, layout.owned_size):
                return (0, 0, 0)
            return (_u64(self.control + layout.owned_top), _u64(self.control + layout.owned_size), 0)
        if UNKNOWN in (layout.shared_stack, layout.shared_top, layout.shared_size, layout.shared_occupant):
            return (0, 0, 0)
        state = _u64(self.control + layout.shared_stack)
        return (
            _u64(state + layout.shared_top),
            _u64(state + layout.shared_size),
            _u64(state + layout.shared_occupant),
        )

    def _name(self, layout):
        if UNKNOWN in (layout.str_ptr, layout.str_len):
            return ""
        # An Option<Box<Box<str>>>: null, or the address of the Box<str>.
        at = _u64(self.task + layout.task_name)
        if at == 0:
            return ""
        return _str(_u64(at + layout.str_ptr), _u64(at + layout.str_len))

    @staticmethod
    def _site(layout, site):
        if UNKNOWN in (layout.loc_file_ptr, layout.loc_file_len, layout.loc_line, layout.loc_column):
            return "?"
        file = _str(_u64(site + layout.loc_file_ptr), _u64(site + layout.loc_file_len))
        line = struct.unpack("<I", _read(site + layout.loc_line, 4))[0]
        column = struct.unpack("<I", _read(site + layout.loc_column, 4))[0]
        return "%s:%d:%d" % (file, line, column)

    def stack(self):
        kind = "shared" if self.shared else "owned"
        if not self.stack_size:
            return "%s ?" % kind
        size = "%dK" % (self.stack_size // 1024)
        if self.state != "suspended":
            return "%s %s" % (kind, size)
        if not self.in_place:
            return "%s %s, saved" % (kind, size)
        return "%s %s, %dB used" % (kind, size, self.stack_top - self.sp)

    def wait(self):
        """What it waits for, read through Rust debug info when the program has it."""
        if self.task_state != "parked" or self.task == 0:
            return ""
        try:
            ty = gdb.lookup_type("coro_core::runtime::task::Task")
            task = gdb.Value(self.task).cast(ty.pointer()).dereference()
            text = _in_rust(lambda: task["wait"]["value"]["value"].format_string())
        except (gdb.error, RuntimeError):
            return ""
        for prefix in ("coro_core::runtime::census::Wait::", "Wait::"):
            text = text.replace(prefix, "")
        return " ".join(text.split())


def _in_rust(f):
    """f(), with gdb's language set to Rust (values print as Rust values)."""
    language = gdb.parameter("language")
    gdb.execute("set language rust", to_string=True)
    try:
        return f()
    finally:
        gdb.execute("set language %s" % language, to_string=True)


# Slots read from the program at once.
SLOT_CHUNK = 4096


def _tasks(layout):
    if layout.rc_task == UNKNOWN:
        return []  # No task spawned yet: nothing measured.
    tasks = []
    table = layout.tables
    seen = 0
    while table and seen < 100000:
        seen += 1
        raw = _read(table, 48)
        (nxt, claimed, tid, _slab, slots, length, _live) = struct.unpack_from("<QIiQQQQ", raw, 0)
        if claimed and slots:
            for first in range(0, length, SLOT_CHUNK):
                count = min(SLOT_CHUNK, length - first)
                raw = _read(slots + first * layout.slot_size, count * layout.slot_size)
                for i in range(count):
                    (rc,) = struct.unpack_from("<Q", raw, i * layout.slot_size + layout.slot_task)
                    if rc != 0:
                        tasks.append(Task(layout, tid, rc + layout.rc_task))
        table = nxt
    tasks.sort(key=lambda t: t.id)
    return tasks


def _thread_numbers():
    nums = {}
    for th in gdb.selected_inferior().threads():
        nums[th.ptid[1]] = th.num
    return nums


class SwitchUnwinder(Unwinder):
    """Makes a suspended coroutine the caller of one frame of the selected thread, while
    `coro bt` prints it; does nothing otherwise."""

    def __init__(self):
        super().__init__("coro")
        self.target = None  # (frame level, {register: value})

    def __call__(self, pending_frame):
        if self.target is None:
            return None
        level, regs = self.target
        if pending_frame.level() != level:
            return None
        arch = pending_frame.architecture().name()
        sp_name, pc_name = SP_PC[arch]
        sp = pending_frame.read_register(sp_name)
        pc = pending_frame.read_register(pc_name)
        info = pending_frame.create_unwind_info(FrameId(sp, pc))
        for name, value in regs.items():
            ty = pending_frame.read_register(name).type
            info.add_saved_register(name, gdb.Value(value).cast(ty))
        return info


class FrameId:
    def __init__(self, sp, pc):
        self.sp = sp
        self.pc = pc


_unwinder = SwitchUnwinder()


def _install_unwinder():
    # One instance, registered once per gdb session even if the script is sourced again.
    for u in gdb.frame_unwinders:
        if getattr(u, "name", None) == "coro":
            global _unwinder
            _unwinder = u
            return
    register_unwinder(None, _unwinder, replace=True)


def _innermost_real_frame():
    frame = gdb.newest_frame()
    while frame.type() == gdb.INLINE_FRAME and frame.older() is not None:
        frame = frame.older()
    return frame


def _registers(layout, task, arch):
    sp_name, pc_name = SP_PC[arch]
    regs = {
        pc_name: _u64(task.sp + layout.frame_pc),
        sp_name: task.sp + layout.frame_size,
    }
    for name, off in layout.frame_regs:
        regs[name] = _u64(task.sp + off)
    return regs


class CoroPrefix(gdb.Command):
    """Commands for programs that use coro: `coro ps`, `coro bt ID|NAME [full]`."""

    def __init__(self):
        super().__init__("coro", gdb.COMMAND_STACK, prefix=True)


class CoroPs(gdb.Command):
    """List the live coroutines (tasks) of every coro runtime in the program.

Columns: id, gdb thread, task state (queued, yielded, running, parked) and the coroutine's
(suspended, running, fresh), stack kind and size (bytes in use for a suspended coroutine whose
frames are on its stack; `saved` for a shared-stack coroutine whose frames wait in its save
buffer), the saved stack pointer, the name, the spawn site, and what a parked one waits for
(when the program has Rust debug info)."""

    def __init__(self):
        super().__init__("coro ps", gdb.COMMAND_STACK)

    def invoke(self, arg, from_tty):
        try:
            layout = Layout()
            tasks = _tasks(layout)
        except CoroError as e:
            raise gdb.GdbError(str(e))
        threads = _thread_numbers()
        rows = [("ID", "THREAD", "STATE", "STACK", "SP", "NAME", "SPAWNED AT", "WAITS FOR")]
        for t in tasks:
            thread = threads.get(t.tid)
            state = t.task_state if t.state in ("suspended", "running") else "%s/%s" % (t.task_state, t.state)
            rows.append((
                str(t.id),
                ("%d" % thread) if thread is not None else "lwp %d" % t.tid,
                state,
                t.stack(),
                "%#x" % t.sp if t.state == "suspended" else "-",
                t.name or "-",
                t.site,
                t.wait() or "-",
            ))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
        for r in rows:
            line = "  ".join(c.ljust(w) for c, w in zip(r, widths)) + "  " + r[-1]
            gdb.write(line.rstrip() + "\n")
        gdb.write("%d coroutine(s)\n" % len(tasks))


class CoroBt(gdb.Command):
    """Print the backtrace of a suspended coroutine: coro bt ID|NAME [full]

Works on a live process and on a core file, and writes nothing to either: the frames are
unwound from the coroutine's saved context with the program's own unwind tables. A running
coroutine's frames are its thread's (`thread N`, then `bt`). A coroutine on a shared stack is
shown while its frames are on the stack; an evicted one's frames wait in its save buffer,
where gdb cannot unwind them."""

    def __init__(self):
        super().__init__("coro bt", gdb.COMMAND_STACK)

    def invoke(self, arg, from_tty):
        argv = gdb.string_to_argv(arg)
        if not argv:
            raise gdb.GdbError("usage: coro bt ID|NAME [full]")
        extra = " ".join(argv[1:])
        try:
            layout = Layout()
            tasks = _tasks(layout)
        except CoroError as e:
            raise gdb.GdbError(str(e))
        try:
            want = int(argv[0], 0)
            found = [t for t in tasks if t.id == want]
        except ValueError:
            found = [t for t in tasks if t.name == argv[0]]
        if not found:
            raise gdb.GdbError("coro bt: no live coroutine %s (see `coro ps`)" % argv[0])
        if len(found) > 1:
            raise gdb.GdbError(
                "coro bt: %d coroutines are named %s (ids %s): give an id"
                % (len(found), argv[0], ", ".join(str(t.id) for t in found))
            )
        task = found[0]
        label = "coroutine %d%s" % (task.id, " (%s)" % task.name if task.name else "")
        if task.state == "fresh":
            gdb.write("%s has not started: no frames yet (spawned at %s)\n" % (label, task.site))
            return
        if task.state == "running":
            thread = _thread_numbers().get(task.tid)
            gdb.write(
                "%s is running: its frames are those of thread %s (`thread %s`, then `bt`)\n"
                % (label, thread if thread is not None else "lwp %d" % task.tid, thread)
            )
            return
        if task.state != "suspended":
            gdb.write("%s is %s: no frames\n" % (label, task.state))
            return
        if task.shared and not task.stack_size:
            gdb.write(
                "%s is suspended on a shared stack the program did not describe (its layout was "
                "not measured): its frames cannot be found\n" % label
            )
            return
        if not task.in_place:
            gdb.write(
                "%s is suspended on a shared stack that another coroutine occupies: its frames "
                "are saved in its save buffer, at other addresses, and gdb cannot unwind them. "
                "Only owned stacks and each shared stack's occupant can be shown.\n" % label
            )
            return
        self._print(layout, task, label, extra)

    def _print(self, layout, task, label, extra):
        _install_unwinder()
        frame = _innermost_real_frame()
        arch = frame.architecture().name()
        if arch not in SP_PC:
            raise gdb.GdbError("coro bt: architecture %s is not supported" % arch)
        base = frame.level()
        regs = _registers(layout, task, arch)
        _unwinder.target = (base, regs)
        gdb.invalidate_cached_frames()
        try:
            out = gdb.execute("bt " + extra, to_string=True)
        finally:
            _unwinder.target = None
            gdb.invalidate_cached_frames()
        gdb.write("%s, suspended, stack pointer %#x, spawned at %s:\n" % (label, task.sp, task.site))
        keep = False
        for line in out.splitlines():
            if line.startswith("#"):
                num = line[1:].split(None, 1)
                level = int(num[0])
                keep = level > base
                if keep:
                    line = "#%-3d%s" % (level - base - 1, num[1] if len(num) > 1 else "")
            if keep:
                gdb.write(line + "\n")


CoroPrefix()
CoroPs()
CoroBt()
_install_unwinder()
