struct NotClone;

coro::co_local! {
    #[inherit]
    static KEY: NotClone = NotClone;
}

fn main() {}
