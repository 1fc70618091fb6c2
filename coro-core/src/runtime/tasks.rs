//! [`TaskSlab`]: the live tasks of a scheduler, by key. A key (index and generation) is what
//! travels to other threads for a wake-up: a stale one finds nothing.

use std::rc::Rc;

use super::task::Task;

/// The tasks that are alive, by slab key.
#[derive(Debug, Default)]
pub(crate) struct TaskSlab {
    slots: Vec<(u32, Option<Rc<Task>>)>,
    free: Vec<u32>,
    live: usize,
}

impl TaskSlab {
    /// Adds a task; returns its key.
    pub(crate) fn insert(&mut self, task: Rc<Task>) -> (u32, u32) {
        self.live += 1;
        if let Some(i) = self.free.pop() {
            let slot = &mut self.slots[i as usize];
            slot.0 = slot.0.wrapping_add(1);
            slot.1 = Some(task);
            (i, slot.0)
        } else {
            let i = self.slots.len() as u32;
            self.slots.push((0, Some(task)));
            (i, 0)
        }
    }

    /// The task with this key, if it still lives.
    pub(crate) fn get(&self, (i, generation): (u32, u32)) -> Option<&Rc<Task>> {
        match self.slots.get(i as usize) {
            Some((g, Some(t))) if *g == generation => Some(t),
            _ => None,
        }
    }

    /// Takes the task with this key out.
    pub(crate) fn remove(&mut self, (i, generation): (u32, u32)) -> Option<Rc<Task>> {
        let slot = self.slots.get_mut(i as usize)?;
        if slot.0 != generation || slot.1.is_none() {
            return None;
        }
        self.free.push(i);
        self.live -= 1;
        slot.1.take()
    }

    /// How many tasks live.
    pub(crate) fn live(&self) -> usize {
        self.live
    }

    /// Every live task.
    pub(crate) fn all(&self) -> Vec<Rc<Task>> {
        self.slots.iter().filter_map(|(_, t)| t.clone()).collect()
    }

    /// Takes out every live task for which `pred` holds.
    pub(crate) fn take_where(&mut self, pred: impl Fn(&Rc<Task>) -> bool) -> Vec<Rc<Task>> {
        let keys: Vec<_> = self
            .slots
            .iter()
            .enumerate()
            .filter(|(_, (_, t))| t.as_ref().is_some_and(&pred))
            .map(|(i, (g, _))| (i as u32, *g))
            .collect();
        keys.into_iter().filter_map(|k| self.remove(k)).collect()
    }
}
