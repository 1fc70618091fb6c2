//! Integration tests of coro-asm alone, on plain heap-allocated stacks (no coro-core): every
//! callee-saved register survives a switch in both directions, values travel through `resume`,
//! `suspend` and `exit`, a child suspends from nested frames, a fresh stack runs to `exit`, a
//! backtrace taken in a child ends at its root, and, with `--features fpu-env`, the FPU control
//! state stays with the side that set it.
//!
//! A child's entry function is `extern "C"`, so a panic in it would abort the whole binary: the
//! children here record what they saw in a heap block, and the parent (the test thread) asserts.

use std::alloc::{self, Layout};
use std::backtrace::Backtrace;
use std::hint::black_box;

use coro_asm::{Context, EntryFn, exit, init_stack, resume, stack_pointer, suspend};

/// What a parent sends to tell a child to finish.
const STOP: usize = usize::MAX;

/// The size of every test stack: room for a backtrace capture in a debug build.
const STACK_SIZE: usize = 256 * 1024;

/// A stack from the global allocator (no guard page: these children stay shallow).
struct Stack {
    base: *mut u8,
    layout: Layout,
}

impl Stack {
    fn new() -> Stack {
        let layout = Layout::from_size_align(STACK_SIZE, coro_asm::STACK_ALIGNMENT).unwrap();
        // SAFETY: the layout has a non-zero size.
        let base = unsafe { alloc::alloc(layout) };
        assert!(!base.is_null(), "out of memory for a test stack");
        Stack { base, layout }
    }

    /// One past the highest byte.
    fn top(&self) -> *mut u8 {
        self.base.wrapping_add(self.layout.size())
    }

    fn contains(&self, addr: usize) -> bool {
        (self.base as usize..self.top() as usize).contains(&addr)
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout; no child runs on it any more.
        unsafe { alloc::dealloc(self.base, self.layout) }
    }
}

/// Puts `block` on the heap and returns a raw pointer that parent and child share; the test
/// frees it with `Box::from_raw` once the child has exited.
fn shared<T>(block: T) -> *mut T {
    Box::into_raw(Box::new(block))
}

/// Prepares `ctx` to run `entry(arg, data)` on `stack` at its first resume.
fn start(ctx: *mut Context, stack: &Stack, entry: EntryFn, data: *mut u8) {
    // SAFETY: the stack is ours, writable, STACK_SIZE >= MIN_STACK_SIZE bytes, unused; each entry
    // below ends with `exit`.
    unsafe { (*ctx).sp = init_stack(stack.top(), entry, data) };
}

// ---------------------------------------------------------------------------------------------
// Callee-saved registers, set and read back in assembly.
// ---------------------------------------------------------------------------------------------

/// The callee-saved registers of the ABI the tests are built for, in the order the routine
/// below loads and stores them. x86_64 System V has no callee-saved vector or x87 registers
/// (MXCSR and the x87 control word are covered by the `fpu-env` test).
#[cfg(target_arch = "x86_64")]
const REG_NAMES: &[&str] = &["rbx", "rbp", "r12", "r13", "r14", "r15"];
#[cfg(target_arch = "aarch64")]
const REG_NAMES: &[&str] = &[
    "x19", "x20", "x21", "x22", "x23", "x24", "x25", "x26", "x27", "x28", "x29", "d8", "d9", "d10",
    "d11", "d12", "d13", "d14", "d15",
];
#[cfg(target_arch = "riscv64")]
const REG_NAMES: &[&str] = &[
    "s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "fs0", "fs1", "fs2",
    "fs3", "fs4", "fs5", "fs6", "fs7", "fs8", "fs9", "fs10", "fs11",
];

const NREGS: usize = REG_NAMES.len();

/// What [`coro_test_call_with_regs`] writes: each register after the call, then the stack
/// pointer before and after the call.
type RegsOut = [u64; NREGS + 2];

unsafe extern "C" {
    /// Saves the real callee-saved registers, loads register `i` of [`REG_NAMES`] with
    /// `seed + i`, calls `f(arg)`, stores what each of them holds when `f` returns in `out[i]`
    /// (the stack pointer before and after the call in `out[NREGS]` and `out[NREGS + 1]`),
    /// restores the real registers and returns what `f` returned. Nothing unwinds through it:
    /// every `f` is an `extern "C"` function, which aborts instead of unwinding.
    fn coro_test_call_with_regs(
        f: extern "C" fn(usize) -> usize,
        arg: usize,
        seed: u64,
        out: *mut u64,
    ) -> usize;
}

