//! The suites, one file each, and `all`, which runs each in its own child process.

pub(crate) mod child;
pub(crate) mod coro_servers;
pub(crate) mod create;
pub(crate) mod deadline;
pub(crate) mod debug;
pub(crate) mod echo;
pub(crate) mod hold;
pub(crate) mod hold_servers;
pub(crate) mod hooks;
pub(crate) mod local;
pub(crate) mod memory;
pub(crate) mod scoped;
pub(crate) mod select;
pub(crate) mod servers;
pub(crate) mod switch;
pub(crate) mod sync;

use crate::Args;

/// Runs every suite with its defaults, each in a fresh child process of this binary, so that
/// one suite's memory and threads never weigh on the next.
pub(crate) fn run_all(args: &Args) -> Result<(), String> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let mut failed = Vec::new();
    for suite in [
        "switch", "create", "memory", "local", "hooks", "deadline", "scoped", "select", "sync",
        "debug", "echo", "hold",
    ] {
        let status = std::process::Command::new(&exe)
            .arg(suite)
            .args(&args.rest)
            .status()
            .map_err(|e| format!("spawn {suite}: {e}"))?;
        if !status.success() {
            failed.push(suite);
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!("suites failed: {failed:?}"))
    }
}
