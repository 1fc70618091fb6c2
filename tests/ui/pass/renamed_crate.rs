//! `crate = ".."` makes the expansion name coro through another path, as a renamed dependency
//! (`my_coro = { package = "coro-stackful", .. }`) needs.

mod my_coro {
    pub use ::coro::*;
}

#[coro::coroutine(yield = u32, crate = "crate::my_coro")]
fn one() {
    coro::co_yield!(1);
}

coro::co_local! {
    crate = "crate::my_coro";
    static N: std::cell::Cell<u32> = std::cell::Cell::new(2);
}

fn main() {
    assert_eq!(one().sum::<u32>() + N.get(), 3);
}
