#[coro::coroutine]
fn first<'a>(items: Vec<&'a str>) -> usize {
    items.len()
}

fn main() {}
