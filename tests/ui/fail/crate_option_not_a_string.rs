#[coro::coroutine(yield = u32, crate = my_coro)]
fn numbers() {}

fn main() {}
