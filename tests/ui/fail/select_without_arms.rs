fn main() {
    coro::run(|| {
        coro::select! {}
    });
}
