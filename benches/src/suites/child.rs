//! A server child process: the coro-bench binary re-executed as `server KIND ADDR`.
//!
//! The child's stdin is a pipe whose write end only this handle holds, and the child is told so
//! ([`LIFELINE`]): it exits when the pipe closes, so a server never outlives the bench, even
//! one killed before it could kill its children. Dropping the handle kills and reaps the child.

use super::servers::LIFELINE;
use std::io::{BufRead, BufReader};
use std::net::SocketAddrV4;
use std::process::{Child, Command, Stdio};

/// Lines of output a child may print before its `LISTENING` line (a test binary's banner).
const MAX_PREAMBLE: usize = 16;

/// A running server child; killed and reaped on drop.
#[derive(Debug)]
pub(crate) struct ServerProc {
    child: Child,
    /// The address it listens on.
    pub(crate) addr: SocketAddrV4,
}

impl ServerProc {
    /// Starts `coro-bench server KIND 127.0.0.1:0` and waits for its `LISTENING` line.
    pub(crate) fn start(kind: &str) -> Result<Self, String> {
        Self::start_with(kind, &[])
    }

    /// As [`start`](Self::start), with extra environment for the server (`CORO_WATCHDOG_MS`).
    pub(crate) fn start_with(kind: &str, env: &[(&str, &str)]) -> Result<Self, String> {
        let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
        let mut cmd = Command::new(exe);
        cmd.args(["server", kind, "127.0.0.1:0"]);
        cmd.envs(env.iter().copied());
        Self::spawn(cmd, kind)
    }

    /// Starts `cmd`, a process that runs the server `kind` (the tests start one through the
    /// test binary), and waits for the `LISTENING <addr>` it prints on stdout.
    pub(crate) fn spawn(mut cmd: Command, kind: &str) -> Result<Self, String> {
        let mut child = cmd
            .env(LIFELINE, "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("spawn server {kind}: {e}"))?;
        let stdout = child.stdout.take().ok_or("server stdout not piped")?;
        let mut lines = BufReader::new(stdout).lines();
        let mut said = Vec::new();
        let mut addr = None;
        for line in lines.by_ref().take(MAX_PREAMBLE) {
            let Ok(line) = line else { break };
            // A test binary's progress output may share the line.
            addr = line
                .split_once("LISTENING ")
                .and_then(|(_, a)| a.trim().parse::<SocketAddrV4>().ok());
            said.push(line);
            if addr.is_some() {
                break;
            }
        }
        match addr {
            Some(addr) => Ok(ServerProc { child, addr }),
            None => {
                let _ = child.kill();
                let status = child.wait().map(|s| s.to_string()).unwrap_or_default();
                Err(format!(
                    "server {kind} did not start ({status}); it said {:?}",
                    said.join("\n")
                ))
            }
        }
    }

    /// The child's process id (for /proc readings).
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the child is still running.
    pub(crate) fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for ServerProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
