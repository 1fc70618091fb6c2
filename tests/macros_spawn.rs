//! The spawning forms: `#[coro::coroutine]`, `go!`, `#[coro::main]`/`#[coro::test]`, and
//! `co_local!` inside scheduled coroutines.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use coro::{JoinHandle, co_local, go};

#[coro::coroutine]
fn add(a: u32, b: u32) -> u32 {
    coro::yield_now();
    a + b
}

#[test]
fn a_coroutine_fn_spawns_and_returns_its_value() {
    let sum = coro::run(|| {
        let h: JoinHandle<u32> = add(2, 3);
        h.join().unwrap()
    });
    assert_eq!(sum, 5);
}

#[coro::coroutine]
fn record(log: Rc<RefCell<Vec<&'static str>>>, name: &'static str) {
    log.borrow_mut().push(name);
}

#[test]
fn the_call_spawns_rather_than_runs() {
    let log = Rc::new(RefCell::new(Vec::new()));
    let log2 = log.clone();
    coro::run(move || {
        let h = record(log2.clone(), "child");
        log2.borrow_mut().push("parent");
        h.join().unwrap();
    });
    assert_eq!(
        *log.borrow(),
        ["parent", "child"],
        "the body runs later, as a coroutine"
    );
}

#[coro::coroutine]
fn fails(msg: &'static str) -> u32 {
    panic!("{msg}");
}

#[test]
fn a_panic_reaches_join() {
    let err = coro::run(|| fails("boom").join()).unwrap_err();
    assert_eq!(
        err.downcast_ref::<String>().map(String::as_str),
        Some("boom")
    );
}

#[coro::coroutine]
fn largest<T: PartialOrd + Copy>(items: Vec<T>) -> Option<T> {
    let mut best = None;
    for item in items {
        if best.is_none_or(|b| item > b) {
            best = Some(item);
        }
    }
    best
}

#[coro::coroutine]
fn total(items: impl IntoIterator<Item = u64>) -> u64 {
    items.into_iter().sum()
}

#[coro::coroutine]
fn fallible(ok: bool) -> Result<u8, String> {
    let v: u8 = if ok { "7" } else { "x" }
        .parse()
        .map_err(|e| format!("{e}"))?;
    Ok(v)
}

#[test]
fn generic_impl_trait_and_question_mark_forms() {
    coro::run(|| {
        assert_eq!(largest(vec![3, 9, 2]).join().unwrap(), Some(9));
        assert_eq!(largest(vec!["b", "a"]).join().unwrap(), Some("b"));
        assert_eq!(total([1, 2, 3]).join().unwrap(), 6);
        assert_eq!(fallible(true).join().unwrap(), Ok(7));
        assert!(fallible(false).join().unwrap().is_err());
    });
}

struct Counter {
    start: u32,
}

impl Counter {
    /// A method taking `self` by value.
    #[coro::coroutine]
    fn count_to(self, end: u32) -> Vec<u32> {
        let mut out = Vec::new();
        for i in self.start..end {
            out.push(i);
            coro::yield_now();
        }
        out
    }

    /// An associated function.
    #[coro::coroutine]
    fn make(start: u32) -> Counter {
        Counter { start }
    }
}

#[test]
fn methods_and_associated_functions() {
    coro::run(|| {
        let c = Counter::make(2).join().unwrap();
        assert_eq!(c.count_to(5).join().unwrap(), [2, 3, 4]);
    });
}

#[coro::coroutine(stack_size = 32768)]
fn small() -> u8 {
    1
}

#[coro::coroutine(unsafe(shared))]
fn on_shared(n: u32) -> u32 {
    coro::yield_now();
    n * 2
}

#[coro::coroutine(unsafe(shared), stack_size = 65536)]
fn on_shared_sized() -> u32 {
    3
}

#[test]
fn stack_options() {
    coro::run(|| {
        assert_eq!(small().join().unwrap(), 1);
        let hs: Vec<_> = (0..10).map(on_shared).collect();
        let got: Vec<u32> = hs.into_iter().map(|h| h.join().unwrap()).collect();
        assert_eq!(got, (0..10).map(|n| n * 2).collect::<Vec<_>>());
        assert_eq!(on_shared_sized().join().unwrap(), 3);
    });
}

#[test]
fn go_forms() {
    coro::run(|| {
        let name = String::from("go");
        let a = go! {
            coro::yield_now();
            name.len()
        };
        let b = go!(move || 40 + 2);
        let c = go!(stack_size = 16384, unsafe(shared); {
            coro::yield_now();
            "opts"
        });
        let d = go!(unsafe(shared); move || 1u8);
        let e = go!({ 5 });
        assert_eq!(a.join().unwrap(), 2);
        assert_eq!(b.join().unwrap(), 42);
        assert_eq!(c.join().unwrap(), "opts");
        assert_eq!(d.join().unwrap(), 1);
        assert_eq!(e.join().unwrap(), 5);
    });
}

