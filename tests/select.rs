//! `coro::select!`: each kind of arm, fairness when several are ready, the `default` arm,
//! disconnected channels, and the rule that an arm that does not win (or a select that is
//! cancelled or times out) leaves nothing behind: no message taken, none stranded while
//! another receiver waits, no slot kept, no registration left.

use std::cell::Cell;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::thread;
use std::time::{Duration, Instant};

use coro::channel::{self, BroadcastRecvError, ChangedError, RecvError, SendError, sync};

const SHORT: Duration = Duration::from_millis(20);

/// Counts its drops.
struct Counted(Rc<Cell<u32>>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.set(self.0.get() + 1);
    }
}

fn assert_fair_share(wins: &[u32], rounds: u32) {
    for (arm, &w) in wins.iter().enumerate() {
        let share = f64::from(w) / f64::from(rounds);
        assert!(
            (0.4..=0.6).contains(&share),
            "arm {arm} won {w} of {rounds} rounds: {wins:?}"
        );
    }
}

#[test]
fn two_always_ready_channels_each_win_a_fair_share_over_10000_rounds() {
    coro::run(|| {
        let (tx_a, rx_a) = channel::unbounded();
        let (tx_b, rx_b) = channel::unbounded();
        tx_a.send(0u32).unwrap();
        tx_b.send(1u32).unwrap();
        let mut wins = [0u32; 2];
        for _ in 0..10_000 {
            // Each arm is ready in every round: the winner's message is replaced at once.
            let won = coro::select! {
                recv(rx_a) -> v => { tx_a.send(v.unwrap()).unwrap(); 0 }
                recv(rx_b) -> v => { tx_b.send(v.unwrap()).unwrap(); 1 }
            };
            wins[won] += 1;
        }
        assert_fair_share(&wins, 10_000);
        assert_eq!(
            (rx_a.len(), rx_b.len()),
            (1, 1),
            "nothing taken but the winner's"
        );
    });
}

#[test]
fn a_ready_arm_after_one_that_is_not_ready_is_not_favoured() {
    // A random first arm followed by the others in order would make `b` win whenever the
    // start falls on `never` (2 rounds in 3); a random order makes the two ready arms even.
    coro::run(|| {
        let (_tx_never, never) = channel::unbounded::<u32>();
        let (tx_b, rx_b) = channel::unbounded();
        let (tx_c, rx_c) = channel::unbounded();
        tx_b.send(1u32).unwrap();
        tx_c.send(2u32).unwrap();
        let mut wins = [0u32; 2];
        for _ in 0..10_000 {
            coro::select! {
                recv(never) -> _ => unreachable!("nothing is ever sent"),
                recv(rx_b) -> v => { tx_b.send(v.unwrap()).unwrap(); wins[0] += 1; }
                recv(rx_c) -> v => { tx_c.send(v.unwrap()).unwrap(); wins[1] += 1; }
            }
        }
        assert_fair_share(&wins, 10_000);
    });
}

#[test]
fn send_and_cross_thread_arms_are_fair_too() {
    coro::run(|| {
        let (tx_a, rx_a) = channel::bounded(1);
        let (tx_b, rx_b) = sync::bounded(1);
        let mut wins = [0u32; 2];
        for i in 0..10_000u32 {
            coro::select! {
                send(tx_a, i) -> r => { r.unwrap(); rx_a.recv().unwrap(); wins[0] += 1; }
                send(tx_b, i) -> r => { r.unwrap(); rx_b.recv().unwrap(); wins[1] += 1; }
            }
        }
        assert_fair_share(&wins, 10_000);
    });
}

#[test]
fn default_runs_only_when_no_arm_is_ready() {
    coro::run(|| {
        let (tx, rx) = channel::unbounded::<u32>();
        let got = coro::select! {
            recv(rx) -> v => v.ok(),
            default => None,
        };
        assert_eq!(got, None, "empty: the default arm runs");
        tx.send(3).unwrap();
        let got = coro::select! {
            recv(rx) -> v => v.ok(),
            default => None,
        };
        assert_eq!(got, Some(3));
        // Nothing was left registered by the first select: a send now wakes nobody and the
        // message simply waits.
        tx.send(4).unwrap();
        assert_eq!(rx.try_recv(), Ok(4));
        let only_default = coro::select! { default => 5 };
        assert_eq!(only_default, 5);
    });
}

