coro::co_local! {
    const COUNT: u32 = 0;
}

fn main() {}
