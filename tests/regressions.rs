//! One test for every bug fixed, named after the bug, so that it stays fixed.

use coro::{Coroutine, CoroutineResult, SharedStack};

/// `Coroutine::with_shared_stack` for this file's bodies.
fn on_shared<I: 'static, Y: 'static, R: 'static, F>(stack: &SharedStack, f: F) -> Coroutine<I, Y, R>
where
    F: FnOnce(&coro::Yielder<I, Y>, I) -> R + 'static,
{
    // SAFETY: no body in this file lets anything use a reference into its stack while it is
    // suspended (they lend no locals to threads or thread-locals).
    unsafe { Coroutine::with_shared_stack(stack, f) }
}

#[test]
fn frames_that_grow_and_shrink_between_suspensions_survive() {
    // A save buffer sized for one suspension was reused for a frame up to 16 bytes deeper than
    // its usable room (its 32-byte-aligned end leaves up to 16 bytes of slack unused): the copy
    // overran the allocation ("double free or corruption" in sync_shared_stacks). The unit test
    // `every_length_round_trips_and_stays_inside_the_buffer` in save.rs pins the exact lengths.
    fn dive(y: &coro::Yielder<(), u64>, depth: u32, seed: u64) -> u64 {
        let pad = std::hint::black_box([seed; 3]);
        if depth == 0 {
            y.suspend(seed);
            pad[2]
        } else {
            pad[0] + dive(y, depth - 1, seed) - seed
        }
    }
    let stack = SharedStack::new(256 * 1024).unwrap();
    let mut cos: Vec<Coroutine<(), u64, ()>> = (0..4u64)
        .map(|i| {
            on_shared(&stack, move |y, ()| {
                for round in 0..200u32 {
                    // Depths 0..40 in an irregular order: each suspension's frame differs by a
                    // few words from the last one.
                    let depth = (round * 7 + i as u32 * 3) % 41;
                    assert_eq!(
                        dive(y, depth, i * 1000 + round as u64),
                        i * 1000 + round as u64
                    );
                }
            })
        })
        .collect();
    for _ in 0..200 {
        for co in cos.iter_mut() {
            assert!(co.resume(()).unwrap().as_yield().is_some());
        }
    }
    for co in cos.iter_mut() {
        assert_eq!(co.resume(()).unwrap(), CoroutineResult::Return(()));
    }
}

#[test]
fn a_wake_up_from_a_just_dropped_remote_handle_is_not_a_deadlock() {
    // The blocking pool pushed its wake-up and dropped its handle before the loop read the
    // eventfd; the deadlock check saw no handle left and panicked although a wake-up was queued.
    coro::run(|| {
        for i in 0..300u64 {
            assert_eq!(coro::spawn_blocking(move || i), i);
        }
    });
}

#[test]
fn a_socket_that_reuses_the_number_of_an_fd_closed_behind_the_loop_works() {
    use std::io::{Read, Write};
    use std::os::fd::AsRawFd;
    // A pipe registered by `poll` and closed without the runtime knowing left a stale
    // registration; the next socket with that fd number waited forever.
    coro::run(|| {
        let (r, _w) = std::io::pipe().unwrap();
        let mut fds = [coro::PollFd::new(r.as_raw_fd(), coro::poll::POLLIN)];
        assert_eq!(
            coro::poll(&mut fds, Some(std::time::Duration::from_millis(1))).unwrap(),
            0
        );
        // SAFETY: `r` is open and owned here; it is forgotten below so it is closed only once.
        unsafe { libc::syscall(libc::SYS_close, r.as_raw_fd()) };
        std::mem::forget(r);
        let (a, b) = coro::net::UnixStream::pair().unwrap();
        let h = coro::spawn(move || {
            let mut buf = [0u8; 2];
            (&a).read_exact(&mut buf).unwrap();
            buf
        });
        coro::yield_now();
        (&b).write_all(b"ok").unwrap();
        assert_eq!(&h.join().unwrap(), b"ok");
    });
}

#[test]
fn run_raises_a_main_panic_instead_of_waiting_on_tasks_that_never_end() {
    // `coro::run` used to wait for every task after the main task panicked, so a server whose
    // accept loop was parked on its listener kept the run (and the test) hanging forever.
    use std::cell::Cell;
    use std::rc::Rc;
    struct Flag(Rc<Cell<bool>>);
    impl Drop for Flag {
        fn drop(&mut self) {
            self.0.set(true);
        }
    }
    let unwound = Rc::new(Cell::new(false));
    let u = unwound.clone();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        coro::run(move || {
            let listener = coro::net::TcpListener::bind("127.0.0.1:0").unwrap();
            coro::spawn(move || {
                let _flag = Flag(u);
                // Parked on a listener nobody connects to: it would wait forever.
                let _ = listener.accept();
            });
            coro::yield_now(); // let it park
            std::panic::panic_any("main gave up");
        })
    }));
    let payload = result.expect_err("run re-raises the main task's panic");
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"main gave up"));
    assert!(
        unwound.get(),
        "the parked task was cancelled and its stack unwound"
    );
}

#[test]
fn a_closure_too_big_for_the_top_of_its_stack_runs_from_a_heap_block() {
    // A closure bigger than 4 KiB puts the coroutine's control block on the heap. The frames
    // must then start at the top of the stack; they used to start below the *lower* of the two
    // addresses, which for a heap block (below the stacks in the address space) was the heap.
    let big = [7u64; 1024]; // 8 KiB, captured by value
    let mut co = Coroutine::<u64, u64, u64>::new(move |y, mut k: u64| {
        let mut sum = 0;
        for _ in 0..3 {
            sum += big.iter().sum::<u64>() + k;
            k = y.suspend(sum);
        }
        sum + k
    });
    assert_eq!(co.resume(1).unwrap(), CoroutineResult::Yield(7 * 1024 + 1));
    assert_eq!(
        co.resume(2).unwrap(),
        CoroutineResult::Yield(2 * 7 * 1024 + 3)
    );
    assert_eq!(
        co.resume(3).unwrap(),
        CoroutineResult::Yield(3 * 7 * 1024 + 6)
    );
    assert_eq!(
        co.resume(4).unwrap(),
        CoroutineResult::Return(3 * 7 * 1024 + 10)
    );
    // The same with a smaller stack, where an eighth of the stack is the limit.
    let small = [1u8; 2100];
    let stack = coro::OwnedStack::new(16 * 1024).unwrap();
    let mut co = Coroutine::<(), (), usize>::with_stack(stack, move |_, ()| {
        small.iter().map(|&b| b as usize).sum()
    });
    assert_eq!(co.resume(()).unwrap(), CoroutineResult::Return(2100));
}
