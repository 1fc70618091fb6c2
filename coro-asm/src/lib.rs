//! The only assembly in coro: the context switch, the code that starts a fresh stack, and two
//! one-instruction helpers (reading the stack pointer, making a system call).
//!
//! Three operations make an asymmetric coroutine:
//!
//! * [`init_stack`] writes a first frame on a fresh stack so that the first [`resume`] enters
//!   `entry(arg, data)` on that stack.
//! * [`resume`] runs on the *parent*'s stack: it saves the parent's state, takes the child's
//!   stack pointer from [`Context::sp`], leaves the parent's there instead and jumps into the
//!   child. It returns when the child calls [`suspend`] or [`exit`].
//! * [`suspend`] runs on the *child*'s stack: it saves the child's state, takes the parent's
//!   stack pointer from [`Context::sp`], leaves its own there, and returns into the parent. It
//!   returns when the parent calls [`resume`] again.
//!
//! A word-sized value travels with every switch (`arg`): the parent's [`resume`] hands it to the
//! child, the child's [`suspend`] or [`exit`] hands one back.
//!
//! Everything here is `unsafe`: the functions move the stack pointer. Each one says its contract
//! in a `# Safety` section, and each assembly block says, line by line, what it saves and why.
//! The architecture-specific code lives in `arch/`, one file per architecture.

#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

mod arch;

pub use arch::{
    Context, MIN_STACK_SIZE, STACK_ALIGNMENT, SUSPENDED_FRAME, exit, init_stack, resume,
    stack_pointer, suspend, syscall,
};

/// Where [`suspend`] leaves a suspended child's registers, relative to the stack pointer it
/// saved in [`Context::sp`]: what a debugger needs to show the frames of a coroutine that is
/// not running without resuming it (coro's gdb script reads it from the running program). Each
/// architecture's file defines [`SUSPENDED_FRAME`] next to the asm that writes the frame.
#[derive(Debug, Clone, Copy)]
pub struct SuspendedFrame {
    /// The bytes the switch frame takes: the child's stack pointer at the point where it
    /// resumes, as its code and unwind tables expect it, is the saved one plus this.
    pub size: usize,
    /// The offset of the resume address (the child's program counter).
    pub pc: usize,
    /// The other registers the asm saves, by their names in the architecture's DWARF register
    /// set as gdb spells them, and their offsets.
    pub regs: [(&'static str, usize); 2],
}

/// The signature of a coroutine's entry point, called on the fresh stack by the bootstrap code.
///
/// `arg` is the value the parent passed to its first [`resume`]; `data` is the pointer given to
/// [`init_stack`]. The function must never return: it ends by calling [`exit`].
pub type EntryFn = unsafe extern "C" fn(arg: usize, data: *mut u8) -> !;
