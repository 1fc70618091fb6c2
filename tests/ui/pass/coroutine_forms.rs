//! `#[coro::coroutine]` forms that must compile: docs and attributes kept, inner attributes,
//! generics with where clauses, `impl Trait` arguments and returns, `mut` and pattern arguments.

use coro::JoinHandle;

/// Docs stay.
#[must_use = "join the handle"]
#[coro::coroutine]
pub fn pair<A, B>(a: A, (b, _ignored): (B, u8)) -> (A, B)
where
    A: Clone,
{
    #![allow(clippy::clone_on_copy)]
    (a.clone(), b)
}

#[coro::coroutine(stack_size = 16 * 1024)]
fn counter(mut n: u32) -> impl std::fmt::Debug {
    n += 1;
    n
}

#[coro::coroutine]
fn describe(x: impl std::fmt::Display) -> String {
    x.to_string()
}

struct S(u8);

impl S {
    #[coro::coroutine(shared = false)]
    fn into_inner(self) -> u8 {
        self.0
    }
}

fn main() {
    coro::run(|| {
        let h: JoinHandle<(u8, &str)> = pair(1u8, ("b", 0));
        assert_eq!(h.join().unwrap(), (1, "b"));
        println!("{:?}", counter(1).join().unwrap());
        assert_eq!(describe(5).join().unwrap(), "5");
        assert_eq!(S(9).into_inner().join().unwrap(), 9);
    });
}
