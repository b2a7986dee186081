//! `cargo xtask`: developer and CI automation for the audience workspace.
//!
//! Commands (run `cargo xtask --help` or `cargo xtask <command> --help`):
//!
//! * `npm-install`: `npm ci` in `interop/` when `node_modules` is missing or older than
//!   `package-lock.json`.
//! * `tinylicious start|stop [--port P]` (default 7070): a local Tinylicious from
//!   `interop/node_modules`, bound to **127.0.0.1 only**, fresh temporary storage, pid in
//!   `target/tinylicious-<port>.pid`, log in `target/tinylicious-<port>.log`.
//! * `test [-- ARGS]`: `cargo test --workspace --all-targets` then `cargo test --workspace --doc`.
//! * `interop [-- ARGS]`: the live tests against a private Tinylicious (see below).
//! * `ci`: fmt check, clippy `-D warnings`, `test`, `interop`, failing fast with the step name.
//! * `bench [--runs N] [--joins N] [--quick] [--no-criterion]`: the Rust CLI side by side with the
//!   Fluid JS client against a private Tinylicious (start to member list, join to added event),
//!   then `cargo bench -p audience-core`; writes `docs/BENCHMARKS.md` (see [`bench`]).
//!
//! # Live tests
//!
//! A test that needs a real server lives in an integration test target named `live*` or
//! `interop*` (`<crate>/tests/live_join.rs`, `<crate>/tests/interop_js.rs`, ...). Each such test
//! starts with
//!
//! ```ignore
//! let Ok(url) = std::env::var("AUDIENCE_TINYLICIOUS_URL") else {
//!     eprintln!("skipped: AUDIENCE_TINYLICIOUS_URL not set");
//!     return;
//! };
//! ```
//!
//! so `cargo test` works offline. `cargo xtask interop` finds those targets with `cargo metadata`,
//! starts Tinylicious on a free port, runs a JS smoke check, then runs
//! `cargo test --workspace --no-fail-fast --test <target>...` with `AUDIENCE_TINYLICIOUS_URL` and
//! `AUDIENCE_INTEROP_JS` (absolute path of `interop/fluid-client.mjs`) set, and stops the server
//! whatever happens (a drop guard). `cargo xtask test` removes both variables so live tests skip
//! there and run exactly once in `ci`.
#![warn(missing_docs)]

mod bench;
mod error;
mod live_tests;
mod npm;
mod paths;
mod pipeline;
mod process;
mod tinylicious;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::error::Result;
use crate::paths::Paths;
use crate::pipeline::Pipeline;
use crate::tinylicious::{Lifetime, Server, StopOutcome};

const LONG_ABOUT: &str = "\
Developer and CI automation for the audience workspace.

Live tests: integration test targets named `live*` or `interop*` need a real Tinylicious. They
return early, printing `skipped: AUDIENCE_TINYLICIOUS_URL not set`, when that variable is absent,
so plain `cargo test` stays offline. `cargo xtask interop` installs the npm packages, starts a
private Tinylicious on a free 127.0.0.1 port, checks the JS client can create a container, runs
`cargo test --workspace --no-fail-fast --test <each live target>` with
AUDIENCE_TINYLICIOUS_URL=http://127.0.0.1:<port> and AUDIENCE_INTEROP_JS=<abs path of
interop/fluid-client.mjs>, and stops the server even when tests fail or panic.

Tinylicious always binds 127.0.0.1 only (through interop/tinylicious-launcher.cjs).";

/// Developer and CI automation for the audience workspace.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask", bin_name = "cargo xtask", long_about = LONG_ABOUT)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// `npm ci` in interop/ if node_modules is missing or older than package-lock.json.
    NpmInstall,
    /// Start or stop a local Tinylicious bound to 127.0.0.1.
    Tinylicious {
        #[command(subcommand)]
        action: TinyliciousAction,
    },
    /// Unit, integration and doc tests of the whole workspace (live tests skip themselves).
    Test {
        /// Arguments for the test binaries (after `--`), e.g. `-- --nocapture`.
        #[arg(last = true)]
        args: Vec<String>,
    },
    /// Live tests (targets `live*`/`interop*`) against a private Tinylicious on a free port.
    Interop {
        /// Arguments for the test binaries (after `--`), e.g. `-- --test-threads=1`.
        #[arg(last = true)]
        args: Vec<String>,
    },
    /// What CI runs: fmt check, clippy -D warnings, tests, doc tests, interop. Fails fast.
    Ci,
    /// Rust CLI versus JS client side by side on a private Tinylicious, then the criterion
    /// benchmarks of audience-core; writes docs/BENCHMARKS.md.
    Bench(bench::BenchArgs),
}

