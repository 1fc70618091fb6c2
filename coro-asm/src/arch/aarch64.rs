//! AArch64 (AAPCS64, ELF): the context switch and the stack bootstrap.
//!
//! # The idea: resume is a `bl`, suspend is its matching `ret`
//!
//! AArch64 cores predict `ret` with a return-address stack: every `bl`/`blr` pushes the address
//! after it, every `ret` pops one and jumps there speculatively. A switch that ends in a `ret`
//! that no `bl` pushed mispredicts on every switch, and leaves the predictor's stack out of step
//! with the real one, so the parent's own returns after it mispredict too. So, as on x86_64, the
//! parent enters the child with a `bl` (the link register it sets is where the parent continues),
//! and the child leaves with a `ret` to that very address, which the predictor pops and gets
//! right. The other direction, parent into child, is a `br` to the address the child saved: a
//! plain indirect branch, which the branch target predictor handles and which leaves the
//! return-address stack alone (a `ret` there would pop an entry that belongs to the parent).
//!
//! AAPCS64 makes x19–x28, x29 (the frame pointer), sp, and the low 64 bits of v8–v15 (d8–d15)
//! callee-saved; x30 (the link register) holds the return address. Only `x19`, `x29`, `sp` and
//! the resume address are handled in the asm: Rust's inline asm refuses `x29` (the frame
//! pointer) and `x19` (LLVM's base pointer) as operands or clobbers, so the asm saves them on the
//! stack of the side that is leaving. Everything else is declared clobbered: `x20`–`x28` by name
//! and, through `clobber_abi("C")`, x0–x18, x30 and the whole of v0–v31. The compiler then saves
//! around the switch only the registers that are live at that point, which is usually none, and
//! that includes d8–d15 (Rust cannot declare "only the low half of v8 is preserved", so the whole
//! register counts as clobbered and LLVM saves d8–d15 itself when it keeps values in them). `x18`
//! is the platform register: a temporary on Linux, where `clobber_abi("C")` lists it; on targets
//! that reserve it, `clobber_abi` leaves it out and nothing here touches it either.
//!
//! Each switch lands on its target with a `bti j` (written `hint #36`, a no-op on cores without
//! BTI), so the `br` stays legal in a binary built with branch target identification.
//!
//! With the cargo feature `fpu-env`, both directions also save FPCR (rounding mode, flush-to-zero,
//! default-NaN and the trap enables) in the spare word of the switch frame of the side that is
//! leaving, and restore it when that side runs again. FPSR, the cumulative exception flags, is
//! not saved: it is status, not control, and stays the thread's. Without the feature, a coroutine
//! that changes the rounding mode changes it for whoever runs next on the thread.
//!
//! # Registers at the switch
//!
//! | register | on entry to the asm            | on exit from the asm              |
//! |----------|--------------------------------|-----------------------------------|
//! | `x0`     | the value sent (`arg`)         | the value received                |
//! | `x1`     | pointer to the [`Context`]     | clobbered                         |
//! | `x9`, `x10` | scratch: the other side's stack pointer, the resume address | clobbered |
//! | `x30`    | anything                       | clobbered (the `bl` writes it)    |
//! | `sp`     | this side's stack              | this side's stack, as on entry    |
//! | `x19`, `x29` | this side's values         | restored from this side's stack   |
//! | `x20`–`x28` | live values, if any, were saved by the compiler | clobbered       |
//! | others   | caller-saved by the ABI, or declared clobbered, so the compiler keeps nothing live in them |
//!
//! # Stacks
//!
//! Every switch frame is 32 bytes, so `sp` stays 16-byte aligned as AArch64 requires whenever it
//! is used to address memory.
//!
//! ```text
//!   A suspended child           The parent while the      A fresh stack
//!   (Context::sp points at       child runs (Context::     (Context::sp points at
//!    the lowest word)            sp points at the          the lowest word)
//!                                lowest word)
//!  +------------------+        +------------------+       +------------------+ <- top
//!  | child's frames   |        | parent's frames  |       | entry fn address |    (16-aligned)
//!  | ...              |        | ...              |       | data pointer     |
//!  | saved x29        |        | saved x29        |       | (unused)         |
//!  | saved x19        |        | saved x19        |       | trampoline addr  | <- sp
//!  | [FPCR] / unused  |        | [FPCR] / unused  |       +------------------+
//!  | resume address   | <- sp  | return address   | <- sp
//!  +------------------+        +------------------+
//! ```
//!
//! The first [`resume`] of a fresh stack branches to the trampoline's address, exactly as it
//! branches to a suspended child's resume address. The trampoline loads `data` and the entry
//! function from the words above and calls `entry(arg, data)` with `blr`, leaving `sp` at
//! `top - 32`, 16-byte aligned: the child's frames all lie below the bootstrap frame, which
//! nothing reads again. Its unwind info marks `x30` as undefined, so a backtrace taken inside a
//! coroutine stops cleanly at the trampoline.

