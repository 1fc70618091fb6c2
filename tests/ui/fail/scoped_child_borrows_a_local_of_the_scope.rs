// A scoped child may borrow what outlives the scope, not a local of the scope's closure.
fn main() {
    coro::run(|| {
        coro::scope(|s| {
            let local = String::from("gone when the closure returns");
            s.spawn(|| println!("{local}"));
        });
    });
}