#[derive(Debug, Subcommand)]
enum TinyliciousAction {
    /// Start in the background (own process group), wait until `GET /` answers, print the URL.
    Start {
        /// Port on 127.0.0.1.
        #[arg(long, default_value_t = tinylicious::DEFAULT_PORT)]
        port: u16,
    },
    /// Stop the server recorded in target/tinylicious-<port>.pid and remove its storage.
    Stop {
        /// Port on 127.0.0.1.
        #[arg(long, default_value_t = tinylicious::DEFAULT_PORT)]
        port: u16,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let paths = Paths::discover();
    match run(cli.command, &paths) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("xtask: error: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Cmd, paths: &Paths) -> Result<()> {
    match command {
        Cmd::NpmInstall => npm::ensure_packages(paths),
        Cmd::Tinylicious {
            action: TinyliciousAction::Start { port },
        } => tinylicious_start(paths, port),
        Cmd::Tinylicious {
            action: TinyliciousAction::Stop { port },
        } => tinylicious_stop(paths, port),
        Cmd::Test { args } => test_steps(Pipeline::new("test"), paths, args).run(),
        Cmd::Interop { args } => live_tests::run_interop(paths, &args),
        Cmd::Ci => ci(paths),
        Cmd::Bench(args) => bench::run(paths, &args, &command_line()),
    }
}

fn tinylicious_start(paths: &Paths, port: u16) -> Result<()> {
    npm::ensure_packages(paths)?;
    let server = Server::start(paths, port, Lifetime::Detached)?;
    eprintln!(
        "xtask: Tinylicious running (pid {}, log {}, pid file {}); stop with `cargo xtask tinylicious stop --port {port}`",
        server.pid(),
        server.log().display(),
        paths.pid_file(port).display()
    );
    // stdout carries only the URL, for `URL=$(cargo xtask tinylicious start)`.
    println!("{}", server.url());
    server.detach();
    Ok(())
}

fn tinylicious_stop(paths: &Paths, port: u16) -> Result<()> {
    match tinylicious::stop(paths, port)? {
        StopOutcome::NothingRecorded => {
            eprintln!("xtask: no Tinylicious recorded for port {port}; nothing to stop")
        }
        StopOutcome::AlreadyGone { pid } => eprintln!(
            "xtask: Tinylicious on port {port} (pid {pid}) was already gone; removed its records"
        ),
        StopOutcome::Stopped { pid } => {
            eprintln!("xtask: stopped Tinylicious on port {port} (pid {pid})")
        }
    }
    Ok(())
}

/// Appends the test steps; live tests are made to skip here (they run in `interop`).
fn test_steps<'a>(pipeline: Pipeline<'a>, paths: &'a Paths, args: Vec<String>) -> Pipeline<'a> {
    pipeline
        .step("test", move || {
            let mut command = process::cargo(&paths.root);
            command.args(["test", "--workspace", "--all-targets"]);
            if !args.is_empty() {
                command.arg("--").args(args);
            }
            process::run(
                command
                    .env_remove(live_tests::URL_ENV)
                    .env_remove(live_tests::JS_ENV),
            )
        })
        .step("doctest", move || {
            process::run(
                process::cargo(&paths.root)
                    .args(["test", "--workspace", "--doc"])
                    .env_remove(live_tests::URL_ENV)
                    .env_remove(live_tests::JS_ENV),
            )
        })
}

fn ci(paths: &Paths) -> Result<()> {
    let pipeline = Pipeline::new("ci")
        .step("fmt", || {
            process::run(process::cargo(&paths.root).args(["fmt", "--all", "--check"]))
        })
        .step("clippy", || {
            process::run(process::cargo(&paths.root).args([
                "clippy",
                "--workspace",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ]))
        });
    test_steps(pipeline, paths, Vec::new())
        .step("interop", || live_tests::run_interop(paths, &[]))
        .run()
}

/// `cargo xtask <args>`, as typed (for the benchmark report).
fn command_line() -> String {
    std::iter::once("cargo xtask".to_owned())
        .chain(std::env::args().skip(1))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_valid() {
        Cli::command().debug_assert();
    }

    #[test]
    fn tinylicious_port_defaults_to_7070() {
        let cli = Cli::try_parse_from(["xtask", "tinylicious", "start"]).unwrap();
        assert!(matches!(
            cli.command,
            Cmd::Tinylicious {
                action: TinyliciousAction::Start { port: 7070 }
            }
        ));
        let cli = Cli::try_parse_from(["xtask", "tinylicious", "stop", "--port", "7272"]).unwrap();
        assert!(matches!(
            cli.command,
            Cmd::Tinylicious {
                action: TinyliciousAction::Stop { port: 7272 }
            }
        ));
    }

    #[test]
    fn interop_passes_test_args_through() {
        let cli = Cli::try_parse_from(["xtask", "interop", "--", "--test-threads=1"]).unwrap();
        match cli.command {
            Cmd::Interop { args } => assert_eq!(args, vec!["--test-threads=1".to_owned()]),
            other => panic!("parsed as {other:?}"),
        }
    }
}
