#[coro::main(yield = u32)]
fn main() {}
