trait Service {
    #[coro::coroutine]
    fn serve(self);
}

fn main() {}
