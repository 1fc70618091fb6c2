//! Coroutine-local storage (`co_local!`). The storage itself arrives with the macro DSL; the
//! coroutine core already calls [`drop_locals`] when a body ends.

use std::cell::Cell;

/// Drops the coroutine-local values of a coroutine whose body has ended. Called on the
/// coroutine's own stack, before it is released.
pub(crate) fn drop_locals(slot: &Cell<*mut ()>) {
    debug_assert!(
        slot.get().is_null(),
        "co_local storage is not implemented yet"
    );
}
