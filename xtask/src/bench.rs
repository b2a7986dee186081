//! `cargo xtask bench`: the Rust client side by side with the Fluid JS client, plus the criterion
//! micro-benchmarks of audience-core.
//!
//! Steps (a [`Pipeline`], failing fast):
//!
//! 1. `build-cli`: `cargo build --release -p audience-cli` (the binary that is timed).
//! 2. `side-by-side`: starts a private Tinylicious on a free 127.0.0.1 port (stopped at the end
//!    whatever happens, like `interop`), creates a container with two JS users who stay, then
//!    measures in the same run (a) process start to the first complete member list,
//!    `audience members --json` versus `fluid-client.mjs bench-members` ([`startup`]), and
//!    (b) latency from a join to each watcher's added event, `audience watch --json` versus
//!    `fluid-client.mjs watch`, both watching the same joins ([`join_latency`]).
//! 3. `rust-core`: `cargo bench -p audience-core` (unless `--no-criterion`).
//! 4. `report`: prints the tables and writes `docs/BENCHMARKS.md` (`--quick`:
//!    `target/bench/BENCHMARKS-quick.md`, so a smoke test never overwrites the committed results).

mod criterion;
mod join_latency;
mod lines;
mod machine;
mod procs;
mod report;
mod startup;
mod stats;
mod tools;

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};

use clap::Args;

use crate::error::{Error, Result};
use crate::paths::Paths;
use crate::pipeline::Pipeline;
use crate::tinylicious::{self, Lifetime, Server};
use crate::{npm, process};

use join_latency::JoinResults;
use machine::Environment;
use procs::Hub;
use startup::StartupResults;
use tools::Tools;

/// Runs and joins without `--quick`.
const DEFAULT_COUNT: u32 = 15;
/// Runs and joins with `--quick`.
const QUICK_COUNT: u32 = 3;
/// How long a JS client may take to create or join the container (module loading included).
const SETUP_TIMEOUT: Duration = Duration::from_secs(90);
/// The JS users that stay connected to the container during the whole benchmark.
const STAYING_USERS: [&str; 2] = ["bench-a", "bench-b"];

/// Options of `cargo xtask bench`.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Timed runs of each client for start-to-member-list [default: 15, 3 with --quick].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    runs: Option<u32>,
    /// Timed joins for join-to-added-event latency [default: 15, 3 with --quick].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    joins: Option<u32>,
    /// Smoke test: 3 runs and 3 joins (unless given), criterion with `--quick`, results written
    /// to target/bench/BENCHMARKS-quick.md instead of docs/BENCHMARKS.md.
    #[arg(long)]
    quick: bool,
    /// Skip the criterion micro-benchmarks of audience-core.
    #[arg(long)]
    no_criterion: bool,
}

impl BenchArgs {
    fn count(&self, given: Option<u32>) -> u32 {
        given.unwrap_or(if self.quick {
            QUICK_COUNT
        } else {
            DEFAULT_COUNT
        })
    }
}

/// What the side-by-side step measured.
struct Measured {
    env: Environment,
    startup: StartupResults,
    joins: JoinResults,
}

/// Runs the benchmark pipeline; `command` is the command line to record in the report.
pub fn run(paths: &Paths, args: &BenchArgs, command: &str) -> Result<()> {
    let runs = args.count(args.runs);
    let joins = args.count(args.joins);
    let measured: RefCell<Option<Measured>> = RefCell::new(None);
    let estimates: RefCell<Option<Vec<criterion::Estimate>>> = RefCell::new(None);
    let mut pipeline = Pipeline::new("bench")
        .step("build-cli", || {
            process::run(process::cargo(&paths.root).args([
                "build",
                "--release",
                "-p",
                "audience-cli",
            ]))
        })
        .step("side-by-side", || {
            *measured.borrow_mut() = Some(side_by_side(paths, runs, joins)?);
            Ok(())
        });
    if !args.no_criterion {
        pipeline = pipeline.step("rust-core", || {
            // A second of slack: file times and the clock may not agree to the nanosecond.
            let since = SystemTime::now() - Duration::from_secs(1);
            let mut command = process::cargo(&paths.root);
            command.args(["bench", "-p", "audience-core"]);
            if args.quick {
                // Only the criterion targets understand `--quick` (not the lib's test harness).
                command.args(["--bench", "*", "--", "--quick"]);
            }
            process::run(&mut command)?;
            *estimates.borrow_mut() =
                Some(criterion::collect(&paths.target.join("criterion"), since));
            Ok(())
        });
    }
    pipeline
        .step("report", || {
            let measured = measured.borrow();
            let measured = measured
                .as_ref()
                .ok_or_else(|| Error::Bench("nothing was measured".into()))?;
            let estimates = estimates.borrow();
            let report = report::Report {
                env: &measured.env,
                command,
                quick: args.quick,
                startup: &measured.startup,
                joins: &measured.joins,
                criterion: estimates.as_deref(),
            };
            println!("{}", report.terminal());
            let path = if args.quick {
                paths.quick_benchmarks_doc()
            } else {
                paths.benchmarks_doc()
            };
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)
                    .map_err(|source| Error::io(format!("creating {}", dir.display()), source))?;
            }
            std::fs::write(&path, report.markdown())
                .map_err(|source| Error::io(format!("writing {}", path.display()), source))?;
            eprintln!("xtask: bench: wrote {}", path.display());
            Ok(())
        })
        .run()
}

