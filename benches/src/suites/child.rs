//! A server child process: the coro-bench binary re-executed as `server KIND ADDR`.

use std::io::{BufRead, BufReader};
use std::net::SocketAddrV4;
use std::process::{Child, Command, Stdio};

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
        let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
        let mut child = Command::new(exe)
            .args(["server", kind, "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("spawn server {kind}: {e}"))?;
        let stdout = child.stdout.take().ok_or("server stdout not piped")?;
        let mut line = String::new();
        let read = BufReader::new(stdout).read_line(&mut line);
        let addr = line
            .trim()
            .strip_prefix("LISTENING ")
            .and_then(|a| a.parse::<SocketAddrV4>().ok());
        match (read, addr) {
            (Ok(_), Some(addr)) => Ok(ServerProc { child, addr }),
            _ => {
                let _ = child.kill();
                let status = child.wait().map(|s| s.to_string()).unwrap_or_default();
                Err(format!(
                    "server {kind} did not start ({status}); it said {:?}",
                    line.trim()
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
