//! `audience`: see who is connected to a Fluid Framework container.
//!
//! `audience demo` plays a scripted session on the embedded in-process service; the other
//! commands talk to a real Tinylicious / Routerlicious server. See `audience --help`.
#![warn(missing_docs)]
// With a backend feature off, helpers only the other backend uses are dead: fine.
#![cfg_attr(not(all(feature = "mock", feature = "tinylicious")), allow(dead_code))]

mod args;
#[cfg(feature = "tinylicious")]
mod content;
#[cfg(feature = "mock")]
mod demo;
mod error;
mod follow;
mod interrupt;
#[cfg(feature = "tinylicious")]
mod live;
mod render;
mod runtime;
mod tracker;

use std::process::ExitCode;

use tracing_subscriber::EnvFilter;

use args::{Cli, Command};
use error::CliError;

fn main() -> ExitCode {
    let cli = Cli::parse_checked();
    init_logging(cli.verbose);
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) if error.is_broken_pipe() => ExitCode::SUCCESS,
        // The goodbye line (if any) is printed; Ctrl-C needs no error line.
        Err(CliError::Interrupted) => ExitCode::from(interrupt::EXIT_CODE),
        Err(error) => {
            eprintln!("error: {}", error.one_line());
            ExitCode::from(u8::try_from(error.exit_code()).unwrap_or(1))
        }
    }
}

/// Logs to stderr: `-v`/`-vv`/`-vvv` if given, else `RUST_LOG`, else warnings only, minus the
/// client driver's reconnect warnings (the commands report reconnects themselves).
fn init_logging(verbose: u8) {
    let filter = match verbose {
        0 => EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| EnvFilter::new("warn,audience_core::client=error")),
        1 => EnvFilter::new("info"),
        2 => EnvFilter::new("debug"),
        _ => EnvFilter::new("trace"),
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

fn run(cli: Cli) -> Result<(), CliError> {
    // The command's loop runs here, on the main thread; the connections run on the workers.
    let runtime = runtime::build().map_err(CliError::Runtime)?;
    runtime.block_on(dispatch(cli))
}

async fn dispatch(cli: Cli) -> Result<(), CliError> {
    #[cfg(feature = "tinylicious")]
    let (url, tenant) = cli.service();
    match cli.command {
        #[cfg(feature = "mock")]
        Command::Demo(args) => demo::run(&args).await,
        #[cfg(not(feature = "mock"))]
        Command::Demo(_) => Err(CliError::MissingBackend("mock")),
        #[cfg(feature = "tinylicious")]
        command => live::run(&url, &tenant, command).await,
        #[cfg(not(feature = "tinylicious"))]
        _ => Err(CliError::MissingBackend("tinylicious")),
    }
}
