//! Deadline scopes, shields and cancels, in the ways they combine: nesting, cleanup that waits,
//! cancels that arrive before a coroutine starts or after a hand-off, and the errors outside
//! a coroutine.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

use coro::Error;
use coro::channel;
use coro::sync::Mutex;

const SHORT: Duration = Duration::from_millis(20);
const LONG: Duration = Duration::from_secs(3600);

#[test]
fn an_inner_expiry_is_reported_by_the_inner_scope_only() {
    coro::run(|| {
        let mut after_inner = false;
        let outer = coro::with_timeout(LONG, || {
            let inner = coro::with_timeout(SHORT, || coro::sleep(LONG));
            assert!(matches!(inner, Err(Error::TimedOut)));
            after_inner = true;
            coro::sleep(Duration::from_millis(1)); // the outer deadline is still far
            7
        });
        assert!(after_inner);
        assert_eq!(outer.unwrap(), 7);
    });
}

#[test]
fn an_outer_expiry_goes_through_inner_scopes_to_the_outer_one() {
    coro::run(|| {
        let inner_ran_out = Cell::new(false);
        let outer = coro::with_timeout(SHORT, || {
            let inner = coro::with_timeout(LONG, || coro::sleep(LONG));
            inner_ran_out.set(true); // not reached: the unwind is the outer scope's
            inner
        });
        assert!(matches!(outer, Err(Error::TimedOut)));
        assert!(!inner_ran_out.get());
    });
}

#[test]
fn an_outer_expiry_in_hooked_code_returns_through_inner_scopes() {
    coro::run(|| {
        let inner_result = RefCell::new(None);
        let outer = coro::with_timeout(SHORT, || {
            let inner = coro::with_timeout(LONG, || {
                std::thread::sleep(LONG); // hooked: returns early
                coro::sleep(Duration::ZERO) // coro's own: unwinds to the outer scope
            });
            *inner_result.borrow_mut() = Some(inner.is_ok());
        });
        assert!(matches!(outer, Err(Error::TimedOut)));
        assert_eq!(*inner_result.borrow(), None);
    });
}

#[test]
fn a_scope_that_never_waits_returns_its_value() {
    coro::run(|| {
        let r = coro::with_deadline(Instant::now(), || 1 + 1);
        assert_eq!(r.unwrap(), 2, "nothing waited, so nothing saw the deadline");
        let r = coro::with_deadline(Instant::now(), coro::yield_now);
        assert!(matches!(r, Err(Error::TimedOut)));
    });
}

#[test]
fn scopes_need_a_coroutine_of_the_runtime() {
    assert!(matches!(
        coro::with_timeout(SHORT, || ()),
        Err(Error::NoRuntime)
    ));
    coro::run(|| {
        let mut g = coro::Generator::new(|y: &coro::Yielder<(), Result<(), Error>>| {
            y.suspend(coro::with_timeout(SHORT, || ()));
        });
        assert!(matches!(g.next(), Some(Err(Error::NotInCoroutine))));
        assert_eq!(coro::shield(|| 3), 3);
        assert!(!coro::cancel::is_cancelled());
    });
}

#[test]
fn a_panic_inside_a_scope_goes_on_unwinding() {
    coro::run(|| {
        let r = std::panic::catch_unwind(|| coro::with_timeout(LONG, || panic!("boom")));
        let p = r.unwrap_err();
        assert_eq!(p.downcast_ref::<&str>(), Some(&"boom"));
        // The scope ended: nothing of it is left in force.
        assert!(coro::with_timeout(LONG, || coro::sleep(SHORT)).is_ok());
    });
}

#[test]
fn a_coroutine_cancelled_before_it_starts_never_runs() {
    coro::run(|| {
        let ran = Rc::new(Cell::new(false));
        let r = Rc::clone(&ran);
        let h = coro::spawn(move || r.set(true));
        h.cancel();
        assert!(h.join().unwrap_err().is::<coro::Cancelled>());
        assert!(!ran.get());
    });
}

#[test]
fn cancel_after_the_end_changes_nothing() {
    coro::run(|| {
        let h = coro::spawn(|| 5);
        coro::yield_now();
        assert!(h.is_finished());
        h.cancel();
        assert_eq!(h.join().unwrap(), 5);
    });
}

