//! A blocking HTTP client from crates.io (ureq, built on std::net) inside coroutines, against
//! a blocking HTTP server from crates.io (tiny_http, on its own plain threads) in the same
//! process: the clients go through the hooks, the server's threads through their outside
//! path, at the same time.
#![cfg(feature = "hooks")] // without the hooks these coroutines would block their thread

use std::io::Read;
use std::time::Duration;

mod common;
use common::watchdog;

#[test]
fn ureq_in_200_coroutines_against_tiny_http() {
    const REQUESTS: usize = 200;
    let _watchdog = watchdog(120);
    let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let port = server.server_addr().to_ip().unwrap().port();
    let serving = std::thread::spawn(move || {
        for _ in 0..REQUESTS {
            let req = server.recv().unwrap();
            let body = format!("hello {}", req.url());
            req.respond(tiny_http::Response::from_string(body)).unwrap();
        }
    });
    coro::run(move || {
        let hs: Vec<_> = (0..REQUESTS)
            .map(|i| {
                coro::spawn(move || {
                    let resp = ureq::get(&format!("http://127.0.0.1:{port}/item/{i}"))
                        .timeout(Duration::from_secs(30))
                        .call()
                        .unwrap();
                    assert_eq!(resp.status(), 200);
                    let mut body = String::new();
                    resp.into_reader().read_to_string(&mut body).unwrap();
                    assert_eq!(body, format!("hello /item/{i}"));
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
    });
    serving.join().unwrap();
}

#[test]
fn ureq_and_a_std_net_server_share_one_thread() {
    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpListener;
    const REQUESTS: usize = 300;
    let _watchdog = watchdog(120);
    // How many handlers are in their slow part at once: one at a time if the sleep blocked
    // the thread.
    let (now, most) = (
        std::rc::Rc::new(std::cell::Cell::new(0usize)),
        std::rc::Rc::new(std::cell::Cell::new(0usize)),
    );
    let (n2, m2) = (now.clone(), most.clone());
    coro::run(move || {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        // A minimal HTTP/1.1 server in coroutines: one per connection, std::net only.
        let server = coro::spawn(move || {
            for _ in 0..REQUESTS {
                let (s, _) = l.accept().unwrap();
                let (now, most) = (n2.clone(), m2.clone());
                coro::spawn(move || {
                    let mut r = BufReader::new(s.try_clone().unwrap());
                    let mut line = String::new();
                    r.read_line(&mut line).unwrap();
                    let path = line.split(' ').nth(1).unwrap_or("/").to_string();
                    loop {
                        let mut h = String::new();
                        if r.read_line(&mut h).unwrap() == 0 || h == "\r\n" {
                            break;
                        }
                    }
                    // A slow handler: the others run meanwhile.
                    now.set(now.get() + 1);
                    most.set(most.get().max(now.get()));
                    std::thread::sleep(Duration::from_millis(50));
                    now.set(now.get() - 1);
                    let body = format!("path={path}");
                    let mut s = s;
                    write!(
                        s,
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    )
                    .unwrap();
                });
            }
        });
        let hs: Vec<_> = (0..REQUESTS)
            .map(|i| {
                coro::spawn(move || {
                    let body = ureq::get(&format!("http://127.0.0.1:{port}/n/{i}"))
                        .call()
                        .unwrap()
                        .into_string()
                        .unwrap();
                    assert_eq!(body, format!("path=/n/{i}"));
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        server.join().unwrap();
    });
    assert!(most.get() > 1, "the handlers' sleeps ran one after another");
}
