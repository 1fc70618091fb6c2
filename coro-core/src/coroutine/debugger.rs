//! What a debugger needs of a coroutine to show it without running it ([`DebugView`]): where
//! its control block is (the saved stack pointer is the block's first word, the state a byte
//! at [`STATE_OFFSET`]), its stack, and for a shared stack the word that names the stack's
//! occupant (whose frames are the ones on it). The runtime's registry (`runtime/debugger.rs`)
//! copies it into the records that coro's gdb script reads; nothing here runs on a switch.

use std::mem::offset_of;

use coro_asm::Context;

use super::Coroutine;
use super::control::{Control, CoroutineState, StackSlot};
use crate::stack::Stack;

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

/// Where a debugger finds one coroutine in memory.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DebugView {
    /// The control block: saved stack pointer at [`SP_OFFSET`], state at [`STATE_OFFSET`].
    pub(crate) control: usize,
    /// The top (highest address) of the stack it runs on.
    pub(crate) stack_top: usize,
    /// The usable bytes of that stack.
    pub(crate) stack_size: usize,
    /// For a shared stack, the address of the word that names its occupant (the control block
    /// whose frames are on the stack now); 0 for an owned stack.
    pub(crate) occupant_slot: usize,
}

impl<I, Y, R> Coroutine<I, Y, R> {
    /// Where a debugger finds this coroutine (see [`DebugView`]).
    pub(crate) fn debug_view(&self) -> DebugView {
        let control = self.control();
        let (stack_top, stack_size, occupant_slot) = match &control.stack {
            StackSlot::Owned(cell) => {
                let stack = cell.take();
                let (top, size) = stack.as_ref().map_or((0, 0), |s| (s.base(), s.size()));
                cell.set(stack);
                (top, size, 0)
            }
            StackSlot::Shared { stack, .. } => (
                stack.base(),
                stack.base() - stack.limit(),
                stack.occupant_slot() as usize,
            ),
        };
        DebugView {
            control: control.as_owner() as usize,
            stack_top,
            stack_size,
            occupant_slot,
        }
    }
}