#[test]
fn a_coroutine_that_cancels_itself_unwinds_at_its_next_wait() {
    coro::run(|| {
        let reached = Rc::new(Cell::new(0));
        let r = Rc::clone(&reached);
        let slot: Rc<RefCell<Option<coro::JoinHandle<()>>>> = Rc::new(RefCell::new(None));
        let s = Rc::clone(&slot);
        let h = coro::spawn(move || {
            coro::yield_now();
            s.borrow().as_ref().unwrap().cancel();
            r.set(1); // no wait yet: goes on
            assert!(coro::cancel::is_cancelled());
            coro::yield_now();
            r.set(2);
        });
        // The handle is shared with the coroutine through the slot; join through a clone of
        // its state instead.
        *slot.borrow_mut() = Some(h);
        while reached.get() == 0 {
            coro::yield_now();
        }
        coro::sleep(SHORT);
        let h = slot.borrow_mut().take().unwrap();
        assert!(h.join().unwrap_err().is::<coro::Cancelled>());
        assert_eq!(reached.get(), 1);
    });
}

#[test]
fn a_lock_handed_to_a_coroutine_cancelled_in_the_same_turn_goes_to_the_next() {
    coro::run(|| {
        let m = Rc::new(Mutex::new(0));
        let guard = m.lock();
        let m1 = Rc::clone(&m);
        let w1 = coro::spawn(move || *m1.lock() += 100);
        coro::yield_now(); // w1 waits for the lock
        let m2 = Rc::clone(&m);
        let w2 = coro::spawn(move || *m2.lock() += 1);
        coro::yield_now(); // w2 waits behind it
        drop(guard); // handed to w1 ...
        w1.cancel(); // ... which is cancelled before it runs again
        assert!(w1.join().unwrap_err().is::<coro::Cancelled>());
        w2.join().unwrap();
        assert_eq!(*m.lock(), 1, "w1 never ran its critical section; w2 did");
    });
}

#[test]
fn a_message_signalled_to_a_cancelled_receiver_wakes_the_next() {
    coro::run(|| {
        let (tx, rx) = channel::unbounded();
        let rx1 = rx.clone();
        let w1 = coro::spawn(move || rx1.recv());
        let w2 = coro::spawn(move || rx.recv());
        coro::yield_now();
        tx.send(5).unwrap(); // wakes w1 ...
        w1.cancel(); // ... cancelled before it runs
        assert!(w1.join().unwrap_err().is::<coro::Cancelled>());
        assert_eq!(w2.join().unwrap(), Ok(5));
    });
}

/// Waits in its destructor, as cleanup that sends a goodbye would.
struct WaitsOnDrop(Rc<Cell<bool>>);

impl Drop for WaitsOnDrop {
    fn drop(&mut self) {
        coro::sleep(SHORT); // during the unwind: waits normally, no second unwind
        self.0.set(true);
    }
}

#[test]
fn a_destructor_that_waits_during_a_cancel_runs_to_its_end() {
    coro::run(|| {
        let done = Rc::new(Cell::new(false));
        let d = Rc::clone(&done);
        let h = coro::spawn(move || {
            let _w = WaitsOnDrop(d);
            coro::sleep(LONG);
        });
        coro::yield_now();
        h.cancel();
        assert!(h.join().unwrap_err().is::<coro::Cancelled>());
        assert!(done.get());
    });
}

#[test]
fn a_cancel_that_arrives_while_another_coroutine_unwinds_is_delivered_after() {
    coro::run(|| {
        // A unwinds (cancelled), and waits in a destructor meanwhile: B's cancel arrives while
        // an unwind is in flight on the thread, and must still end B once A's is over.
        let done = Rc::new(Cell::new(false));
        let d = Rc::clone(&done);
        let a = coro::spawn(move || {
            let _w = WaitsOnDrop(d);
            coro::sleep(LONG);
        });
        let (_tx, rx) = channel::unbounded::<()>();
        let b = coro::spawn(move || rx.recv());
        coro::yield_now();
        a.cancel();
        coro::yield_now(); // A starts unwinding and parks in its destructor
        b.cancel();
        assert!(b.join().unwrap_err().is::<coro::Cancelled>());
        assert!(a.join().unwrap_err().is::<coro::Cancelled>());
        assert!(done.get());
    });
}

