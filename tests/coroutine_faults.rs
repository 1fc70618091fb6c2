//! Faults, in child processes: a stack overflow on an owned or shared stack is reported and
//! aborts; a fault that is not an overflow behaves as it would without coro; running out of
//! memory mappings is an error, not a crash.

use std::os::unix::process::ExitStatusExt;
use std::process::Output;
use std::time::Duration;

use coro::{Coroutine, Error, OwnedStack, SharedStack};

mod common;
use common::in_child;

/// `Coroutine::with_shared_stack` for this file's bodies.
fn on_shared<I: 'static, Y: 'static, R: 'static, F>(stack: &SharedStack, f: F) -> Coroutine<I, Y, R>
where
    F: FnOnce(&coro::Yielder<I, Y>, I) -> R + 'static,
{
    // SAFETY: no body in this file lets anything use a reference into its stack while it is
    // suspended (they lend no locals to threads or thread-locals).
    unsafe { Coroutine::with_shared_stack(stack, f) }
}

/// Runs this test binary again as a child, running only `test`.
fn run_child(test: &str) -> Output {
    common::run_child(test, &[], Duration::from_secs(300))
}

#[inline(never)]
fn recurse(n: u64) -> u64 {
    let pad = std::hint::black_box([n; 32]);
    if n == u64::MAX {
        0
    } else {
        pad[3] + recurse(std::hint::black_box(n + 1))
    }
}

#[test]
fn overflow_on_an_owned_stack_is_reported_and_aborts() {
    if in_child() {
        let mut co =
            Coroutine::<(), (), u64>::with_stack_size(16 * 1024, |_, ()| recurse(0)).unwrap();
        let _ = co.resume(());
        unreachable!();
    }
    let out = run_child("overflow_on_an_owned_stack_is_reported_and_aborts");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.signal(), Some(libc::SIGABRT), "{stderr}");
    assert!(
        stderr.contains("overflowed its 16384-byte stack"),
        "{stderr}"
    );
    assert!(stderr.contains("coroutine "), "{stderr}");
}

#[test]
fn overflow_on_a_shared_stack_is_reported_and_aborts() {
    if in_child() {
        let stack = SharedStack::new(32 * 1024).unwrap();
        let mut a = on_shared::<(), (), u64, _>(&stack, |y, ()| {
            y.suspend(());
            0
        });
        a.resume(()).unwrap();
        let mut b = on_shared::<(), (), u64, _>(&stack, |_, ()| recurse(0));
        let _ = b.resume(());
        unreachable!();
    }
    let out = run_child("overflow_on_a_shared_stack_is_reported_and_aborts");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.signal(), Some(libc::SIGABRT), "{stderr}");
    assert!(
        stderr.contains("overflowed its 32768-byte stack"),
        "{stderr}"
    );
}

#[test]
fn a_fault_that_is_not_an_overflow_still_kills_with_sigsegv() {
    if in_child() {
        let mut co = Coroutine::<(), (), ()>::new(|_, ()| {
            // SAFETY: (test) map one inaccessible page and write to it, a plain segfault away
            // from any stack guard.
            unsafe {
                let p = libc::mmap(
                    std::ptr::null_mut(),
                    4096,
                    libc::PROT_NONE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                    -1,
                    0,
                );
                std::ptr::write_volatile(p.cast::<u8>(), 1);
            }
        });
        let _ = co.resume(());
        unreachable!();
    }
    let out = run_child("a_fault_that_is_not_an_overflow_still_kills_with_sigsegv");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.signal(), Some(libc::SIGSEGV), "{stderr}");
    assert!(!stderr.contains("overflowed"), "{stderr}");
}

#[test]
fn a_thread_overflow_outside_coroutines_is_still_std_s_message() {
    if in_child() {
        // Make sure our handler is installed, then overflow a plain thread.
        drop(Coroutine::<(), (), ()>::new(|_, ()| {}));
        std::thread::Builder::new()
            .name("plain".into())
            .stack_size(64 * 1024)
            .spawn(|| recurse(0))
            .unwrap()
            .join()
            .unwrap();
        unreachable!();
    }
    let out = run_child("a_thread_overflow_outside_coroutines_is_still_std_s_message");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.signal(), Some(libc::SIGABRT), "{stderr}");
    assert!(stderr.contains("thread 'plain'"), "{stderr}");
    assert!(stderr.contains("has overflowed its stack"), "{stderr}");
    assert!(!stderr.contains("coroutine "), "{stderr}");
}

#[test]
fn running_out_of_mappings_is_an_error_that_names_the_way_out() {
    if in_child() {
        let mut stacks = Vec::new();
        let err = loop {
            match OwnedStack::new(16 * 1024) {
                Ok(s) => stacks.push(s),
                Err(e) => break e,
            }
            assert!(stacks.len() < 1_000_000, "no limit hit");
        };
        assert!(matches!(err, Error::StackAlloc { .. }));
        let msg = err.to_string();
        assert!(msg.contains("vm.max_map_count"), "{msg}");
        assert!(msg.contains("SharedStack"), "{msg}");
        // Give the mappings back, and the process goes on normally.
        drop(stacks);
        let mut co = Coroutine::<(), (), u8>::new(|_, ()| 7);
        assert_eq!(co.resume(()).unwrap().as_return(), Some(7));
        println!("CHILD-OK after {err}");
        return;
    }
    let out = run_child("running_out_of_mappings_is_an_error_that_names_the_way_out");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("CHILD-OK"), "{stdout}");
}
