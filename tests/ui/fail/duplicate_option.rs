#[coro::coroutine(unsafe(shared), unsafe(shared))]
fn work() {}

fn main() {}
