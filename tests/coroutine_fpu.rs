//! With the `fpu-env` feature, MXCSR and the x87 control word belong to each side of a switch:
//! a rounding mode set inside one coroutine does not leak to its resumer or to another
//! coroutine. Run with `cargo test --features fpu-env --test coroutine_fpu`.
#![cfg(all(feature = "fpu-env", target_arch = "x86_64"))]
#![allow(deprecated)] // _mm_getcsr/_mm_setcsr are the plain way to reach MXCSR

use std::arch::x86_64::{_mm_getcsr, _mm_setcsr};

use coro::Coroutine;

const ROUND_MASK: u32 = 0b11 << 13;
const ROUND_TOWARD_ZERO: u32 = 0b11 << 13;

fn mxcsr() -> u32 {
    // SAFETY: reading MXCSR has no side effects.
    unsafe { _mm_getcsr() }
}

fn x87_cw() -> u16 {
    let mut cw: u16 = 0;
    // SAFETY: fnstcw stores the x87 control word into `cw`.
    unsafe { std::arch::asm!("fnstcw [{}]", in(reg) &mut cw) };
    cw
}

#[test]
fn rounding_mode_set_in_a_coroutine_does_not_leak() {
    let before = mxcsr();
    let cw_before = x87_cw();
    let mut a = Coroutine::<(), (u32, u16), ()>::new(|y, ()| {
        // SAFETY: changing the rounding mode is harmless for this test's code.
        unsafe { _mm_setcsr((mxcsr() & !ROUND_MASK) | ROUND_TOWARD_ZERO) };
        let cw = x87_cw() | (0b11 << 10); // x87 round toward zero
        // SAFETY: loads a valid control word.
        unsafe { std::arch::asm!("fldcw [{}]", in(reg) &cw) };
        loop {
            y.suspend((mxcsr(), x87_cw()));
        }
    });
    let mut b = Coroutine::<(), (u32, u16), ()>::new(|y, ()| {
        loop {
            y.suspend((mxcsr(), x87_cw()));
        }
    });
    for _ in 0..3 {
        let (a_csr, a_cw) = a.resume(()).unwrap().as_yield().unwrap();
        assert_eq!(
            a_csr & ROUND_MASK,
            ROUND_TOWARD_ZERO,
            "the coroutine keeps its own mode"
        );
        assert_eq!(a_cw & (0b11 << 10), 0b11 << 10);
        assert_eq!(mxcsr(), before, "the resumer's MXCSR is untouched");
        assert_eq!(
            x87_cw(),
            cw_before,
            "the resumer's x87 control word is untouched"
        );
        let (b_csr, b_cw) = b.resume(()).unwrap().as_yield().unwrap();
        assert_eq!(
            b_csr & ROUND_MASK,
            before & ROUND_MASK,
            "another coroutine does not see it"
        );
        assert_eq!(b_cw, cw_before);
    }
}
