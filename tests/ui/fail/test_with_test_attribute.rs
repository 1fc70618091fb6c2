#[coro::test]
#[test]
fn works() {}

fn main() {}
