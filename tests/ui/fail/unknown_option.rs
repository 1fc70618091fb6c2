#[coro::coroutine(stak_size = 65536)]
fn work() {}

fn main() {}
