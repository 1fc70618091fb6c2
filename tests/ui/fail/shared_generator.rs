#[coro::coroutine(yield = u32, shared)]
fn numbers() {
    coro::co_yield!(1);
}

fn main() {}