// rdi = f, rsi = arg, rdx = seed, rcx = out; out offsets: rbx 0 .. r15 40, sp 48 and 56.
#[cfg(target_arch = "x86_64")]
std::arch::global_asm!(
    ".text",
    ".balign 16",
    ".globl coro_test_call_with_regs",
    ".hidden coro_test_call_with_regs",
    "coro_test_call_with_regs:",
    "push rbp", // the real callee-saved registers, restored at the end
    "push rbx",
    "push r12",
    "push r13",
    "push r14",
    "push r15",
    "push rcx",            // out, at [rsp + 16] below
    "push rdx",            // seed (kept for alignment)
    "sub rsp, 8",          // rsp is 16-byte aligned for the call
    "mov [rcx + 48], rsp", // out[NREGS] = sp before the call
    "mov rax, rdi",        // rax = f
    "mov rdi, rsi",        // rdi = arg
    "lea rbx, [rdx + 0]",  // the test values: seed + i
    "lea rbp, [rdx + 1]",
    "lea r12, [rdx + 2]",
    "lea r13, [rdx + 3]",
    "lea r14, [rdx + 4]",
    "lea r15, [rdx + 5]",
    "call rax",            // f(arg): a switch happens in there
    "mov rcx, [rsp + 16]", // rcx = out
    "mov [rcx + 0], rbx",  // what each register holds now
    "mov [rcx + 8], rbp",
    "mov [rcx + 16], r12",
    "mov [rcx + 24], r13",
    "mov [rcx + 32], r14",
    "mov [rcx + 40], r15",
    "mov [rcx + 56], rsp", // out[NREGS + 1] = sp after the call
    "add rsp, 8",
    "pop rdx",
    "pop rcx",
    "pop r15", // the real registers back
    "pop r14",
    "pop r13",
    "pop r12",
    "pop rbx",
    "pop rbp",
    "ret", // rax = what f returned
);

// x0 = f, x1 = arg, x2 = seed, x3 = out; out offsets: x19 0 .. x29 80, d8 88 .. d15 144,
// sp 152 and 160. Frame: x29/x30 at 0, x19-x28 at 16-88, d8-d15 at 96-152, out at 160.
#[cfg(target_arch = "aarch64")]
std::arch::global_asm!(
    ".text",
    ".balign 16",
    ".globl coro_test_call_with_regs",
    ".hidden coro_test_call_with_regs",
    "coro_test_call_with_regs:",
    "stp x29, x30, [sp, #-176]!", // the real callee-saved registers, restored at the end
    "stp x19, x20, [sp, #16]",
    "stp x21, x22, [sp, #32]",
    "stp x23, x24, [sp, #48]",
    "stp x25, x26, [sp, #64]",
    "stp x27, x28, [sp, #80]",
    "stp d8, d9, [sp, #96]",
    "stp d10, d11, [sp, #112]",
    "stp d12, d13, [sp, #128]",
    "stp d14, d15, [sp, #144]",
    "str x3, [sp, #160]", // out
    "mov x9, sp",
    "str x9, [x3, #152]", // out[NREGS] = sp before the call
    "mov x16, x0",        // x16 = f
    "mov x0, x1",         // x0 = arg
    "add x19, x2, #0",    // the test values: seed + i
    "add x20, x2, #1",
    "add x21, x2, #2",
    "add x22, x2, #3",
    "add x23, x2, #4",
    "add x24, x2, #5",
    "add x25, x2, #6",
    "add x26, x2, #7",
    "add x27, x2, #8",
    "add x28, x2, #9",
    "add x29, x2, #10",
    "add x9, x2, #11",
    "fmov d8, x9",
    "add x9, x2, #12",
    "fmov d9, x9",
    "add x9, x2, #13",
    "fmov d10, x9",
    "add x9, x2, #14",
    "fmov d11, x9",
    "add x9, x2, #15",
    "fmov d12, x9",
    "add x9, x2, #16",
    "fmov d13, x9",
    "add x9, x2, #17",
    "fmov d14, x9",
    "add x9, x2, #18",
    "fmov d15, x9",
    "blr x16",                // f(arg): a switch happens in there
    "ldr x9, [sp, #160]",     // x9 = out
    "stp x19, x20, [x9, #0]", // what each register holds now
    "stp x21, x22, [x9, #16]",
    "stp x23, x24, [x9, #32]",
    "stp x25, x26, [x9, #48]",
    "stp x27, x28, [x9, #64]",
    "str x29, [x9, #80]",
    "str d8, [x9, #88]",
    "str d9, [x9, #96]",
    "str d10, [x9, #104]",
    "str d11, [x9, #112]",
    "str d12, [x9, #120]",
    "str d13, [x9, #128]",
    "str d14, [x9, #136]",
    "str d15, [x9, #144]",
    "mov x10, sp",
    "str x10, [x9, #160]",      // out[NREGS + 1] = sp after the call
    "ldp d14, d15, [sp, #144]", // the real registers back
    "ldp d12, d13, [sp, #128]",
    "ldp d10, d11, [sp, #112]",
    "ldp d8, d9, [sp, #96]",
    "ldp x27, x28, [sp, #80]",
    "ldp x25, x26, [sp, #64]",
    "ldp x23, x24, [sp, #48]",
    "ldp x21, x22, [sp, #32]",
    "ldp x19, x20, [sp, #16]",
    "ldp x29, x30, [sp], #176",
    "ret", // x0 = what f returned
);

