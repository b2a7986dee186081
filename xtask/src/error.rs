//! The one error type of xtask: every failure says what was being done.

use std::path::PathBuf;
use std::process::ExitStatus;

/// Result alias used throughout xtask.
pub type Result<T> = std::result::Result<T, Error>;

/// Why an xtask command failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A filesystem or process operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What we were doing, e.g. "creating target/".
        what: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A required program is not on `PATH`.
    #[error("`{program}` was not found on PATH ({hint})")]
    MissingTool {
        /// Program name, e.g. `npm`.
        program: String,
        /// What to install.
        hint: &'static str,
    },
    /// A child command ran and exited unsuccessfully.
    #[error("`{command}` failed: {status}")]
    CommandFailed {
        /// The command line, for the reader.
        command: String,
        /// Its exit status.
        status: ExitStatus,
    },
    /// `cargo metadata` output could not be understood.
    #[error("cannot read `cargo metadata` output: {0}")]
    Metadata(String),
    /// A Tinylicious is already recorded as running on that port.
    #[error(
        "Tinylicious is already running on port {port} (pid {pid}); stop it with `cargo xtask tinylicious stop --port {port}`"
    )]
    AlreadyRunning {
        /// Port.
        port: u16,
        /// Recorded pid.
        pid: u32,
    },
    /// Something else listens on the port.
    #[error("port {port} on 127.0.0.1 is already in use: {source}")]
    PortBusy {
        /// Port.
        port: u16,
        /// The bind error.
        #[source]
        source: std::io::Error,
    },
    /// Tinylicious exited before answering.
    #[error("Tinylicious exited before it was ready ({status}); log {log}:\n{tail}")]
    ServerExited {
        /// Exit status.
        status: ExitStatus,
        /// Log file path.
        log: PathBuf,
        /// Last lines of the log.
        tail: String,
    },
    /// Tinylicious did not answer `GET /` in time.
    #[error(
        "Tinylicious did not answer GET {url} within {secs} s (last error: {last_error}); log {log}:\n{tail}"
    )]
    ServerTimeout {
        /// The URL polled.
        url: String,
        /// Timeout in seconds.
        secs: u64,
        /// Last connection/HTTP error seen.
        last_error: String,
        /// Log file path.
        log: PathBuf,
        /// Last lines of the log.
        tail: String,
    },
    /// A pid file exists but cannot be understood.
    #[error("pid file {path} is malformed: {reason}")]
    BadPidFile {
        /// Its path.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The JS smoke check (`fluid-client.mjs create`) did not create a container.
    #[error("JS smoke check failed: {0}")]
    Smoke(String),
    /// A benchmark could not be measured (a process misbehaved, timed out or disagreed).
    #[error("benchmark: {0}")]
    Bench(String),
    /// One step of a pipeline failed.
    #[error("step `{step}` failed: {source}")]
    Step {
        /// Step name.
        step: &'static str,
        /// Why.
        #[source]
        source: Box<Error>,
    },
}

impl Error {
    /// Wraps an I/O error with what we were doing.
    pub fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            what: what.into(),
            source,
        }
    }
}
