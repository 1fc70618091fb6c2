//! A hierarchical timing wheel with millisecond ticks and no upper bound on a deadline.
//!
//! The wheel is plain data: it never reads a clock and never switches, so it is unit-tested
//! (and could run under Miri) on its own. The runtime converts `Instant`s to ticks.

/// Slots per level. Each level is one base-64 "digit" of the deadline tick.
const SLOTS: usize = 64;
/// log2 of [`SLOTS`].
const SLOT_BITS: u32 = 6;
/// Levels. Level `n` has slots of `64^n` ms, so level 0 covers 64 ms, level 1 ~4 s, level 2
/// ~4.4 min, level 3 ~4.7 h, level 4 ~12.4 days and level 5 ~2.2 years.
const LEVELS: usize = 6;
/// Ticks that the levels span together (`64^6` ms, ~2.2 years). A deadline further away than
/// this is parked in the top level and re-filed each time its slot comes round, so there is
/// no upper bound, only an extra cascade every ~2.2 years.
const SPAN: u64 = 1 << (SLOT_BITS as u64 * LEVELS as u64);
/// End of a slot's list / free list.
const NIL: u32 = u32::MAX;

/// Identifies an inserted timer, for [`Wheel::remove`]. Stale keys (the timer fired or was
/// removed, the slot reused) are recognised and ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TimerKey {
    index: u32,
    generation: u32,
}

/// One timer in the entry slab, linked into a slot's doubly linked list by index.
#[derive(Debug)]
struct Entry<T> {
    /// `Some` while the entry is live.
    value: Option<T>,
    /// The deadline tick.
    when: u64,
    generation: u32,
    /// Where it is filed: (level, slot), valid while live.
    level: u8,
    slot: u8,
    prev: u32,
    next: u32,
}

/// The next slot that needs attention: fire it (level 0) or cascade it to lower levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Expiration {
    level: usize,
    slot: usize,
    /// The tick at which the slot starts.
    deadline: u64,
}

/// A hierarchical timing wheel of `T`s keyed by a deadline in ticks (milliseconds).
///
/// Inserting, removing and firing are O(1); finding the next deadline is a few bit scans.
/// Timers fire in deadline order; timers with the same tick fire in insertion order. Entries
/// live in a slab whose freed slots are reused, so a steady state allocates nothing.
#[derive(Debug)]
pub(crate) struct Wheel<T> {
    /// The tick up to which the wheel has been advanced.
    elapsed: u64,
    /// Per level, one bit per slot that holds at least one entry.
    occupied: [u64; LEVELS],
    /// Per level and slot, (head, tail) of the slot's list.
    slots: Vec<[(u32, u32); SLOTS]>,
    entries: Vec<Entry<T>>,
    free: u32,
    len: usize,
}

impl<T> Default for Wheel<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Wheel<T> {
    /// An empty wheel at tick 0.
    pub(crate) fn new() -> Self {
        Wheel {
            elapsed: 0,
            occupied: [0; LEVELS],
            slots: vec![[(NIL, NIL); SLOTS]; LEVELS],
            entries: Vec::new(),
            free: NIL,
            len: 0,
        }
    }

    /// How many timers are pending.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Removes every timer.
    pub(crate) fn clear(&mut self) {
        *self = Wheel::new();
    }

    /// True when no timer is pending.
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The tick up to which the wheel has been advanced.
    #[cfg(test)]
    pub(crate) fn elapsed(&self) -> u64 {
        self.elapsed
    }

