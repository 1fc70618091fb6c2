// `spawn_blocking` runs its closure on a pool thread: it cannot take an `Rc` there.
use std::rc::Rc;

fn main() {
    coro::run(|| {
        let rc = Rc::new(1);
        coro::spawn_blocking(move || *rc)
    });
}
