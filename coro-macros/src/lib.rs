//! The macro DSL of coro: `#[coroutine]`, `#[coro::main]`, `go!`, `co_local!`, `co_yield!`.
//!
//! Use it through the facade crate `coro`; the generated code names everything through `::coro`.
