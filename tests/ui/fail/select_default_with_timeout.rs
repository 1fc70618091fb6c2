fn main() {
    coro::run(|| {
        let (_tx, rx) = coro::channel::unbounded::<u32>();
        coro::select! {
            recv(rx) -> v => drop(v),
            default(std::time::Duration::from_millis(10)) => {}
        }
    });
}
