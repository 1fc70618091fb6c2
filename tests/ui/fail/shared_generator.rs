#[coro::coroutine(yield = u32, unsafe(shared))]
fn numbers() {
    coro::co_yield!(1);
}

fn main() {}
