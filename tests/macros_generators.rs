//! Generators: `#[coroutine(yield = T)]`, `co_yield!`, and `coro::Generator` without a scheduler.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use coro::{Generator, co_yield};

#[coro::coroutine(yield = u64)]
fn squares(n: u64) -> &'static str {
    for i in 1..=n {
        co_yield!(i * i);
    }
    "done"
}

#[test]
fn yields_values_then_returns() {
    let mut squares = squares(4);
    assert_eq!(squares.by_ref().collect::<Vec<_>>(), [1, 4, 9, 16]);
    assert!(squares.is_finished());
    assert_eq!(squares.return_value(), Some("done"));
    assert_eq!(squares.return_value(), None, "the value is taken once");
    assert_eq!(squares.next(), None, "a finished generator stays finished");
}

#[test]
fn into_return_runs_to_the_end() {
    assert_eq!(squares(10).into_return(), "done");
}

#[coro::coroutine(yield = usize)]
fn logged(log: Rc<RefCell<Vec<String>>>) {
    log.borrow_mut().push("started".into());
    for i in 0..3 {
        co_yield!(i);
        log.borrow_mut().push(format!("after {i}"));
    }
}

#[test]
fn the_body_is_lazy() {
    let log = Rc::new(RefCell::new(Vec::new()));
    let mut g = logged(log.clone());
    assert!(
        log.borrow().is_empty(),
        "nothing runs before the first next()"
    );
    assert_eq!(g.next(), Some(0));
    assert_eq!(*log.borrow(), ["started"]);
    assert_eq!(g.next(), Some(1));
    assert_eq!(*log.borrow(), ["started", "after 0"]);
}

struct DropCount(Rc<Cell<u32>>);

impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.set(self.0.get() + 1);
    }
}

#[coro::coroutine(yield = u32)]
fn holds_guards(drops: Rc<Cell<u32>>, reached_end: Rc<Cell<bool>>) {
    let _outer = DropCount(drops.clone());
    for i in 0.. {
        let _inner = DropCount(drops.clone());
        co_yield!(i);
        if i == 1_000 {
            break;
        }
    }
    reached_end.set(true);
}

#[test]
fn early_drop_runs_destructors() {
    let drops = Rc::new(Cell::new(0));
    let reached_end = Rc::new(Cell::new(false));
    let mut g = holds_guards(drops.clone(), reached_end.clone());
    assert_eq!(g.next(), Some(0));
    assert_eq!(g.next(), Some(1));
    assert_eq!(
        drops.get(),
        1,
        "the first loop iteration's guard is dropped"
    );
    drop(g);
    assert_eq!(
        drops.get(),
        3,
        "the live inner guard and the outer guard are dropped"
    );
    assert!(!reached_end.get(), "the body is unwound, not run on");
}

#[test]
fn dropping_an_unstarted_generator_runs_nothing() {
    let drops = Rc::new(Cell::new(0));
    let reached_end = Rc::new(Cell::new(false));
    drop(holds_guards(drops.clone(), reached_end.clone()));
    assert_eq!(drops.get(), 0);
    assert!(!reached_end.get());
}

#[coro::coroutine(yield = u32)]
fn evens(limit: u32) {
    for i in (0..limit).filter(|i| i % 2 == 0) {
        co_yield!(i);
    }
}

#[coro::coroutine(yield = (u32, u32))]
fn pairs(limit: u32) -> usize {
    let mut n = 0;
    // A generator driven from inside another generator: nested resumes.
    for a in evens(limit) {
        for b in evens(a) {
            co_yield!((a, b));
            n += 1;
        }
    }
    n
}

#[test]
fn nested_generators() {
    let mut g = pairs(6);
    let got: Vec<_> = g.by_ref().collect();
    assert_eq!(got, [(2, 0), (4, 0), (4, 2)]);
    assert_eq!(g.return_value(), Some(3));
}

#[coro::coroutine(yield = T)]
fn repeat<T: Clone>(value: T, times: usize) {
    for _ in 0..times {
        co_yield!(value.clone());
    }
}

#[coro::coroutine(yield = u8)]
fn from_iter(items: impl IntoIterator<Item = u8>) {
    for item in items {
        co_yield!(item);
    }
}

#[test]
fn generic_and_impl_trait_arguments() {
    assert_eq!(
        repeat("x".to_string(), 3).collect::<Vec<_>>(),
        ["x", "x", "x"]
    );
    assert_eq!(from_iter(vec![3, 1, 2]).collect::<Vec<_>>(), [3, 1, 2]);
}

struct Countdown {
    from: u32,
}

impl Countdown {
    /// A method taking `self` by value.
    #[coro::coroutine(yield = u32)]
    fn run(self) -> u32 {
        let mut n = self.from;
        while n > 0 {
            co_yield!(n);
            n -= 1;
        }
        self.from
    }

