//! coro's own waits under a deadline scope, under `coro::timeout` and under `JoinHandle::cancel`,
//! on owned and shared stacks. Waits with no error to return (sleep, yield_now, join,
//! channels, sync, spawn_blocking) unwind to the scope (which returns `Err(TimedOut)`) or end
//! the coroutine (whose join gives a `Cancelled` payload); `coro::net` and `coro::poll` return
//! the error (`ETIMEDOUT`, `ECANCELED`). Destructors run, nothing stays registered, and the
//! runtime goes on. Every wait here would otherwise last forever.

use std::cell::Cell;
use std::io::{self, Read};
use std::rc::Rc;
use std::time::Duration;

use coro::Error;
use coro::channel;
use coro::sync::{Cond, Mutex, Semaphore, WaitGroup};

const SHORT: Duration = Duration::from_millis(30);

struct Counted(Rc<Cell<u32>>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.set(self.0.get() + 1);
    }
}

/// How a wait ends when interrupted.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Ends {
    /// It unwinds (coro's own waits without an error to return).
    Unwinds,
    /// It returns an `io::Error` with the interrupt's errno.
    Errs,
}

/// A wait that would last forever, with what it needs kept alive by the caller.
type Wait = Box<dyn FnOnce() -> io::Result<()>>;

/// Makes a wait, and what must stay alive while it waits.
type MakeWait = fn() -> (Wait, Box<dyn std::any::Any>);

fn waits() -> Vec<(&'static str, Ends, MakeWait)> {
    vec![
        ("sleep", Ends::Unwinds, || {
            let w: Wait = Box::new(|| {
                coro::sleep(Duration::from_secs(3600));
                Ok(())
            });
            (w, Box::new(()))
        }),
        ("yield_now loop", Ends::Unwinds, || {
            let w: Wait = Box::new(|| {
                loop {
                    coro::yield_now();
                }
            });
            (w, Box::new(()))
        }),
        ("recv", Ends::Unwinds, || {
            let (tx, rx) = channel::unbounded::<u8>();
            let w: Wait = Box::new(move || {
                let _ = rx.recv();
                Ok(())
            });
            (w, Box::new(tx))
        }),
        ("send on a full channel", Ends::Unwinds, || {
            let (tx, rx) = channel::bounded::<u8>(1);
            tx.send(1).unwrap();
            let w: Wait = Box::new(move || {
                let _ = tx.send(2);
                Ok(())
            });
            (w, Box::new(rx))
        }),
        ("sync recv", Ends::Unwinds, || {
            let (tx, rx) = channel::sync::unbounded::<u8>();
            let w: Wait = Box::new(move || {
                let _ = rx.recv();
                Ok(())
            });
            (w, Box::new(tx))
        }),
        ("mutex", Ends::Unwinds, || {
            let m = Rc::new(Mutex::new(0));
            let guard = m.lock();
            // The guard borrows the mutex: keep both, the guard first.
            let held = unsafe_forget_lifetime(guard);
            let m2 = Rc::clone(&m);
            let w: Wait = Box::new(move || {
                *m2.lock() += 1;
                Ok(())
            });
            (w, Box::new((held, m)))
        }),
        ("semaphore", Ends::Unwinds, || {
            let s = Rc::new(Semaphore::new(0));
            let s2 = Rc::clone(&s);
            let w: Wait = Box::new(move || {
                s2.acquire();
                Ok(())
            });
            (w, Box::new(s))
        }),
        ("cond", Ends::Unwinds, || {
            let c = Rc::new(Cond::new());
            let c2 = Rc::clone(&c);
            let w: Wait = Box::new(move || {
                c2.wait();
                Ok(())
            });
            (w, Box::new(c))
        }),
        ("wait group", Ends::Unwinds, || {
            let wg = Rc::new(WaitGroup::new());
            wg.add(1);
            let wg2 = Rc::clone(&wg);
            let w: Wait = Box::new(move || {
                wg2.wait();
                Ok(())
            });
            (w, Box::new(wg))
        }),
        ("join", Ends::Unwinds, || {
            let (tx, rx) = channel::unbounded::<()>();
            let other = coro::spawn(move || {
                let _ = rx.recv();
            });
            let w: Wait = Box::new(move || {
                let _ = other.join();
                Ok(())
            });
            (w, Box::new(tx))
        }),
        ("spawn_blocking", Ends::Unwinds, || {
            let (tx, rx) = std::sync::mpsc::channel::<()>();
            let w: Wait = Box::new(move || {
                coro::spawn_blocking(move || {
                    let _ = rx.recv();
                });
                Ok(())
            });
            (w, Box::new(std::sync::Mutex::new(tx)))
        }),
        ("coro::net read", Ends::Errs, || {
            let l = coro::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let mut a = coro::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
            let (b, _) = l.accept().unwrap();
            let w: Wait = Box::new(move || a.read(&mut [0; 8]).map(drop));
            (w, Box::new(b))
        }),
        ("coro::poll", Ends::Errs, || {
            let (r, w) = std::io::pipe().unwrap();
            let wait: Wait = Box::new(move || {
                use std::os::fd::AsRawFd;
                let mut fds = [coro::poll::PollFd::new(r.as_raw_fd(), coro::poll::POLLIN)];
                coro::poll::poll(&mut fds, None).map(drop)
            });
            (wait, Box::new(w))
        }),
    ]
}

