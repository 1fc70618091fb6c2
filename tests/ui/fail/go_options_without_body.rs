fn main() {
    let _ = coro::go!(stack_size = 16384);
}
