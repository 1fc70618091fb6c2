use coro::co_yield;

fn numbers() {
    co_yield!(1);
}

fn main() {
    numbers();
}