#[test]
fn recv_arm_waits_for_a_message_from_another_coroutine() {
    coro::run(|| {
        let (tx_a, rx_a) = channel::unbounded::<&str>();
        let (_tx_b, rx_b) = channel::unbounded::<&str>();
        let sender = coro::spawn(move || {
            coro::yield_now();
            tx_a.send("late").unwrap();
        });
        let got = coro::select! {
            recv(rx_a) -> v => v,
            recv(rx_b) -> _ => unreachable!(),
        };
        assert_eq!(got, Ok("late"));
        sender.join().unwrap();
    });
}

#[test]
fn send_arm_waits_for_room_and_sends_once() {
    coro::run(|| {
        let (tx, rx) = channel::bounded(1);
        tx.send(1u32).unwrap();
        let (_never_tx, never) = channel::unbounded::<u32>();
        let receiver = coro::spawn(move || {
            coro::yield_now();
            let first = rx.recv().unwrap();
            let second = rx.recv().unwrap();
            assert_eq!(rx.try_recv().ok(), None);
            (first, second)
        });
        let r = coro::select! {
            send(tx, 2) -> r => r,
            recv(never) -> _ => unreachable!(),
        };
        assert_eq!(r, Ok(()));
        drop(tx);
        assert_eq!(receiver.join().unwrap(), (1, 2));
    });
}

#[test]
fn rendezvous_send_arm_hands_its_value_to_a_receiver() {
    coro::run(|| {
        // The receiver comes after the select parked, and before.
        for receiver_first in [false, true] {
            let (tx, rx) = channel::bounded::<u32>(0);
            let receiver = coro::spawn(move || rx.recv());
            if receiver_first {
                coro::yield_now();
            }
            let r = coro::select! {
                send(tx, 9) -> r => r,
                sleep(Duration::from_secs(60)) => unreachable!("a receiver comes"),
            };
            assert_eq!(r, Ok(()));
            assert_eq!(receiver.join().unwrap(), Ok(9));
        }
    });
}

#[test]
fn rendezvous_select_sender_meets_select_receiver() {
    coro::run(|| {
        let (tx, rx) = channel::bounded::<u32>(0);
        let (_keep, idle) = channel::unbounded::<u32>();
        let (_keep2, idle2) = channel::unbounded::<u32>();
        let receiver = coro::spawn(move || {
            coro::select! {
                recv(rx) -> v => v,
                recv(idle2) -> _ => unreachable!(),
            }
        });
        let sent = coro::select! {
            send(tx, 5) -> r => r,
            recv(idle) -> _ => unreachable!(),
        };
        assert_eq!(sent, Ok(()));
        assert_eq!(receiver.join().unwrap(), Ok(5));
    });
}

#[test]
fn join_arm_gives_the_result_once() {
    coro::run(|| {
        let (_tx, idle) = channel::unbounded::<()>();
        let mut a = coro::spawn(|| {
            coro::yield_now();
            "done"
        });
        let r = coro::select! {
            join(a) -> r => r.unwrap(),
            recv(idle) -> _ => unreachable!(),
        };
        assert_eq!(r, "done");
        assert!(a.is_finished());
        let again = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| a.join()));
        let msg = again.unwrap_err();
        let msg = msg.downcast_ref::<String>().unwrap();
        assert!(
            msg.contains("already taken by a `select!` join arm"),
            "{msg}"
        );

        let mut b = coro::spawn(|| panic!("boom"));
        let r = coro::select! { join(b) -> r => r };
        assert!(r.is_err(), "a panic comes back as Err, as from join");
    });
}

