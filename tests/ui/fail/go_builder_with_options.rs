// With `builder = ..`, the options belong on the builder.
fn main() {
    coro::run(|| {
        let h = coro::go!(builder = coro::Builder::new(), stack_size = 65536; move || 1);
        h.join().unwrap();
    });
}
