fn main() {
    let _ = coro::go!(shared; let x = 1; x + 1);
}
