//! riscv64 (LP64D, ELF): the context switch and the stack bootstrap.
//!
//! # The idea: resume is a `jal`, suspend is its matching `ret`
//!
//! RISC-V cores predict returns with a return-address stack driven by hints in the encoding
//! (the unprivileged spec, "jalr"): a `jal`/`jalr` whose destination is `ra` (or `t0`) pushes the
//! address after it, and a `jalr` whose source is `ra` (or `t0`) and whose destination is not,
//! such as `ret` (`jalr zero, 0(ra)`), pops one. A switch that ends in a `ret` that no `jal`
//! pushed mispredicts on every switch and leaves the predictor out of step with the real stack.
//! So, as on x86_64, the parent enters the child with `jal ra, ..` (the `ra` it sets is where the
//! parent continues), and the child leaves with a `ret` to that very address, which the predictor
//! pops and gets right. The other direction, parent into child, is `jr t1` to the address the
//! child saved: `t1` is neither `ra` nor `t0`, so it is a plain indirect jump that leaves the
//! return-address stack alone (a `jr ra` or `jr t0` there would pop an entry of the parent's).
//!
//! LP64D makes s0–s11 (s0 is the frame pointer), sp and fs0–fs11 callee-saved; `ra` holds the
//! return address. Only `s0`, `s1`, `sp` and the resume address are handled in the asm: Rust's
//! inline asm refuses `s0` (the frame pointer) and `s1` (LLVM's base pointer) as operands or
//! clobbers, so the asm saves them on the stack of the side that is leaving. Everything else is
//! declared clobbered: `s2`–`s11` and `fs0`–`fs11` by name (`clobber_abi("C")` lists only
//! caller-saved registers) and, through `clobber_abi("C")`, `ra`, t0–t6, a0–a7, ft0–ft11 and
//! fa0–fa7. The compiler then saves around the switch only the registers that are live at that
//! point, which is usually none. `gp` and `tp` (the global and thread pointers, also refused as
//! operands) are never written: they hold the same values on both sides of a switch, since a
//! coroutine stays on the thread that made it.
//!
//! With the cargo feature `fpu-env`, both directions also save `fcsr` (the rounding mode `frm`
//! and the accrued exception flags `fflags`) in the spare word of the switch frame of the side
//! that is leaving, and restore it when that side runs again. Without the feature, a coroutine
//! that changes the rounding mode changes it for whoever runs next on the thread.
//!
//! # Registers at the switch
//!
//! | register | on entry to the asm            | on exit from the asm              |
//! |----------|--------------------------------|-----------------------------------|
//! | `a0`     | the value sent (`arg`)         | the value received                |
//! | `a1`     | pointer to the [`Context`]     | clobbered                         |
//! | `t0`, `t1` | scratch: the other side's stack pointer, the resume address | clobbered |
//! | `ra`     | anything                       | clobbered (the `jal` writes it)   |
//! | `sp`     | this side's stack              | this side's stack, as on entry    |
//! | `s0`, `s1` | this side's values           | restored from this side's stack   |
//! | `s2`–`s11`, `fs0`–`fs11` | live values, if any, were saved by the compiler | clobbered |
//! | `gp`, `tp` | the thread's values          | the same, never written           |
//! | others   | caller-saved by the ABI, or declared clobbered, so the compiler keeps nothing live in them |
//!
//! # Stacks
//!
//! Every switch frame is 32 bytes, so `sp` stays 16-byte aligned as the psABI requires.
//!
//! ```text
//!   A suspended child           The parent while the      A fresh stack
//!   (Context::sp points at       child runs (Context::     (Context::sp points at
//!    the lowest word)            sp points at the          the lowest word)
//!                                lowest word)
//!  +------------------+        +------------------+       +------------------+ <- top
//!  | child's frames   |        | parent's frames  |       | entry fn address |    (16-aligned)
//!  | ...              |        | ...              |       | data pointer     |
//!  | saved s1         |        | saved s1         |       | (unused)         |
//!  | saved s0         |        | saved s0         |       | trampoline addr  | <- sp
//!  | [fcsr] / unused  |        | [fcsr] / unused  |       +------------------+
//!  | resume address   | <- sp  | return address   | <- sp
//!  +------------------+        +------------------+
//! ```
//!
//! The first [`resume`] of a fresh stack jumps to the trampoline's address, exactly as it jumps
//! to a suspended child's resume address. The trampoline loads `data` and the entry function from
//! the words above and calls `entry(arg, data)` with `jalr`, leaving `sp` at `top - 32`, 16-byte
//! aligned: the child's frames all lie below the bootstrap frame, which nothing reads again. Its
//! unwind info marks `ra` as undefined, so a backtrace taken inside a coroutine stops cleanly at
//! the trampoline.

