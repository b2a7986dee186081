//! [`CliError`]: everything that ends a command, as one line for `error: ...`.
//!
//! No variant carries a token or key: the CLI never holds one (the adapter signs its own
//! Tinylicious tokens), and the adapter's errors are redacted at the source.

use audience_core::client::ClientError;
use audience_core::transport::TransportError;

use crate::render::sanitize::sanitize;

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A signal's content is not JSON.
    #[error("invalid JSON for the signal content: {0}")]
    InvalidJson(#[source] serde_json::Error),
    /// `signal send ... -`: stdin could not be read.
    #[error("cannot read the signal content from stdin: {0}")]
    Stdin(#[source] std::io::Error),
    /// `signal send ... -`: stdin holds more than the limit.
    #[error("the signal content on stdin is larger than {limit} bytes")]
    StdinTooLarge {
        /// The limit, in bytes.
        limit: u64,
    },
    /// `--url` is not a usable service URL.
    #[error("{0}")]
    InvalidUrl(String),
    /// A service (REST) call failed: unreachable, unknown container, HTTP error, ...
    #[cfg(feature = "tinylicious")]
    #[error(transparent)]
    Service(#[from] audience_tinylicious::TinyliciousError),
    /// The demo's embedded service refused a scripted fault.
    #[cfg(feature = "mock")]
    #[error("demo: {0}")]
    Mock(#[from] audience_mock::MockError),
    /// Connecting or talking to the container failed.
    #[error("{0}")]
    Client(#[from] ClientError),
    /// The transport refused something.
    #[error("{0}")]
    Transport(#[from] TransportError),
    /// The connection ended for good while the command needed it.
    #[error("connection to container `{container}` closed: {reason}")]
    ConnectionClosed {
        /// The container.
        container: String,
        /// Why.
        reason: String,
    },
    /// The demo's embedded service did not do what the script expected.
    #[error("demo stalled: {0}")]
    Demo(String),
    /// Writing the output failed.
    #[error("cannot write the output: {0}")]
    Output(#[source] std::io::Error),
    /// The async runtime or the Ctrl-C handler could not be set up.
    #[error("cannot start: {0}")]
    Runtime(#[source] std::io::Error),
    /// Ctrl-C ended the command (after leaving cleanly); exit code 130, no error line.
    #[error("interrupted (Ctrl-C)")]
    Interrupted,
    /// This binary was built without the backend a command needs.
    #[error("this `audience` was built without the `{0}` feature; rebuild with `--features {0}`")]
    #[allow(dead_code)] // only constructed when a backend feature is off
    MissingBackend(&'static str),
}

impl CliError {
    /// The process exit code: 2 for bad input on the command line (as clap uses), 130 after
    /// Ctrl-C, 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::InvalidJson(_) | CliError::InvalidUrl(_) | CliError::StdinTooLarge { .. } => {
                2
            }
            CliError::Interrupted => i32::from(crate::interrupt::EXIT_CODE),
            _ => 1,
        }
    }

    /// Whether this is stdout going away (`audience watch | head`): not worth an error line.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, CliError::Output(e) if e.kind() == std::io::ErrorKind::BrokenPipe)
    }

    /// The message on one line (causes from other crates could contain newlines), safe for a
    /// terminal (the server's reasons could contain escape sequences).
    pub fn one_line(&self) -> String {
        let line = self
            .to_string()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        sanitize(&line).into_owned()
    }
}

impl From<std::io::Error> for CliError {
    fn from(error: std::io::Error) -> Self {
        CliError::Output(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_one_line_with_the_right_exit_code() {
        let json = serde_json::from_str::<serde_json::Value>("{\"a\":").unwrap_err();
        let err = CliError::InvalidJson(json);
        assert_eq!(
            err.one_line(),
            "invalid JSON for the signal content: EOF while parsing a value at line 1 column 5"
        );
        assert_eq!(err.exit_code(), 2);
        let err = CliError::Transport(TransportError::NotFound("doc".into()));
        assert_eq!(err.one_line(), "container `doc` does not exist");
        assert_eq!(err.exit_code(), 1);
        let err = CliError::Demo("line one\nline two".into());
        assert_eq!(err.one_line(), "demo stalled: line one line two");
        // A server's reason cannot drive the terminal through the error line.
        let err = CliError::ConnectionClosed {
            container: "doc".into(),
            reason: "evil\x1b[31mred\nnewline\r and u\x1b]0;pwned\x07\u{9b}2J".into(),
        };
        assert_eq!(
            err.one_line(),
            r"connection to container `doc` closed: evil\u{1b}[31mred newline and u\u{1b}]0;pwned\u{7}\u{9b}2J"
        );
        let pipe = CliError::from(std::io::Error::from(std::io::ErrorKind::BrokenPipe));
        assert!(pipe.is_broken_pipe());
    }
}
