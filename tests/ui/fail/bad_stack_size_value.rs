#[coro::coroutine(stack_size = "64k")]
fn work() {}

fn main() {}
