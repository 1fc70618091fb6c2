#[coro::coroutine(yield = u32)]
fn numbers() {
    coro::co_yield!(1, 2);
}

fn main() {}
