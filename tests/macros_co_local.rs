//! `co_local!`: per-coroutine values, lazily made, dropped at coroutine end, thread fallback.
//!
//! These tests drive `coro::Coroutine`s by hand, so they need no scheduler.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use coro::{Coroutine, CoroutineResult, SharedStack, co_local};

/// `Coroutine::with_shared_stack` for this file's bodies.
fn on_shared<I: 'static, Y: 'static, R: 'static, F>(stack: &SharedStack, f: F) -> Coroutine<I, Y, R>
where
    F: FnOnce(&coro::Yielder<I, Y>, I) -> R + 'static,
{
    // SAFETY: no body in this file lets anything use a reference into its stack while it is
    // suspended (they lend no locals to threads or thread-locals).
    unsafe { Coroutine::with_shared_stack(stack, f) }
}

co_local! {
    /// The id each coroutine writes and reads back.
    static ID: Cell<u64> = Cell::new(0);
    static NAMES: RefCell<Vec<String>> = RefCell::new(Vec::new());
    pub(crate) static INITS: Cell<u32> = const { Cell::new(0) };
}

thread_local! {
    static MADE: Cell<u32> = const { Cell::new(0) };
    static DROPPED: Cell<u32> = const { Cell::new(0) };
}

/// Counts the values made and dropped, on the thread.
struct Tracked(u64);

impl Tracked {
    fn new() -> Self {
        MADE.with(|m| m.set(m.get() + 1));
        Tracked(7)
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        DROPPED.with(|d| d.set(d.get() + 1));
    }
}

co_local! {
    static TRACKED: Tracked = Tracked::new();
}

fn run_to_end<R>(co: &mut Coroutine<(), (), R>) -> R {
    loop {
        match co.resume(()).expect("the coroutine can be resumed") {
            CoroutineResult::Yield(()) => {}
            CoroutineResult::Return(r) => return r,
        }
    }
}

#[test]
fn isolation_across_10_000_coroutines() {
    const N: u64 = 10_000;
    let mut cos: Vec<Coroutine<(), (), bool>> = (1..=N)
        .map(|id| {
            Coroutine::new(move |y: &coro::Yielder<(), ()>, ()| {
                assert_eq!(ID.get(), 0, "a fresh coroutine sees the initial value");
                ID.set(id);
                NAMES.with_borrow_mut(|v| v.push(format!("co{id}")));
                let mut ok = true;
                for _ in 0..3 {
                    y.suspend(());
                    ok &= ID.get() == id;
                    ok &= NAMES.with_borrow(|v| v.len() == 1 && v[0] == format!("co{id}"));
                }
                ok
            })
        })
        .collect();
    // Round-robin: every coroutine runs between two steps of every other one.
    let mut results = vec![None; N as usize];
    loop {
        let mut running = 0;
        for (i, co) in cos.iter_mut().enumerate() {
            if co.is_finished() {
                continue;
            }
            running += 1;
            if let CoroutineResult::Return(ok) = co.resume(()).unwrap() {
                results[i] = Some(ok);
            }
        }
        if running == 0 {
            break;
        }
    }
    assert!(
        results.iter().all(|r| *r == Some(true)),
        "every coroutine read back its own id"
    );
    assert_eq!(ID.get(), 0, "the thread's own value is untouched");
}

#[test]
fn isolation_on_shared_stacks() {
    let stack = SharedStack::new(64 * 1024).unwrap();
    let mut cos: Vec<Coroutine<(), (), u64>> = (1..=100)
        .map(|id| {
            on_shared(&stack, move |y: &coro::Yielder<(), ()>, ()| {
                ID.set(id);
                y.suspend(());
                y.suspend(());
                ID.get()
            })
        })
        .collect();
    for _ in 0..2 {
        for co in &mut cos {
            co.resume(()).unwrap();
        }
    }
    for (i, co) in cos.iter_mut().enumerate() {
        assert_eq!(co.resume(()).unwrap().as_return(), Some(i as u64 + 1));
    }
}

#[test]
fn values_are_lazy_and_dropped_at_coroutine_end() {
    let made = || MADE.with(Cell::get);
    let dropped = || DROPPED.with(Cell::get);
    let (m0, d0) = (made(), dropped());
    let mut untouched = Coroutine::<(), (), ()>::new(|y, ()| y.suspend(()));
    run_to_end(&mut untouched);
    assert_eq!(
        (made(), dropped()),
        (m0, d0),
        "a coroutine that never touches the key makes nothing"
    );

    let mut user = Coroutine::<(), (), u64>::new(|y, ()| {
        let v = TRACKED.with(|t| t.0);
        y.suspend(());
        v + TRACKED.with(|t| t.0)
    });
    user.resume(()).unwrap();
    assert_eq!(
        (made(), dropped()),
        (m0 + 1, d0),
        "made on first access, alive while suspended"
    );
    assert_eq!(run_to_end(&mut user), 14);
    assert_eq!(
        (made(), dropped()),
        (m0 + 1, d0 + 1),
        "dropped when the coroutine ends"
    );
}

#[test]
fn values_are_dropped_when_a_suspended_coroutine_is_dropped() {
    let dropped = || DROPPED.with(Cell::get);
    let d0 = dropped();
    let mut co = Coroutine::<(), (), ()>::new(|y, ()| {
        TRACKED.with(|_| ());
        y.suspend(());
    });
    co.resume(()).unwrap();
    drop(co);
    assert_eq!(dropped(), d0 + 1);
}

#[test]
fn values_are_dropped_when_the_body_panics() {
    let dropped = || DROPPED.with(Cell::get);
    let d0 = dropped();
    let mut co = Coroutine::<(), (), ()>::new(|_, ()| {
        TRACKED.with(|_| ());
        panic!("boom");
    });
    let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| co.resume(())));
    assert!(res.is_err());
    assert_eq!(dropped(), d0 + 1);
}