// a0 = f, a1 = arg, a2 = seed, a3 = out; out offsets: s0 0 .. s11 88, fs0 96 .. fs11 184,
// sp 192 and 200. Frame: ra 0, s0-s11 8-96, fs0-fs11 104-192, out 200.
// Module-level asm is assembled without the target's extensions in some builds (release, here),
// so the D instructions are switched on for this routine by hand.
#[cfg(target_arch = "riscv64")]
std::arch::global_asm!(
    ".option push",
    ".option arch, +d",
    ".text",
    ".balign 16",
    ".globl coro_test_call_with_regs",
    ".hidden coro_test_call_with_regs",
    "coro_test_call_with_regs:",
    "addi sp, sp, -224", // the real callee-saved registers, restored at the end
    "sd ra, 0(sp)",
    "sd s0, 8(sp)",
    "sd s1, 16(sp)",
    "sd s2, 24(sp)",
    "sd s3, 32(sp)",
    "sd s4, 40(sp)",
    "sd s5, 48(sp)",
    "sd s6, 56(sp)",
    "sd s7, 64(sp)",
    "sd s8, 72(sp)",
    "sd s9, 80(sp)",
    "sd s10, 88(sp)",
    "sd s11, 96(sp)",
    "fsd fs0, 104(sp)",
    "fsd fs1, 112(sp)",
    "fsd fs2, 120(sp)",
    "fsd fs3, 128(sp)",
    "fsd fs4, 136(sp)",
    "fsd fs5, 144(sp)",
    "fsd fs6, 152(sp)",
    "fsd fs7, 160(sp)",
    "fsd fs8, 168(sp)",
    "fsd fs9, 176(sp)",
    "fsd fs10, 184(sp)",
    "fsd fs11, 192(sp)",
    "sd a3, 200(sp)", // out
    "sd sp, 192(a3)", // out[NREGS] = sp before the call
    "mv t1, a0",      // t1 = f
    "mv a0, a1",      // a0 = arg
    "addi s0, a2, 0", // the test values: seed + i
    "addi s1, a2, 1",
    "addi s2, a2, 2",
    "addi s3, a2, 3",
    "addi s4, a2, 4",
    "addi s5, a2, 5",
    "addi s6, a2, 6",
    "addi s7, a2, 7",
    "addi s8, a2, 8",
    "addi s9, a2, 9",
    "addi s10, a2, 10",
    "addi s11, a2, 11",
    "addi t0, a2, 12",
    "fmv.d.x fs0, t0",
    "addi t0, a2, 13",
    "fmv.d.x fs1, t0",
    "addi t0, a2, 14",
    "fmv.d.x fs2, t0",
    "addi t0, a2, 15",
    "fmv.d.x fs3, t0",
    "addi t0, a2, 16",
    "fmv.d.x fs4, t0",
    "addi t0, a2, 17",
    "fmv.d.x fs5, t0",
    "addi t0, a2, 18",
    "fmv.d.x fs6, t0",
    "addi t0, a2, 19",
    "fmv.d.x fs7, t0",
    "addi t0, a2, 20",
    "fmv.d.x fs8, t0",
    "addi t0, a2, 21",
    "fmv.d.x fs9, t0",
    "addi t0, a2, 22",
    "fmv.d.x fs10, t0",
    "addi t0, a2, 23",
    "fmv.d.x fs11, t0",
    "jalr t1",        // f(arg): a switch happens in there
    "ld t0, 200(sp)", // t0 = out
    "sd s0, 0(t0)",   // what each register holds now
    "sd s1, 8(t0)",
    "sd s2, 16(t0)",
    "sd s3, 24(t0)",
    "sd s4, 32(t0)",
    "sd s5, 40(t0)",
    "sd s6, 48(t0)",
    "sd s7, 56(t0)",
    "sd s8, 64(t0)",
    "sd s9, 72(t0)",
    "sd s10, 80(t0)",
    "sd s11, 88(t0)",
    "fsd fs0, 96(t0)",
    "fsd fs1, 104(t0)",
    "fsd fs2, 112(t0)",
    "fsd fs3, 120(t0)",
    "fsd fs4, 128(t0)",
    "fsd fs5, 136(t0)",
    "fsd fs6, 144(t0)",
    "fsd fs7, 152(t0)",
    "fsd fs8, 160(t0)",
    "fsd fs9, 168(t0)",
    "fsd fs10, 176(t0)",
    "fsd fs11, 184(t0)",
    "sd sp, 200(t0)", // out[NREGS + 1] = sp after the call
    "ld ra, 0(sp)",   // the real registers back
    "ld s0, 8(sp)",
    "ld s1, 16(sp)",
    "ld s2, 24(sp)",
    "ld s3, 32(sp)",
    "ld s4, 40(sp)",
    "ld s5, 48(sp)",
    "ld s6, 56(sp)",
    "ld s7, 64(sp)",
    "ld s8, 72(sp)",
    "ld s9, 80(sp)",
    "ld s10, 88(sp)",
    "ld s11, 96(sp)",
    "fld fs0, 104(sp)",
    "fld fs1, 112(sp)",
    "fld fs2, 120(sp)",
    "fld fs3, 128(sp)",
    "fld fs4, 136(sp)",
    "fld fs5, 144(sp)",
    "fld fs6, 152(sp)",
    "fld fs7, 160(sp)",
    "fld fs8, 168(sp)",
    "fld fs9, 176(sp)",
    "fld fs10, 184(sp)",
    "fld fs11, 192(sp)",
    "addi sp, sp, 224",
    "ret", // a0 = what f returned
    ".option pop",
);

