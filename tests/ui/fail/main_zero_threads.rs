#[coro::main(replicate = 0)]
fn main() {}
