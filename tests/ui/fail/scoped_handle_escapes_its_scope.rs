// A scoped child's handle cannot outlive its scope.
fn main() {
    coro::run(|| {
        let x = 1;
        let h = coro::scope(|s| s.spawn(|| x));
        let _ = h.join();
    });
}
