fn main() {
    coro::run(|| {
        let (_tx, rx) = coro::channel::unbounded::<u32>();
        coro::select! {
            receive(rx) -> v => drop(v),
        }
    });
}
