//! [`select!`](crate::select!): the parser (a token muncher that reads the arms into a list),
//! the expansion (each arm a [`Branch`](super::Branch) local, one call of
//! [`run`](super::run), then a chain of `if let`s that runs the winner's body), and the table
//! from an arm's name to its operation.

/// Waits for the first of several operations, and runs the code of the one that completed:
/// coro's `select`, in the syntax of crossbeam's `select!`.
///
/// ```
/// use std::time::Duration;
/// coro::run(|| {
///     let (tx, rx) = coro::channel::unbounded::<&str>();
///     let (_quit_tx, quit_rx) = coro::channel::unbounded::<()>();
///     let mut worker = coro::spawn(move || {
///         coro::sleep(Duration::from_millis(5));
///         tx.send("hello").unwrap();
///         7
///     });
///     // Nothing has come yet: `default` runs, and the select does not wait.
///     let first = coro::select! {
///         recv(rx) -> msg => msg.ok(),
///         default => None,
///     };
///     assert_eq!(first, None);
///     // Waits for the first of a message, a quit, or five seconds.
///     coro::select! {
///         recv(rx) -> msg => assert_eq!(msg, Ok("hello")),
///         recv(quit_rx) -> _ => unreachable!("nobody quits"),
///         sleep(Duration::from_secs(5)) => panic!("timed out"),
///     }
///     let n = coro::select! {
///         join(worker) -> r => r.unwrap(),
///         sleep(Duration::from_secs(5)) => panic!("the worker is stuck"),
///     };
///     assert_eq!(n, 7);
/// });
/// ```
///
/// # Arms
///
/// Each arm is `operation(args) -> pattern => expression`; `-> pattern` may be left out when
/// the output is not needed (it is then `_`). A comma ends an arm whose expression is not a
/// block.
///
/// | arm | ready when | the pattern binds |
/// |---|---|---|
/// | `recv(rx)` | a message can be taken, or every sender is gone | `Result<T, RecvError>` |
/// | `recv(rx)` on a broadcast receiver | a message is unread, or the receiver lagged, or every sender is gone | `Result<T, BroadcastRecvError>` |
/// | `send(tx, value)` | the channel has room (rendezvous: a receiver waits), or every receiver is gone | `Result<(), SendError<T>>` |
/// | `changed(rx)` on a watch receiver | a version it has not seen exists, or every sender is gone | `Result<(), ChangedError>` |
/// | `join(handle)` | the coroutine has finished | `std::thread::Result<T>`, as [`JoinHandle::join`] |
/// | `sleep(duration)` | `duration` has passed since the select began | `()` |
/// | `sleep_until(instant)` | the clock has reached `instant` | `()` |
/// | `readable(fd)`, `writable(fd)` | `poll(2)` says so (an error or hang-up counts) | `std::io::Result<()>` |
/// | `default` | no other arm is ready | (no pattern) |
///
/// Receivers and senders are the thread-local and the cross-thread ([`channel::sync`]) halves
/// of every channel flavour; `recv`, `send` and `fd` arms borrow their argument, `changed`,
/// broadcast `recv` and `join` borrow it `&mut` (write `mut` on the binding). `fd` is anything
/// [`AsFd`](std::os::fd::AsFd), or a reference to it: a `coro::net` or `std::net` socket, a
/// pipe, an `OwnedFd`, a `BorrowedFd`.
///
/// # Semantics
///
/// * **Evaluation.** Every arm's arguments are evaluated once, in the order written, before
///   anything else; a `send` arm's value too, even if another arm wins.
/// * **Which arm wins.** The arms are tried in a random order, so when several are ready one
///   of them wins uniformly at random: no arm starves, whatever order they are written in.
///   If none is ready, `default` runs if there is one; otherwise the coroutine parks until an
///   arm may be ready, then tries them all again (in a new random order).
/// * **The others.** Exactly one operation happens. No other arm takes a message, sends its
///   value (it is dropped with the select), takes a join result or consumes readiness, and
///   nothing stays registered once the select returns. A wake-up that a channel gave an arm
///   that did not win is given on to the channel's next waiting party, as a timed-out
///   `recv`/`send` gives it on: a message is never left behind while another receiver waits,
///   and a slot that a bounded channel reserved for the select goes to the next sender.
/// * **The body** runs after the select is over, in the caller's frame: `return`, `break`,
///   `continue` and `?` work, and the arms' borrows have ended (the body may use `rx` again).
/// * **Disconnected channels** are ready, with the `Err` the blocking call would return (as in
///   crossbeam): an arm on a channel whose other side is gone wins at once (among the ready
///   arms), so a loop over a select must stop selecting on it.
/// * **Cancellation and deadlines.** The park is one of coro's own waits: a
///   [cancel](crate::JoinHandle::cancel) or an expired [deadline scope](crate::with_timeout) unwinds
///   from it, with no operation done (nothing received, nothing sent, the `send` values
///   dropped) and every arm unregistered on the way out. A select that finds an arm ready
///   completes it without looking for an interrupt (as `recv` does when a message is queued),
///   and one with `default` never parks, so it never sees one.
/// * **Rendezvous.** A `send` arm on a `bounded(0)` channel completes when it hands its value
///   to a receiver that waits. If that receiver is itself a `select!` that then takes another
///   arm (or is cancelled), the value waits in the channel for the next receive, as a
///   `try_send` to a rendezvous channel does; it is never lost.
/// * **Outside a coroutine** (on a plain thread), arms on the cross-thread channels and timers
///   park the thread; fd arms are `Err` unless ready. A select that would wait forever there
///   panics with a sentence: only thread-local channels and join handles, no timer.
///
/// # Cost
///
/// When an arm is ready: one random number and, per arm tried, what its `try_` operation
/// costs (a `RefCell` borrow for a local channel, a mutex for a cross-thread one); no
/// allocation. The book's chapter "Synchronization" has the measured figure (`select_2`,
/// against `tokio::select!`). When it must wait: one wait node per channel arm (a small heap
/// allocation, as a blocking `recv` makes), a `poll(2)` and an `epoll_ctl` per fd arm, one
/// timer for the earliest timer arm; after each wake-up every arm is tried and registered
/// again.
///
/// # Panics
///
/// As the operations would: a `join` arm on a handle whose result an earlier `join` arm took;
/// and a select that would wait forever outside a coroutine (see above). An unknown arm, a
/// second `default`, or a select with no arm is a compile error.
///
/// [`JoinHandle::join`]: crate::JoinHandle::join
/// [`channel::sync`]: crate::channel::sync
/// [`RecvError`]: crate::channel::RecvError
#[macro_export]
macro_rules! select {
    ($($arms:tt)*) => {
        $crate::__select_parse!(@arms [] @default [] @rest $($arms)*)
    };
}

