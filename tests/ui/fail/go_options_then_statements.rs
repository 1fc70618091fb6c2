fn main() {
    let _ = coro::go!(unsafe(shared); let x = 1; x + 1);
}
