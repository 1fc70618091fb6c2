fn main() {
    let _ = coro::go!(move |x: u32| x + 1);
}
