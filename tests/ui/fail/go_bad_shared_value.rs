fn main() {
    let _ = coro::go!(shared = 3; { 1 });
}
