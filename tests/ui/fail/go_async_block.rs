fn main() {
    let _ = coro::go!(async { 1 });
}
