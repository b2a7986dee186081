//! Errors of the mock's control API (fault injection and inspection).

use audience_core::wire::ClientId;

/// A control call named a connection the service cannot act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MockError {
    /// No live connection has this client id (never existed, closed, killed or expired).
    #[error("no live connection with client id `{0}`")]
    UnknownClient(ClientId),
    /// The connection is not a write client in the quorum (a reader, or already evicted).
    #[error("client `{0}` is not a write client in the quorum")]
    NotInQuorum(ClientId),
    /// `release_as` named a message that is not held.
    #[error("client `{client}` has {held} held messages; index {index} does not exist")]
    NoSuchHeldMessage {
        /// The connection.
        client: ClientId,
        /// The index asked for.
        index: usize,
        /// How many messages are held.
        held: usize,
    },
}
