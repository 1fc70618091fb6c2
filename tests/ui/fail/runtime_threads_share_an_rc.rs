// A multi-thread runtime runs its closure on every thread at once: it must be `Sync`, so it
// cannot share an `Rc`.
use std::rc::Rc;

fn main() {
    let rc = Rc::new(1);
    coro::Runtime::builder().threads(2).run(|_| *rc);
}