/// Calls `f(arg)` with every callee-saved register holding `seed + i` and returns what `f`
/// returned and what the registers held afterwards.
fn call_with_regs(f: extern "C" fn(usize) -> usize, arg: usize, seed: u64) -> (usize, RegsOut) {
    let mut out = [0u64; NREGS + 2];
    // SAFETY: the routine keeps the ABI (it restores every callee-saved register) and writes
    // NREGS + 2 words to `out`.
    let ret = unsafe { coro_test_call_with_regs(f, arg, seed, out.as_mut_ptr()) };
    (ret, out)
}

/// The registers in `out` that do not hold `seed + i`, as "name = value (want value)".
fn wrong_regs(seed: u64, out: &RegsOut) -> Vec<String> {
    let mut wrong: Vec<String> = REG_NAMES
        .iter()
        .enumerate()
        .filter(|&(i, _)| out[i] != seed + i as u64)
        .map(|(i, name)| format!("{name} = {:#x} (want {:#x})", out[i], seed + i as u64))
        .collect();
    if out[NREGS] != out[NREGS + 1] {
        wrong.push(format!(
            "sp = {:#x} (want {:#x})",
            out[NREGS + 1],
            out[NREGS]
        ));
    }
    wrong
}

/// The parent's register seed for a round: far from every child seed, so that no register of
/// one side can hold the other side's value by accident.
fn parent_seed(round: usize) -> u64 {
    0x5a00_0000_0000_0000 + ((round as u64) << 8)
}

fn child_seed(round: usize) -> u64 {
    0xc300_0000_0000_0000 + ((round as u64) << 8)
}

/// What the register test's parent and child share.
struct RegTest {
    ctx: Context,
    /// What the parent resumes with: the round number, or STOP.
    to_child: usize,
    /// What the child suspends with: its round number.
    to_parent: usize,
    /// The child's last report: the seed it set and what its registers held after the switch.
    child_seed: u64,
    child_out: RegsOut,
    child_reports: usize,
}

/// The parent's call inside [`coro_test_call_with_regs`]: one `resume`.
extern "C" fn parent_side(t: usize) -> usize {
    let t = t as *mut RegTest;
    // SAFETY: `t` is the live RegTest whose ctx holds the suspended (or fresh) child.
    unsafe { resume(&raw mut (*t).ctx, (*t).to_child) }
}

/// The child's call inside [`coro_test_call_with_regs`]: one `suspend`.
extern "C" fn child_side(t: usize) -> usize {
    let t = t as *mut RegTest;
    // SAFETY: runs on the child's stack, resumed through this ctx.
    unsafe { suspend(&raw mut (*t).ctx, (*t).to_parent) }
}

