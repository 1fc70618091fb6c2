coro::co_local! {
    static COUNT = std::cell::Cell::new(0);
}

fn main() {}