/// The parser of [`select!`]: reads one arm at a time into `[op (args) (pattern) (body)]`.
#[doc(hidden)]
#[macro_export]
macro_rules! __select_parse {
    (@arms $arms:tt @default $default:tt @rest) => {
        $crate::__select_expand!(@todo $arms @done [] @default $default)
    };
    // `default => body`
    (@arms $arms:tt @default [] @rest default => $body:expr, $($rest:tt)*) => {
        $crate::__select_parse!(@arms $arms @default [{ $body }] @rest $($rest)*)
    };
    (@arms $arms:tt @default [] @rest default => $body:expr) => {
        $crate::__select_parse!(@arms $arms @default [{ $body }] @rest)
    };
    (@arms $arms:tt @default [] @rest default => $body:block $($rest:tt)*) => {
        $crate::__select_parse!(@arms $arms @default [$body] @rest $($rest)*)
    };
    (@arms $arms:tt @default [$($d:tt)+] @rest default => $($rest:tt)*) => {
        ::core::compile_error!("`select!` takes at most one `default` arm")
    };
    // `op(args) -> pattern => body`
    (@arms [$($arms:tt)*] @default $d:tt @rest
        $op:ident ($($args:tt)*) -> $p:pat => $body:expr, $($rest:tt)*) => {
        $crate::__select_parse!(@arms [$($arms)* [$op ($($args)*) ($p) ({ $body })]]
            @default $d @rest $($rest)*)
    };
    (@arms [$($arms:tt)*] @default $d:tt @rest
        $op:ident ($($args:tt)*) -> $p:pat => $body:expr) => {
        $crate::__select_parse!(@arms [$($arms)* [$op ($($args)*) ($p) ({ $body })]]
            @default $d @rest)
    };
    (@arms [$($arms:tt)*] @default $d:tt @rest
        $op:ident ($($args:tt)*) -> $p:pat => $body:block $($rest:tt)*) => {
        $crate::__select_parse!(@arms [$($arms)* [$op ($($args)*) ($p) ($body)]]
            @default $d @rest $($rest)*)
    };
    // `op(args) => body`: the output is not bound
    (@arms [$($arms:tt)*] @default $d:tt @rest
        $op:ident ($($args:tt)*) => $body:expr, $($rest:tt)*) => {
        $crate::__select_parse!(@arms [$($arms)* [$op ($($args)*) (_) ({ $body })]]
            @default $d @rest $($rest)*)
    };
    (@arms [$($arms:tt)*] @default $d:tt @rest $op:ident ($($args:tt)*) => $body:expr) => {
        $crate::__select_parse!(@arms [$($arms)* [$op ($($args)*) (_) ({ $body })]]
            @default $d @rest)
    };
    (@arms [$($arms:tt)*] @default $d:tt @rest
        $op:ident ($($args:tt)*) => $body:block $($rest:tt)*) => {
        $crate::__select_parse!(@arms [$($arms)* [$op ($($args)*) (_) ($body)]]
            @default $d @rest $($rest)*)
    };
    (@arms $arms:tt @default $d:tt @rest $($rest:tt)+) => {
        ::core::compile_error!(::core::concat!(
            "`select!` cannot read the arm at `",
            ::core::stringify!($($rest)+),
            "`: write `operation(args) -> pattern => expression,` (such as `recv(rx) -> msg => ..`), or `default => expression,`"
        ))
    };
}