use core::arch::{asm, global_asm};
use core::mem::offset_of;

use crate::EntryFn;

// fs0-fs11 are declared clobbered by name, and `fpu-env` reads fcsr: both need the D extension
// that LP64D (riscv64gc) has.
#[cfg(not(target_feature = "d"))]
compile_error!("coro supports riscv64 with the LP64D ABI (the D extension, as in riscv64gc) only");

/// Alignment of the top of a stack, as the RISC-V psABI requires of `sp`.
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
/// 32-byte switch frame, with the resume address at 0, the spare word (fcsr with `fpu-env`) at
/// 8, s0 and s1 at 16 and 24. The child's code and unwind tables expect the stack pointer 32
/// bytes above the saved one.
pub const SUSPENDED_FRAME: crate::SuspendedFrame = crate::SuspendedFrame {
    size: 32,
    pc: 0,
    regs: [("s0", 16), ("s1", 24)],
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
/// offsets the asm below uses (`0(sp)`, `8(sp)`, `16(sp)`, `24(sp)`), checked at compile time.
#[repr(C)]
#[allow(dead_code, reason = "a layout: only the asm reads and writes it")]
struct SwitchFrame {
    /// Where this side continues: the child's resume address, or the parent's return address.
    pc: usize,
    /// fcsr with `fpu-env`; unused otherwise (it keeps the frame a multiple of 16 bytes).
    fcsr: usize,
    /// The saved s0, the frame pointer.
    s0: usize,
    /// The saved s1.
    s1: usize,
}

const _: () = assert!(offset_of!(SwitchFrame, pc) == 0);
const _: () = assert!(offset_of!(SwitchFrame, fcsr) == 8);
const _: () = assert!(offset_of!(SwitchFrame, s0) == 16);
const _: () = assert!(offset_of!(SwitchFrame, s1) == 24);
const _: () = assert!(size_of::<SwitchFrame>() == 32);

/// The bootstrap frame [`init_stack`] writes at the top of a fresh stack; the trampoline reads it
/// at `16(sp)` and `24(sp)` (offsets checked at compile time).
#[repr(C)]
#[allow(dead_code, reason = "written here, read only by the asm")]
struct BootFrame {
    /// The trampoline's address, where the first resume jumps, as it would to a `pc`.
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

// The bootstrap code. `resume` jumps here (`jr t1`) the first time a fresh stack runs; sp then
// points at the BootFrame, 16 bytes below its 16-aligned top, and a0 holds `arg`.
global_asm!(
    ".text",
    ".balign 16",
    ".globl __coro_asm_trampoline",
    ".hidden __coro_asm_trampoline",
    ".type __coro_asm_trampoline, @function",
    "__coro_asm_trampoline:",
    ".cfi_startproc",
    // There is no caller: tell unwinders and debuggers that the chain of frames ends here.
    ".cfi_undefined ra",
    // a1 = data, the second argument of the entry function (a0 already holds `arg`).
    "ld a1, 16(sp)",
    // t1 = the entry function.
    "ld t1, 24(sp)",
    // A zero frame pointer ends frame-pointer walks too.
    "mv s0, zero",
    // Call entry(arg, data): `jalr ra, 0(t1)`. sp stays at the BootFrame, 16-byte aligned, so
    // the child's frames start below it and the bootstrap words are never overwritten.
    "jalr t1",
    // The entry function never returns (it ends with `exit`); trap if it ever does.
    "unimp",
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
    // child may change is either saved here (s0, s1) or declared clobbered.
    #[cfg(not(feature = "fpu-env"))]
    unsafe {
        asm!(
            "addi sp, sp, -32",          // the switch frame (16-byte multiple: sp stays aligned)
            "sd s0, 16(sp)",             // save s0: the frame pointer, cannot be declared clobbered
            "sd s1, 24(sp)",             // save s1: reserved by LLVM, cannot be declared clobbered
            "jal ra, 2f",                // ra = the next line; the predictor pushes it; go to 2
            "ld s0, 16(sp)",             // back from the child (its `ret`): restore s0
            "ld s1, 24(sp)",             // restore s1
            "addi sp, sp, 32",           // drop the switch frame
            "j 3f",                      // done
            "2:",
            "sd ra, 0(sp)",              // the parent's return address, lowest word of its frame
            "ld t0, 0(a1)",              // t0 = ctx.sp, the child's stack pointer
            "sd sp, 0(a1)",              // ctx.sp = parent's sp (it points at the return address)
            "mv sp, t0",                 // on the child's stack
            "ld t1, 0(sp)",              // t1 = the child's resume address (or the trampoline)
            "jr t1",                     // enter the child, not a return (t1 is no link
                                         // register); a0 carries arg
            "3:",
            in("a1") ctx,
            inout("a0") arg => ret,
            out("s2") _, out("s3") _, out("s4") _, out("s5") _, out("s6") _,
            out("s7") _, out("s8") _, out("s9") _, out("s10") _, out("s11") _,
            out("fs0") _, out("fs1") _, out("fs2") _, out("fs3") _, out("fs4") _, out("fs5") _,
            out("fs6") _, out("fs7") _, out("fs8") _, out("fs9") _, out("fs10") _, out("fs11") _,
            clobber_abi("C"),
        );
    }
    // SAFETY: as above; also saves and restores the parent's fcsr.
    #[cfg(feature = "fpu-env")]
    unsafe {
        asm!(
            "addi sp, sp, -32",          // the switch frame
            "sd s0, 16(sp)",             // save s0 (see above)
            "sd s1, 24(sp)",             // save s1 (see above)
            "frcsr t0",                  // t0 = fcsr (rounding mode and accrued flags)
            "sd t0, 8(sp)",              // save fcsr in the frame's spare word
            "jal ra, 2f",                // ra = the next line; the predictor pushes it; go to 2
            "ld t0, 8(sp)",              // back from the child: t0 = the parent's fcsr
            "fscsr t0",                  // restore fcsr
            "ld s0, 16(sp)",             // restore s0
            "ld s1, 24(sp)",             // restore s1
            "addi sp, sp, 32",           // drop the switch frame
            "j 3f",                      // done
            "2:",
            "sd ra, 0(sp)",              // the parent's return address, lowest word of its frame
            "ld t0, 0(a1)",              // t0 = ctx.sp, the child's stack pointer
            "sd sp, 0(a1)",              // ctx.sp = parent's sp
            "mv sp, t0",                 // on the child's stack
            "ld t1, 0(sp)",              // t1 = the child's resume address (or the trampoline)
            "jr t1",                     // enter the child, not a return; a0 carries arg
            "3:",
            in("a1") ctx,
            inout("a0") arg => ret,
            out("s2") _, out("s3") _, out("s4") _, out("s5") _, out("s6") _,
            out("s7") _, out("s8") _, out("s9") _, out("s10") _, out("s11") _,
            out("fs0") _, out("fs1") _, out("fs2") _, out("fs3") _, out("fs4") _, out("fs5") _,
            out("fs6") _, out("fs7") _, out("fs8") _, out("fs9") _, out("fs10") _, out("fs11") _,
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
    // address its `jal` made; s0 and s1 are saved here, the rest is declared clobbered.
    #[cfg(not(feature = "fpu-env"))]
    unsafe {
        asm!(
            "addi sp, sp, -32",          // the switch frame
            "sd s0, 16(sp)",             // save s0 (see resume)
            "sd s1, 24(sp)",             // save s1 (see resume)
            "lla t0, 2f",                // t0 = where this child continues (pc-relative)
            "sd t0, 0(sp)",              // ... stored as the lowest word of its stack
            "ld t0, 0(a1)",              // t0 = ctx.sp, the parent's stack pointer
            "sd sp, 0(a1)",              // ctx.sp = child's sp
            "mv sp, t0",                 // on the parent's stack
            "ld ra, 0(sp)",              // ra = the parent's return address
            "ret",                       // return to the parent, matching its `jal`
            "2:",                        // resumed by the parent's `jr t1`; a0 carries arg
            "ld s0, 16(sp)",             // restore s0
            "ld s1, 24(sp)",             // restore s1
            "addi sp, sp, 32",           // drop the switch frame
            in("a1") ctx,
            inout("a0") arg => ret,
            out("s2") _, out("s3") _, out("s4") _, out("s5") _, out("s6") _,
            out("s7") _, out("s8") _, out("s9") _, out("s10") _, out("s11") _,
            out("fs0") _, out("fs1") _, out("fs2") _, out("fs3") _, out("fs4") _, out("fs5") _,
            out("fs6") _, out("fs7") _, out("fs8") _, out("fs9") _, out("fs10") _, out("fs11") _,
            clobber_abi("C"),
        );
    }
    // SAFETY: as above; also saves and restores the child's fcsr.
    #[cfg(feature = "fpu-env")]
    unsafe {
        asm!(
            "addi sp, sp, -32",          // the switch frame
            "sd s0, 16(sp)",             // save s0 (see resume)
            "sd s1, 24(sp)",             // save s1 (see resume)
            "frcsr t0",                  // t0 = fcsr
            "sd t0, 8(sp)",              // save fcsr in the frame's spare word
            "lla t0, 2f",                // t0 = where this child continues (pc-relative)
            "sd t0, 0(sp)",              // ... stored as the lowest word of its stack
            "ld t0, 0(a1)",              // t0 = ctx.sp, the parent's stack pointer
            "sd sp, 0(a1)",              // ctx.sp = child's sp
            "mv sp, t0",                 // on the parent's stack
            "ld ra, 0(sp)",              // ra = the parent's return address
            "ret",                       // return to the parent, matching its `jal`
            "2:",                        // resumed by the parent's `jr t1`; a0 carries arg
            "ld t0, 8(sp)",              // t0 = the child's fcsr
            "fscsr t0",                  // restore fcsr
            "ld s0, 16(sp)",             // restore s0
            "ld s1, 24(sp)",             // restore s1
            "addi sp, sp, 32",           // drop the switch frame
            in("a1") ctx,
            inout("a0") arg => ret,
            out("s2") _, out("s3") _, out("s4") _, out("s5") _, out("s6") _,
            out("s7") _, out("s8") _, out("s9") _, out("s10") _, out("s11") _,
            out("fs0") _, out("fs1") _, out("fs2") _, out("fs3") _, out("fs4") _, out("fs5") _,
            out("fs6") _, out("fs7") _, out("fs8") _, out("fs9") _, out("fs10") _, out("fs11") _,
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
    // own registers (and fcsr) after the `ret`.
    unsafe {
        asm!(
            "ld sp, 0(a1)",              // sp = ctx.sp, the parent's stack
            "ld ra, 0(sp)",              // ra = the parent's return address
            "ret",                       // return to the parent, matching its `jal`
            in("a1") ctx,
            in("a0") arg,
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
            "mv {}, sp",                 // the caller's stack pointer
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
    // SAFETY: the caller's contract; the riscv64 kernel returns in a0 and preserves every other
    // register, and touches no user stack.
    unsafe {
        asm!(
            "ecall",                     // enter the kernel: nr in a7, arguments in a0-a5
            in("a7") nr,
            inlateout("a0") args[0] as isize => ret,
            in("a1") args[1],
            in("a2") args[2],
            in("a3") args[3],
            in("a4") args[4],
            in("a5") args[5],
            options(nostack),
        );
    }
    ret
}