#[test]
fn join_arm_that_does_not_win_leaves_the_handle_joinable() {
    coro::run(|| {
        let (tx, rx) = channel::unbounded::<u32>();
        let mut slow = coro::spawn(|| {
            coro::sleep(SHORT);
            11
        });
        tx.send(1).unwrap();
        let first = coro::select! {
            join(slow) -> _ => unreachable!("the message is ready first"),
            recv(rx) -> v => v.unwrap(),
        };
        assert_eq!(first, 1);
        assert_eq!(slow.join().unwrap(), 11);
    });
}

#[test]
fn sleep_arm_wins_when_nothing_else_comes() {
    coro::run(|| {
        let (_tx, rx) = channel::unbounded::<u32>();
        let start = Instant::now();
        let which = coro::select! {
            recv(rx) -> _ => "message",
            sleep(SHORT) => "timer",
        };
        assert_eq!(which, "timer");
        assert!(
            start.elapsed() >= SHORT,
            "a timer arm never completes early"
        );
        let deadline = Instant::now() + SHORT;
        let which = coro::select! {
            recv(rx) -> _ => "message",
            sleep(Duration::from_secs(3600)) => "the hour",
            sleep_until(deadline) => "deadline",
        };
        assert_eq!(which, "deadline");
        assert!(Instant::now() >= deadline);
        let past = coro::select! {
            sleep_until(start) => "past",
            default => "default",
        };
        assert_eq!(past, "past", "a deadline already passed is ready");
    });
}

#[test]
fn readable_arm_on_a_socket_pair_and_writable_at_once() {
    coro::run(|| {
        let (mut a, b) = UnixStream::pair().unwrap();
        let (_tx, idle) = channel::unbounded::<()>();
        let r = coro::select! {
            readable(b) -> r => { r.unwrap(); "readable" }
            default => "nothing to read",
        };
        assert_eq!(r, "nothing to read");
        let writer = coro::spawn(move || {
            coro::sleep(SHORT);
            a.write_all(b"ping").unwrap();
            a
        });
        let r = coro::select! {
            readable(b) -> r => r,
            recv(idle) -> _ => unreachable!(),
        };
        r.unwrap();
        let mut buf = [0u8; 4];
        (&b).read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"ping");
        let a = writer.join().unwrap();
        let r = coro::select! {
            writable(&a) -> r => r,
            recv(idle) -> _ => unreachable!(),
        };
        r.unwrap();
        // The peer hangs up: readable, and the read says end of stream.
        drop(a);
        let r = coro::select! { readable(b) -> r => r };
        r.unwrap();
        assert_eq!((&b).read(&mut buf).unwrap(), 0);
    });
}

#[test]
fn readable_arm_on_a_tcp_stream() {
    coro::run(|| {
        let listener = coro::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let client = coro::spawn(move || {
            let mut s = coro::net::TcpStream::connect(addr).unwrap();
            coro::sleep(SHORT);
            s.write_all(b"hi").unwrap();
            s
        });
        let (mut conn, _) = listener.accept().unwrap();
        let (_tx, idle) = channel::unbounded::<()>();
        coro::select! {
            readable(conn) -> r => r.unwrap(),
            recv(idle) -> _ => unreachable!(),
            sleep(Duration::from_secs(60)) => panic!("no data"),
        }
        let mut buf = [0u8; 2];
        conn.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"hi");
        drop(client.join().unwrap());
    });
}

#[test]
fn disconnected_arms_are_ready_with_an_error() {
    coro::run(|| {
        let (tx, rx) = channel::unbounded::<u32>();
        tx.send(1).unwrap();
        drop(tx);
        // What was sent comes first, then the disconnection.
        assert_eq!(coro::select! { recv(rx) -> v => v }, Ok(1));
        assert_eq!(coro::select! { recv(rx) -> v => v }, Err(RecvError));

        let (tx, rx) = sync::bounded::<String>(1);
        drop(rx);
        let r = coro::select! { send(tx, "back".to_string()) -> r => r };
        assert_eq!(
            r,
            Err(SendError("back".to_string())),
            "the value comes back"
        );

        let (btx, mut brx) = channel::broadcast::<u32>(4);
        drop(btx);
        assert_eq!(
            coro::select! { recv(brx) -> v => v },
            Err(BroadcastRecvError::Disconnected)
        );
        let (wtx, mut wrx) = channel::watch(0u32);
        drop(wtx);
        assert_eq!(coro::select! { changed(wrx) -> r => r }, Err(ChangedError));
    });
}

