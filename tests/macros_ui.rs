//! The compile-time face of the macros (trybuild): every misuse in `tests/ui/fail` is one error
//! with its expected `.stderr`; every file in `tests/ui/pass` compiles and runs.
//!
//! Refresh the expected output after changing a message with `TRYBUILD=overwrite cargo test
//! --test macros_ui`, and read the diff.

#[test]
fn ui() {
    if std::env::var_os("CROSS_TEST_RUNNER").is_some() {
        // Under cross-test, the test binary runs in qemu and trybuild would build the cases
        // for the host with another compiler (Debian's), whose messages differ from the
        // expected ones of the pinned toolchain: the compile-time face is the host's business.
        println!("skipped: macros_ui checks compiler messages on the host toolchain only");
        return;
    }
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/fail/*.rs");
    t.pass("tests/ui/pass/*.rs");
}
