//! The compile-time face of the macros (trybuild): every misuse in `tests/ui/fail` is one error
//! with its expected `.stderr`; every file in `tests/ui/pass` compiles and runs.
//!
//! Refresh the expected output after changing a message with `TRYBUILD=overwrite cargo test
//! --test macros_ui`, and read the diff.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/fail/*.rs");
    t.pass("tests/ui/pass/*.rs");
}
