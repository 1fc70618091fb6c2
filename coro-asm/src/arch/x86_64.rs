//! x86_64 System V: the context switch and the stack bootstrap.
//!
//! # The idea: resume is a `call`, suspend is its matching `ret`
//!
//! Modern x86 cores predict `ret` with a return stack buffer that pairs every `ret` with the
//! latest `call`. A switch that returns with a `ret` that no `call` pushed mispredicts on every
//! switch, which costs more than the switch itself (measured ~8.5x slower on this project's
//! machine). So the parent enters the child with a `call` (the return address it pushes is where
//! the parent continues), and the child leaves with a `ret` onto that very address: the return
//! stack buffer predicts it. The other direction, parent into child, is an indirect `jmp` to the
//! address the child saved, which the branch target buffer predicts.
//!
//! Only `rbp`, `rbx`, `rsp` and `rip` are saved by hand. LLVM reserves `rbp` (frame pointer) and
//! `rbx` (its base pointer), so an `asm!` block may not declare them clobbered. Every other
//! register is declared clobbered with `clobber_abi("sysv64")` plus `r12`–`r15`: the compiler
//! then saves around the switch only the registers that are live at that point, which is
//! usually none. That is the whole System V callee-saved set (rbx, rbp, r12–r15, rsp) plus the
//! return address, split between the asm (rbx, rbp, rsp, rip) and the compiler (r12–r15).
//!
//! With the cargo feature `fpu-env`, both directions also save MXCSR (SSE rounding mode and
//! exception masks) and the x87 control word in an 8-byte slot on the stack of the side that is
//! leaving, and restore them when that side runs again. Without it, a coroutine that changes the
//! rounding mode changes it for whoever runs next on the thread (~2.4 ns saved per round trip).
//!
//! # Registers at the switch
//!
//! | register | on entry to the asm            | on exit from the asm              |
//! |----------|--------------------------------|-----------------------------------|
//! | `rdi`    | the value sent (`arg`)         | the value received                |
//! | `rdx`    | pointer to the [`Context`]     | clobbered                         |
//! | `rax`, `rcx` | scratch: the other side's stack pointer, the resume address | clobbered |
//! | `rsp`    | this side's stack              | this side's stack, as on entry    |
//! | `rbp`, `rbx` | this side's values         | restored from this side's stack   |
//! | others   | caller-saved by the ABI, or declared clobbered, so the compiler keeps nothing live in them |
//!
//! # Stacks
//!
//! ```text
//!   A suspended child           The parent while the      A fresh stack
//!   (Context::sp points at       child runs (Context::     (Context::sp points at
//!    the lowest word)            sp points at the          the lowest word)
//!                                lowest word)
//!  +------------------+        +------------------+       +------------------+ <- top
//!  | child's frames   |        | parent's frames  |       | entry fn address |    (16-aligned)
//!  | ...              |        | ...              |       | data pointer     |
//!  | [fpu slot]       |        | [fpu slot]       |       | trampoline addr  | <- sp
//!  | saved rbp        |        | saved rbp        |       +------------------+
//!  | saved rbx        |        | saved rbx        |
//!  | resume address   | <- sp  | return address   | <- sp
//!  +------------------+        +------------------+
//! ```
//!
//! The first [`resume`] of a fresh stack pops the trampoline's address and jumps to it, exactly
//! as it would jump to a suspended child's resume address. The trampoline loads `data` and the
//! entry function from the two words above, and calls `entry(arg, data)` with `rsp` 16-byte
//! aligned as the ABI requires. Its unwind info marks `rip` as undefined, so a backtrace taken
//! inside a coroutine stops cleanly at the trampoline.

use core::arch::{asm, global_asm};
use core::mem::offset_of;

use crate::EntryFn;

/// Alignment of the top of a stack, as the System V ABI requires at a call.
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

