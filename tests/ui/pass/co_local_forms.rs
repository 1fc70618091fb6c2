//! `co_local!` forms that must compile: several keys, visibility, docs, `const` initializers.

use std::cell::{Cell, RefCell};

coro::co_local! {
    /// A counter.
    pub static COUNT: Cell<u32> = Cell::new(0);
    static LOG: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
    pub(crate) static NAME: String = String::from("none")
}

fn main() {
    COUNT.set(COUNT.get() + 1);
    LOG.with_borrow_mut(|l| l.push("x".into()));
    NAME.with(|n| assert_eq!(n, "none"));
}
