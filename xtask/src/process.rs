//! Running child commands with a readable echo and a contextual error.

use std::ffi::OsString;
use std::path::Path;
use std::process::Command;

use crate::error::{Error, Result};

/// A `cargo` command (the same cargo that runs xtask) in `dir`.
pub fn cargo(dir: &Path) -> Command {
    let program = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let mut command = Command::new(program);
    command.current_dir(dir);
    command
}

/// Human-readable command line, e.g. `cargo test --workspace`.
pub fn describe(command: &Command) -> String {
    let program = Path::new(command.get_program())
        .file_name()
        .unwrap_or(command.get_program())
        .to_string_lossy()
        .into_owned();
    std::iter::once(program)
        .chain(
            command
                .get_args()
                .map(|arg| arg.to_string_lossy().into_owned()),
        )
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs `command` with inherited stdio and fails unless it exits 0.
pub fn run(command: &mut Command) -> Result<()> {
    let line = describe(command);
    eprintln!("xtask: $ {line}");
    let status = command
        .status()
        .map_err(|source| spawn_error(command, source))?;
    if status.success() {
        Ok(())
    } else {
        Err(Error::CommandFailed {
            command: line,
            status,
        })
    }
}

/// Maps a spawn failure to [`Error::MissingTool`] when the program does not exist.
pub fn spawn_error(command: &Command, source: std::io::Error) -> Error {
    let program = command.get_program().to_string_lossy().into_owned();
    if source.kind() == std::io::ErrorKind::NotFound {
        let hint = match program.as_str() {
            "node" | "npm" => "install Node.js 20+ with npm",
            _ => "install it or fix PATH",
        };
        Error::MissingTool { program, hint }
    } else {
        Error::io(format!("starting `{}`", describe(command)), source)
    }
}
