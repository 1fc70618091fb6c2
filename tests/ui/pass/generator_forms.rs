//! Generator forms that must compile: free, generic, method, attributes kept, unit yield.

use coro::co_yield;

/// Docs and attributes stay on the function.
#[must_use]
#[coro::coroutine(yield = u32)]
fn count(n: u32) -> u32 {
    #![allow(unused_mut)]
    let mut total = 0;
    for i in 0..n {
        co_yield!(i);
        total += i;
    }
    total
}

#[coro::coroutine(yield = T, stack_size = 65536)]
fn twice<T>(value: T) -> Option<T>
where
    T: Clone,
{
    co_yield!(value.clone());
    co_yield!(value.clone());
    Some(value)
}

struct Walker(Vec<u8>);

impl Walker {
    #[coro::coroutine(yield = u8)]
    fn walk(self) {
        for b in self.0 {
            co_yield!(b);
        }
    }
}

#[coro::coroutine(yield = ())]
fn ticks() {
    co_yield!();
}

fn main() {
    let g: coro::Generator<u32, u32> = count(3);
    assert_eq!(g.into_return(), 3);
    assert_eq!(twice(5).count(), 2);
    assert_eq!(Walker(vec![1, 2]).walk().sum::<u8>(), 3);
    assert_eq!(ticks().count(), 1);
}
