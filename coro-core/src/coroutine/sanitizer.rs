//! AddressSanitizer's fiber annotations, in a build made with `-Zsanitizer=address` (the cfg
//! `coro_asan`, which `build.rs` sets from `sanitize = "address"`); in every other build each
//! function here is an empty `#[inline(always)]` one, and the switch is unchanged.
//!
//! ASan keeps the bounds of the stack the thread runs on, to tell stack memory from the rest
//! and to clear a stack's shadow when an exception unwinds it
//! (`__asan_handle_no_return`). A switch of stacks must say so: `__sanitizer_start_switch_fiber`
//! just before it, with the bounds of the stack being entered, and
//! `__sanitizer_finish_switch_fiber` just after it, on the new stack, which hands back the
//! bounds of the stack that was left. Each side keeps the handle of its own "fake stack"
//! (where ASan moves locals to catch a use after return) across the switch; a coroutine that
//! ends passes none, and ASan frees its fake stack.
//!
//! Switches are asymmetric and nest like calls (a child always switches back to the coroutine
//! that resumed it), so the bounds a child must switch back to are kept on a per-thread stack:
//! pushed when the child has entered, popped when it leaves.
//!
//! Shared stacks: the frames a shared-stack coroutine leaves are copied out and back, redzones
//! (the poisoned bytes ASan puts between locals) included, and ASan's shadow of them stays with
//! the addresses, not with the copy. So [`unpoison`] clears the shadow of the span a copy
//! reads or writes, just before it: the copy reads no poisoned byte, and the frames copied
//! back do not find the shadow of another coroutine's frames at their addresses. The frames
//! that come back have no redzones until their functions are entered again: an overflow of a
//! local in a frame that was evicted and restored is not caught; everything else is (see the
//! book's chapter "Debuggers and sanitizers").

#[cfg(coro_asan)]
pub(super) use self::asan::*;
#[cfg(not(coro_asan))]
pub(super) use self::off::*;

#[cfg(coro_asan)]
mod asan {
    use std::cell::RefCell;
    use std::ffi::c_void;
    use std::ptr;

    use super::super::control::{Control, StackSlot};
    use crate::stack::Stack;

    unsafe extern "C" {
        fn __sanitizer_start_switch_fiber(
            fake_stack_save: *mut *mut c_void,
            bottom: *const c_void,
            size: usize,
        );
        fn __sanitizer_finish_switch_fiber(
            fake_stack_save: *mut c_void,
            bottom_old: *mut *const c_void,
            size_old: *mut usize,
        );
        fn __asan_unpoison_memory_region(addr: *const c_void, size: usize);
    }

    /// A fake-stack handle, kept by one side across a switch.
    pub(in crate::coroutine) type FakeStack = *mut c_void;

    thread_local! {
        /// The bounds (lowest address, size) of the stack each coroutine of the thread's resume
        /// chain was entered from, innermost last.
        static PARENTS: RefCell<Vec<(usize, usize)>> = const { RefCell::new(Vec::new()) };
    }

    /// The bounds of the stack `control` runs on.
    fn bounds(control: &Control) -> (usize, usize) {
        match &control.stack {
            StackSlot::Owned(cell) => {
                let stack = cell.take();
                let b = stack.as_ref().map_or((0, 0), |s| (s.limit(), s.size()));
                cell.set(stack);
                b
            }
            StackSlot::Shared { stack, .. } => (stack.limit(), stack.base() - stack.limit()),
        }
    }

    /// The parent, just before it switches into `child`: returns its fake stack.
    #[inline(always)]
    pub(in crate::coroutine) fn resume_start(child: &Control) -> FakeStack {
        let (bottom, size) = bounds(child);
        let mut fake = ptr::null_mut();
        // SAFETY: the bounds are the child's stack, which the switch that follows enters.
        unsafe { __sanitizer_start_switch_fiber(&mut fake, bottom as *const c_void, size) };
        fake
    }

    /// The parent, back on its stack after the child suspended or ended.
    #[inline(always)]
    pub(in crate::coroutine) fn resume_finish(fake: FakeStack) {
        // SAFETY: `fake` is what `resume_start` saved on this side; the old bounds are not
        // needed (they are the child's, which the child keeps).
        unsafe { __sanitizer_finish_switch_fiber(fake, ptr::null_mut(), ptr::null_mut()) };
    }

    /// The child, on its stack for the first time (with no fake stack yet).
    #[inline(always)]
    pub(in crate::coroutine) fn started() {
        entered(ptr::null_mut());
    }

    /// The child, on its stack after a switch into it: the return of its `suspend`, with the
    /// fake stack it saved there.
    #[inline(always)]
    pub(in crate::coroutine) fn entered(fake: FakeStack) {
        let (mut bottom, mut size) = (ptr::null(), 0);
        // SAFETY: `fake` is null or what `leaving` saved on this side.
        unsafe { __sanitizer_finish_switch_fiber(fake, &mut bottom, &mut size) };
        PARENTS.with(|p| p.borrow_mut().push((bottom as usize, size)));
    }

    /// The child, just before it switches back to its parent; `ends` when it never runs
    /// again (ASan then frees its fake stack). Returns its fake stack.
    #[inline(always)]
    pub(in crate::coroutine) fn leaving(ends: bool) -> FakeStack {
        let (bottom, size) = PARENTS
            .with(|p| p.borrow_mut().pop())
            .expect("a running coroutine was entered");
        let mut fake = ptr::null_mut();
        let save: *mut FakeStack = if ends { ptr::null_mut() } else { &mut fake };
        // SAFETY: the bounds are the parent's stack, which the switch that follows enters.
        unsafe { __sanitizer_start_switch_fiber(save, bottom as *const c_void, size) };
        fake
    }

    /// Clears ASan's shadow of `addr .. addr + len`, part of a shared stack that frames are
    /// copied out of or into (see the header).
    #[inline]
    pub(in crate::coroutine) fn unpoison(addr: usize, len: usize) {
        // SAFETY: only ASan's shadow of the span changes; the span is mapped stack memory.
        unsafe { __asan_unpoison_memory_region(addr as *const c_void, len) };
    }
}

#[cfg(not(coro_asan))]
mod off {
    use super::super::control::Control;

    /// Nothing: see the ASan build's version.
    #[derive(Clone, Copy)]
    pub(in crate::coroutine) struct FakeStack;

    #[inline(always)]
    pub(in crate::coroutine) fn resume_start(_child: &Control) -> FakeStack {
        FakeStack
    }

    #[inline(always)]
    pub(in crate::coroutine) fn resume_finish(_fake: FakeStack) {}

    #[inline(always)]
    pub(in crate::coroutine) fn started() {}

    #[inline(always)]
    pub(in crate::coroutine) fn entered(_fake: FakeStack) {}

    #[inline(always)]
    pub(in crate::coroutine) fn leaving(_ends: bool) -> FakeStack {
        FakeStack
    }

    #[inline(always)]
    pub(in crate::coroutine) fn unpoison(_addr: usize, _len: usize) {}
}
