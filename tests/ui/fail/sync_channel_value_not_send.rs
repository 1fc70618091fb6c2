// A cross-thread channel's halves are `Send` only for a `Send` value: a sender of `Rc`s cannot
// move to another thread.
use std::rc::Rc;

fn main() {
    let (tx, _rx) = coro::channel::sync::unbounded::<Rc<u8>>();
    std::thread::spawn(move || {
        let _ = tx.send(Rc::new(1));
    });
}
