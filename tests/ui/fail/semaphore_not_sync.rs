// A coro::sync::Semaphore cannot be shared with another thread.
fn assert_sync<T: Sync>(_: &T) {}

fn main() {
    assert_sync(&coro::sync::Semaphore::new(1));
}
