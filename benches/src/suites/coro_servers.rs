//! coro's echo servers (`coro`, `coro-2t`, `coro-std`): they need the runtime's net module and
//! the hooks, which are not on main yet.

/// Runs the coro server `kind` on `addr`, or says why it cannot.
pub(crate) fn serve(kind: &str, addr: &str) -> Result<(), String> {
    let _ = addr;
    match kind {
        "coro" | "coro-2t" | "coro-std" | "coro-hold" => Err(format!(
            "server {kind}: coro's runtime net module is not in this build yet"
        )),
        other => Err(format!(
            "unknown server kind {other:?} (one of {:?})",
            super::servers::KINDS
        )),
    }
}

/// Whether this build has the server `kind`.
pub(crate) fn available(kind: &str) -> bool {
    !kind.starts_with("coro")
}

/// Why the server `kind` is not in this build.
pub(crate) fn missing(kind: &str) -> String {
    format!("server {kind} needs coro's runtime (coro::net), which is not on main yet")
}
