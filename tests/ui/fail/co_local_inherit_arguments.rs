coro::co_local! {
    #[inherit(deep)]
    static KEY: std::cell::Cell<u32> = std::cell::Cell::new(0);
}

fn main() {}
