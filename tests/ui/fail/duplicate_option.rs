#[coro::coroutine(shared, shared)]
fn work() {}

fn main() {}
