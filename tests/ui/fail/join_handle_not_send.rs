// A JoinHandle stays on the thread of the coroutine it waits for.
fn assert_send<T: Send>(_: T) {}

fn main() {
    coro::run(|| {
        let h = coro::spawn(|| 1);
        assert_send(h);
    });
}
