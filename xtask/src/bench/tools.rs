//! The two clients under test, as commands against one server: the release build of the Rust CLI
//! and the JS client script run by Node.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::paths::Paths;

/// Builds the command lines of both clients for one Tinylicious.
#[derive(Debug, Clone)]
pub struct Tools {
    cli: PathBuf,
    js: PathBuf,
    interop: PathBuf,
    url: String,
}

impl Tools {
    /// Both clients, talking to `url`.
    pub fn new(paths: &Paths, url: &str) -> Self {
        Tools {
            cli: paths.release_cli(),
            js: paths.fluid_client_js(),
            interop: paths.interop.clone(),
            url: url.to_owned(),
        }
    }

    /// `target/release/audience <args> --url <url>`.
    pub fn cli(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.cli);
        command
            .args(args)
            .args(["--url", &self.url])
            // A RUST_LOG from the caller's shell would add log output only to the Rust side.
            .env_remove("RUST_LOG");
        command
    }

    /// `node interop/fluid-client.mjs <args> --url <url>`, run in `interop/`.
    pub fn js(&self, args: &[&str]) -> Command {
        let mut command = Command::new("node");
        command
            .arg(&self.js)
            .args(args)
            .args(["--url", &self.url])
            .current_dir(&self.interop);
        command
    }

    /// The Rust CLI binary.
    pub fn cli_path(&self) -> &Path {
        &self.cli
    }
}