#[test]
fn thread_fallback_outside_coroutines() {
    INITS.set(5);
    assert_eq!(INITS.get(), 5);
    let mut co = Coroutine::<(), (), u32>::new(|_, ()| {
        let before = INITS.get();
        INITS.set(9);
        before
    });
    assert_eq!(
        run_to_end(&mut co),
        0,
        "a coroutine gets its own value, not the thread's"
    );
    assert_eq!(
        INITS.get(),
        5,
        "the thread's value is untouched by the coroutine"
    );
    let other = std::thread::spawn(|| INITS.get()).join().unwrap();
    assert_eq!(other, 0, "each thread has its own value");
}

#[test]
fn cell_and_refcell_methods() {
    let mut co = Coroutine::<(), (), ()>::new(|_, ()| {
        ID.set(3);
        assert_eq!(ID.replace(4), 3);
        assert_eq!(ID.take(), 4);
        assert_eq!(ID.get(), 0);
        NAMES.set(vec!["a".into()]);
        NAMES.with_borrow_mut(|v| v.push("b".into()));
        assert_eq!(NAMES.replace(vec![]), ["a", "b"]);
        NAMES.with_borrow_mut(|v| v.push("c".into()));
        assert_eq!(NAMES.take(), ["c"]);
        assert!(NAMES.with_borrow(Vec::is_empty));
    });
    run_to_end(&mut co);
}

thread_local! {
    static SET_INITS: Cell<u32> = const { Cell::new(0) };
}

co_local! {
    static COUNTED: Cell<u32> = {
        SET_INITS.with(|c| c.set(c.get() + 1));
        Cell::new(1)
    };
}

#[test]
fn set_does_not_run_the_initializer() {
    let mut co = Coroutine::<(), (), u32>::new(|_, ()| {
        COUNTED.set(10);
        COUNTED.get()
    });
    let before = SET_INITS.with(Cell::get);
    assert_eq!(run_to_end(&mut co), 10);
    assert_eq!(SET_INITS.with(Cell::get), before);
}

#[test]
fn nested_coroutines_have_their_own_values() {
    let mut outer = Coroutine::<(), (), (u64, u64)>::new(|_, ()| {
        ID.set(1);
        let mut inner = Coroutine::<(), (), u64>::new(|_, ()| {
            ID.set(2);
            ID.get()
        });
        let inner_id = run_to_end(&mut inner);
        (ID.get(), inner_id)
    });
    assert_eq!(run_to_end(&mut outer), (1, 2));
}

co_local! {
    static SHARED_RC: RefCell<Option<Rc<()>>> = RefCell::new(None);
}

#[test]
fn a_value_can_hold_non_send_data() {
    let rc = Rc::new(());
    let mut co = {
        let rc = rc.clone();
        Coroutine::<(), (), ()>::new(move |y, ()| {
            SHARED_RC.set(Some(rc));
            y.suspend(());
        })
    };
    co.resume(()).unwrap();
    assert_eq!(Rc::strong_count(&rc), 2);
    run_to_end(&mut co);
    assert_eq!(
        Rc::strong_count(&rc),
        1,
        "the coroutine's value was dropped at its end"
    );
}

/// What the last `TouchesOnDrop` saw: 0 nothing yet, 1 refused, 2 allowed.
static LAST_TOUCH: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);

/// On drop, tries to use another key and records whether that was refused.
struct TouchesOnDrop;

impl Drop for TouchesOnDrop {
    fn drop(&mut self) {
        let refused = ID.try_with(|_| ()).is_err();
        LAST_TOUCH.store(
            if refused { 1 } else { 2 },
            std::sync::atomic::Ordering::SeqCst,
        );
    }
}

co_local! {
    static TOUCHY: RefCell<Option<TouchesOnDrop>> = const { RefCell::new(None) };
}

#[test]
fn destructors_that_use_keys_get_access_error() {
    use std::sync::atomic::Ordering::SeqCst;
    LAST_TOUCH.store(0, SeqCst);
    let mut co = Coroutine::<(), (), ()>::new(|_, ()| {
        ID.set(1);
        TOUCHY.set(Some(TouchesOnDrop));
    });
    run_to_end(&mut co);
    assert_eq!(
        LAST_TOUCH.load(SeqCst),
        1,
        "refused during a coroutine's teardown"
    );

    LAST_TOUCH.store(0, SeqCst);
    std::thread::spawn(|| {
        ID.set(1);
        TOUCHY.set(Some(TouchesOnDrop));
    })
    .join()
    .unwrap();
    assert_eq!(
        LAST_TOUCH.load(SeqCst),
        1,
        "refused during a thread's teardown"
    );
}

/// Panics when dropped: a co_local value whose destructor fails.
struct PanicsOnDrop;

impl Drop for PanicsOnDrop {
    fn drop(&mut self) {
        panic!("co_local destructor failed");
    }
}

co_local! {
    static FRAGILE: RefCell<Option<PanicsOnDrop>> = const { RefCell::new(None) };
}

#[test]
fn a_panicking_co_local_destructor_ends_only_its_coroutine() {
    let n = coro::run(|| {
        let fragile = coro::spawn(|| {
            FRAGILE.set(Some(PanicsOnDrop));
            5 // returned, then the destructor panics
        });
        let bystander = coro::spawn(|| {
            coro::sleep(std::time::Duration::from_millis(5));
            7
        });
        let err = fragile.join().unwrap_err();
        assert_eq!(
            err.downcast_ref::<&str>(),
            Some(&"co_local destructor failed")
        );
        bystander.join().unwrap()
    });
    assert_eq!(n, 7, "the runtime went on");
}