/// The register test's child: a round of `call_with_regs` around each `suspend`.
///
/// # Safety
///
/// Entered only through the trampoline, with `data` a live `RegTest` whose `ctx` the child was
/// started on.
unsafe extern "C" fn reg_child(arg: usize, data: *mut u8) -> ! {
    let t = data.cast::<RegTest>();
    let mut got = arg;
    let mut round = 0;
    while got != STOP {
        let seed = child_seed(round);
        // SAFETY: the parent reads and writes `t` only while this child is switched out.
        unsafe { (*t).to_parent = round };
        let (next, out) = call_with_regs(child_side, t as usize, seed);
        // SAFETY: as above.
        unsafe {
            (*t).child_seed = seed;
            (*t).child_out = out;
            (*t).child_reports += 1;
        }
        got = next;
        round += 1;
    }
    // SAFETY: nothing on this stack is needed any more; ctx holds the parent's stack pointer.
    unsafe { exit(&raw const (*t).ctx, round) }
}

#[test]
fn every_callee_saved_register_survives_a_switch_both_ways() {
    const ROUNDS: usize = 200;
    let stack = Stack::new();
    let t = shared(RegTest {
        ctx: Context::new(),
        to_child: 0,
        to_parent: 0,
        child_seed: 0,
        child_out: [0; NREGS + 2],
        child_reports: 0,
    });
    // SAFETY: `t` is live until the end of the test; the child runs only inside `resume`.
    unsafe {
        start(&raw mut (*t).ctx, &stack, reg_child, t.cast());
        for round in 0..=ROUNDS {
            (*t).to_child = if round == ROUNDS { STOP } else { round };
            let seed = parent_seed(round);
            let (got, out) = call_with_regs(parent_side, t as usize, seed);
            let wrong = wrong_regs(seed, &out);
            assert!(
                wrong.is_empty(),
                "parent, round {round}: {}",
                wrong.join(", ")
            );
            if round == ROUNDS {
                // The child exited with the number of rounds it ran.
                assert_eq!(got, ROUNDS);
            } else {
                assert_eq!(got, round, "the child suspends with its round number");
            }
            if round > 0 {
                assert_eq!((*t).child_reports, round);
                assert_eq!((*t).child_seed, child_seed(round - 1));
                let wrong = wrong_regs((*t).child_seed, &(*t).child_out);
                assert!(
                    wrong.is_empty(),
                    "child, round {}: {}",
                    round - 1,
                    wrong.join(", ")
                );
            }
        }
        drop(Box::from_raw(t));
    }
}

// ---------------------------------------------------------------------------------------------
// Values through resume, suspend and exit.
// ---------------------------------------------------------------------------------------------

