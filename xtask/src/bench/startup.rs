//! (a) Process start to the first complete member list, Rust CLI versus JS client.
//!
//! Each run spawns one process that connects, prints the member list once and exits:
//! `audience members <id> --json` or `node fluid-client.mjs bench-members <id>`. Two times are taken
//! from the instant before the spawn: when xtask reads the member line on its stdout, and when the
//! process has ended (both its pipes closed). Runs alternate between the tools, the order
//! swapping every round so neither always follows the other. One untimed warm-up run each comes
//! first (page cache, server-side first-load costs).

use std::collections::BTreeSet;
use std::time::Duration;

use super::lines;
use super::procs::{Hub, Stream};
use super::stats::signed_ms;
use super::tools::Tools;
use crate::error::{Error, Result};

/// How long one run may take.
const RUN_TIMEOUT: Duration = Duration::from_secs(60);
/// The user id both tools connect as, so both lists name the same users.
pub const BENCH_USER: &str = "bench";

/// Which client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    /// `target/release/audience members <id> --json`.
    Rust,
    /// `node interop/fluid-client.mjs bench-members <id>`.
    Js,
}

impl Tool {
    fn label(self) -> &'static str {
        match self {
            Tool::Rust => "audience members",
            Tool::Js => "fluid-client.mjs bench-members",
        }
    }

    /// The user ids in `line`, if it is this tool's member line.
    fn member_line(self, line: &str) -> Option<BTreeSet<String>> {
        match self {
            Tool::Rust => lines::cli_members(line),
            Tool::Js => lines::js_bench_members(line),
        }
    }
}

/// One timed run.
#[derive(Debug, Clone)]
struct Run {
    to_members_ms: f64,
    to_exit_ms: f64,
    users: BTreeSet<String>,
    /// JS only: the module loading time it reports itself.
    module_load_ms: Option<f64>,
}

/// Every timed run of both tools, in milliseconds.
#[derive(Debug, Clone, Default)]
pub struct StartupResults {
    /// Rust: spawn to member line.
    pub rust_members: Vec<f64>,
    /// Rust: spawn to exit.
    pub rust_exit: Vec<f64>,
    /// JS: spawn to member line.
    pub js_members: Vec<f64>,
    /// JS: spawn to exit.
    pub js_exit: Vec<f64>,
    /// JS: time spent in `import()` of the Fluid packages, as the JS process reports it.
    pub js_module_load: Vec<f64>,
    /// The user ids both tools printed (identical in every run, or the benchmark fails).
    pub users: BTreeSet<String>,
}

/// Times `runs` runs of each tool on `container`, whose members must be `expected` (plus
/// [`BENCH_USER`], the measuring connection itself).
pub fn measure(
    hub: &mut Hub,
    tools: &Tools,
    container: &str,
    expected: &BTreeSet<String>,
    runs: u32,
) -> Result<StartupResults> {
    let mut expected = expected.clone();
    expected.insert(BENCH_USER.to_owned());
    let mut results = StartupResults {
        users: expected.clone(),
        ..StartupResults::default()
    };
    for tool in [Tool::Rust, Tool::Js] {
        let run = run_once(hub, tools, container, tool)?;
        check_users(tool, &run.users, &expected)?;
        eprintln!(
            "xtask: bench: warm-up {}: members after {:.1} ms (not counted)",
            tool.label(),
            run.to_members_ms
        );
    }
    for round in 0..runs {
        let order = if round % 2 == 0 {
            [Tool::Rust, Tool::Js]
        } else {
            [Tool::Js, Tool::Rust]
        };
        for tool in order {
            let run = run_once(hub, tools, container, tool)?;
            check_users(tool, &run.users, &expected)?;
            let (members, exit) = match tool {
                Tool::Rust => (&mut results.rust_members, &mut results.rust_exit),
                Tool::Js => (&mut results.js_members, &mut results.js_exit),
            };
            members.push(run.to_members_ms);
            exit.push(run.to_exit_ms);
            results.js_module_load.extend(run.module_load_ms);
        }
        eprintln!(
            "xtask: bench: start-to-members round {}/{runs}: Rust {:.1} ms, JS {:.1} ms",
            round + 1,
            results.rust_members.last().copied().unwrap_or_default(),
            results.js_members.last().copied().unwrap_or_default(),
        );
    }
    Ok(results)
}

/// Both tools must report exactly the users connected (the two staying JS users and themselves).
fn check_users(tool: Tool, got: &BTreeSet<String>, expected: &BTreeSet<String>) -> Result<()> {
    if got == expected {
        Ok(())
    } else {
        Err(Error::Bench(format!(
            "{} printed users {got:?}, expected {expected:?}: the two clients disagree",
            tool.label()
        )))
    }
}

fn run_once(hub: &mut Hub, tools: &Tools, container: &str, tool: Tool) -> Result<Run> {
    let mut command = match tool {
        Tool::Rust => tools.cli(&[
            "members", container, "--json", "--user", BENCH_USER, "--name", "Bench",
        ]),
        Tool::Js => tools.js(&[
            "bench-members",
            container,
            "--user",
            BENCH_USER,
            "--name",
            "Bench",
        ]),
    };
    let (mut proc, started) = hub.spawn(tool.label(), &mut command, false)?;
    let id = proc.id();
    let mut members = None;
    let mut module_load_ms = None;
    let mut stdout_closed = None;
    let mut stderr_closed = None;
    let (stdout_at, stderr_at) = hub.wait_for(
        started + RUN_TIMEOUT,
        &format!("{} to print its members and exit", tool.label()),
        &[id],
        |line| {
            if line.proc != id {
                return None; // the staying users' chatter
            }
            match (&line.text, line.stream) {
                (Some(text), Stream::Stdout) if members.is_none() => {
                    members = tool.member_line(text).map(|users| (line.at, users));
                    if tool == Tool::Js && module_load_ms.is_none() {
                        module_load_ms = lines::js_modules_loaded(text);
                    }
                }
                (None, Stream::Stdout) => stdout_closed = Some(line.at),
                (None, Stream::Stderr) => stderr_closed = Some(line.at),
                _ => {}
            }
            stdout_closed.zip(stderr_closed)
        },
    )?;
    proc.wait_success()
        .map_err(|error| Error::Bench(format!("{error}{}", hub.tails_of(&[id]))))?;
    let (members_at, users) = members.ok_or_else(|| {
        Error::Bench(format!(
            "{} exited without a member line{}",
            tool.label(),
            hub.tails_of(&[id])
        ))
    })?;
    // The process has ended once both its pipes are closed.
    let exited_at = stdout_at.max(stderr_at);
    Ok(Run {
        to_members_ms: signed_ms(started, members_at),
        to_exit_ms: signed_ms(started, exited_at),
        users,
        module_load_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disagreeing_user_lists_fail_the_benchmark() {
        let expected: BTreeSet<String> = ["bench", "bench-a"].map(String::from).into();
        assert!(check_users(Tool::Js, &expected, &expected).is_ok());
        let missing: BTreeSet<String> = ["bench"].map(String::from).into();
        let error = check_users(Tool::Rust, &missing, &expected)
            .unwrap_err()
            .to_string();
        assert!(error.contains("audience members printed users"), "{error}");
        assert!(error.contains("the two clients disagree"), "{error}");
    }
}
