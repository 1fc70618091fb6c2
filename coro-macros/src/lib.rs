//! The macro DSL of coro: `#[coro::coroutine]`, `#[coro::main]`, `#[coro::test]`, `go!`, `co_local!`,
//! `co_yield!`.
//!
//! Use it through the facade crate `coro`; the generated code names everything through
//! `::coro::__private`. When `coro` is renamed in `Cargo.toml`
//! (`my_coro = { package = "coro", .. }`), tell each macro with `crate = "my_coro"`:
//! `#[coro::coroutine(crate = "my_coro")]`, `#[my_coro::main(crate = "my_coro")]`,
//! `go!(crate = "my_coro"; { .. })`, `co_local! { crate = "my_coro"; static .. }`.
//!
//! Each macro lives in its own file and goes parse, then validate, then expand; errors become
//! `compile_error!` in one place (`options::emit`).

mod co_local;
mod co_yield;
mod coroutine;
mod go;
// `#[coro::main]` lives in main.rs (one file per macro); `autobins = false` keeps it out of
// cargo's binaries, and the module is named `entry` because rustc reserves `mod main`.
#[path = "main.rs"]
mod entry;
mod options;

use proc_macro::TokenStream;

/// Makes a function spawn its body as a coroutine (`JoinHandle<R>`), or with `yield = T` a
/// generator (`Generator<T, R>`); options `stack_size = N`, `shared`, `yield = T`, `crate = ".."`.
#[proc_macro_attribute]
pub fn coroutine(args: TokenStream, item: TokenStream) -> TokenStream {
    options::emit(coroutine::expand(args.into(), item.into()))
}

/// Runs `fn main`'s body as the first coroutine of a runtime; options `threads = N`, `crate = ".."`.
#[proc_macro_attribute]
pub fn main(args: TokenStream, item: TokenStream) -> TokenStream {
    options::emit(entry::expand(entry::Kind::Main, args.into(), item.into()))
}

/// Marks a `#[test]` whose body runs as the first coroutine of a runtime; options as `main`.
#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    options::emit(entry::expand(entry::Kind::Test, args.into(), item.into()))
}

/// Spawns an inline coroutine: `go! { stmts }`, `go!(move || expr)`, `go!(opts; { stmts })`.
#[proc_macro]
pub fn go(input: TokenStream) -> TokenStream {
    options::emit(go::expand(input.into()))
}

/// Declares coroutine-local keys: `co_local! { static NAME: T = init; }`, as `thread_local!`.
#[proc_macro]
pub fn co_local(input: TokenStream) -> TokenStream {
    options::emit(co_local::expand(input.into()))
}

/// Gives a value out of a `#[coro::coroutine(yield = T)]` function: `co_yield!(value)`.
#[proc_macro]
pub fn co_yield(input: TokenStream) -> TokenStream {
    options::emit(co_yield::expand(input.into()))
}
