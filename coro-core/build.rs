//! Turns on coro's AddressSanitizer fiber annotations (`src/coroutine/sanitizer.rs`) in a build
//! made with `-Zsanitizer=address` (nightly): `cfg(sanitize = "address")` itself cannot be
//! used in stable code (error E0658 without `#![feature(cfg_sanitize)]`), so the cfg cargo
//! hands build scripts (`CARGO_CFG_SANITIZE`) becomes the stable cfg `coro_asan`, declared for
//! check-cfg so that stable builds stay warning-free.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(coro_asan)");
    println!("cargo::rerun-if-changed=build.rs");
    let sanitize = std::env::var("CARGO_CFG_SANITIZE").unwrap_or_default();
    if sanitize.split(',').any(|s| s == "address") {
        println!("cargo::rustc-cfg=coro_asan");
    }
}
