//! [`TinyliciousError`]: REST, configuration and token failures.
//!
//! Socket failures are reported as [`audience_core::transport::TransportError`], the error of the
//! transport traits. Messages never contain tokens or keys.

use audience_core::transport::TransportError;

/// A REST, configuration or token problem.
#[derive(Debug, thiserror::Error)]
pub enum TinyliciousError {
    /// The server could not be reached (connection refused, DNS, TLS, timeout).
    #[error("cannot reach the server at {url}: {detail}")]
    Unreachable {
        /// The URL that was requested.
        url: String,
        /// What failed.
        detail: String,
    },
    /// The container does not exist.
    #[error("container `{0}` does not exist")]
    UnknownContainer(String),
    /// The container id cannot name a container (for example it is empty); nothing was sent.
    #[error("invalid container id: {0}")]
    InvalidContainerId(String),
    /// A URL in the configuration is not usable.
    #[error("invalid URL `{url}`: {reason}")]
    InvalidUrl {
        /// The offending URL text.
        url: String,
        /// Why it was refused.
        reason: String,
    },
    /// The server answered with an HTTP error. A 404 means the URL does not lead to a Fluid
    /// service (unknown documents are [`TinyliciousError::UnknownContainer`], never a 404).
    #[error("HTTP {status} from {url}: {message}")]
    Http {
        /// HTTP status code.
        status: u16,
        /// The URL that was requested.
        url: String,
        /// The server's message (body text, clipped).
        message: String,
    },
    /// The server answered 2xx with a body that is not what the protocol says.
    #[error("unexpected response from {url}: {detail}")]
    BadResponse {
        /// The URL that was requested.
        url: String,
        /// What was wrong.
        detail: String,
    },
    /// No token could be produced.
    #[error("cannot get an access token: {0}")]
    Token(String),
    /// The TLS or HTTP client could not be set up.
    #[error("cannot set up the HTTP client: {0}")]
    Client(String),
}

/// The text of `err` followed by those of its sources not already contained in it: many
/// wrappers repeat their source in their own message (`IO error: {source}`), and a plain walk
/// of the chain would print it twice.
pub(crate) fn describe_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let part = cause.to_string();
        if !part.is_empty() && !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = cause.source();
    }
    text
}

impl From<TinyliciousError> for TransportError {
    fn from(err: TinyliciousError) -> Self {
        match err {
            TinyliciousError::UnknownContainer(id) => TransportError::NotFound(id),
            TinyliciousError::Unreachable { url, detail } => TransportError::Unreachable {
                endpoint: url,
                detail,
            },
            // Not a network problem: retrying would fail the same way.
            TinyliciousError::Token(detail) => TransportError::Token(detail),
            // The URL stays in the message: a 404 says which address is not a Fluid service.
            TinyliciousError::Http {
                status,
                url,
                message,
            } => TransportError::Refused {
                code: status,
                message: format!("{message} ({url})"),
            },
            other => TransportError::Protocol(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An error with a fixed text and an optional source.
    #[derive(Debug)]
    struct Layer(&'static str, Option<Box<Layer>>);

    impl std::fmt::Display for Layer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Layer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|l| l as _)
        }
    }

    fn chain(texts: &[&'static str]) -> Layer {
        texts
            .iter()
            .rev()
            .fold(None, |source, text| Some(Layer(text, source.map(Box::new))))
            .unwrap()
    }

    #[test]
    fn chains_skip_sources_already_in_the_message() {
        let io = chain(&[
            "IO error: Connection refused (os error 111)",
            "Connection refused (os error 111)",
        ]);
        assert_eq!(
            describe_chain(&io),
            "IO error: Connection refused (os error 111)"
        );
        let distinct = chain(&[
            "error sending request",
            "client error (Connect)",
            "tcp connect error",
            "Connection refused (os error 111)",
        ]);
        assert_eq!(
            describe_chain(&distinct),
            "error sending request: client error (Connect): tcp connect error: Connection refused (os error 111)"
        );
        // A source repeating an earlier part is skipped; a later new one still comes.
        let mixed = chain(&["a: b", "b", "", "c"]);
        assert_eq!(describe_chain(&mixed), "a: b: c");
        assert_eq!(describe_chain(&chain(&["alone"])), "alone");
    }

    #[test]
    fn maps_to_transport_errors() {
        assert_eq!(
            TransportError::from(TinyliciousError::UnknownContainer("d".into())),
            TransportError::NotFound("d".into())
        );
        assert_eq!(
            TransportError::from(TinyliciousError::Http {
                status: 403,
                url: "u".into(),
                message: "no".into()
            }),
            TransportError::Refused {
                code: 403,
                message: "no (u)".into()
            }
        );
        let token = TransportError::from(TinyliciousError::Token("the user has no id".into()));
        assert_eq!(token, TransportError::Token("the user has no id".into()));
        assert_eq!(
            token.to_string(),
            "could not get an access token: the user has no id"
        );
        let err = TinyliciousError::InvalidUrl {
            url: "ftp://x".into(),
            reason: "scheme".into(),
        };
        assert_eq!(err.to_string(), "invalid URL `ftp://x`: scheme");
        assert!(matches!(
            TransportError::from(err),
            TransportError::Protocol(_)
        ));
    }
}
