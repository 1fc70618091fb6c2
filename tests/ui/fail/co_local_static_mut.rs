coro::co_local! {
    static mut COUNT: u32 = 0;
}

fn main() {}
