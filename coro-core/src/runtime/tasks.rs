//! [`TaskSlab`]: the live tasks of a scheduler, by key. A key (index and generation) is what
//! travels to other threads for a wake-up: a stale one finds nothing.

use std::rc::Rc;

use super::task::Task;

/// The tasks that are alive, by slab key.
#[derive(Debug, Default)]
pub(crate) struct TaskSlab {
    slots: Vec<TaskSlot>,
    free: Vec<u32>,
    live: usize,
}

/// One slot of a [`TaskSlab`]. In C layout, because coro's gdb script reads the slots from a
/// stopped process (see `runtime/debugger.rs`): the task is the word at `offset_of!(TaskSlot,
/// task)`, 0 for an empty slot.
#[repr(C)]
#[derive(Debug)]
pub(crate) struct TaskSlot {
    generation: u32,
    pub(crate) task: Option<Rc<Task>>,
}

impl TaskSlab {
    /// Adds a task; returns its key.
    pub(crate) fn insert(&mut self, task: Rc<Task>) -> (u32, u32) {
        self.live += 1;
        if let Some(i) = self.free.pop() {
            let slot = &mut self.slots[i as usize];
            slot.generation = slot.generation.wrapping_add(1);
            slot.task = Some(task);
            (i, slot.generation)
        } else {
            let i = self.slots.len() as u32;
            self.slots.push(TaskSlot {
                generation: 0,
                task: Some(task),
            });
            (i, 0)
        }
    }

    /// The task with this key, if it still lives.
    pub(crate) fn get(&self, (i, generation): (u32, u32)) -> Option<&Rc<Task>> {
        match self.slots.get(i as usize) {
            Some(TaskSlot {
                generation: g,
                task: Some(t),
            }) if *g == generation => Some(t),
            _ => None,
        }
    }

    /// Takes the task with this key out.
    pub(crate) fn remove(&mut self, (i, generation): (u32, u32)) -> Option<Rc<Task>> {
        let slot = self.slots.get_mut(i as usize)?;
        if slot.generation != generation || slot.task.is_none() {
            return None;
        }
        self.free.push(i);
        self.live -= 1;
        slot.task.take()
    }

    /// How many tasks live.
    pub(crate) fn live(&self) -> usize {
        self.live
    }

    /// Every live task.
    pub(crate) fn all(&self) -> Vec<Rc<Task>> {
        self.slots.iter().filter_map(|s| s.task.clone()).collect()
    }

    /// The slots, empty ones included, for the debugger's registry.
    pub(crate) fn slots(&self) -> &[TaskSlot] {
        &self.slots
    }

    /// Takes out every live task for which `pred` holds.
    pub(crate) fn take_where(&mut self, pred: impl Fn(&Rc<Task>) -> bool) -> Vec<Rc<Task>> {
        let keys: Vec<_> = self
            .slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.task.as_ref().is_some_and(&pred))
            .map(|(i, s)| (i as u32, s.generation))
            .collect();
        keys.into_iter().filter_map(|k| self.remove(k)).collect()
    }
}

impl Drop for TaskSlab {
    fn drop(&mut self) {
        // The debugger's registry must not keep the address of the slots once they are freed.
        super::debugger::slab_dropped(self);
    }
}
