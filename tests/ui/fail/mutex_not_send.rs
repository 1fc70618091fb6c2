// A coro::sync::Mutex belongs to the thread of its coroutines: it cannot be sent to another.
fn assert_send<T: Send>(_: T) {}

fn main() {
    assert_send(coro::sync::Mutex::new(0));
}