/// The i-th value the parent sends: spread over all 64 bits.
fn sent(i: usize) -> usize {
    i.wrapping_add(1).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

/// What the child answers to `v`.
fn answer(v: usize) -> usize {
    !v.rotate_left(13)
}

struct Echo {
    ctx: Context,
    data_seen: usize,
    out_of_order: usize,
}

/// The echo test's child: answers every value until STOP, then exits with the count.
///
/// # Safety
///
/// Entered only through the trampoline, with `data` a live `Echo` whose `ctx` the child was
/// started on.
unsafe extern "C" fn echo_child(arg: usize, data: *mut u8) -> ! {
    let e = data.cast::<Echo>();
    let mut got = arg;
    let mut count = 0;
    // SAFETY: the parent reads `e` only while this child is switched out.
    unsafe { (*e).data_seen = data as usize };
    while got != STOP {
        if got != sent(count) {
            // SAFETY: as above.
            unsafe { (*e).out_of_order += 1 };
        }
        count += 1;
        // SAFETY: runs on the child's stack, resumed through this ctx.
        got = unsafe { suspend(&raw mut (*e).ctx, answer(got)) };
    }
    // SAFETY: nothing on this stack is needed any more.
    unsafe { exit(&raw const (*e).ctx, count) }
}

#[test]
fn values_pass_through_resume_suspend_and_exit_over_many_round_trips() {
    const TRIPS: usize = 100_000;
    let stack = Stack::new();
    let e = shared(Echo {
        ctx: Context::new(),
        data_seen: 0,
        out_of_order: 0,
    });
    // SAFETY: `e` is live until the end of the test; the child runs only inside `resume`.
    unsafe {
        start(&raw mut (*e).ctx, &stack, echo_child, e.cast());
        for i in 0..TRIPS {
            let got = resume(&raw mut (*e).ctx, sent(i));
            assert_eq!(got, answer(sent(i)), "round trip {i}");
        }
        assert_eq!(resume(&raw mut (*e).ctx, STOP), TRIPS, "exit's value");
        assert_eq!((*e).data_seen, e as usize, "the entry's data pointer");
        assert_eq!((*e).out_of_order, 0, "values the child got out of order");
        drop(Box::from_raw(e));
    }
}

// ---------------------------------------------------------------------------------------------
// Suspending from nested frames.
// ---------------------------------------------------------------------------------------------

const DEPTH: usize = 48;

struct Nest {
    ctx: Context,
    /// Replies that were not what the parent sends, and locals found changed after a suspend.
    bad: usize,
}

/// One frame of the child's recursion: it suspends on the way down and on the way up, and
/// checks that its locals (on the child's stack) survived both.
#[inline(never)]
fn descend(n: *mut Nest, depth: usize) -> usize {
    let mut local = [0usize; 16];
    for (i, w) in local.iter_mut().enumerate() {
        *w = depth * 1_000 + i;
    }
    black_box(&mut local);
    // SAFETY: runs on the child's stack, resumed through this ctx.
    let down = unsafe { suspend(&raw mut (*n).ctx, depth) };
    let below = if depth < DEPTH {
        descend(n, depth + 1)
    } else {
        0
    };
    // SAFETY: as above.
    let up = unsafe { suspend(&raw mut (*n).ctx, 1_000 + depth) };
    let intact = black_box(&local)
        .iter()
        .enumerate()
        .all(|(i, &w)| w == depth * 1_000 + i);
    let bad = usize::from(down != depth * 7) + usize::from(up != (1_000 + depth) * 7);
    // SAFETY: the parent reads `n` only while this child is switched out.
    unsafe { (*n).bad += bad + usize::from(!intact) };
    below + depth
}

/// The nesting test's child: [`descend`] from depth 1, then exit with the depths summed.
///
/// # Safety
///
/// Entered only through the trampoline, with `data` a live `Nest` whose `ctx` the child was
/// started on.
unsafe extern "C" fn nest_child(_arg: usize, data: *mut u8) -> ! {
    let n = data.cast::<Nest>();
    let sum = descend(n, 1);
    // SAFETY: nothing on this stack is needed any more.
    unsafe { exit(&raw const (*n).ctx, sum) }
}

/// Work on the parent's own stack between resumes, over the same depth of frames.
#[inline(never)]
fn parent_work(depth: usize) -> usize {
    let local = black_box([depth; 32]);
    if depth == 0 {
        0
    } else {
        local[depth % 32] + parent_work(depth - 1)
    }
}

#[test]
fn a_child_suspends_from_nested_frames() {
    let stack = Stack::new();
    let n = shared(Nest {
        ctx: Context::new(),
        bad: 0,
    });
    let mut expected: Vec<usize> = (1..=DEPTH).collect();
    expected.extend((1..=DEPTH).rev().map(|d| 1_000 + d));
    // SAFETY: `n` is live until the end of the test; the child runs only inside `resume`.
    unsafe {
        start(&raw mut (*n).ctx, &stack, nest_child, n.cast());
        let mut reply = 0;
        for &want in &expected {
            let got = resume(&raw mut (*n).ctx, reply);
            assert_eq!(got, want);
            reply = got * 7;
            assert_eq!(parent_work(DEPTH), DEPTH * (DEPTH + 1) / 2);
        }
        let sum = resume(&raw mut (*n).ctx, reply);
        assert_eq!(
            sum,
            DEPTH * (DEPTH + 1) / 2,
            "exit's value: the depths summed"
        );
        assert_eq!((*n).bad, 0, "wrong replies or changed locals in the child");
        drop(Box::from_raw(n));
    }
}

// ---------------------------------------------------------------------------------------------
// A fresh stack to exit.
// ---------------------------------------------------------------------------------------------

struct Fresh {
    ctx: Context,
    arg: usize,
    data: usize,
    sp: usize,
}

/// The fresh-stack test's child: records what it was started with and exits at once.
///
/// # Safety
///
/// Entered only through the trampoline, with `data` a live `Fresh` whose `ctx` the child was
/// started on.
unsafe extern "C" fn fresh_child(arg: usize, data: *mut u8) -> ! {
    let f = data.cast::<Fresh>();
    // SAFETY: the parent reads `f` only after this child exits.
    unsafe {
        (*f).arg = arg;
        (*f).data = data as usize;
        (*f).sp = stack_pointer();
        exit(&raw const (*f).ctx, arg ^ 0x5555)
    }
}

#[test]
fn a_fresh_stack_runs_its_entry_to_exit_and_can_be_reused() {
    let stack = Stack::new();
    let f = shared(Fresh {
        ctx: Context::new(),
        arg: 0,
        data: 0,
        sp: 0,
    });
    for k in 0..4 {
        // An unaligned top too: init_stack rounds it down.
        let top = stack.top().wrapping_sub(k * 3);
        let arg = 0x1234_5678_9abc_def0usize.rotate_left(k as u32 * 8);
        // SAFETY: `f` is live; the stack is unused (the previous child exited); fresh_child exits.
        unsafe {
            let boot = init_stack(top, fresh_child, f.cast());
            (*f).ctx.sp = boot;
            let aligned_top = top as usize & !(coro_asm::STACK_ALIGNMENT - 1);
            assert!(stack.contains(boot), "ctx.sp on the stack");
            assert!(
                boot <= aligned_top - 24,
                "the bootstrap frame below the aligned top"
            );
            assert_eq!(resume(&raw mut (*f).ctx, arg), arg ^ 0x5555, "exit's value");
            assert_eq!((*f).arg, arg, "the entry's arg");
            assert_eq!((*f).data, f as usize, "the entry's data");
            assert!(stack.contains((*f).sp), "the entry ran on the stack");
            assert!(
                (*f).sp <= boot,
                "the entry's frames lie below the bootstrap frame"
            );
        }
    }
    // SAFETY: the child exited; nothing refers to `f`.
    drop(unsafe { Box::from_raw(f) });
}

// ---------------------------------------------------------------------------------------------
// Backtraces end at the coroutine's root.
// ---------------------------------------------------------------------------------------------

struct Trace {
    ctx: Context,
    trace: Option<Backtrace>,
}

#[inline(never)]
fn capture_in_child(t: *mut Trace) {
    // SAFETY: the parent reads `t` only after this child exits.
    unsafe { (*t).trace = Some(Backtrace::force_capture()) };
}

/// The backtrace test's child: captures a backtrace and exits.
///
/// # Safety
///
/// Entered only through the trampoline, with `data` a live `Trace` whose `ctx` the child was
/// started on.
unsafe extern "C" fn trace_child(_arg: usize, data: *mut u8) -> ! {
    let t = data.cast::<Trace>();
    capture_in_child(t);
    // SAFETY: the backtrace lives in the heap block, nothing on this stack is needed any more.
    unsafe { exit(&raw const (*t).ctx, 0) }
}

#[test]
fn a_backtrace_in_a_child_ends_at_the_trampoline() {
    let stack = Stack::new();
    let t = shared(Trace {
        ctx: Context::new(),
        trace: None,
    });
    // SAFETY: `t` is live until the end of the test; the child runs only inside `resume`.
    let trace = unsafe {
        start(&raw mut (*t).ctx, &stack, trace_child, t.cast());
        resume(&raw mut (*t).ctx, 0);
        Box::from_raw(t).trace.take().unwrap()
    };
    let text = trace.to_string();
    // The frame lines ("  12: name"), innermost first.
    let frames: Vec<&str> = text
        .lines()
        .map(str::trim_start)
        .filter(|l| {
            l.split_once(": ")
                .is_some_and(|(n, _)| n.parse::<usize>().is_ok())
        })
        .collect();
    let child = frames.iter().position(|l| l.contains("capture_in_child"));
    let child = child.unwrap_or_else(|| panic!("no capture_in_child frame in:\n{text}"));
    // Below the child's own frames the walk reaches the trampoline and stops: no frame of the
    // parent (this test function, the test harness, the thread start) follows.
    let rest = &frames[child..];
    assert!(
        rest.last().unwrap().contains("__coro_asm_trampoline"),
        "the last frame is not the trampoline:\n{text}"
    );
    assert!(rest.len() <= 4, "frames past the coroutine's root:\n{text}");
}

// ---------------------------------------------------------------------------------------------
// fpu-env: the FPU control state stays with its side.
// ---------------------------------------------------------------------------------------------

#[cfg(feature = "fpu-env")]
mod fpu_env {
    use super::*;
    use std::arch::asm;

    /// MXCSR in the low half (exception flags masked off: status, not control), the x87 control
    /// word in the high half.
    #[cfg(target_arch = "x86_64")]
    mod env {
        use super::asm;

        pub(super) const MASK: u64 = 0xffff_0000_ffc0;
        /// Round down / up / toward zero / nearest with flush-to-zero (MXCSR), and the x87
        /// rounding and precision fields likewise varied.
        pub(super) const PARENT: [u64; 2] = [0x077f_0000_3f80, 0x0f7f_0000_7f80];
        pub(super) const CHILD: [u64; 2] = [0x0b7f_0000_5f80, 0x027f_0000_9f80];

        pub(super) fn read() -> u64 {
            let mut mxcsr = 0u32;
            let mut cw = 0u16;
            // SAFETY: stores MXCSR and the x87 control word to two locals.
            unsafe {
                asm!(
                    "stmxcsr [{m}]",
                    "fnstcw [{c}]",
                    m = in(reg) &raw mut mxcsr,
                    c = in(reg) &raw mut cw,
                    options(nostack, preserves_flags),
                );
            }
            u64::from(mxcsr) | (u64::from(cw) << 32)
        }

        pub(super) fn write(env: u64) {
            let mxcsr = env as u32;
            let cw = (env >> 32) as u16;
            // SAFETY: loads MXCSR and the x87 control word from two locals; no exception is
            // unmasked by the values the tests use.
            unsafe {
                asm!(
                    "ldmxcsr [{m}]",
                    "fldcw [{c}]",
                    m = in(reg) &raw const mxcsr,
                    c = in(reg) &raw const cw,
                    options(nostack, preserves_flags),
                );
            }
        }
    }

    /// FPCR: DN, FZ and RMode.
    #[cfg(target_arch = "aarch64")]
    mod env {
        use super::asm;

        pub(super) const MASK: u64 = 0x03c0_0000;
        /// RMode toward +inf, toward zero; toward -inf with default NaN, flush-to-zero.
        pub(super) const PARENT: [u64; 2] = [0x0040_0000, 0x00c0_0000];
        pub(super) const CHILD: [u64; 2] = [0x0280_0000, 0x0100_0000];

        pub(super) fn read() -> u64 {
            let fpcr: u64;
            // SAFETY: reads FPCR.
            unsafe {
                asm!("mrs {}, fpcr", out(reg) fpcr, options(nomem, nostack, preserves_flags))
            };
            fpcr
        }

        pub(super) fn write(env: u64) {
            // SAFETY: writes FPCR; the values the tests use enable no trap.
            unsafe { asm!("msr fpcr, {}", in(reg) env, options(nomem, nostack, preserves_flags)) };
        }
    }

    /// fcsr: the rounding mode `frm` (bits 7:5).
    #[cfg(target_arch = "riscv64")]
    mod env {
        use super::asm;

        pub(super) const MASK: u64 = 0xe0;
        /// RDN, RTZ; RUP, RMM.
        pub(super) const PARENT: [u64; 2] = [2 << 5, 1 << 5];
        pub(super) const CHILD: [u64; 2] = [3 << 5, 4 << 5];

        pub(super) fn read() -> u64 {
            let fcsr: u64;
            // SAFETY: reads fcsr.
            unsafe { asm!("frcsr {}", out(reg) fcsr, options(nomem, nostack, preserves_flags)) };
            fcsr
        }

        pub(super) fn write(env: u64) {
            // SAFETY: writes fcsr (rounding mode and flags; RISC-V has no FP traps).
            unsafe { asm!("fscsr {}", in(reg) env, options(nomem, nostack, preserves_flags)) };
        }
    }

    use env::{CHILD, MASK, PARENT, read, write};

    struct Fpu {
        ctx: Context,
        /// The child's environment at its start and after each of its two suspends.
        seen: [u64; 3],
    }

    /// The fpu-env test's child: reads and sets the FPU environment around two suspends.
    ///
    /// # Safety
    ///
    /// Entered only through the trampoline, with `data` a live `Fpu` whose `ctx` the child was
    /// started on.
    unsafe extern "C" fn fpu_child(_arg: usize, data: *mut u8) -> ! {
        let f = data.cast::<Fpu>();
        // SAFETY: the parent reads `f` only while this child is switched out; the switches run
        // on this child's stack through its ctx.
        unsafe {
            (*f).seen[0] = read() & MASK;
            write(CHILD[0]);
            suspend(&raw mut (*f).ctx, 0);
            (*f).seen[1] = read() & MASK;
            write(CHILD[1]);
            suspend(&raw mut (*f).ctx, 0);
            (*f).seen[2] = read() & MASK;
            // Leave something else behind: `exit` restores nothing, the parent's resume must.
            write(CHILD[0]);
            exit(&raw const (*f).ctx, 0)
        }
    }

    #[test]
    fn the_fpu_control_state_stays_with_the_side_that_set_it() {
        let stack = Stack::new();
        let f = shared(Fpu {
            ctx: Context::new(),
            seen: [0; 3],
        });
        let original = read();
        // SAFETY: `f` is live until the end of the test; the child runs only inside `resume`.
        let (seen, after) = unsafe {
            start(&raw mut (*f).ctx, &stack, fpu_child, f.cast());
            write(PARENT[0]);
            resume(&raw mut (*f).ctx, 0);
            let first = read() & MASK;
            write(PARENT[1]);
            resume(&raw mut (*f).ctx, 0);
            let second = read() & MASK;
            resume(&raw mut (*f).ctx, 0);
            let third = read() & MASK;
            (Box::from_raw(f).seen, [first, second, third])
        };
        write(original);
        assert_eq!(
            after,
            [PARENT[0], PARENT[1], PARENT[1]],
            "the parent's environment after each switch back (the last one an exit)"
        );
        assert_eq!(
            seen,
            [PARENT[0], CHILD[0], CHILD[1]],
            "the child's: inherited from its first resumer, then its own after each suspend"
        );
    }
}
