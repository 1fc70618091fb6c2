//! One file per architecture, chosen at compile time.

#[cfg(target_arch = "x86_64")]
mod x86_64;
#[cfg(target_arch = "x86_64")]
pub use x86_64::*;

#[cfg(not(target_arch = "x86_64"))]
compile_error!(
    "coro supports x86_64 (System V) only for now; aarch64 is planned in arch/aarch64.rs"
);