use core::arch::{asm, global_asm};
use core::mem::offset_of;

use crate::EntryFn;

/// Alignment of the top of a stack, as AAPCS64 requires of `sp` at all times.
pub const STACK_ALIGNMENT: usize = 16;

/// The fewest bytes a stack must have for the bootstrap frame plus a minimal entry function.
pub const MIN_STACK_SIZE: usize = 4096;

/// The saved state of a switch, as the asm sees it: one word, the stack pointer of whichever
/// side is switched out. While the child is suspended (or fresh) it is the child's; while the
/// child runs it is its parent's. Each switch reads the other side's pointer from it and leaves
/// its own.
///
/// The asm reads and writes it at the offset below, which is checked at compile time.
#[repr(C)]
#[derive(Debug)]
pub struct Context {
    /// The child's stack pointer while it is suspended or fresh, its parent's while it runs.
    /// Offset 0.
    pub sp: usize,
}

const _: () = assert!(offset_of!(Context, sp) == 0);

/// Where [`suspend`] leaves a suspended child's registers above its saved stack pointer: the
/// 32-byte switch frame, with the resume address at 0, the spare word (FPCR with `fpu-env`) at
/// 8, x19 and x29 at 16 and 24. The child's code and unwind tables expect the stack pointer 32
/// bytes above the saved one.
pub const SUSPENDED_FRAME: crate::SuspendedFrame = crate::SuspendedFrame {
    size: 32,
    pc: 0,
    regs: [("x19", 16), ("x29", 24)],
};

impl Context {
    /// A context with no stack yet; set [`Context::sp`] with [`init_stack`] before resuming.
    pub const fn new() -> Self {
        Context { sp: 0 }
    }
}

impl Default for Context {
    fn default() -> Self {
        Self::new()
    }
}

/// The switch frame each side leaves at its stack pointer when it is switched out, and the
/// offsets the asm below uses (`[sp]`, `[sp, #8]`, `[sp, #16]`), checked at compile time.
#[repr(C)]
#[allow(dead_code, reason = "a layout: only the asm reads and writes it")]
struct SwitchFrame {
    /// Where this side continues: the child's resume address, or the parent's return address.
    pc: usize,
    /// FPCR with `fpu-env`; unused otherwise (it keeps the frame a multiple of 16 bytes).
    fpcr: usize,
    /// The saved x19.
    x19: usize,
    /// The saved x29, the frame pointer.
    x29: usize,
}

const _: () = assert!(offset_of!(SwitchFrame, pc) == 0);
const _: () = assert!(offset_of!(SwitchFrame, fpcr) == 8);
const _: () = assert!(offset_of!(SwitchFrame, x19) == 16);
const _: () = assert!(offset_of!(SwitchFrame, x29) == 24);
const _: () = assert!(size_of::<SwitchFrame>() == 32);

/// The bootstrap frame [`init_stack`] writes at the top of a fresh stack; the trampoline reads it
/// at `[sp, #16]` and `[sp, #24]` (offsets checked at compile time).
#[repr(C)]
#[allow(dead_code, reason = "written here, read only by the asm")]
struct BootFrame {
    /// The trampoline's address, where the first resume branches, as it would to a `pc`.
    pc: usize,
    /// Unused: keeps the frame a multiple of 16 bytes.
    _pad: usize,
    /// The entry function's second argument.
    data: usize,
    /// The entry function.
    entry: usize,
}

