//! Valgrind support, with the cargo feature `valgrind`: every stack coro maps is registered
//! with Valgrind (`VALGRIND_STACK_REGISTER`) when it is mapped and deregistered when it is
//! unmapped, so that Valgrind takes a move of the stack pointer from one stack to another for
//! the switch it is, not for a huge frame pushed or popped on one stack (which it would
//! answer with "client switching stacks?" warnings and by marking the memory in between as
//! pushed or popped).
//!
//! The requests are Valgrind's client-request sequence: a few instructions that do nothing on
//! a real processor (rotations of one register by a total of a whole turn, then a no-op
//! exchange), which Valgrind's JIT recognizes, reading the request from a block of six words
//! whose address is in a fixed register. Outside Valgrind each request costs a few cycles, at
//! map and unmap time only (a pooled stack is registered once). x86_64 and aarch64 make the
//! requests; on riscv64, where Valgrind does not run, they are no-ops. Without the feature this
//! file is not compiled and nothing calls it.
//!
//! One more request serves shared stacks: memcheck counts the stack below the lowest stack
//! pointer a coroutine on a shared stack last had as freed (it watched the frames return), but
//! a coroutine whose frames are copied back may have been deeper; [`reclaim`] tells memcheck
//! that the span its frames are copied into is stack again, just before the copy (which then
//! marks it as defined as the saved bytes were).
//!
//! Valgrind gives a stack id at registration, which the deregistration needs back: a small
//! process-wide map from a stack's top to its id keeps them (a lock per map and unmap, with
//! the feature only).

use std::collections::HashMap;
use std::sync::Mutex;

/// `VG_USERREQ__STACK_REGISTER` (valgrind.h): `(start, end)`, the lowest and the highest
/// addressable byte of a stack; returns the stack's id.
const STACK_REGISTER: usize = 0x1501;

/// `VG_USERREQ__STACK_DEREGISTER` (valgrind.h): `(id)`.
const STACK_DEREGISTER: usize = 0x1502;

/// `VG_USERREQ__MAKE_MEM_UNDEFINED` (memcheck.h, memcheck's tool base `'M' 'C'` plus 1):
/// `(addr, len)`, memory that may be written and read after it is (other tools ignore it).
const MAKE_MEM_UNDEFINED: usize = (b'M' as usize) << 24 | (b'C' as usize) << 16 | 1;

/// Makes a Valgrind client request: `args` is the request code and up to five arguments.
/// Returns Valgrind's answer, or `default` when the program does not run under Valgrind.
///
/// # Safety
///
/// The request must be one whose arguments Valgrind may act on: a stack registration must
/// describe memory that is a stack for as long as it stays registered.
#[cfg(target_arch = "x86_64")]
#[inline]
unsafe fn request(default: usize, args: &[usize; 6]) -> usize {
    let result;
    // SAFETY: on a processor the four rotations turn rdi by 3+13+61+51 = 128 bits, two whole
    // turns, so it ends as it began, and `xchg rbx, rbx` changes nothing: only the flags are
    // touched (the block does not say `preserves_flags`). Under Valgrind the sequence is the
    // request: it reads the six words at rax (which stay alive across the block) and leaves
    // its answer in rdx. The caller's contract covers what Valgrind then does.
    unsafe {
        core::arch::asm!(
            "rol rdi, 3",            // rdi turned by 3 bits: the first word of the marker
            "rol rdi, 13",           // ... 13
            "rol rdi, 61",           // ... 61
            "rol rdi, 51",           // ... 51: 128 in all, rdi is unchanged
            "xchg rbx, rbx",         // the request itself: rax = args, rdx = default/answer
            inout("rdx") default => result,
            in("rax") args.as_ptr(),
            options(nostack, readonly),
        );
    }
    result
}

/// As the x86_64 [`request`], with aarch64's sequence: `x12` turned by 128 bits, then
/// `orr x10, x10, x10`; the block's address in `x4`, the answer in `x3`.
///
/// # Safety
///
/// As for the x86_64 [`request`].
#[cfg(target_arch = "aarch64")]
#[inline]
unsafe fn request(default: usize, args: &[usize; 6]) -> usize {
    let result;
    // SAFETY: on a processor the rotations leave x12 as it was and the orr changes nothing; no
    // flags are touched. Under Valgrind it is the request (see the x86_64 version).
    unsafe {
        core::arch::asm!(
            "ror x12, x12, #3",      // x12 turned by 3 bits: the first word of the marker
            "ror x12, x12, #13",     // ... 13
            "ror x12, x12, #51",     // ... 51
            "ror x12, x12, #61",     // ... 61: 128 in all, x12 is unchanged
            "orr x10, x10, x10",     // the request itself: x4 = args, x3 = default/answer
            inout("x3") default => result,
            in("x4") args.as_ptr(),
            options(nostack, readonly, preserves_flags),
        );
    }
    result
}

/// Valgrind does not run on this architecture: every request answers `default`.
///
/// # Safety
///
/// None needed; `unsafe` to match the other architectures.
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
#[inline]
unsafe fn request(default: usize, _args: &[usize; 6]) -> usize {
    default
}

/// Stack ids by stack top, for the deregistration.
static IDS: Mutex<Option<HashMap<usize, usize>>> = Mutex::new(None);

/// Registers the stack `limit .. top` (usable memory, lowest address to one past the highest)
/// that was just mapped.
pub(super) fn register(limit: usize, top: usize) {
    // SAFETY: `limit .. top` is a stack, mapped read-write, until `deregister(top)`.
    let id = unsafe { request(0, &[STACK_REGISTER, limit, top - 1, 0, 0, 0]) };
    let mut ids = IDS.lock().unwrap_or_else(|e| e.into_inner());
    ids.get_or_insert_with(HashMap::new).insert(top, id);
}

/// Deregisters the stack whose top is `top`, about to be unmapped.
pub(super) fn deregister(top: usize) {
    let id = {
        let mut ids = IDS.lock().unwrap_or_else(|e| e.into_inner());
        ids.as_mut().and_then(|ids| ids.remove(&top))
    };
    if let Some(id) = id {
        // SAFETY: forgets a stack Valgrind gave this id; nothing is read or written.
        unsafe { request(0, &[STACK_DEREGISTER, id, 0, 0, 0, 0]) };
    }
}

/// Tells memcheck that `addr .. addr + len`, part of a shared stack that frames are about to
/// be copied back into, may be written (see the header).
pub(crate) fn reclaim(addr: usize, len: usize) {
    // SAFETY: the span is part of a mapped stack that the caller is about to write.
    unsafe { request(0, &[MAKE_MEM_UNDEFINED, addr, len, 0, 0, 0]) };
}
