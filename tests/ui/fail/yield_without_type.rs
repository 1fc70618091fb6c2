#[coro::coroutine(yield)]
fn numbers() {}

fn main() {}
