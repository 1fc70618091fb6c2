//! Runs the networking examples (`echo_server`, `echo_client`, `http_hello`) at their `--quick`
//! size, so the code the book includes is compiled and exercised.

#[allow(dead_code)] // the example's `main` is not called here
#[path = "../examples/echo_server.rs"]
mod echo_server;

#[allow(dead_code)]
#[path = "../examples/echo_client.rs"]
mod echo_client;

#[allow(dead_code)]
#[path = "../examples/http_hello.rs"]
mod http_hello;

#[test]
fn echo_server_example_runs_quick() {
    let bytes = echo_server::quick().unwrap();
    assert_eq!(bytes, (0..50u64).map(|i| 10 * (100 + i * 10)).sum::<u64>());
}

#[test]
fn echo_client_example_runs_quick() {
    assert_eq!(echo_client::quick().unwrap(), 100 * 20);
}

#[test]
fn http_hello_example_runs_quick() {
    assert_eq!(http_hello::quick().unwrap(), 20 * 5);
}

#[allow(dead_code)]
#[path = "../examples/event_loop.rs"]
mod event_loop;

#[test]
fn event_loop_example_runs() {
    event_loop::run(true).unwrap();
}
