//! [`join!`](crate::join!): runs several expressions at once, each in a coroutine of its own
//! (scoped, so they may borrow), and waits for all of them.

/// Evaluates every expression at once, each as a coroutine of [`coro::scope`](crate::scope)
/// (so they may borrow from the caller's stack), waits for all of them, and returns their
/// values as a tuple, in the order written.
///
/// Every branch runs to its end: one that panics does not cancel the others, and the first
/// panic (in the order written) is raised once all have ended. A cancel or an expired
/// deadline of the caller cancels the branches (as the scope's unwinding does). The caller must
/// run on an owned stack, as for `coro::scope`.
///
/// ```
/// use std::time::{Duration, Instant};
/// coro::run(|| {
///     let name = String::from("coro");
///     let start = Instant::now();
///     let (a, b, c) = coro::join!(
///         { coro::sleep(Duration::from_millis(30)); name.len() }, // borrows `name`
///         { coro::sleep(Duration::from_millis(30)); 2 },
///         "three",
///     );
///     assert_eq!((a, b, c), (4, 2, "three"));
///     assert!(start.elapsed() >= Duration::from_millis(30));
/// });
/// ```
#[macro_export]
macro_rules! join {
    ($($e:expr),+ $(,)?) => {
        $crate::scope(|__coro_scope| $crate::__join_spawn!(__coro_scope; []; $($e,)+))
    };
}

/// The steps of [`join!`]: spawn each branch (naming its handle), then join them all, then
/// unwrap each result in order.
#[doc(hidden)]
#[macro_export]
macro_rules! __join_spawn {
    ($s:ident; [$($h:ident)*]; $e:expr, $($rest:expr,)*) => {{
        let handle = $s.spawn(|| $e);
        $crate::__join_spawn!($s; [$($h)* handle]; $($rest,)*)
    }};
    ($s:ident; [$($h:ident)*];) => {{
        let results = ($($h.join(),)*);
        $crate::__join_unwrap!(results; $($h)*)
    }};
}

#[doc(hidden)]
#[macro_export]
macro_rules! __join_unwrap {
    ($results:ident; $($h:ident)*) => {{
        let ($($h,)*) = $results;
        ($($crate::__private::join_value($h),)*)
    }};
}
