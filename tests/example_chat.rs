//! Runs the book's `examples/chat.rs` with a server and three clients in one process: each
//! client hears exactly the other two, so the split halves of every connection read and wrote
//! at the same time.

#[allow(dead_code)] // the example's `main` is not called here
#[path = "../examples/chat.rs"]
mod example;

#[test]
fn chat_example_relays_every_line_to_the_others() {
    let heard = example::run_quick().expect("the chat runs");
    let says = ["hello", "hi", "hey"];
    for (i, lines) in heard.iter().enumerate() {
        let mut got: Vec<&str> = lines
            .iter()
            .map(|l| l.split_once(": ").map_or(l.as_str(), |(_, text)| text))
            .collect();
        got.sort_unstable();
        let mut want: Vec<&str> = says
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(_, s)| *s)
            .collect();
        want.sort_unstable();
        assert_eq!(got, want, "client {i}");
    }
}