#[test]
fn a_disconnection_wakes_a_parked_select() {
    coro::run(|| {
        let (tx, rx) = channel::unbounded::<u32>();
        let (_keep, idle) = channel::unbounded::<u32>();
        let dropper = coro::spawn(move || {
            coro::yield_now();
            drop(tx);
        });
        let r = coro::select! {
            recv(rx) -> v => v,
            recv(idle) -> _ => unreachable!(),
        };
        assert_eq!(r, Err(RecvError));
        dropper.join().unwrap();
    });
}

#[test]
fn broadcast_and_watch_arms() {
    coro::run(|| {
        let (btx, mut brx) = channel::broadcast::<u32>(2);
        let (wtx, mut wrx) = channel::watch("start");
        let sender = coro::spawn(move || {
            coro::yield_now();
            wtx.send("changed").unwrap();
            coro::yield_now();
            for v in 0..5 {
                btx.send(v).unwrap();
            }
            (btx, wtx)
        });
        let first = coro::select! {
            recv(brx) -> v => format!("{v:?}"),
            changed(wrx) -> r => { r.unwrap(); wrx.borrow_and_update().to_string() }
        };
        assert_eq!(first, "changed");
        let second = coro::select! {
            recv(brx) -> v => v,
            changed(wrx) -> _ => unreachable!("seen already"),
        };
        // Five sent into room for two before the receiver ran: it lagged.
        assert_eq!(second, Err(BroadcastRecvError::Lagged(3)));
        assert_eq!(coro::select! { recv(brx) -> v => v }, Ok(3));
        drop(sender.join().unwrap());
    });
}

#[test]
fn the_body_may_break_continue_and_use_the_receiver() {
    coro::run(|| {
        let (tx, rx) = channel::unbounded::<u32>();
        for v in 0..10 {
            tx.send(v).unwrap();
        }
        drop(tx);
        let mut sum = 0;
        loop {
            coro::select! {
                recv(rx) -> v => match v {
                    Ok(v) if v % 2 == 1 => continue,
                    Ok(v) => {
                        sum += v;
                        // The arm's borrow of `rx` has ended: the body may use it.
                        let _ = rx.len();
                    }
                    Err(RecvError) => break,
                },
            }
        }
        assert_eq!(sum, 2 + 4 + 6 + 8);
    });
}

#[test]
fn send_values_of_arms_that_do_not_win_are_dropped_not_sent() {
    coro::run(|| {
        let drops = Rc::new(Cell::new(0));
        let (tx_full, rx_full) = channel::bounded(1);
        tx_full.send(Counted(Rc::clone(&drops))).unwrap();
        let (tx, rx) = channel::unbounded::<u32>();
        tx.send(1).unwrap();
        for _ in 0..100 {
            coro::select! {
                send(tx_full, Counted(Rc::clone(&drops))) -> _ => unreachable!("full"),
                recv(rx) -> v => tx.send(v.unwrap()).unwrap(),
            }
        }
        assert_eq!(drops.get(), 100, "each losing value was dropped");
        assert_eq!(rx_full.len(), 1);
    });
}

/// A select parked on two channels is woken by a send on one, and in the same turn, before it
/// runs, is cancelled: a plain receiver that waits behind it on the same channel must get the
/// message.
#[test]
fn a_cancelled_select_passes_its_wake_up_on() {
    coro::run(|| {
        let (tx, rx) = channel::unbounded::<u32>();
        let (_keep, idle) = channel::unbounded::<u32>();
        let rx2 = rx.clone();
        let selecting = coro::spawn(move || {
            coro::select! {
                recv(rx) -> _ => unreachable!("cancelled before it runs"),
                recv(idle) -> _ => unreachable!(),
            }
        });
        coro::yield_now(); // the select parks, first in line on `rx`
        let plain = coro::spawn(move || rx2.recv());
        coro::yield_now(); // the plain receiver parks behind it
        tx.send(7).unwrap(); // wakes the select
        selecting.cancel(); // which unwinds before it takes anything
        assert!(selecting.join().is_err());
        assert_eq!(plain.join().unwrap(), Ok(7));
    });
}