    /// Every pending timer, as its deadline tick and value, in no particular order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u64, &T)> {
        self.entries
            .iter()
            .filter_map(|e| e.value.as_ref().map(|v| (e.when, v)))
    }

    /// Files `value` to fire at tick `when` (a past tick fires on the next [`advance`](Self::advance)).
    pub(crate) fn insert(&mut self, when: u64, value: T) -> TimerKey {
        let index = if self.free != NIL {
            let i = self.free;
            self.free = self.entries[i as usize].next;
            let e = &mut self.entries[i as usize];
            e.value = Some(value);
            e.when = when;
            e.generation = e.generation.wrapping_add(1);
            i
        } else {
            let i = u32::try_from(self.entries.len()).expect("more than 4 billion timers");
            self.entries.push(Entry {
                value: Some(value),
                when,
                generation: 0,
                level: 0,
                slot: 0,
                prev: NIL,
                next: NIL,
            });
            i
        };
        self.len += 1;
        self.file(index);
        TimerKey {
            index,
            generation: self.entries[index as usize].generation,
        }
    }

    /// Takes a pending timer out; `None` if it already fired or was removed.
    pub(crate) fn remove(&mut self, key: TimerKey) -> Option<T> {
        let e = self.entries.get(key.index as usize)?;
        if e.generation != key.generation || e.value.is_none() {
            return None;
        }
        self.unlink(key.index);
        Some(self.release(key.index))
    }

    /// The tick of the earliest pending deadline's slot, if any: the runtime sleeps until then.
    /// It may be earlier than the deadline itself (a higher level's slot that must cascade).
    pub(crate) fn next_deadline(&self) -> Option<u64> {
        self.next_expiration().map(|e| e.deadline)
    }

    /// Moves time forward to tick `now`, handing every timer whose deadline is `<= now` to
    /// `fire`, in deadline order.
    pub(crate) fn advance(&mut self, now: u64, mut fire: impl FnMut(T)) {
        while let Some(exp) = self.next_expiration() {
            if exp.deadline > now {
                break;
            }
            self.elapsed = self.elapsed.max(exp.deadline);
            // Detach the whole slot, then fire or re-file each entry relative to the new time.
            let (mut cur, _) = self.slots[exp.level][exp.slot];
            self.slots[exp.level][exp.slot] = (NIL, NIL);
            self.occupied[exp.level] &= !(1u64 << exp.slot);
            while cur != NIL {
                let next = self.entries[cur as usize].next;
                if self.entries[cur as usize].when <= self.elapsed {
                    fire(self.release(cur));
                } else {
                    self.file(cur);
                }
                cur = next;
            }
        }
        self.elapsed = self.elapsed.max(now);
    }

    /// Puts a live entry at the tail of the slot its deadline maps to, relative to `elapsed`.
    fn file(&mut self, index: u32) {
        let when = self.entries[index as usize].when.max(self.elapsed);
        // Beyond the span, park the entry in the top level; it is re-filed when its slot comes.
        let when = when.min(self.elapsed + SPAN - 1);
        let level = level_for(self.elapsed, when);
        let shift = SLOT_BITS as usize * level;
        let mut slot = ((when >> shift) as usize) & (SLOTS - 1);
        let now_slot = ((self.elapsed >> shift) as usize) & (SLOTS - 1);
        if level == LEVELS - 1 && slot == now_slot {
            // A deadline clamped to the span wraps onto the current top slot; file it in the
            // slot that comes round last instead, ~2.2 years on, where it is re-filed.
            slot = (now_slot + SLOTS - 1) & (SLOTS - 1);
        }
        let (head, tail) = self.slots[level][slot];
        {
            let e = &mut self.entries[index as usize];
            e.level = level as u8;
            e.slot = slot as u8;
            e.prev = tail;
            e.next = NIL;
        }
        if tail == NIL {
            self.slots[level][slot] = (index, index);
        } else {
            self.entries[tail as usize].next = index;
            self.slots[level][slot] = (head, index);
        }
        self.occupied[level] |= 1u64 << slot;
    }

    /// Takes a live entry out of its slot's list.
    fn unlink(&mut self, index: u32) {
        let (level, slot, prev, next) = {
            let e = &self.entries[index as usize];
            (e.level as usize, e.slot as usize, e.prev, e.next)
        };
        let (mut head, mut tail) = self.slots[level][slot];
        if prev == NIL {
            head = next;
        } else {
            self.entries[prev as usize].next = next;
        }
        if next == NIL {
            tail = prev;
        } else {
            self.entries[next as usize].prev = prev;
        }
        self.slots[level][slot] = (head, tail);
        if head == NIL {
            self.occupied[level] &= !(1u64 << slot);
        }
    }

    /// Frees an (already unlinked) entry and returns its value.
    fn release(&mut self, index: u32) -> T {
        let e = &mut self.entries[index as usize];
        let value = e.value.take().expect("released a free timer entry");
        e.next = self.free;
        self.free = index;
        self.len -= 1;
        value
    }

    /// The earliest slot holding entries. Lower levels always come first: an entry sits at the
    /// level of the highest base-64 digit in which its deadline differs from `elapsed`, so every
    /// entry of level `n` falls before the next occupied slot of any level above `n`.
    fn next_expiration(&self) -> Option<Expiration> {
        for level in 0..LEVELS {
            let occupied = self.occupied[level];
            if occupied == 0 {
                continue;
            }
            let shift = SLOT_BITS as usize * level;
            let slot_range = 1u64 << shift;
            let level_range = slot_range << SLOT_BITS;
            let now_slot = ((self.elapsed >> shift) as usize) & (SLOTS - 1);
            // Rotate so that the current slot is bit 0, then find the first occupied one.
            let rotated = occupied.rotate_right(now_slot as u32);
            let offset = rotated.trailing_zeros() as usize;
            let slot = (now_slot + offset) & (SLOTS - 1);
            let level_start = self.elapsed & !(level_range - 1);
            let mut deadline = level_start + slot as u64 * slot_range;
            if slot < now_slot {
                // Only parked far-future entries wrap round to the next turn of the level.
                deadline += level_range;
            }
            // The current slot of a level above 0 started in the past; it is due now.
            let deadline = deadline.max(if level == 0 { deadline } else { self.elapsed });
            return Some(Expiration {
                level,
                slot,
                deadline,
            });
        }
        None
    }
}

