fn main() {
    let _ = coro::go!(stak_size = 16384; { 1 });
}
