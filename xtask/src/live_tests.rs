//! The live-test convention and the `interop` command.
//!
//! A *live test* needs a real Tinylicious (and Node for the JS clients). It lives in an integration
//! test target whose name starts with `live` or `interop` (`<crate>/tests/live*.rs`,
//! `<crate>/tests/interop*.rs`), and each test returns early, printing
//! `skipped: AUDIENCE_TINYLICIOUS_URL not set`, when [`URL_ENV`] is absent. So plain `cargo test`
//! stays offline and green, and `cargo xtask interop`:
//!
//! 1. installs the npm packages (`npm ci` when needed),
//! 2. finds those targets with `cargo metadata` (no glob that breaks when a crate has none),
//! 3. starts a private Tinylicious on a free 127.0.0.1 port,
//! 4. runs a JS smoke check (`fluid-client.mjs create`) so a broken JS side fails with a clear message,
//! 5. runs `cargo test --workspace --no-fail-fast --test <each> [-- <args>]` with [`URL_ENV`] and
//!    [`JS_ENV`] set,
//! 6. stops the server in every case (a drop guard: success, failure or panic).

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::paths::Paths;
use crate::tinylicious::{self, Lifetime, Server};
use crate::{npm, process};

/// Base URL of the Tinylicious the live tests must use, e.g. `http://127.0.0.1:40123`.
pub const URL_ENV: &str = "AUDIENCE_TINYLICIOUS_URL";
/// Absolute path of `interop/fluid-client.mjs` (run it with `node`).
pub const JS_ENV: &str = "AUDIENCE_INTEROP_JS";

const TARGET_PREFIXES: [&str; 2] = ["live", "interop"];
const SMOKE_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs every live test of the workspace against a private Tinylicious.
pub fn run_interop(paths: &Paths, test_args: &[String]) -> Result<()> {
    npm::ensure_packages(paths)?;
    let targets = discover(paths)?;
    let port = tinylicious::free_port()?;
    let server = Server::start(paths, port, Lifetime::Scoped)?;
    let url = server.url();
    eprintln!(
        "xtask: Tinylicious for interop at {url} (pid {}, log {})",
        server.pid(),
        server.log().display()
    );
    smoke_check(paths, &url)?;
    if targets.is_empty() {
        eprintln!(
            "xtask: no live*/interop* integration test targets in the workspace yet; nothing else to run"
        );
        return Ok(());
    }
    eprintln!("xtask: live test targets: {}", targets.join(", "));
    let mut command = process::cargo(&paths.root);
    command.args(["test", "--workspace", "--no-fail-fast"]);
    for target in &targets {
        command.args(["--test", target]);
    }
    if !test_args.is_empty() {
        command.arg("--").args(test_args);
    }
    command
        .env(URL_ENV, &url)
        .env(JS_ENV, paths.fluid_client_js());
    let result = process::run(&mut command);
    drop(server);
    result
}

/// Names of the workspace's integration test targets that follow the live-test naming convention.
pub fn discover(paths: &Paths) -> Result<Vec<String>> {
    let mut command = process::cargo(&paths.root);
    command.args(["metadata", "--no-deps", "--format-version", "1"]);
    let output = command
        .stderr(Stdio::inherit())
        .output()
        .map_err(|source| process::spawn_error(&command, source))?;
    if !output.status.success() {
        return Err(Error::CommandFailed {
            command: process::describe(&command),
            status: output.status,
        });
    }
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout)
        .map_err(|error| Error::Metadata(error.to_string()))?;
    live_targets(&metadata)
}

fn live_targets(metadata: &serde_json::Value) -> Result<Vec<String>> {
    let packages = metadata
        .get("packages")
        .and_then(|packages| packages.as_array())
        .ok_or_else(|| Error::Metadata("no `packages` array".into()))?;
    let mut names: Vec<String> = packages
        .iter()
        .filter_map(|package| package.get("targets")?.as_array())
        .flatten()
        .filter(|target| {
            target
                .get("kind")
                .and_then(|kind| kind.as_array())
                .is_some_and(|kinds| kinds.iter().any(|kind| kind == "test"))
        })
        .filter_map(|target| target.get("name")?.as_str())
        .filter(|name| {
            TARGET_PREFIXES
                .iter()
                .any(|prefix| name.starts_with(prefix))
        })
        .map(str::to_owned)
        .collect();
    names.sort();
    names.dedup();
    Ok(names)
}

/// Creates a container with the JS client and checks it reports `created`.
fn smoke_check(paths: &Paths, url: &str) -> Result<()> {
    let mut command = Command::new("node");
    command
        .arg(paths.fluid_client_js())
        .args([
            "create",
            "--url",
            url,
            "--user",
            "xtask-smoke",
            "--name",
            "xtask smoke",
        ])
        .args(["--for", "0"])
        .current_dir(&paths.interop)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    eprintln!("xtask: $ {}", process::describe(&command));
    let mut child = command
        .spawn()
        .map_err(|source| process::spawn_error(&command, source))?;
    // Drain both pipes on threads so a chatty child can never block on a full pipe.
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let deadline = Instant::now() + SMOKE_TIMEOUT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(source) => return Err(Error::io("waiting for the JS smoke check", source)),
        }
    };
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    let created = created_id(&stdout);
    match (status, created) {
        (Some(status), Some(id)) if status.success() => {
            eprintln!("xtask: JS smoke check ok: created container {id}");
            Ok(())
        }
        (status, _) => Err(Error::Smoke(format!(
            "{}; stdout:\n{stdout}\nstderr:\n{stderr}",
            match status {
                Some(status) => format!("exit {status}, no `created` line"),
                None => format!("timed out after {} s", SMOKE_TIMEOUT.as_secs()),
            }
        ))),
    }
}

fn drain<R: Read + Send + 'static>(pipe: Option<R>) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(mut pipe) = pipe {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            text = String::from_utf8_lossy(&bytes).into_owned();
        }
        text
    })
}

/// The container id of the first `{"event":"created","id":...}` line.
fn created_id(stdout: &str) -> Option<String> {
    stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .find(|value| value.get("event").and_then(|event| event.as_str()) == Some("created"))
        .and_then(|value| value.get("id")?.as_str().map(str::to_owned))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_live_and_interop_test_targets_only() {
        let metadata = serde_json::json!({
            "packages": [
                {"targets": [
                    {"name": "audience_core", "kind": ["lib"]},
                    {"name": "live_join", "kind": ["test"]},
                    {"name": "roster", "kind": ["test"]},
                    {"name": "live_bench", "kind": ["bench"]}
                ]},
                {"targets": [
                    {"name": "interop_js", "kind": ["test"]},
                    {"name": "live_join", "kind": ["test"]}
                ]}
            ]
        });
        assert_eq!(
            live_targets(&metadata).unwrap(),
            vec!["interop_js".to_owned(), "live_join".to_owned()]
        );
    }

    #[test]
    fn metadata_without_packages_is_an_error() {
        assert!(matches!(
            live_targets(&serde_json::json!({})),
            Err(Error::Metadata(_))
        ));
    }

    #[test]
    fn created_id_reads_the_created_line() {
        let stdout = "{\"event\":\"start\"}\nnot json\n{\"event\":\"created\",\"id\":\"abc-1\"}\n";
        assert_eq!(created_id(stdout), Some("abc-1".to_owned()));
        assert_eq!(
            created_id("{\"event\":\"fatal\",\"message\":\"x\"}\n"),
            None
        );
    }
}