/// A select parked on two channels, first in line on `a` with a plain receiver behind it, is
/// woken by a message on each in the same turn and takes one at random. When it takes `b`,
/// the wake-up it had on `a` goes to the plain receiver, which gets `a`'s message with no
/// further send (without the hand-on it would wait forever: the runtime reports a deadlock).
#[test]
fn a_select_that_takes_another_arm_passes_its_wake_up_on() {
    coro::run(|| {
        let mut took = [0u32; 2];
        for _ in 0..64 {
            let (tx_a, rx_a) = channel::unbounded::<u32>();
            let (tx_b, rx_b) = channel::unbounded::<u32>();
            let (rx_a2, rx_b2) = (rx_a.clone(), rx_b.clone());
            let selecting = coro::spawn(move || {
                coro::select! {
                    recv(rx_a) -> v => (0, v),
                    recv(rx_b2) -> v => (1, v),
                }
            });
            coro::yield_now(); // the select parks, first in line on `a`
            let plain = coro::spawn(move || rx_a2.recv());
            coro::yield_now(); // the plain receiver parks behind it
            tx_b.send(20).unwrap();
            tx_a.send(10).unwrap(); // `a`'s first waiter is the select
            let (arm, v) = selecting.join().unwrap();
            took[arm] += 1;
            if arm == 1 {
                assert_eq!(v, Ok(20));
                assert_eq!(plain.join().unwrap(), Ok(10), "handed on");
            } else {
                assert_eq!(v, Ok(10));
                drop(tx_a);
                assert_eq!(plain.join().unwrap(), Err(RecvError));
                assert_eq!(rx_b.try_recv(), Ok(20), "b's message is still there");
            }
        }
        assert!(took[0] > 0 && took[1] > 0, "both cases were seen: {took:?}");
    });
}

#[test]
fn with_timeout_around_a_select_takes_nothing() {
    coro::run(|| {
        let drops = Rc::new(Cell::new(0));
        let (tx, rx) = channel::unbounded::<u32>();
        let (tx_full, rx_full) = channel::bounded(1);
        tx_full.send(Counted(Rc::clone(&drops))).unwrap();
        let r = coro::with_timeout(SHORT, || {
            coro::select! {
                recv(rx) -> v => v.ok(),
                send(tx_full, Counted(Rc::clone(&drops))) -> _ => None,
            }
        });
        assert!(matches!(r, Err(coro::Error::TimedOut)), "{r:?}");
        assert_eq!(drops.get(), 1, "the send arm's value was dropped, not sent");
        assert_eq!(rx_full.len(), 1);
        // Nothing is registered any more: what is sent now is all there to take.
        for v in 0..3 {
            tx.send(v).unwrap();
        }
        assert_eq!(rx.try_iter().collect::<Vec<_>>(), [0, 1, 2]);
        // The bounded channel's freed slot is not held for the gone select.
        drop(rx_full.recv().unwrap());
        tx_full.try_send(Counted(Rc::clone(&drops))).ok().unwrap();
    });
}

/// A select parked on a full bounded channel is handed the slot that a receive frees, then is
/// cancelled before it runs: the slot goes to the plain sender waiting behind it.
#[test]
fn a_cancelled_send_arm_passes_its_reserved_slot_on() {
    coro::run(|| {
        let (tx, rx) = channel::bounded(1);
        tx.send(0u32).unwrap();
        let tx2 = tx.clone();
        let selecting = coro::spawn(move || {
            coro::select! {
                send(tx, 1) -> _ => unreachable!("cancelled before it runs"),
            }
        });
        coro::yield_now();
        let plain = coro::spawn(move || tx2.send(2));
        coro::yield_now();
        assert_eq!(rx.recv(), Ok(0)); // frees the slot, reserved for the select
        selecting.cancel();
        assert!(selecting.join().is_err());
        assert_eq!(plain.join().unwrap(), Ok(()));
        assert_eq!(rx.recv(), Ok(2));
        assert!(rx.try_recv().is_err());
    });
}