const _: () = assert!(offset_of!(BootFrame, pc) == offset_of!(SwitchFrame, pc));
const _: () = assert!(offset_of!(BootFrame, data) == 16);
const _: () = assert!(offset_of!(BootFrame, entry) == 24);
const _: () = assert!(size_of::<BootFrame>() == 32);

// The bootstrap code. `resume` branches here (`br x10`) the first time a fresh stack runs; sp
// then points at the BootFrame, 16 bytes below its 16-aligned top, and x0 holds `arg`.
global_asm!(
    ".text",
    ".balign 16",
    ".globl __coro_asm_trampoline",
    ".hidden __coro_asm_trampoline",
    ".type __coro_asm_trampoline, %function",
    "__coro_asm_trampoline:",
    ".cfi_startproc",
    // There is no caller: tell unwinders and debuggers that the chain of frames ends here.
    ".cfi_undefined x30",
    // bti j: a landing pad for resume's `br`, a no-op on cores without BTI.
    "hint #36",
    // x1 = data, the second argument of the entry function (x0 already holds `arg`);
    // x9 = the entry function.
    "ldp x1, x9, [sp, #16]",
    // A zero frame pointer ends frame-pointer walks too.
    "mov x29, xzr",
    // Call entry(arg, data). sp stays at the BootFrame, 16-byte aligned, so the child's frames
    // start below it and the bootstrap words are never overwritten.
    "blr x9",
    // The entry function never returns (it ends with `exit`); trap if it ever does.
    "brk #0x1",
    ".cfi_endproc",
    ".size __coro_asm_trampoline, . - __coro_asm_trampoline",
);

unsafe extern "C" {
    fn __coro_asm_trampoline();
}

/// Writes the bootstrap frame on a fresh stack and returns the stack pointer to store in
/// [`Context::sp`].
///
/// The frame takes the top 32 bytes (below `top` rounded down to [`STACK_ALIGNMENT`]); the
/// coroutine's frames all lie below it, and once the entry function runs nothing reads it again.
///
/// # Safety
///
/// `top` must be the one-past-the-end (highest) address of a writable stack of at least
/// [`MIN_STACK_SIZE`] bytes that nothing else uses. `entry` must never return, and must be safe
/// to call with `data` and the `arg` of the first [`resume`].
pub unsafe fn init_stack(top: *mut u8, entry: EntryFn, data: *mut u8) -> usize {
    let top = (top as usize) & !(STACK_ALIGNMENT - 1);
    let frame = (top - size_of::<BootFrame>()) as *mut BootFrame;
    // SAFETY: the caller gives us a writable stack of at least MIN_STACK_SIZE bytes below `top`;
    // we write the 32-byte, 16-aligned BootFrame just below its aligned top.
    unsafe {
        frame.write(BootFrame {
            pc: __coro_asm_trampoline as *const () as usize,
            _pad: 0,
            data: data as usize,
            entry: entry as usize,
        });
    }
    frame as usize
}

