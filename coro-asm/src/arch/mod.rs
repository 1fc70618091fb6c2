//! One file per architecture, chosen at compile time.

#[cfg(target_arch = "x86_64")]
mod x86_64;
#[cfg(target_arch = "x86_64")]
pub use x86_64::*;

#[cfg(target_arch = "aarch64")]
mod aarch64;
#[cfg(target_arch = "aarch64")]
pub use aarch64::*;

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
compile_error!(
    "coro supports x86_64 (System V) and aarch64 (AAPCS64) only for now; riscv64 is planned; \
     each architecture's switch lives in its own file in coro-asm/src/arch/"
);
