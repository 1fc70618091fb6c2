#[coro::coroutine(shared)]
fn serve(n: u32) -> u32 {
    n
}

fn main() {}
