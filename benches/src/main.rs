//! coro-bench: measures coro beside its peers. Suites come in later commits.
fn main() {}
