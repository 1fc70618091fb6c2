#[coro::main(replicate = 2)]
fn serve() -> u32 {
    0
}

fn main() {
    serve();
}
