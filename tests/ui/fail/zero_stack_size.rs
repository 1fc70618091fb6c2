#[coro::coroutine(stack_size = 0)]
fn work() {}

fn main() {}
