//! The macro DSL of coro: `#[coro::coroutine]`, `#[coro::main]`, `#[coro::test]`, `go!`, `co_local!`,
//! `co_yield!`.
//!
//! Use it through the facade crate `coro`; the generated code names everything through
//! `::coro::__private`. When `coro` is renamed in `Cargo.toml`
//! (`my_coro = { package = "coro-stackful", .. }`), tell each macro with `crate = "my_coro"`:
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
/// generator (`Generator<T, R>`); options `stack_size = N`, `name = ".."`, `unsafe(shared)`,
/// `yield = T`, `crate = ".."`.
///
/// Write it with its path, `#[coro::coroutine]`: a bare `#[coroutine]` is ambiguous with the
/// compiler's built-in (unstable) attribute of that name.
///
/// ```
/// #[coro::coroutine]
/// fn add(a: u32, b: u32) -> u32 {
///     a + b
/// }
///
/// #[coro::coroutine(yield = u32)]
/// fn upto(n: u32) -> &'static str {
///     for i in 0..n {
///         coro::co_yield!(i);
///     }
///     "done"
/// }
///
/// coro::run(|| assert_eq!(add(1, 2).join().unwrap(), 3));
/// let mut g = upto(3); // generators need no runtime
/// assert_eq!(g.by_ref().sum::<u32>(), 3);
/// assert_eq!(g.return_value(), Some("done"));
/// ```
#[proc_macro_attribute]
pub fn coroutine(args: TokenStream, item: TokenStream) -> TokenStream {
    options::emit(coroutine::expand(args.into(), item.into()))
}

/// Runs `fn main`'s body as the first coroutine of a runtime; options `stack_size = N` (main's
/// stack, 8 MiB by default), `replicate = N` (run the body once on each of N threads, each with
/// its own runtime; coroutines never move between threads), `crate = ".."`.
///
/// ```
/// #[coro::main]
/// fn main() -> std::io::Result<()> {
///     let h = coro::go! { 6 * 7 };
///     assert_eq!(h.join().unwrap(), 42);
///     Ok(())
/// }
/// ```
#[proc_macro_attribute]
pub fn main(args: TokenStream, item: TokenStream) -> TokenStream {
    options::emit(entry::expand(entry::Kind::Main, args.into(), item.into()))
}

/// Marks a `#[test]` whose body runs as the first coroutine of a runtime; options as `main`.
///
/// ```no_run
/// #[coro::test]
/// fn spawns() {
///     assert_eq!(coro::go! { 1 }.join().unwrap(), 1);
/// }
/// ```
#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    options::emit(entry::expand(entry::Kind::Test, args.into(), item.into()))
}

/// Spawns an inline coroutine: `go! { stmts }`, `go!(move || expr)`, `go!(opts; { stmts })`.
///
/// ```
/// coro::run(|| {
///     let name = String::from("go");
///     let a = coro::go! { name.len() }; // captures by move
///     let b = coro::go!(move || 40);
///     let c = coro::go!(stack_size = 16384, unsafe(shared); { 2 });
///     assert_eq!(a.join().unwrap() as u32 + b.join().unwrap() + c.join().unwrap(), 44);
/// });
/// ```
#[proc_macro]
pub fn go(input: TokenStream) -> TokenStream {
    options::emit(go::expand(input.into()))
}

/// Declares coroutine-local keys: `co_local! { static NAME: T = init; }`, as `thread_local!`.
///
/// ```
/// use std::cell::Cell;
/// coro::co_local! {
///     static ID: Cell<u32> = Cell::new(0);
/// }
/// coro::run(|| {
///     let hs: Vec<_> = (1..=3)
///         .map(|i| coro::go! { ID.set(i); coro::yield_now(); ID.get() == i })
///         .collect();
///     assert!(hs.into_iter().all(|h| h.join().unwrap()));
/// });
/// assert_eq!(ID.get(), 0); // the thread's own value
/// ```
///
/// A key marked `#[inherit]` (its type `Clone`) is copied into children: a coroutine spawned,
/// or a generator made, by a coroutine that has a value starts with a clone of it.
///
/// ```
/// use std::cell::Cell;
/// coro::co_local! {
///     #[inherit]
///     static TRACE: Cell<u64> = Cell::new(0);
/// }
/// coro::run(|| {
///     TRACE.set(7);
///     let child = coro::go! { TRACE.get() };
///     assert_eq!(child.join().unwrap(), 7);
/// });
/// ```
#[proc_macro]
pub fn co_local(input: TokenStream) -> TokenStream {
    options::emit(co_local::expand(input.into()))
}

/// Gives a value out of a `#[coro::coroutine(yield = T)]` function: `co_yield!(value)`.
///
/// Anywhere else it is a compile error:
///
/// ```compile_fail
/// fn not_a_generator() {
///     coro::co_yield!(1);
/// }
/// ```
#[proc_macro]
pub fn co_yield(input: TokenStream) -> TokenStream {
    options::emit(co_yield::expand(input.into()))
}
