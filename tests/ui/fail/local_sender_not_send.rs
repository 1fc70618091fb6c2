// A local channel's sender cannot move to another thread; `coro::channel::sync` can.
fn main() {
    let (tx, _rx) = coro::channel::unbounded::<u8>();
    std::thread::spawn(move || tx.send(1));
}