#[test]
fn cross_thread_arm_is_woken_from_a_std_thread() {
    coro::run(|| {
        let (tx, rx) = sync::unbounded::<u32>();
        let (_keep, local_rx) = channel::unbounded::<u32>();
        let t = thread::spawn(move || {
            thread::sleep(SHORT);
            tx.send(42).unwrap();
        });
        let got = coro::select! {
            recv(rx) -> v => v,
            recv(local_rx) -> _ => unreachable!(),
        };
        assert_eq!(got, Ok(42));
        t.join().unwrap();
    });
}

#[test]
fn rendezvous_send_arm_meets_a_receiving_std_thread() {
    coro::run(|| {
        let (tx, rx) = sync::bounded::<u32>(0);
        let (_keep, idle) = channel::unbounded::<u32>();
        let receiver = thread::spawn(move || {
            thread::sleep(SHORT); // the select parks first
            (rx.recv(), rx.recv())
        });
        for v in [1, 2] {
            let r = coro::select! {
                send(tx, v) -> r => r,
                recv(idle) -> _ => unreachable!(),
            };
            assert_eq!(r, Ok(()));
        }
        let got = coro::spawn_blocking(move || receiver.join().unwrap());
        assert_eq!(got, (Ok(1), Ok(2)));
    });
}

/// Selects on shared (copy) stacks: a parked select's arms are locals of its frame, copied
/// away while it waits; what the channels hold (wait nodes) is on the heap.
#[test]
fn selects_on_shared_stacks() {
    coro::run(|| {
        let (tx_a, rx_a) = channel::bounded::<u64>(2);
        let (tx_b, rx_b) = channel::unbounded::<u64>();
        let (done_tx, done_rx) = channel::unbounded::<u64>();
        for w in 0..20u64 {
            let (rx_a, rx_b, done_tx) = (rx_a.clone(), rx_b.clone(), done_tx.clone());
            // SAFETY: the body keeps every reference into its stack to itself while it waits.
            let builder = unsafe { coro::Builder::new().shared(true) };
            builder
                .spawn(move || {
                    let frame = std::hint::black_box([w; 32]);
                    let mut sum = 0;
                    let mut open = [true, true];
                    while open[0] || open[1] {
                        coro::select! {
                            recv(rx_a) -> v => match v {
                                Ok(v) => sum += v,
                                Err(_) => open[0] = false,
                            },
                            recv(rx_b) -> v => match v {
                                Ok(v) => sum += v,
                                Err(_) => open[1] = false,
                            },
                        }
                    }
                    assert!(frame.iter().all(|&x| x == w));
                    done_tx.send(sum).unwrap();
                })
                .unwrap();
        }
        drop((rx_a, rx_b, done_tx));
        for v in 0..2_000u64 {
            if v % 2 == 0 {
                coro::select! { send(tx_a, v) -> r => r.unwrap() }
            } else {
                tx_b.send(v).unwrap();
                coro::yield_now();
            }
        }
        drop((tx_a, tx_b));
        let total: u64 = done_rx.iter().sum();
        assert_eq!(total, (0..2_000u64).sum::<u64>());
    });
}

#[test]
fn select_on_a_plain_thread_parks_the_thread() {
    let (tx, rx) = sync::unbounded::<u32>();
    let (_keep, idle) = sync::unbounded::<u32>();
    let t = thread::spawn(move || {
        thread::sleep(SHORT);
        tx.send(8).unwrap();
    });
    let got = coro::select! {
        recv(idle) -> _ => unreachable!(),
        recv(rx) -> v => v,
    };
    assert_eq!(got, Ok(8));
    t.join().unwrap();
    let timed = coro::select! {
        recv(idle) -> _ => unreachable!(),
        sleep(SHORT) => "timer",
    };
    assert_eq!(timed, "timer");
}

