//! `#[coro::main]` with a `Result` return and `?` in the body.

use std::num::ParseIntError;

#[coro::main]
fn main() -> Result<(), ParseIntError> {
    let h = coro::go! { "42".parse::<u32>() };
    let n = h.join().unwrap()?;
    assert_eq!(n, 42);
    Ok(())
}
