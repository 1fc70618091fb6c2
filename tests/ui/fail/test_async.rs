#[coro::test]
async fn works() {}

fn main() {}