/// The level for a deadline: that of the highest base-64 digit where `when` differs from
/// `elapsed` (level 0 when they agree above the lowest digit).
fn level_for(elapsed: u64, when: u64) -> usize {
    let masked = (elapsed ^ when) | (SLOTS as u64 - 1);
    let significant = 63 - masked.leading_zeros() as usize;
    (significant / SLOT_BITS as usize).min(LEVELS - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic generator (xorshift64*), so the tests need no crate.
    fn rng(seed: &mut u64) -> u64 {
        *seed ^= *seed >> 12;
        *seed ^= *seed << 25;
        *seed ^= *seed >> 27;
        seed.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    #[test]
    fn fires_at_deadline_not_before() {
        let mut w = Wheel::new();
        w.insert(5, 'a');
        let mut out = Vec::new();
        w.advance(4, |v| out.push(v));
        assert!(out.is_empty());
        assert_eq!(w.next_deadline(), Some(5));
        w.advance(5, |v| out.push(v));
        assert_eq!(out, vec!['a']);
        assert!(w.is_empty());
        assert_eq!(w.next_deadline(), None);
    }

    #[test]
    fn iter_lists_the_pending_timers_only() {
        let mut w = Wheel::new();
        w.insert(5, 'a');
        let k = w.insert(70, 'b');
        w.insert(9000, 'c');
        w.remove(k);
        w.advance(6, |_| {});
        let mut left: Vec<_> = w.iter().map(|(t, v)| (t, *v)).collect();
        left.sort();
        assert_eq!(left, vec![(9000, 'c')]);
    }

    #[test]
    fn past_deadline_fires_on_next_advance() {
        let mut w = Wheel::new();
        w.advance(1000, |_: u32| {});
        w.insert(10, 7u32);
        let mut out = Vec::new();
        w.advance(1000, |v| out.push(v));
        assert_eq!(out, vec![7]);
    }

    #[test]
    fn ten_thousand_random_timers_fire_in_deadline_order() {
        let mut w = Wheel::new();
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut deadlines = Vec::new();
        for i in 0..10_000u32 {
            // Deadlines from 0 ms up to ~3 hours, spread over every level up to 3.
            let when = rng(&mut seed) % (3 * 3600 * 1000);
            deadlines.push(when);
            w.insert(when, (when, i));
        }
        let mut fired = Vec::new();
        let mut now = 0;
        // Advance in uneven steps, as a loop that wakes on the next deadline or on I/O would.
        while !w.is_empty() {
            let next = w.next_deadline().expect("pending timers have a deadline");
            assert!(next >= now || next == w.elapsed());
            now = next.max(now) + rng(&mut seed) % 3;
            w.advance(now, |(when, i)| {
                assert!(
                    when <= now,
                    "timer {i} for tick {when} fired early at {now}"
                );
                fired.push((when, i));
            });
        }
        assert_eq!(fired.len(), 10_000);
        assert!(
            fired.windows(2).all(|p| p[0].0 <= p[1].0),
            "fired out of deadline order"
        );
        // Same tick: insertion order.
        assert!(
            fired
                .windows(2)
                .all(|p| p[0].0 != p[1].0 || p[0].1 < p[1].1)
        );
        deadlines.sort_unstable();
        assert_eq!(fired.iter().map(|f| f.0).collect::<Vec<_>>(), deadlines);
    }

    #[test]
    fn one_big_advance_fires_everything_in_order() {
        let mut w = Wheel::new();
        let mut seed = 42u64;
        for _ in 0..5_000 {
            let when = rng(&mut seed) % 10_000_000;
            w.insert(when, when);
        }
        let mut fired = Vec::new();
        w.advance(10_000_000, |v| fired.push(v));
        assert_eq!(fired.len(), 5_000);
        assert!(fired.windows(2).all(|p| p[0] <= p[1]));
    }

    #[test]
    fn remove_cancels_and_stale_keys_are_ignored() {
        let mut w = Wheel::new();
        let a = w.insert(100, "a");
        let b = w.insert(100, "b");
        let c = w.insert(5000, "c");
        assert_eq!(w.remove(b), Some("b"));
        assert_eq!(w.remove(b), None);
        assert_eq!(w.len(), 2);
        let mut out = Vec::new();
        w.advance(100, |v| out.push(v));
        assert_eq!(out, vec!["a"]);
        assert_eq!(w.remove(a), None, "a fired already");
        // The freed slot is reused; the old key must not remove the new timer.
        let d = w.insert(200, "d");
        assert_eq!(w.remove(a), None);
        assert_eq!(w.remove(c), Some("c"));
        assert_eq!(w.remove(d), Some("d"));
        assert!(w.is_empty());
    }

    #[test]
    fn ten_minutes_is_accepted() {
        let mut w = Wheel::new();
        let ten_min = 10 * 60 * 1000;
        w.insert(ten_min, ());
        assert!(w.next_deadline().unwrap() <= ten_min);
        let mut n = 0;
        w.advance(ten_min - 1, |()| n += 1);
        assert_eq!(n, 0);
        w.advance(ten_min, |()| n += 1);
        assert_eq!(n, 1);
    }

    #[test]
    fn no_upper_bound() {
        let mut w = Wheel::new();
        let far = SPAN * 3 + 12_345; // ~6.6 years
        w.insert(far, "far");
        w.insert(7, "near");
        let mut out = Vec::new();
        let mut now = 0;
        let mut wakeups = 0;
        while let Some(next) = w.next_deadline() {
            assert!(next >= now, "deadline went backwards");
            now = next;
            wakeups += 1;
            w.advance(now, |v| out.push((v, now)));
        }
        assert_eq!(out, vec![("near", 7), ("far", far)]);
        // Parked in the top level, the far timer costs only a few cascades.
        assert!(wakeups < 40, "{wakeups} wake-ups");
    }

    #[test]
    fn cascades_keep_insertion_order_for_same_tick() {
        let mut w = Wheel::new();
        for i in 0..100 {
            w.insert(70_000, i);
        }
        w.advance(1, |_| {});
        for i in 100..200 {
            w.insert(70_000, i);
        }
        let mut out = Vec::new();
        w.advance(70_000, |v| out.push(v));
        assert_eq!(out, (0..200).collect::<Vec<_>>());
    }

    #[test]
    fn level_for_matches_digits() {
        assert_eq!(level_for(0, 0), 0);
        assert_eq!(level_for(0, 63), 0);
        assert_eq!(level_for(0, 64), 1);
        assert_eq!(level_for(60, 70), 1);
        assert_eq!(level_for(0, 4095), 1);
        assert_eq!(level_for(0, 4096), 2);
        assert_eq!(level_for(0, u64::MAX), LEVELS - 1);
    }
}
