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