/// Where [`suspend`] leaves a suspended child's registers above its saved stack pointer (see the
/// diagram above): the resume address, then rbx, then rbp, then (with `fpu-env`) the FPU slot.
/// The child resumes at the resume address with `rsp` at the saved pointer plus 8 and leaves the
/// asm block with `rsp` at the saved pointer plus `size`, which is what the unwind tables of its
/// function expect everywhere in the block.
pub const SUSPENDED_FRAME: crate::SuspendedFrame = crate::SuspendedFrame {
    size: if cfg!(feature = "fpu-env") { 32 } else { 24 },
    pc: 0,
    regs: [("rbx", 8), ("rbp", 16)],
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

// The bootstrap code. `resume` jumps here (with `pop rcx; jmp rcx`) the first time a fresh stack
// runs; rsp then points at the data word and is 16-byte aligned.
global_asm!(
    ".text",
    ".balign 16",
    ".globl __coro_asm_trampoline",
    ".hidden __coro_asm_trampoline",
    ".type __coro_asm_trampoline, @function",
    "__coro_asm_trampoline:",
    ".cfi_startproc",
    // There is no caller: tell unwinders and debuggers that the chain of frames ends here.
    ".cfi_undefined rip",
    // rsi = data, the second argument of the entry function (rdi already holds `arg`).
    "mov rsi, [rsp]",
    // rax = the entry function.
    "mov rax, [rsp + 8]",
    // A zero frame pointer ends frame-pointer walks too.
    "xor ebp, ebp",
    // rsp is 16-byte aligned here, so the callee sees the ABI's alignment after the push.
    "call rax",
    // The entry function never returns (it ends with `exit`); trap if it ever does.
    "ud2",
    ".cfi_endproc",
    ".size __coro_asm_trampoline, . - __coro_asm_trampoline",
);

unsafe extern "C" {
    fn __coro_asm_trampoline();
}

/// Writes the bootstrap frame on a fresh stack and returns the stack pointer to store in
/// [`Context::sp`].
///
/// # Safety
///
/// `top` must be the one-past-the-end (highest) address of a writable stack of at least
/// [`MIN_STACK_SIZE`] bytes that nothing else uses. `entry` must never return, and must be safe
/// to call with `data` and the `arg` of the first [`resume`].
pub unsafe fn init_stack(top: *mut u8, entry: EntryFn, data: *mut u8) -> usize {
    let top = (top as usize) & !(STACK_ALIGNMENT - 1);
    let words = top as *mut usize;
    // SAFETY: the caller gives us a writable stack of at least MIN_STACK_SIZE bytes below `top`;
    // we write three words just below its aligned top.
    unsafe {
        words.sub(1).write(entry as usize);
        words.sub(2).write(data as usize);
        words
            .sub(3)
            .write(__coro_asm_trampoline as *const () as usize);
    }
    top - 3 * size_of::<usize>()
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
    // child may change is either saved here (rbp, rbx) or declared clobbered.
    #[cfg(not(feature = "fpu-env"))]
    unsafe {
        asm!(
            "push rbp",              // save rbp: LLVM's frame pointer, cannot be declared clobbered
            "push rbx",              // save rbx: reserved by LLVM, cannot be declared clobbered
            "call 2f",               // push the parent's return address, go to 2
            "pop rbx",               // back from the child (its `ret`): restore rbx
            "pop rbp",               // restore rbp
            "jmp 3f",                // done
            "2:",
            "mov rax, [rdx]",        // rax = ctx.sp, the child's stack pointer
            "mov [rdx], rsp",        // ctx.sp = parent's sp (it points at the return address)
            "mov rsp, rax",          // on the child's stack
            "pop rcx",               // rcx = the child's resume address (or the trampoline)
            "jmp rcx",               // enter the child; rdi carries arg
            "3:",
            in("rdx") ctx,
            inout("rdi") arg => ret,
            out("r12") _, out("r13") _, out("r14") _, out("r15") _,
            clobber_abi("sysv64"),
        );
    }
    // SAFETY: as above; also saves and restores the parent's MXCSR and x87 control word.
    #[cfg(feature = "fpu-env")]
    unsafe {
        asm!(
            "sub rsp, 8",            // room for the FPU slot
            "stmxcsr [rsp]",         // save MXCSR (SSE control/status)
            "fnstcw [rsp + 4]",      // save the x87 control word
            "push rbp",              // save rbp (see above)
            "push rbx",              // save rbx (see above)
            "call 2f",               // push the parent's return address, go to 2
            "pop rbx",               // back from the child: restore rbx
            "pop rbp",               // restore rbp
            "ldmxcsr [rsp]",         // restore MXCSR
            "fldcw [rsp + 4]",       // restore the x87 control word
            "add rsp, 8",            // drop the FPU slot
            "jmp 3f",                // done
            "2:",
            "mov rax, [rdx]",        // rax = ctx.sp, the child's stack pointer
            "mov [rdx], rsp",        // ctx.sp = parent's sp
            "mov rsp, rax",          // on the child's stack
            "pop rcx",               // rcx = the child's resume address
            "jmp rcx",               // enter the child; rdi carries arg
            "3:",
            in("rdx") ctx,
            inout("rdi") arg => ret,
            out("r12") _, out("r13") _, out("r14") _, out("r15") _,
            clobber_abi("sysv64"),
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
    // address its `call` pushed; rbp and rbx are saved here, the rest is declared clobbered.
    #[cfg(not(feature = "fpu-env"))]
    unsafe {
        asm!(
            "push rbp",              // save rbp (see resume)
            "push rbx",              // save rbx (see resume)
            "lea rax, [rip + 2f]",   // rax = where this child continues
            "push rax",              // ... stored as the lowest word of its stack
            "mov rcx, [rdx]",        // rcx = ctx.sp, the parent's stack pointer
            "mov [rdx], rsp",        // ctx.sp = child's sp
            "mov rsp, rcx",          // on the parent's stack
            "ret",                   // return to the parent, matching its `call`
            "2:",                    // resumed by `pop rcx; jmp rcx`; rdi carries arg
            "pop rbx",               // restore rbx
            "pop rbp",               // restore rbp
            in("rdx") ctx,
            inout("rdi") arg => ret,
            out("r12") _, out("r13") _, out("r14") _, out("r15") _,
            clobber_abi("sysv64"),
        );
    }
    // SAFETY: as above; also saves and restores the child's MXCSR and x87 control word.
    #[cfg(feature = "fpu-env")]
    unsafe {
        asm!(
            "sub rsp, 8",            // room for the FPU slot
            "stmxcsr [rsp]",         // save MXCSR
            "fnstcw [rsp + 4]",      // save the x87 control word
            "push rbp",              // save rbp
            "push rbx",              // save rbx
            "lea rax, [rip + 2f]",   // rax = where this child continues
            "push rax",              // ... stored as the lowest word of its stack
            "mov rcx, [rdx]",        // rcx = ctx.sp, the parent's stack pointer
            "mov [rdx], rsp",        // ctx.sp = child's sp
            "mov rsp, rcx",          // on the parent's stack
            "ret",                   // return to the parent, matching its `call`
            "2:",
            "pop rbx",               // restore rbx
            "pop rbp",               // restore rbp
            "ldmxcsr [rsp]",         // restore MXCSR
            "fldcw [rsp + 4]",       // restore the x87 control word
            "add rsp, 8",            // drop the FPU slot
            in("rdx") ctx,
            inout("rdi") arg => ret,
            out("r12") _, out("r13") _, out("r14") _, out("r15") _,
            clobber_abi("sysv64"),
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
    // own registers after the `ret`.
    unsafe {
        asm!(
            "mov rsp, [rdx]",        // rsp = ctx.sp, the parent's stack
            "ret",                   // return to the parent, matching its `call`
            in("rdx") ctx,
            in("rdi") arg,
            options(noreturn),
        );
    }
}

/// The stack pointer of the code that calls it (inlined, so its caller's `rsp`): which stack the
/// caller runs on, hence which coroutine.
#[inline(always)]
pub fn stack_pointer() -> usize {
    let sp: usize;
    // SAFETY: reads rsp into a register; touches no memory, the stack or the flags.
    unsafe {
        asm!(
            "mov {}, rsp",           // the caller's stack pointer
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
    // SAFETY: the caller's contract; the kernel clobbers only rcx (return address) and r11
    // (flags) besides rax, and touches no user stack.
    unsafe {
        asm!(
            "syscall",               // enter the kernel: nr in rax, arguments as below
            inlateout("rax") nr as isize => ret,
            in("rdi") args[0],
            in("rsi") args[1],
            in("rdx") args[2],
            in("r10") args[3],
            in("r8") args[4],
            in("r9") args[5],
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    ret
}