/// Keeps a guard alive beside its mutex: the pair is dropped together, the guard first (a
/// tuple drops its fields in order).
fn unsafe_forget_lifetime<T: 'static>(
    g: coro::sync::MutexGuard<'_, T>,
) -> coro::sync::MutexGuard<'static, T> {
    // SAFETY: the caller keeps the guard in a tuple before the `Rc` that owns the mutex, so
    // the guard is dropped first and never outlives the mutex.
    unsafe { std::mem::transmute(g) }
}

fn check_runtime_goes_on(name: &str) {
    // spawn_blocking's job may still hold its wake-up; nothing else may be left.
    let (_, fd_waits, timers) = coro::__private::runtime_counts().unwrap();
    assert_eq!(fd_waits, 0, "{name}: an fd wait stayed registered");
    assert_eq!(timers, 0, "{name}: a timer stayed armed");
    let (tx, rx) = channel::bounded(1);
    let h = coro::spawn(move || rx.recv().unwrap() + 1);
    tx.send(41).unwrap();
    assert_eq!(h.join().unwrap(), 42);
}

fn spawn_on<T: 'static>(shared: bool, f: impl FnOnce() -> T + 'static) -> coro::JoinHandle<T> {
    // SAFETY: no closure in this file lends a reference into its stack while it waits.
    let b = unsafe { coro::Builder::new().shared(shared) };
    b.spawn(f).unwrap()
}

fn under_a_scope(shared: bool) {
    coro::run(|| {
        for (name, ends, make) in waits() {
            let (wait, keep) = make();
            let drops = Rc::new(Cell::new(0));
            let d = Rc::clone(&drops);
            let h = spawn_on(shared, move || {
                let mut seen = None;
                let r = coro::with_timeout(SHORT, || {
                    let _c = Counted(d);
                    seen = Some(wait());
                });
                (r, seen)
            });
            let (r, seen) = h.join().unwrap();
            assert!(matches!(r, Err(Error::TimedOut)), "{name}: {r:?}");
            match ends {
                Ends::Unwinds => assert!(seen.is_none(), "{name}: returned {seen:?}"),
                Ends::Errs => {
                    let e = seen.unwrap().unwrap_err();
                    assert_eq!(e.kind(), io::ErrorKind::TimedOut, "{name}: {e}");
                }
            }
            assert_eq!(drops.get(), 1, "{name}: the destructor ran once");
            drop(keep);
            check_runtime_goes_on(name);
        }
    });
}

#[test]
fn own_waits_under_a_deadline_scope() {
    under_a_scope(false);
}

#[test]
fn own_waits_under_a_deadline_scope_on_shared_stacks() {
    under_a_scope(true);
}

fn under_timeout(shared: bool) {
    coro::run(|| {
        for (name, _, make) in waits() {
            let (wait, keep) = make();
            let drops = Rc::new(Cell::new(0));
            let d = Rc::clone(&drops);
            let h = spawn_on(shared, move || {
                coro::timeout(SHORT, move || {
                    let _c = Counted(d);
                    let _ = wait();
                })
            });
            let r = h.join().unwrap();
            assert!(matches!(r, Err(Error::TimedOut)), "{name}: {r:?}");
            assert_eq!(drops.get(), 1, "{name}: the destructor ran once");
            drop(keep);
            check_runtime_goes_on(name);
        }
    });
}

#[test]
fn own_waits_under_coro_timeout() {
    under_timeout(false);
}

#[test]
fn own_waits_under_coro_timeout_on_shared_stacks() {
    under_timeout(true);
}

fn under_cancel(shared: bool) {
    coro::run(|| {
        for (name, ends, make) in waits() {
            let (wait, keep) = make();
            let drops = Rc::new(Cell::new(0));
            let d = Rc::clone(&drops);
            let h = spawn_on(shared, move || {
                let _c = Counted(d);
                wait()
            });
            coro::sleep(SHORT);
            assert!(!h.is_finished(), "{name} did not wait");
            h.cancel();
            match (ends, h.join()) {
                (Ends::Unwinds, Err(p)) => {
                    assert!(p.is::<coro::Cancelled>(), "{name}: another payload")
                }
                (Ends::Errs, Ok(Err(e))) => {
                    assert_eq!(e.raw_os_error(), Some(libc::ECANCELED), "{name}: {e}")
                }
                (_, r) => panic!("{name}: {:?}", r.map_err(|_| "a panic")),
            }
            assert_eq!(drops.get(), 1, "{name}: the destructor ran once");
            drop(keep);
            check_runtime_goes_on(name);
        }
    });
}

#[test]
fn own_waits_under_cancel() {
    under_cancel(false);
}

#[test]
fn own_waits_under_cancel_on_shared_stacks() {
    under_cancel(true);
}