#[test]
fn go_captures_by_move() {
    let total = coro::run(|| {
        let data = String::from("moved");
        // `data` moves into the coroutine, which outlives this scope's borrow of it.
        let h = go! { data.len() };
        h.join().unwrap()
    });
    assert_eq!(total, 5);
}

#[test]
fn go_panics_reach_join() {
    let err = coro::run(|| go! { panic!("from go") }.join()).unwrap_err();
    assert_eq!(err.downcast_ref::<&str>(), Some(&"from go"));
}

co_local! {
    static ID: Cell<u64> = Cell::new(0);
    static TRAIL: RefCell<Vec<u64>> = RefCell::new(Vec::new());
}

#[test]
fn co_local_isolation_across_10_000_scheduled_coroutines() {
    const N: u64 = 10_000;
    let ok = coro::run(|| {
        let handles: Vec<JoinHandle<bool>> = (1..=N)
            .map(|id| {
                go!(unsafe(shared); move || {
                    ID.set(id);
                    TRAIL.with_borrow_mut(|t| t.push(id));
                    let mut ok = true;
                    for _ in 0..3 {
                        coro::yield_now();
                        ok &= ID.get() == id;
                        ok &= TRAIL.with_borrow(|t| t == &[id]);
                    }
                    ok
                })
            })
            .collect();
        handles.into_iter().all(|h| h.join().unwrap())
    });
    assert!(ok, "every coroutine read back its own id after yielding");
    assert_eq!(ID.get(), 0, "the thread's own value is untouched");
}

thread_local! {
    static DROPS: Cell<u32> = const { Cell::new(0) };
}

struct Noisy;

impl Drop for Noisy {
    fn drop(&mut self) {
        DROPS.with(|d| d.set(d.get() + 1));
    }
}

co_local! {
    static NOISY: RefCell<Option<Noisy>> = RefCell::new(None);
}

#[test]
fn co_local_values_drop_when_scheduled_coroutines_end() {
    let before = DROPS.with(Cell::get);
    coro::run(|| {
        let hs: Vec<_> = (0..100)
            .map(|_| {
                go! {
                    NOISY.set(Some(Noisy));
                    coro::yield_now();
                }
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        assert_eq!(DROPS.with(Cell::get) - before, 100);
    });
}

#[coro::test]
fn coro_test_runs_inside_a_runtime() {
    assert!(coro::current().is_some(), "the test body is a coroutine");
    assert_eq!(add(1, 1).join().unwrap(), 2);
}

#[coro::test(replicate = 2)]
fn coro_test_on_two_threads() -> Result<(), String> {
    let h = go! { coro::current().map(|c| c.id) };
    match h.join().unwrap() {
        Some(_) => Ok(()),
        None => Err("the go! body did not run as a coroutine".into()),
    }
}

struct Shared {
    n: u32,
}

impl Shared {
    /// A method taking `self: Rc<Self>`: the coroutine holds one reference.
    #[coro::coroutine]
    fn double(self: Rc<Self>) -> u32 {
        coro::yield_now();
        self.n * 2
    }
}

#[test]
fn rc_self_receiver() {
    let s = Rc::new(Shared { n: 21 });
    let got = coro::run({
        let s = s.clone();
        move || s.double().join().unwrap()
    });
    assert_eq!(got, 42);
    assert_eq!(
        Rc::strong_count(&s),
        1,
        "the coroutine's reference was dropped with it"
    );
}

/// Uses `n` bytes of stack at once, so that a stack too small overflows (and aborts).
#[inline(never)]
fn big_local<const N: usize>() -> u64 {
    let buf = std::hint::black_box([7u8; N]);
    buf.iter().map(|&b| u64::from(b)).sum()
}

#[coro::test]
fn main_has_a_big_enough_stack_for_a_1_mib_local() {
    // main's default stack is 8 MiB (a main thread's); 1 MiB of locals is ordinary.
    assert_eq!(big_local::<{ 1 << 20 }>(), 7 << 20);
}

#[coro::test(stack_size = 16 << 20)]
fn main_with_a_16_mib_stack_takes_a_4_mib_local() {
    // (A debug build may copy the array once or twice on its way: room for that.)
    assert_eq!(big_local::<{ 4 << 20 }>(), 7 << 22);
}

#[test]
fn the_runtime_sets_the_default_stack_of_its_coroutines() {
    let sums = coro::Runtime::builder()
        .stack_size(4 << 20)
        .run(|_| coro::spawn(big_local::<{ 1 << 20 }>).join().unwrap());
    assert_eq!(sums, vec![7 << 20]);
}