#[test]
fn a_shield_lets_cleanup_wait_after_a_cancel() {
    coro::run(|| {
        let steps = Rc::new(Cell::new(0));
        let s = Rc::clone(&steps);
        let h = coro::spawn(move || {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| coro::sleep(LONG)));
            assert!(r.is_err(), "cancelled");
            coro::shield(|| {
                coro::sleep(SHORT);
                s.set(1);
                // A deadline inside a shield still applies.
                let inner = coro::with_timeout(SHORT, || coro::sleep(LONG));
                assert!(matches!(inner, Err(Error::TimedOut)));
                s.set(2);
            });
            coro::sleep(SHORT); // outside the shield the cancel is back
            s.set(3);
        });
        coro::yield_now();
        h.cancel();
        assert!(h.join().unwrap_err().is::<coro::Cancelled>());
        assert_eq!(steps.get(), 2);
    });
}

#[test]
fn cancelling_a_coroutine_in_coro_timeout_cancels_its_child() {
    coro::run(|| {
        let child_dropped = Rc::new(Cell::new(false));
        let c = Rc::clone(&child_dropped);
        let h = coro::spawn(move || {
            coro::timeout(LONG, move || {
                struct Flag(Rc<Cell<bool>>);
                impl Drop for Flag {
                    fn drop(&mut self) {
                        self.0.set(true);
                    }
                }
                let _f = Flag(c);
                coro::sleep(LONG);
            })
        });
        coro::sleep(SHORT);
        h.cancel();
        assert!(h.join().unwrap_err().is::<coro::Cancelled>());
        coro::sleep(SHORT); // the child unwinds on its own turn
        assert!(child_dropped.get());
        let (live, _, timers) = coro::__private::runtime_counts().unwrap();
        assert_eq!((live, timers), (1, 0));
    });
}

#[test]
fn a_deadlock_is_reported_after_the_parked_coroutines_unwound() {
    let dropped = Rc::new(Cell::new(false));
    let d = Rc::clone(&dropped);
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        coro::run(move || {
            struct Flag(Rc<Cell<bool>>);
            impl Drop for Flag {
                fn drop(&mut self) {
                    self.0.set(true);
                }
            }
            let _f = Flag(d);
            let (_tx, rx) = channel::unbounded::<()>();
            let _ = rx.recv(); // nobody else can ever send
        })
    }));
    let p = r.unwrap_err();
    let msg = p.downcast_ref::<String>().unwrap();
    assert!(msg.contains("deadlock"), "{msg}");
    assert!(
        dropped.get(),
        "the main coroutine's stack was unwound first"
    );
}

#[test]
fn a_retry_loop_of_inner_scopes_ends_when_the_outer_budget_does() {
    coro::run(|| {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let a = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (_b, _) = l.accept().unwrap(); // never writes
        let tries = Cell::new(0);
        let r = coro::with_timeout(Duration::from_millis(100), || {
            loop {
                tries.set(tries.get() + 1);
                // Each try swallows its own time-out and goes again: only the outer expiry,
                // raised when an inner scope ends, stops the loop.
                let _ = coro::with_timeout(Duration::from_millis(30), || {
                    std::io::Read::read(&mut &a, &mut [0; 8])
                });
            }
        });
        assert!(matches!(r, Err(Error::TimedOut)));
        assert!((2..10).contains(&tries.get()), "{}", tries.get());
    });
}

#[test]
fn a_cancel_that_reached_a_hooked_call_is_raised_when_the_scope_ends() {
    coro::run(|| {
        let after = Rc::new(Cell::new(false));
        let a2 = Rc::clone(&after);
        let h = coro::spawn(move || {
            let r = coro::with_timeout(LONG, || std::thread::sleep(LONG)); // ends early
            a2.set(true); // not reached: the scope's end raised the cancel
            r
        });
        coro::sleep(SHORT);
        h.cancel();
        assert!(h.join().unwrap_err().is::<coro::Cancelled>());
        assert!(!after.get());
    });
}
