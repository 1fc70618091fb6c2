// A generator is not spawned: it has no name.
#[coro::coroutine(yield = u32, name = "g")]
fn g() {}

fn main() {}
