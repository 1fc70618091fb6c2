//! [`Extension`]: the coroutine layer's extension point, one word in every control block that a
//! layer above owns, and the [`EndHook`] that layer registers to end what the word holds.
//!
//! The coroutine layer knows nothing of what is built on it. Coroutine-local storage
//! (`crate::local`) needs a place per coroutine for its values and a moment, on the coroutine's
//! own stack, to drop them when the body ends; this is that place and that moment, with the
//! owner's type erased:
//!
//! - the word is null in a new control block; the layer above reads and writes it while the
//!   coroutine runs (through `current_extension`), and the coroutine layer never looks at what
//!   it points to;
//! - when the body has ended (returned, panicked, or unwound by a drop), still on the
//!   coroutine's stack, the coroutine layer calls the registered hook with the word if it is
//!   not null; a panic of the hook becomes the body's panic, unless the body panicked already.
//!
//! The hook is a `fn` pointer in a static, registered once, so that a control block carries
//! one word for the layers above and nothing more: the memory per suspended coroutine is
//! mostly its control block.

use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe};
use std::ptr;
use std::sync::OnceLock;

/// One word per coroutine for the layer above (see the module's header): null until that
/// layer sets it, what it points to owned by that layer.
#[derive(Debug)]
pub(crate) struct Extension {
    word: Cell<*mut ()>,
}

impl Extension {
    /// An empty (null) word, as every new control block has.
    pub(crate) const fn new() -> Extension {
        Extension {
            word: Cell::new(ptr::null_mut()),
        }
    }

    /// The word.
    #[inline]
    pub(crate) fn get(&self) -> *mut () {
        self.word.get()
    }

    /// Sets the word. A layer that sets it non-null must have registered its [`EndHook`]
    /// first (see [`set_end_hook`]), or what the word holds is never ended.
    #[inline]
    pub(crate) fn set(&self, word: *mut ()) {
        self.word.set(word);
    }

    /// Sets the word and returns what it held.
    #[inline]
    pub(crate) fn replace(&self, word: *mut ()) -> *mut () {
        self.word.replace(word)
    }
}

/// Ends what a coroutine's [`Extension`] holds: called on the coroutine's own stack after its
/// body ended, only when the word is not null. It should leave the word null.
pub(crate) type EndHook = fn(&Extension);

/// The one registered [`EndHook`].
static END_HOOK: OnceLock<EndHook> = OnceLock::new();

/// Registers the hook that ends what the extension words hold. One layer owns the words: the
/// first registration stays. Register before the first word is set; after the first time it
/// costs a load and a branch.
#[inline]
pub(crate) fn set_end_hook(hook: EndHook) {
    END_HOOK.get_or_init(|| hook);
}

/// Runs the registered hook on `ext` if its word is set, catching a panic of the hook; called
/// by the coroutine's entry function when the body has ended.
#[inline]
pub(crate) fn end(ext: &Extension) -> std::thread::Result<()> {
    if ext.get().is_null() {
        return Ok(());
    }
    // A word is set only after its hook was registered (see `Extension::set`).
    match END_HOOK.get() {
        Some(hook) => panic::catch_unwind(AssertUnwindSafe(|| hook(ext))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_word_calls_no_hook() {
        let ext = Extension::new();
        assert!(ext.get().is_null());
        assert!(end(&ext).is_ok());
        let mut x = 5u32;
        let p = (&raw mut x).cast::<()>();
        ext.set(p);
        assert_eq!(ext.replace(ptr::null_mut()), p);
        assert!(ext.get().is_null());
    }
}
