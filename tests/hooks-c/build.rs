//! Compiles `c/blocking_client.c` twice: into a static library linked into this crate, and
//! into a shared library that the tests load with `dlopen` (its path in `CORO_HOOKS_C_SO`).

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=c/blocking_client.c");
    cc::Build::new()
        .file("c/blocking_client.c")
        .warnings(true)
        .extra_warnings(true)
        .compile("coro_hooks_c");

    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    let so = out.join("libcoro_hooks_c_dl.so");
    let status = cc::Build::new()
        .get_compiler()
        .to_command()
        .args(["-shared", "-fPIC", "-O2", "-o"])
        .arg(&so)
        .arg("c/blocking_client.c")
        .status()
        .expect("run the C compiler");
    assert!(status.success(), "building {} failed", so.display());
    println!("cargo:rustc-env=CORO_HOOKS_C_SO={}", so.display());
}