/// The expansion of [`select!`]: names each arm's branch (a fresh `branch` identifier per
/// step, by hygiene), then builds the branches, runs the select and dispatches the winner.
#[doc(hidden)]
#[macro_export]
macro_rules! __select_expand {
    (@todo [] @done [] @default []) => {
        ::core::compile_error!("`select!` needs at least one arm, such as `recv(rx) -> msg => ..`")
    };
    (@todo [] @done [] @default [$($default:tt)+]) => {
        $($default)+
    };
    (@todo [$arm:tt $($todo:tt)*] @done [$($done:tt)*] @default $d:tt) => {
        $crate::__select_expand!(@todo [$($todo)*] @done [$($done)* (branch $arm)] @default $d)
    };
    (@todo [] @done [$(($b:ident [$op:ident ($($args:tt)*) ($($p:tt)*) ($($body:tt)*)]))+]
        @default [$($default:tt)*]) => {{
        #[allow(unused_imports)]
        use $crate::__private::select::{
            SelectChanged as _, SelectFd as _, SelectJoin as _, SelectRecv as _, SelectSend as _,
        };
        let ($($b,)+) = {
            $(
                let mut $b =
                    $crate::__private::select::Branch::new($crate::__select_op!($op($($args)*)));
            )+
            $crate::__private::select::run(
                &mut [$(&mut $b as &mut dyn $crate::__private::select::Arm),+],
                $crate::__select_default!(@has $($default)*),
            );
            ($($b.take_output(),)+)
        };
        $(
            if let ::core::option::Option::Some(__coro_select_output) = $b {
                let $($p)* = __coro_select_output;
                $($body)*
            } else
        )+
        {
            $crate::__select_default!(@run $($default)*)
        }
    }};
}

/// Whether a [`select!`] has a `default` arm, and its body (or the unreachable end).
#[doc(hidden)]
#[macro_export]
macro_rules! __select_default {
    (@has) => {
        false
    };
    (@has $($default:tt)+) => {
        true
    };
    (@run) => {
        $crate::__private::select::no_winner()
    };
    (@run $($default:tt)+) => {
        $($default)+
    };
}

/// The operation of a [`select!`] arm, by its name.
#[doc(hidden)]
#[macro_export]
macro_rules! __select_op {
    (recv($rx:expr $(,)?)) => {
        ($rx).select_recv()
    };
    (send($tx:expr, $value:expr $(,)?)) => {
        ($tx).select_send($value)
    };
    (changed($rx:expr $(,)?)) => {
        ($rx).select_changed()
    };
    (join($handle:expr $(,)?)) => {
        ($handle).select_join()
    };
    (sleep($duration:expr $(,)?)) => {
        $crate::__private::select::sleep($duration)
    };
    (sleep_until($instant:expr $(,)?)) => {
        $crate::__private::select::sleep_until($instant)
    };
    (readable($fd:expr $(,)?)) => {
        ($fd).select_readable()
    };
    (writable($fd:expr $(,)?)) => {
        ($fd).select_writable()
    };
    (default($($args:tt)*)) => {
        ::core::compile_error!(
            "`default(timeout)` is crossbeam's: in `coro::select!` a timeout is a `sleep(timeout) => ..` arm, and `default => ..` runs when no arm is ready"
        )
    };
    (send($($args:tt)*)) => {
        ::core::compile_error!("a `send` arm takes a sender and a value: `send(tx, value) -> result => ..`")
    };
    ($op:ident ($($args:tt)*)) => {
        ::core::compile_error!(::core::concat!(
            "`select!` has no arm `",
            ::core::stringify!($op),
            "(..)`: the arms are `recv(rx)`, `send(tx, value)`, `changed(watch_rx)`, `join(handle)`, `sleep(duration)`, `sleep_until(instant)`, `readable(fd)`, `writable(fd)`, each with one argument but `send`, and `default`"
        ))
    };
}
