//! `#[inherit]` co_local keys: a coroutine spawned by a coroutine (or made as a generator)
//! starts with a clone of the spawner's value; without `#[inherit]` it starts fresh. Changes
//! after the spawn stay on their side; every clone is dropped with its coroutine.

use std::cell::{Cell, RefCell};

use coro::co_local;

co_local! {
    /// The request id a handler passes down to what it spawns.
    #[inherit]
    static REQUEST: Cell<u64> = Cell::new(0);
    #[inherit]
    static TRAIL: RefCell<Vec<&'static str>> = RefCell::new(Vec::new());
    /// Not inherited: each coroutine starts from the initializer.
    static PLAIN: Cell<u64> = Cell::new(0);
    #[inherit]
    static COUNTED: Counted = Counted::new();
    #[inherit]
    static FRAGILE: Fragile = Fragile;
}

/// A value whose clone panics while `FAIL_CLONE` is set.
struct Fragile;

thread_local! {
    static FAIL_CLONE: Cell<bool> = const { Cell::new(false) };
}

impl Clone for Fragile {
    fn clone(&self) -> Fragile {
        assert!(!FAIL_CLONE.with(Cell::get), "this clone fails");
        Fragile
    }
}

thread_local! {
    static LIVE: Cell<i64> = const { Cell::new(0) };
}

/// Counts its live copies.
struct Counted;

impl Counted {
    fn new() -> Counted {
        LIVE.with(|l| l.set(l.get() + 1));
        Counted
    }
}

impl Clone for Counted {
    fn clone(&self) -> Counted {
        Counted::new()
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        LIVE.with(|l| l.set(l.get() - 1));
    }
}

#[test]
fn children_start_with_a_copy_and_keep_their_own_changes() {
    coro::run(|| {
        assert!(REQUEST.is_inherited() && !PLAIN.is_inherited());
        REQUEST.set(7);
        PLAIN.set(7);
        TRAIL.with_borrow_mut(|t| t.push("handler"));
        let child = coro::spawn(|| {
            let seen = (REQUEST.get(), PLAIN.get(), TRAIL.with_borrow(|t| t.clone()));
            REQUEST.set(8);
            TRAIL.with_borrow_mut(|t| t.push("child"));
            // A grandchild gets the child's values, as they are when it is spawned.
            let grandchild = coro::go!(move || (REQUEST.get(), TRAIL.with_borrow(|t| t.len())));
            (seen, grandchild.join().unwrap())
        });
        REQUEST.set(9); // after the spawn: the child already has its copy
        let ((req, plain, trail), grand) = child.join().unwrap();
        assert_eq!(req, 7);
        assert_eq!(plain, 0, "a key without #[inherit] starts fresh");
        assert_eq!(trail, vec!["handler"]);
        assert_eq!(grand, (8, 2));
        assert_eq!(REQUEST.get(), 9);
        assert_eq!(TRAIL.with_borrow(|t| t.clone()), vec!["handler"]);
    });
}

#[test]
fn a_coroutine_without_a_value_passes_none_down() {
    coro::run(|| {
        let child = coro::spawn(|| REQUEST.get());
        assert_eq!(child.join().unwrap(), 0);
    });
}

#[test]
fn generators_and_scoped_children_inherit_too() {
    coro::run(|| {
        REQUEST.set(21);
        let mut g = coro::Generator::new(|y| {
            y.suspend(REQUEST.get());
        });
        assert_eq!(g.next(), Some(21));
        let seen = Cell::new(0);
        coro::scope(|s| {
            s.spawn(|| seen.set(REQUEST.get()));
        });
        assert_eq!(seen.get(), 21);
    });
}

#[test]
fn every_clone_is_dropped_with_its_coroutine() {
    let before = LIVE.with(Cell::get);
    coro::run(|| {
        COUNTED.with(|_| ());
        let hs: Vec<_> = (0..100)
            .map(|_| coro::spawn(|| COUNTED.with(|_| ())))
            .collect();
        let peak = LIVE.with(Cell::get);
        assert!(peak >= before + 101, "{peak}");
        for h in hs {
            h.join().unwrap();
        }
    });
    // The main coroutine's value and every child's copy are gone (the thread's own value, if
    // any, was never made: main's value came from its initializer).
    assert_eq!(LIVE.with(Cell::get), before);
}

#[test]
fn copies_for_children_that_never_run_are_dropped() {
    let before = LIVE.with(Cell::get);
    coro::run(|| {
        COUNTED.with(|_| ());
        // A generator made and dropped before its first resume.
        let g = coro::Generator::new(|y| {
            COUNTED.with(|_| ());
            y.suspend(1u8);
        });
        assert_eq!(
            LIVE.with(Cell::get),
            before + 2,
            "the generator holds a copy"
        );
        drop(g);
        assert_eq!(LIVE.with(Cell::get), before + 1);
        // A spawn whose clone of another inherited value panics: the spawn panics in the
        // spawner, the child never runs, and the copies made before the failing one are gone.
        FRAGILE.with(|_| ());
        FAIL_CLONE.with(|f| f.set(true));
        let spawned = std::panic::catch_unwind(|| coro::spawn(|| unreachable!()));
        FAIL_CLONE.with(|f| f.set(false));
        let Err(err) = spawned else {
            panic!("the spawn must panic with the failing clone");
        };
        assert_eq!(err.downcast_ref::<&str>(), Some(&"this clone fails"));
        assert_eq!(LIVE.with(Cell::get), before + 1);
    });
    assert_eq!(LIVE.with(Cell::get), before);
}

#[test]
fn the_thread_value_reaches_the_first_coroutine() {
    REQUEST.set(5); // outside any coroutine: the thread's value
    let got = coro::run(|| REQUEST.get());
    assert_eq!(got, 5);
    REQUEST.set(0);
}

#[test]
fn values_on_another_thread_are_not_shared() {
    coro::run(|| {
        REQUEST.set(3);
        let on_pool = coro::spawn_blocking(|| REQUEST.get());
        // spawn_blocking runs on a pool thread, which has its own thread value.
        assert_eq!(on_pool, 0);
    });
}
