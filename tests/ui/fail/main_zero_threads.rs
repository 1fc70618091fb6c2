#[coro::main(threads = 0)]
fn main() {}
