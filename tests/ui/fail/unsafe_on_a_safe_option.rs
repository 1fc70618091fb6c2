#[coro::coroutine(unsafe(stack_size = 65536))]
fn serve(n: u32) -> u32 {
    n
}

fn main() {}
