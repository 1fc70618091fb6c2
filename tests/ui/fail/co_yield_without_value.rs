#[coro::coroutine(yield = u32)]
fn numbers() {
    coro::co_yield!();
}

fn main() {}