    /// An associated function.
    #[coro::coroutine(yield = u32)]
    fn from(from: u32) {
        co_yield!(from);
    }
}

#[test]
fn methods_and_associated_functions() {
    let mut g = Countdown { from: 3 }.run();
    assert_eq!(g.by_ref().collect::<Vec<_>>(), [3, 2, 1]);
    assert_eq!(g.return_value(), Some(3));
    assert_eq!(Countdown::from(7).collect::<Vec<_>>(), [7]);
}

#[coro::coroutine(yield = String)]
fn through_closures_and_macros(words: Vec<&'static str>) {
    // `co_yield!` inside a closure and inside another macro's arguments.
    words.iter().for_each(|w| co_yield!(w.to_uppercase()));
    let v = vec![co_yield!(format!("{}", words.len()))];
    assert_eq!(v, [()]);
    coro::co_yield!("path".to_string());
}

#[test]
fn co_yield_in_closures_macros_and_paths() {
    let got: Vec<_> = through_closures_and_macros(vec!["a", "b"]).collect();
    assert_eq!(got, ["A", "B", "2", "path"]);
}

#[coro::coroutine(yield = ())]
fn ticks(n: u32) -> u32 {
    for _ in 0..n {
        co_yield!();
    }
    n
}

#[test]
fn unit_yield_takes_no_value() {
    let mut g = ticks(3);
    assert_eq!(g.by_ref().count(), 3);
    assert_eq!(g.return_value(), Some(3));
}

#[coro::coroutine(yield = u32, stack_size = 32768)]
fn small_stack() {
    co_yield!(1);
}

#[test]
fn stack_size_option() {
    assert_eq!(small_stack().collect::<Vec<_>>(), [1]);
}

#[coro::coroutine(yield = u32)]
fn panics_after_one() {
    co_yield!(1);
    panic!("generator failed");
}

#[test]
fn a_panic_reaches_the_caller_of_next() {
    let mut g = panics_after_one();
    assert_eq!(g.next(), Some(1));
    let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| g.next())).unwrap_err();
    assert_eq!(err.downcast_ref::<&str>(), Some(&"generator failed"));
    assert!(g.is_finished());
    assert_eq!(g.next(), None);
    assert_eq!(g.return_value(), None);
}

#[test]
fn generator_new_without_macros() {
    let mut fib = Generator::new(|y: &coro::Yielder<(), u64>| {
        let (mut a, mut b) = (0, 1);
        loop {
            y.suspend(a);
            (a, b) = (b, a + b);
        }
    });
    let first: Vec<u64> = fib.by_ref().take(10).collect();
    assert_eq!(first, [0, 1, 1, 2, 3, 5, 8, 13, 21, 34]);
    assert!(!fib.is_finished());
}

#[test]
fn generator_inside_a_plain_coroutine() {
    let mut co = coro::Coroutine::<(), u64, u64>::new(|y, ()| {
        let mut total = 0;
        for v in squares(3) {
            y.suspend(v);
            total += v;
        }
        total
    });
    let mut yielded = Vec::new();
    let total = loop {
        match co.resume(()).unwrap() {
            coro::CoroutineResult::Yield(v) => yielded.push(v),
            coro::CoroutineResult::Return(t) => break t,
        }
    };
    assert_eq!(yielded, [1, 4, 9]);
    assert_eq!(total, 14);
}

#[test]
fn generators_are_not_send() {
    trait AmbiguousIfSend<A> {
        fn some_item() {}
    }
    impl<T: ?Sized> AmbiguousIfSend<()> for T {}
    #[allow(dead_code)]
    struct Invalid;
    impl<T: ?Sized + Send> AmbiguousIfSend<Invalid> for T {}
    // Compiles only if `Generator` is not `Send` (otherwise the call is ambiguous).
    <Generator<u32, ()> as AmbiguousIfSend<_>>::some_item();
}

#[coro::coroutine(yield = u32)]
fn sleepy() {
    for i in 0..3 {
        // A generator is not a scheduler task: these block the thread briefly instead of
        // yielding to the scheduler, which must stay sound.
        coro::yield_now();
        coro::sleep(std::time::Duration::from_millis(1));
        co_yield!(i);
    }
}

#[test]
fn runtime_calls_inside_a_generator_driven_by_a_task() {
    let v = coro::run(|| {
        let other = coro::go! {
            for _ in 0..5 {
                coro::yield_now();
            }
            1
        };
        let v: Vec<u32> = sleepy().collect();
        assert_eq!(other.join().unwrap(), 1);
        v
    });
    assert_eq!(v, [0, 1, 2]);
}