/// Switches from the current stack (the parent) into the child described by `ctx`, passing
/// `arg`; returns the value the child passes to [`suspend`] or [`exit`].
///
/// # Safety
///
/// `ctx.sp` must hold a stack pointer made by [`init_stack`] or saved by [`suspend`], whose stack
/// memory is intact and is not in use by any running code. `ctx` must stay valid and at the same
/// address until the child suspends or exits. The child must return control only through
/// [`suspend`] or [`exit`] with this same `ctx`.
#[inline(always)]
pub unsafe fn resume(ctx: *mut Context, arg: usize) -> usize {
    let ret: usize;
    // SAFETY: the caller guarantees ctx.sp is a valid suspended or fresh stack; every register the
    // child may change is either saved here (x19, x29) or declared clobbered.
    #[cfg(not(feature = "fpu-env"))]
    unsafe {
        asm!(
            "sub sp, sp, #32",           // the switch frame (16-byte multiple: sp stays aligned)
            "stp x19, x29, [sp, #16]",   // save x19 (LLVM's base pointer) and x29 (frame pointer):
                                         // neither may be declared clobbered
            "bl 2f",                     // x30 = the next line; the predictor pushes it; go to 2
            "ldp x19, x29, [sp, #16]",   // back from the child (its `ret`): restore x19 and x29
            "add sp, sp, #32",           // drop the switch frame
            "b 3f",                      // done
            "2:",
            "str x30, [sp]",             // the parent's return address, lowest word of its frame
            "ldr x9, [x1]",              // x9 = ctx.sp, the child's stack pointer
            "mov x10, sp",               // (sp cannot be stored directly)
            "str x10, [x1]",             // ctx.sp = parent's sp (it points at the return address)
            "mov sp, x9",                // on the child's stack
            "ldr x10, [sp]",             // x10 = the child's resume address (or the trampoline)
            "br x10",                    // enter the child, not a return; x0 carries arg
            "3:",
            in("x1") ctx,
            inout("x0") arg => ret,
            out("x20") _, out("x21") _, out("x22") _, out("x23") _, out("x24") _,
            out("x25") _, out("x26") _, out("x27") _, out("x28") _,
            clobber_abi("C"),
        );
    }
    // SAFETY: as above; also saves and restores the parent's FPCR.
    #[cfg(feature = "fpu-env")]
    unsafe {
        asm!(
            "sub sp, sp, #32",           // the switch frame
            "stp x19, x29, [sp, #16]",   // save x19 and x29 (see above)
            "mrs x9, fpcr",              // x9 = FPCR (rounding mode, FZ, DN, trap enables)
            "str x9, [sp, #8]",          // save FPCR in the frame's spare word
            "bl 2f",                     // x30 = the next line; the predictor pushes it; go to 2
            "ldr x9, [sp, #8]",          // back from the child: x9 = the parent's FPCR
            "msr fpcr, x9",              // restore FPCR
            "ldp x19, x29, [sp, #16]",   // restore x19 and x29
            "add sp, sp, #32",           // drop the switch frame
            "b 3f",                      // done
            "2:",
            "str x30, [sp]",             // the parent's return address, lowest word of its frame
            "ldr x9, [x1]",              // x9 = ctx.sp, the child's stack pointer
            "mov x10, sp",               // (sp cannot be stored directly)
            "str x10, [x1]",             // ctx.sp = parent's sp
            "mov sp, x9",                // on the child's stack
            "ldr x10, [sp]",             // x10 = the child's resume address (or the trampoline)
            "br x10",                    // enter the child; x0 carries arg
            "3:",
            in("x1") ctx,
            inout("x0") arg => ret,
            out("x20") _, out("x21") _, out("x22") _, out("x23") _, out("x24") _,
            out("x25") _, out("x26") _, out("x27") _, out("x28") _,
            clobber_abi("C"),
        );
    }
    ret
}

/// Switches from the running child back to its parent, passing `arg`; returns the value the
/// parent passes to its next [`resume`].
///
/// # Safety
///
/// Must be called on the child's stack, while it runs because of a [`resume`] on the same
/// `ctx`; `ctx` must stay valid until the child is resumed again.
#[inline(always)]
pub unsafe fn suspend(ctx: *mut Context, arg: usize) -> usize {
    let ret: usize;
    // SAFETY: ctx.sp is the parent's stack pointer saved by `resume`, pointing at the return
    // address its `bl` made; x19 and x29 are saved here, the rest is declared clobbered.
    #[cfg(not(feature = "fpu-env"))]
    unsafe {
        asm!(
            "sub sp, sp, #32",           // the switch frame
            "stp x19, x29, [sp, #16]",   // save x19 and x29 (see resume)
            "adr x10, 2f",               // x10 = where this child continues
            "str x10, [sp]",             // ... stored as the lowest word of its stack
            "ldr x9, [x1]",              // x9 = ctx.sp, the parent's stack pointer
            "mov x10, sp",               // (sp cannot be stored directly)
            "str x10, [x1]",             // ctx.sp = child's sp
            "mov sp, x9",                // on the parent's stack
            "ldr x30, [sp]",             // x30 = the parent's return address
            "ret",                       // return to the parent, matching its `bl`
            "2:",                        // resumed by the parent's `br`; x0 carries arg
            "hint #36",                  // bti j: the landing pad for that `br`
            "ldp x19, x29, [sp, #16]",   // restore x19 and x29
            "add sp, sp, #32",           // drop the switch frame
            in("x1") ctx,
            inout("x0") arg => ret,
            out("x20") _, out("x21") _, out("x22") _, out("x23") _, out("x24") _,
            out("x25") _, out("x26") _, out("x27") _, out("x28") _,
            clobber_abi("C"),
        );
    }
    // SAFETY: as above; also saves and restores the child's FPCR.
    #[cfg(feature = "fpu-env")]
    unsafe {
        asm!(
            "sub sp, sp, #32",           // the switch frame
            "stp x19, x29, [sp, #16]",   // save x19 and x29 (see resume)
            "mrs x9, fpcr",              // x9 = FPCR
            "str x9, [sp, #8]",          // save FPCR in the frame's spare word
            "adr x10, 2f",               // x10 = where this child continues
            "str x10, [sp]",             // ... stored as the lowest word of its stack
            "ldr x9, [x1]",              // x9 = ctx.sp, the parent's stack pointer
            "mov x10, sp",               // (sp cannot be stored directly)
            "str x10, [x1]",             // ctx.sp = child's sp
            "mov sp, x9",                // on the parent's stack
            "ldr x30, [sp]",             // x30 = the parent's return address
            "ret",                       // return to the parent, matching its `bl`
            "2:",                        // resumed by the parent's `br`; x0 carries arg
            "hint #36",                  // bti j: the landing pad for that `br`
            "ldr x9, [sp, #8]",          // x9 = the child's FPCR
            "msr fpcr, x9",              // restore FPCR
            "ldp x19, x29, [sp, #16]",   // restore x19 and x29
            "add sp, sp, #32",           // drop the switch frame
            in("x1") ctx,
            inout("x0") arg => ret,
            out("x20") _, out("x21") _, out("x22") _, out("x23") _, out("x24") _,
            out("x25") _, out("x26") _, out("x27") _, out("x28") _,
            clobber_abi("C"),
        );
    }
    ret
}

