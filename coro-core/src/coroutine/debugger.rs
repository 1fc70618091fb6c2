//! What a debugger needs of a coroutine to show it without running it: where its saved stack
//! pointer and state are in its control block, where a handle keeps the block's address
//! ([`Coroutine::control_word`]), and where the block keeps its stack's top and size and, for
//! a shared stack, the word that names the stack's occupant (whose frames are the ones on it)
//! ([`StackLayout`]). The runtime's registry (`runtime/debugger.rs`) publishes these offsets
//! for coro's gdb script; nothing here runs on a switch.

use std::mem::offset_of;
use std::ptr;

use coro_asm::Context;

use super::Coroutine;
use super::control::{Control, CoroutineState, StackSlot};
use crate::stack::{OwnedStack, Stack};

/// The offset of the saved stack pointer in a control block.
pub(crate) const SP_OFFSET: usize = offset_of!(Control, ctx) + offset_of!(Context, sp);

/// The offset of the state byte (a `CoroutineState`, `repr(u8)`) in a control block.
pub(crate) const STATE_OFFSET: usize = offset_of!(Control, state);

/// The state byte's values, in the order fresh, suspended, running, finished.
pub(crate) const STATES: [u8; 4] = [
    CoroutineState::Fresh as u8,
    CoroutineState::Suspended as u8,
    CoroutineState::Running as u8,
    CoroutineState::Finished as u8,
];

/// Where a debugger finds a coroutine's stack from its control block. The layout of the
/// block's stack slot (an enum) and of the types in it is the compiler's choice, so these are
/// offsets measured on a live block ([`Coroutine::stack_layout`]); they hold for every block of
/// the same kind of stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StackLayout {
    /// An owned stack: the offsets in the control block of its top (highest address) and its
    /// usable size, one word each.
    Owned { top: usize, size: usize },
    /// A shared stack: the offset in the control block of the word that holds an address, and
    /// the offsets from that address of the stack's top and usable size and of the word that
    /// holds the address of the word naming the stack's occupant (a control block, or null).
    Shared {
        handle: usize,
        top: usize,
        size: usize,
        occupant: usize,
    },
}

impl<I, Y, R> Coroutine<I, Y, R> {
    /// The address of the word of this handle that holds the address of the coroutine's
    /// control block.
    pub(crate) fn control_word(&self) -> usize {
        // The handle points at its block's body, whose first field is the control block.
        debug_assert_eq!(
            self.body.as_ptr() as usize,
            ptr::from_ref(self.control()) as usize
        );
        ptr::from_ref(&self.body) as usize
    }

    /// Where a debugger finds this coroutine's stack from its control block (see
    /// [`StackLayout`]); `None` for an owned stack not in place.
    pub(crate) fn stack_layout(&self) -> Option<StackLayout> {
        let control = self.control();
        let block = ptr::from_ref(control) as usize;
        match &control.stack {
            StackSlot::Owned(cell) => {
                // SAFETY: the cell is written only by this coroutine's own functions, on this
                // thread (when it is made and dropped, and for a moment by `stack_use`), none of
                // which runs while this one reads it.
                let stack = unsafe { (*cell.as_ptr()).as_ref() }?;
                let at = ptr::from_ref(stack) as usize - block;
                let (top, size) = stack_words(stack)?;
                Some(StackLayout::Owned {
                    top: at + top,
                    size: at + size,
                })
            }
            StackSlot::Shared { stack, .. } => {
                const { assert!(size_of::<std::rc::Rc<()>>() == size_of::<usize>()) };
                // SAFETY: an `Rc` of a sized value is one pointer (checked above), read as an
                // integer; the copy is not used as an `Rc`.
                let target: usize = unsafe { std::mem::transmute_copy(stack) };
                let owned = ptr::from_ref(&stack.stack) as usize;
                let (top, size) = stack_words(&stack.stack)?;
                Some(StackLayout::Shared {
                    handle: ptr::from_ref(stack) as usize - block,
                    top: (owned + top).wrapping_sub(target),
                    size: (owned + size).wrapping_sub(target),
                    occupant: stack.occupant_field().wrapping_sub(target),
                })
            }
        }
    }
}

/// The offsets of an owned stack's top and size words, found from their values.
fn stack_words(stack: &OwnedStack) -> Option<(usize, usize)> {
    const { assert!(size_of::<OwnedStack>() == 2 * size_of::<usize>()) };
    // SAFETY: an `OwnedStack` is two words (checked above), its top and its size, neither of
    // them padding; they are only read.
    let words: [usize; 2] = unsafe { std::mem::transmute_copy(stack) };
    let at = |v: usize| {
        words
            .iter()
            .position(|&w| w == v)
            .map(|i| i * size_of::<usize>())
    };
    let (top, size) = (at(stack.base())?, at(stack.size())?);
    (top != size).then_some((top, size))
}