#[test]
#[should_panic(expected = "coro::select! would block forever")]
fn a_select_of_local_arms_outside_a_task_panics_instead_of_hanging() {
    let (_tx, rx) = channel::unbounded::<u32>();
    coro::select! { recv(rx) -> _ => {} }
}

#[test]
fn census_names_a_parked_select() {
    coro::run(|| {
        let (tx, rx) = channel::unbounded::<u32>();
        let (_keep, idle) = channel::unbounded::<u32>();
        let parked = coro::spawn(move || {
            coro::select! {
                recv(rx) -> v => v,
                recv(idle) -> _ => unreachable!(),
                sleep(Duration::from_secs(3600)) => unreachable!(),
            }
        });
        coro::yield_now();
        let census = coro::debug::census().unwrap();
        let report = census
            .get(parked.id())
            .expect("the parked coroutine is listed");
        assert_eq!(
            report.wait.map(|w| w.to_string()).as_deref(),
            Some("select! over 3 arms")
        );
        assert!(report.timer.is_some(), "the sleep arm's timer");
        tx.send(1).unwrap();
        assert_eq!(parked.join().unwrap(), Ok(1));
    });
}

/// Many coroutines select over shared channels (a bounded one fed by a select's send arm, an
/// unbounded one, and a cross-thread rendezvous one fed from a std thread): every message is
/// received exactly once, and every select ends.
#[test]
fn stress_many_coroutines_selecting() {
    const SELECTORS: u64 = 100;
    const PER_PRODUCER: u32 = 500;
    const EXPECTED: u32 = 3 * PER_PRODUCER;
    coro::run(|| {
        let (tx_a, rx_a) = channel::bounded::<u32>(4);
        let (tx_b, rx_b) = channel::unbounded::<u32>();
        let (tx_c, rx_c) = sync::bounded::<u32>(0);
        let total = Rc::new(Cell::new(0u64));
        let count = Rc::new(Cell::new(0u32));
        let mut selectors = Vec::new();
        for i in 0..SELECTORS {
            let (rx_a, rx_b, rx_c) = (rx_a.clone(), rx_b.clone(), rx_c.clone());
            let (total, count) = (Rc::clone(&total), Rc::clone(&count));
            selectors.push(coro::spawn(move || {
                // No channel closes before the end; the timer arm lets each selector see that
                // the count is complete.
                while count.get() < EXPECTED {
                    let v = coro::select! {
                        recv(rx_a) -> v => v,
                        recv(rx_b) -> v => v,
                        recv(rx_c) -> v => v,
                        sleep(Duration::from_millis(i % 7 + 1)) => continue,
                    };
                    total.set(total.get() + u64::from(v.unwrap()));
                    count.set(count.get() + 1);
                }
            }));
        }
        let feeder = thread::spawn(move || {
            for v in 0..PER_PRODUCER {
                tx_c.send(v).unwrap(); // a rendezvous: each waits for a selecting receiver
            }
            tx_c
        });
        let pa = coro::spawn(move || {
            for v in 0..PER_PRODUCER {
                coro::select! {
                    send(tx_a, v) -> r => r.unwrap(),
                }
            }
            tx_a
        });
        let pb = coro::spawn(move || {
            for v in 0..PER_PRODUCER {
                tx_b.send(v).unwrap();
                if v % 16 == 0 {
                    coro::yield_now();
                }
            }
            tx_b
        });
        for s in selectors {
            s.join().unwrap();
        }
        let senders = (pa.join().unwrap(), pb.join().unwrap());
        let tx_c = coro::spawn_blocking(move || feeder.join().unwrap());
        let sum: u64 = (0..u64::from(PER_PRODUCER)).sum();
        assert_eq!(count.get(), EXPECTED);
        assert_eq!(total.get(), 3 * sum);
        drop((senders, tx_c, rx_a, rx_b, rx_c));
    });
}