/// Leaves the child for good and returns `arg` to the parent's [`resume`]. Nothing is saved:
/// the child's stack may be reused or freed as soon as the parent runs.
///
/// # Safety
///
/// As for [`suspend`]; in addition nothing on the child's stack may be needed any more (every
/// value on it must have been dropped or moved out).
#[inline(always)]
pub unsafe fn exit(ctx: *const Context, arg: usize) -> ! {
    // SAFETY: ctx.sp is the parent's stack pointer saved by `resume`; the parent restores its
    // own registers (and FPCR) after the `ret`.
    unsafe {
        asm!(
            "ldr x9, [x1]",              // x9 = ctx.sp, the parent's stack
            "mov sp, x9",                // on the parent's stack
            "ldr x30, [sp]",             // x30 = the parent's return address
            "ret",                       // return to the parent, matching its `bl`
            in("x1") ctx,
            in("x0") arg,
            options(noreturn),
        );
    }
}

/// The stack pointer of the code that calls it (inlined, so its caller's `sp`): which stack the
/// caller runs on, hence which coroutine.
#[inline(always)]
pub fn stack_pointer() -> usize {
    let sp: usize;
    // SAFETY: reads sp into a register; touches no memory, the stack or the flags.
    unsafe {
        asm!(
            "mov {}, sp",                // the caller's stack pointer
            out(reg) sp,
            options(nomem, nostack, preserves_flags),
        );
    }
    sp
}

/// Makes system call `nr` with six arguments (the call uses as many as it takes) and returns
/// what the kernel returned: the result, or a negated errno in `-4095..=-1`. It goes straight
/// to the kernel: not through libc's `syscall(3)`, a variadic function that shuffles its
/// arguments and writes `errno`, and not through any of coro's own hooks.
///
/// # Safety
///
/// The arguments must be what system call `nr` expects: pointers valid for what the kernel
/// reads and writes through them, for as long as the call lasts.
#[inline(always)]
pub unsafe fn syscall(nr: usize, args: [usize; 6]) -> isize {
    let ret: isize;
    // SAFETY: the caller's contract; the arm64 kernel returns in x0 and preserves every other
    // register, and touches no user stack.
    unsafe {
        asm!(
            "svc #0",                    // enter the kernel: nr in x8, arguments in x0-x5
            in("x8") nr,
            inlateout("x0") args[0] as isize => ret,
            in("x1") args[1],
            in("x2") args[2],
            in("x3") args[3],
            in("x4") args[4],
            in("x5") args[5],
            options(nostack),
        );
    }
    ret
}
