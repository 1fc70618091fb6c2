//! The `join(handle)` arm of `select!`: complete once the coroutine has finished, with its
//! result (`std::thread::Result<T>`, as [`JoinHandle::join`] gives it), which the handle then
//! no longer holds. It registers as the handle's joiner, the one slot `join` itself uses; the
//! arm borrows the handle `&mut`, so no other wait on it can be in progress.

use std::thread;

use super::driver::{Op, SelectJoin};
use crate::runtime::JoinHandle;
use crate::runtime::park;

/// A join arm.
struct Join<'a, T> {
    handle: &'a mut JoinHandle<T>,
    waiting: bool,
}

impl<T: 'static> Op for Join<'_, T> {
    type Output = thread::Result<T>;
    fn poll(&mut self) -> Option<Self::Output> {
        self.unregister();
        if self.handle.is_finished() {
            Some(self.handle.take_selected())
        } else {
            None
        }
    }
    fn register(&mut self) -> bool {
        if self.handle.is_finished() {
            return false;
        }
        self.handle.set_waiter(park::current_unparker());
        self.waiting = true;
        true
    }
    fn unregister(&mut self) {
        if self.waiting {
            self.handle.clear_waiter();
            self.waiting = false;
        }
    }
    fn can_block(&self) -> bool {
        park::in_task()
    }
}

impl<T: 'static> SelectJoin for &mut JoinHandle<T> {
    type Output = thread::Result<T>;
    fn select_join(self) -> impl Op<Output = thread::Result<T>> {
        self.check_not_taken();
        Join {
            handle: self,
            waiting: false,
        }
    }
}
