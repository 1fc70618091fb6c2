// `threads = N` still works, but warns with its new name; the warning is an error here.
#![deny(deprecated)]

#[coro::main(threads = 2)]
fn main() {}
