#[coro::coroutine]
fn greet(name: &str) -> usize {
    name.len()
}

fn main() {}
