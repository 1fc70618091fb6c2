//! The scheduler through the facade: spawn, join, panics, queue order, run inside run.

use std::cell::RefCell;
use std::rc::Rc;

#[test]
fn spawn_and_join_100_000_coroutines_alive_at_once_on_shared_stacks() {
    let total = coro::run(|| {
        let handles: Vec<_> = (0..100_000u64)
            .map(|i| {
                // SAFETY: the body keeps every reference into its stack to itself while it
                // waits (shared stacks move a suspended coroutine's frames away).
                unsafe { coro::Builder::new().shared(true) }
                    .spawn(move || {
                        coro::yield_now();
                        i * 2
                    })
                    .unwrap()
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
    });
    assert_eq!(total, 2 * (100_000 * 99_999 / 2));
}

#[test]
fn spawn_and_join_100_000_coroutines_on_owned_stacks() {
    // Owned stacks cost two memory mappings each (stack + guard) and the kernel allows ~65,530
    // by default, so these are spawned in waves of 10,000 that are alive together.
    let total = coro::run(|| {
        let mut total = 0u64;
        for wave in 0..10u64 {
            let handles: Vec<_> = (0..10_000u64)
                .map(|i| {
                    coro::spawn(move || {
                        coro::yield_now();
                        wave * 10_000 + i
                    })
                })
                .collect();
            total += handles.into_iter().map(|h| h.join().unwrap()).sum::<u64>();
        }
        total
    });
    assert_eq!(total, 100_000 * 99_999 / 2);
}

#[test]
fn join_of_a_panicked_coroutine_is_err_with_payload() {
    coro::run(|| {
        let n = std::hint::black_box(42);
        let bad = coro::spawn(move || -> u32 { panic!("boom {n}") });
        let good = coro::spawn(|| 7);
        let err = bad.join().unwrap_err();
        assert_eq!(
            err.downcast_ref::<String>().map(String::as_str),
            Some("boom 42")
        );
        // The panic stopped only that coroutine.
        assert_eq!(good.join().unwrap(), 7);
        let payload = coro::spawn(|| std::panic::panic_any(5u8))
            .join()
            .unwrap_err();
        assert_eq!(payload.downcast_ref::<u8>(), Some(&5));
    });
}

#[test]
fn a_panic_in_main_reaches_the_caller_and_cancels_the_others() {
    // Like `block_on`: once the main coroutine has panicked nothing waits on the others (they
    // may never end); they are cancelled (their stacks unwound) and `run` raises the panic.
    struct Dropped(Rc<RefCell<bool>>);
    impl Drop for Dropped {
        fn drop(&mut self) {
            *self.0.borrow_mut() = true;
        }
    }
    let done = Rc::new(RefCell::new(false));
    let dropped = Rc::new(RefCell::new(false));
    let (d, g) = (done.clone(), dropped.clone());
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        coro::run(move || {
            coro::spawn(move || {
                let _guard = Dropped(g);
                coro::yield_now();
                coro::yield_now();
                *d.borrow_mut() = true;
            });
            coro::yield_now();
            panic!("main failed");
        })
    }));
    let payload = r.unwrap_err();
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"main failed"));
    assert!(
        !*done.borrow(),
        "the other coroutine did not run on after main panicked"
    );
    assert!(*dropped.borrow(), "its stack was unwound");
}

#[test]
fn ready_queue_is_fifo() {
    let order = coro::run(|| {
        let log = Rc::new(RefCell::new(Vec::new()));
        let hs: Vec<_> = (0..5)
            .map(|i| {
                let log = log.clone();
                coro::spawn(move || {
                    log.borrow_mut().push(i);
                    coro::yield_now();
                    log.borrow_mut().push(10 + i);
                })
            })
            .collect();
        log.borrow_mut().push(-1); // main runs on until it waits
        for h in hs {
            h.join().unwrap();
        }
        log.take()
    });
    assert_eq!(order, vec![-1, 0, 1, 2, 3, 4, 10, 11, 12, 13, 14]);
}

#[test]
fn run_inside_run_is_an_error_in_words() {
    coro::run(|| {
        let err = coro::try_run(|| 1).unwrap_err();
        assert!(matches!(err, coro::Error::NestedRun));
        assert!(err.to_string().contains("coro::spawn"), "{err}");
        let p = std::panic::catch_unwind(|| coro::run(|| 1)).unwrap_err();
        let msg = p.downcast_ref::<String>().unwrap();
        assert!(msg.contains("inside a running coro runtime"), "{msg}");
    });
}

#[test]
fn run_returns_and_borrows() {
    let v = [1, 2, 3];
    let s: i32 = coro::run(|| v.iter().sum());
    assert_eq!(s, 6);
    // A second runtime on the same thread after the first ended.
    assert_eq!(coro::run(|| coro::spawn(|| 9).join().unwrap()), 9);
}

#[test]
fn spawn_outside_a_runtime_is_an_error() {
    let err = coro::Builder::new().spawn(|| ()).unwrap_err();
    assert!(matches!(err, coro::Error::NoRuntime));
    assert!(coro::current().is_none());
}

#[test]
fn current_names_and_ids() {
    coro::run(|| {
        let me = coro::current().unwrap();
        assert_eq!(me.name.as_deref(), Some("main"));
        assert_eq!(Some(me.id), coro::current_id());
        let h = coro::Builder::new()
            .name("child")
            .spawn(|| coro::current().unwrap())
            .unwrap();
        let id = h.id();
        let info = h.join().unwrap();
        assert_eq!(info.id, id);
        assert_eq!(info.name.as_deref(), Some("child"));
    });
}

#[test]
fn shared_stack_coroutines_are_scheduled_like_others() {
    let sum = coro::run(|| {
        let hs: Vec<_> = (0..1000u64)
            .map(|i| {
                // SAFETY: the body keeps every reference into its stack to itself while it
                // waits (shared stacks move a suspended coroutine's frames away).
                unsafe { coro::Builder::new().shared(true) }
                    .stack_size(32 * 1024)
                    .spawn(move || {
                        let buf = [i as u8; 256];
                        coro::yield_now();
                        coro::sleep(std::time::Duration::from_millis(1));
                        buf.iter().map(|&b| b as u64).sum::<u64>() / 256 + i - (i as u8) as u64
                    })
                    .unwrap()
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
    });
    assert_eq!(sum, (0..1000).sum::<u64>());
}

#[test]
fn is_finished_and_detached_tasks_still_run() {
    let ran = Rc::new(RefCell::new(0));
    let r = ran.clone();
    coro::run(move || {
        let h = coro::spawn(|| ());
        assert!(!h.is_finished());
        coro::yield_now();
        assert!(h.is_finished());
        for _ in 0..10 {
            let r = r.clone();
            drop(coro::spawn(move || *r.borrow_mut() += 1)); // detached
        }
    });
    assert_eq!(*ran.borrow(), 10);
}
