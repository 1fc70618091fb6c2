//! coro-bench: measures coro beside its peers (corosensei, context, generator, may, tokio) in
//! one run and prints one `FIGURE <name> <unit> coro <v> <peer> <v> ...` line per figure.
//!
//! `cargo run --release -p coro-bench -- SUITE [options]`; `help` lists the suites.

mod client;
mod harness;
mod peers;
mod suites;
mod sys;
#[cfg(test)]
mod tests;

use std::process::ExitCode;

const USAGE: &str = "\
usage: coro-bench SUITE [options]

suites (each prints FIGURE lines, coro first, then the peers measured in the same run):
  switch [--procs N]         resume+yield round trip: owned stack and shared stack; the
                             median over N fresh processes (default 5), each its own layout
  create                     create + run to end + drop, per coroutine (pools warm)
  memory [--count N]         N coroutines suspended on shared stacks: peak RSS per coroutine
  local                      co_local! access against std's thread_local!
  echo [--conns C] [--secs S] [--size B] [--servers a,b]
                             echo servers in child processes, one shared load client
  hold [--conns N] [--window W] [--servers a,b]
                             N idle connections (default 10,000) held by the same server
                             written for coro, coro-std, tokio-ct and may, each in its own
                             child process: RSS per parked connection, time to accept all
  hooks                      a hooked read() outside any coroutine against libc's
  deadline                   a deadline scope that does not fire, around a call that does
                             not block: coro::with_timeout against tokio::time::timeout
  scoped                     a scoped spawn that borrows, joined: coro::scope against
                             std::thread::scope and may's coroutine::scope
  select                     a select over two channels that both hold a message:
                             coro::select! against tokio::select! (current_thread)
  sync [--quick]             the book's examples/sync_costs.rs: a yield ping-pong, local
                             channels, a mutex hand-off, a cond ping-pong, a cross-thread
                             channel (coro only)
  debug [--count N] [--conns C]
                             a census of N parked coroutines (default 100,000), per
                             coroutine; the scheduler switch and the coro echo server with
                             the stall watchdog off and on
  all                        switch, create, memory, local, hooks, deadline, scoped, select,
                             sync, debug, echo, hold

common options: --rounds R (samples per contender, default 11)";

/// Parsed command-line options shared by the suites.
#[derive(Debug, Clone)]
pub(crate) struct Args {
    /// The words after the suite name.
    rest: Vec<String>,
}

impl Args {
    /// The value of `--name V` parsed as T, or `default` when absent.
    pub(crate) fn get<T: std::str::FromStr>(&self, name: &str, default: T) -> Result<T, String> {
        match self.rest.iter().position(|a| a == name) {
            None => Ok(default),
            Some(i) => {
                let v = self
                    .rest
                    .get(i + 1)
                    .ok_or_else(|| format!("{name} needs a value"))?;
                v.replace('_', "")
                    .parse()
                    .map_err(|_| format!("{name}: cannot parse {v:?}"))
            }
        }
    }

    /// The value of `--name V` as a string, if given.
    pub(crate) fn get_str(&self, name: &str) -> Option<&str> {
        let i = self.rest.iter().position(|a| a == name)?;
        self.rest.get(i + 1).map(String::as_str)
    }

    /// Harness options from `--rounds`.
    pub(crate) fn harness(&self) -> Result<harness::Options, String> {
        self.harness_with(harness::Options::default())
    }

    /// Harness options from `--rounds`, with a suite's own defaults.
    pub(crate) fn harness_with(&self, d: harness::Options) -> Result<harness::Options, String> {
        Ok(harness::Options {
            rounds: self.get("--rounds", d.rounds)?.max(1),
            ..d
        })
    }
}

fn main() -> ExitCode {
    let mut argv: Vec<String> = std::env::args().skip(1).collect();
    if argv.is_empty() {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    }
    let suite = argv.remove(0);
    let args = Args { rest: argv };
    let res = match suite.as_str() {
        "switch" => suites::switch::run(&args),
        "create" => suites::create::run(&args),
        "memory" => suites::memory::run(&args),
        "local" => suites::local::run(&args),
        "echo" => suites::echo::run(&args),
        "hold" => suites::hold::run(&args),
        "hooks" => suites::hooks::run(&args),
        "deadline" => suites::deadline::run(&args),
        "scoped" => suites::scoped::run(&args),
        "debug" => suites::debug::run(&args),
        "select" => suites::select::run(&args),
        "sync" => suites::sync::run(&args),
        "server" => suites::servers::serve(&args.rest),
        "all" => suites::run_all(&args),
        "help" | "-h" | "--help" => {
            println!("{USAGE}");
            Ok(())
        }
        other => Err(format!("unknown suite {other:?}\n{USAGE}")),
    };
    match res {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("coro-bench {suite}: {e}");
            ExitCode::FAILURE
        }
    }
}
