// `stack_size` on main, `name` on go! and #[coroutine], and go!'s builder form.
#[coro::coroutine(name = "adder")]
fn add(a: u32, b: u32) -> (u32, Option<String>) {
    (a + b, coro::current().unwrap().name)
}

#[coro::main(stack_size = 4 << 20)]
fn main() {
    let (sum, name) = add(1, 2).join().unwrap();
    assert_eq!((sum, name.as_deref()), (3, Some("adder")));
    let h = coro::go!(name = "worker", stack_size = 65536; move || coro::current().unwrap().name);
    assert_eq!(h.join().unwrap().as_deref(), Some("worker"));
    let b = coro::Builder::new().name("built").stack_size(1 << 20);
    let h = coro::go!(builder = b; move || coro::current().unwrap().name);
    assert_eq!(h.join().unwrap().as_deref(), Some("built"));
}
