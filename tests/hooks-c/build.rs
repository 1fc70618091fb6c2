//! Compiles `c/blocking_client.c` into a static library linked into this crate.

fn main() {
    println!("cargo:rerun-if-changed=c/blocking_client.c");
    cc::Build::new()
        .file("c/blocking_client.c")
        .warnings(true)
        .extra_warnings(true)
        .compile("coro_hooks_c");
}
