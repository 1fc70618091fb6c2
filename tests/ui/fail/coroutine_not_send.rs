// A Coroutine lives and dies on the thread that made it (thread-locals stay sound).
fn need_send<T: Send>(_: T) {}

fn main() {
    need_send(coro::Coroutine::<(), (), ()>::new(|_, ()| {}));
}
