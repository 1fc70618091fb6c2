struct Server;

impl Server {
    #[coro::coroutine]
    fn serve(&self) {}
}

fn main() {}