/// Both measurements against one private Tinylicious, stopped on return (drop guards) whether
/// the measurements succeeded or not; the client processes are stopped before it.
fn side_by_side(paths: &Paths, runs: u32, joins: u32) -> Result<Measured> {
    npm::ensure_packages(paths)?;
    let cli = paths.release_cli();
    if !cli.is_file() {
        return Err(Error::Bench(format!(
            "{} is missing (the build-cli step makes it)",
            cli.display()
        )));
    }
    let env = Environment::collect(paths, &cli);
    let port = tinylicious::free_port()?;
    let server = Server::start_logging_to(paths, port, Lifetime::Scoped, paths.bench_log_file())?;
    let url = server.url();
    eprintln!(
        "xtask: bench: Tinylicious at {url} (pid {}, log {})",
        server.pid(),
        server.log().display()
    );
    let tools = Tools::new(paths, &url);
    eprintln!("xtask: bench: timing {}", tools.cli_path().display());
    let mut hub = Hub::new();

    // A container with two JS users who stay connected (stdin held open) for the whole run.
    let [first, second] = STAYING_USERS;
    let (creator, _) = hub.spawn(
        &format!("JS user {first} (create)"),
        &mut tools.js(&["create", "--user", first, "--name", "Bench A"]),
        true,
    )?;
    let (_, container) = hub.first_line(
        creator.id(),
        SETUP_TIMEOUT,
        "the JS client to create a container",
        lines::js_created,
    )?;
    hub.first_line(
        creator.id(),
        SETUP_TIMEOUT,
        "the container's creator to connect",
        lines::connected,
    )?;
    let (joiner, _) = hub.spawn(
        &format!("JS user {second} (join)"),
        &mut tools.js(&["join", &container, "--user", second, "--name", "Bench B"]),
        true,
    )?;
    hub.first_line(
        joiner.id(),
        SETUP_TIMEOUT,
        "the second JS user to connect",
        lines::connected,
    )?;
    hub.drain_for(Duration::from_secs(1));
    eprintln!("xtask: bench: container {container} with users {first} and {second}");

    let users: BTreeSet<String> = STAYING_USERS.iter().map(|u| (*u).to_owned()).collect();
    let startup = startup::measure(&mut hub, &tools, &container, &users, runs)?;
    let joins = join_latency::measure(&mut hub, &tools, &container, joins)?;

    // Users leave before the server stops (the guards would do it too, in this order).
    drop(joiner);
    drop(creator);
    drop(server);
    Ok(Measured {
        env,
        startup,
        joins,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Wrapper {
        #[command(flatten)]
        bench: BenchArgs,
    }

    fn parse(args: &[&str]) -> std::result::Result<BenchArgs, clap::Error> {
        Wrapper::try_parse_from(std::iter::once("bench").chain(args.iter().copied()))
            .map(|w| w.bench)
    }

    #[test]
    fn counts_default_to_15_or_3_when_quick() {
        let plain = parse(&[]).unwrap();
        assert_eq!(
            (plain.count(plain.runs), plain.count(plain.joins)),
            (15, 15)
        );
        let quick = parse(&["--quick"]).unwrap();
        assert_eq!((quick.count(quick.runs), quick.count(quick.joins)), (3, 3));
        let given = parse(&["--quick", "--runs", "7", "--joins", "2"]).unwrap();
        assert_eq!((given.count(given.runs), given.count(given.joins)), (7, 2));
        assert!(!given.no_criterion);
        assert!(parse(&["--no-criterion"]).unwrap().no_criterion);
    }

    #[test]
    fn zero_runs_are_refused() {
        assert!(parse(&["--runs", "0"]).is_err());
        assert!(parse(&["--joins", "0"]).is_err());
    }
}
