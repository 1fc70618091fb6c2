//! A C file doing blocking connect/send/recv through libc runs in 100 coroutines at once on
//! one thread, against a std::net server in coroutines of the same thread. Without the hooks
//! the first blocking call would stop the thread (and the test would deadlock).

use std::cell::Cell;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::rc::Rc;

#[path = "../../common/mod.rs"]
mod common;
use common::watchdog;

const CLIENTS: usize = 100;
/// Larger than a loopback socket's buffers, so that sends must wait for the server to read.
const MSG: usize = 256 * 1024;

#[test]
fn c_blocking_client_in_100_coroutines() {
    let _watchdog = watchdog(120);
    // How many clients are inside the C sleep at once: 1 if a sleep blocked the thread.
    let sleeping = Rc::new(Cell::new(0usize));
    let most = Rc::new(Cell::new(0usize));
    let (s2, m2) = (Rc::clone(&sleeping), Rc::clone(&most));
    coro::run(move || {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = coro::spawn(move || {
            let mut handlers = Vec::new();
            for _ in 0..CLIENTS {
                let (mut s, _) = listener.accept().unwrap();
                handlers.push(coro::spawn(move || {
                    let mut buf = vec![0u8; 16 * 1024];
                    loop {
                        let n = s.read(&mut buf).unwrap();
                        if n == 0 {
                            break;
                        }
                        s.write_all(&buf[..n]).unwrap();
                    }
                }));
            }
            for h in handlers {
                h.join().unwrap();
            }
        });
        let clients: Vec<_> = (0..CLIENTS)
            .map(|i| {
                let (sleeping, most) = (Rc::clone(&s2), Rc::clone(&m2));
                coro::spawn(move || {
                    sleeping.set(sleeping.get() + 1);
                    most.set(most.get().max(sleeping.get()));
                    assert_eq!(coro_hooks_c::c_usleep(100_000), 0);
                    sleeping.set(sleeping.get() - 1);
                    let msg: Vec<u8> = (0..MSG).map(|j| (i * 31 + j * 7) as u8).collect();
                    let back = coro_hooks_c::echo_once(port, &msg).expect("C client failed");
                    assert!(back == msg, "client {i}: echoed bytes differ");
                })
            })
            .collect();
        for c in clients {
            c.join().unwrap();
        }
        server.join().unwrap();
    });
    // Every client entered its sleep before the first left it: the C sleeps overlapped.
    assert_eq!(most.get(), CLIENTS, "the C usleep calls did not overlap");
}

#[test]
fn dlopened_c_library_yields_too() {
    const N: usize = 50;
    let _watchdog = watchdog(120);
    let lib = std::rc::Rc::new(coro_hooks_c::Dlopened::load().unwrap());
    coro::run(move || {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = coro::spawn(move || {
            let hs: Vec<_> = (0..N)
                .map(|_| {
                    let (mut s, _) = listener.accept().unwrap();
                    coro::spawn(move || {
                        let mut buf = vec![0u8; 16 * 1024];
                        loop {
                            let n = s.read(&mut buf).unwrap();
                            if n == 0 {
                                break;
                            }
                            s.write_all(&buf[..n]).unwrap();
                        }
                    })
                })
                .collect();
            for h in hs {
                h.join().unwrap();
            }
        });
        let clients: Vec<_> = (0..N)
            .map(|i| {
                let lib = lib.clone();
                coro::spawn(move || {
                    let msg: Vec<u8> = (0..MSG).map(|j| (i * 17 + j * 3) as u8).collect();
                    let back = lib.echo_once(port, &msg).expect("dlopened C client failed");
                    assert!(back == msg, "client {i}: echoed bytes differ");
                })
            })
            .collect();
        for c in clients {
            c.join().unwrap();
        }
        server.join().unwrap();
    });
}
