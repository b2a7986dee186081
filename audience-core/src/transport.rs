//! Transport traits: what a service adapter implements so the core can drive an audience.
//!
//! An adapter turns its wire (socket.io frames, an in-process channel, ...) into
//! [`ServiceEvent`]s. The contract every adapter keeps:
//!
//! 1. [`DocumentService::connect`] resolves once the service has accepted the connection; the
//!    returned [`ConnectedInfo`] carries the own client id and the `initialClients` list (which
//!    never contains the own client).
//! 2. [`EventSource::next_event`] then yields, in the order the service sent them, every event
//!    received **since the socket opened**, including those that arrived before the connect
//!    response (the service sends the own join signal first). Nothing is lost in between.
//! 3. `None` from [`EventSource::next_event`] means the connection is gone; an adapter yields
//!    [`ServiceEvent::Disconnected`] with the reason first when it knows one.
//!
//! The core never sees frames: join/leave payloads are already decoded.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;

use crate::wire::{Client, ClientId, ConnectionMode, Nack, SignalClient, TokenClaims, User};

/// Where a join or leave came from. Both are accepted; duplicates are ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// A system join/leave signal (all connections, read and write).
    Signal,
    /// A sequenced `join`/`leave` op (write connections only).
    Op,
}

/// What to connect as.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectRequest {
    /// Tenant id (`tinylicious` for Tinylicious).
    pub tenant_id: String,
    /// Document (container) id.
    pub document_id: String,
    /// The user to connect as (must carry a name for JS audiences to work).
    pub user: User,
    /// Requested mode; the service may downgrade it.
    pub mode: ConnectionMode,
    /// The client record sent to the service (`user` and `scopes` are replaced by the service).
    pub client: Client,
}

impl ConnectRequest {
    /// An interactive client of `user` in `mode` on `document_id`.
    pub fn new(
        tenant_id: impl Into<String>,
        document_id: impl Into<String>,
        user: User,
        mode: ConnectionMode,
    ) -> Self {
        let client = Client::interactive(user.clone(), mode);
        ConnectRequest {
            tenant_id: tenant_id.into(),
            document_id: document_id.into(),
            user,
            mode,
            client,
        }
    }
}

/// The service accepted a connection (`connect_document_success`).
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectedInfo {
    /// This connection's client id.
    pub client_id: ClientId,
    /// Effective mode.
    pub mode: ConnectionMode,
    /// Every other connection of the document at connect time.
    pub initial_clients: Vec<SignalClient>,
    /// The token claims the service accepted, when it reports them.
    pub claims: Option<TokenClaims>,
    /// Largest message the service accepts on this connection, in bytes.
    pub max_message_size: Option<u64>,
}

/// An application signal as received (`clientId` is the sender).
#[derive(Debug, Clone, PartialEq)]
pub struct InboundSignal {
    /// Sender's client id.
    pub client_id: ClientId,
    /// Parsed content (the wire carries a JSON string; it is parsed once here).
    pub content: Value,
    /// Set when the sender targeted one client.
    pub target_client_id: Option<ClientId>,
}

/// Why a connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DisconnectReason {
    /// We closed it.
    Closed,
    /// The server closed it or the socket dropped.
    ConnectionLost(String),
    /// The server stopped answering (heartbeat timeout).
    Timeout,
    /// The service said this client no longer exists (eviction, nack).
    Evicted,
}

impl std::fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DisconnectReason::Closed => f.write_str("closed"),
            DisconnectReason::ConnectionLost(why) => write!(f, "connection lost: {why}"),
            DisconnectReason::Timeout => f.write_str("server stopped answering"),
            DisconnectReason::Evicted => f.write_str("evicted by the service"),
        }
    }
}

/// One thing the service told this connection.
#[derive(Debug, Clone, PartialEq)]
pub enum ServiceEvent {
    /// A connection joined.
    ClientJoined {
        /// The joining connection.
        client: SignalClient,
        /// Signal or op.
        source: Source,
    },
    /// A connection left.
    ClientLeft {
        /// The leaving connection.
        client_id: ClientId,
        /// Signal or op.
        source: Source,
    },
    /// An application signal.
    Signal(InboundSignal),
    /// The service refused something we sent.
    Nack(Nack),
    /// The connection ended.
    Disconnected(DisconnectReason),
}

/// A transport failure, with enough context for one clear line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// The service could not be reached.
    #[error("cannot reach the service at {endpoint}: {detail}")]
    Unreachable {
        /// URL or name of the endpoint.
        endpoint: String,
        /// What failed.
        detail: String,
    },
    /// The service refused the connection (`connect_document_error`).
    #[error("the service refused the connection ({code}): {message}")]
    Refused {
        /// Status code sent by the service.
        code: u16,
        /// Message sent by the service.
        message: String,
    },
    /// The document does not exist.
    #[error("container `{0}` does not exist")]
    NotFound(String),
    /// The service did not answer in time.
    #[error("timed out after {0:?} waiting for {1}")]
    Timeout(std::time::Duration, &'static str),
    /// The connection is closed.
    #[error("the connection is closed")]
    Closed,
    /// The service sent something we cannot read.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// Could not get an access token (the token provider failed, e.g. a user without an id).
    #[error("could not get an access token: {0}")]
    Token(String),
    /// The message is larger than the service accepts.
    #[error("message of {size} bytes exceeds the service limit of {limit} bytes")]
    TooLarge {
        /// Size of the message.
        size: usize,
        /// Service limit.
        limit: u64,
    },
}

/// Opens connections to documents of one service.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait DocumentService: Send + Sync {
    /// Connects to a document; resolves when the service accepted the connection.
    async fn connect(&self, request: &ConnectRequest) -> Result<Connection, TransportError>;
}

/// The receiving half of a connection.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait EventSource: Send {
    /// The next event, in service order; `None` once the connection is gone.
    async fn next_event(&mut self) -> Option<ServiceEvent>;
}

/// The sending half of a connection; cheap to share between tasks.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait SignalSender: Send + Sync {
    /// Sends an application signal: `content` is serialized to a JSON string on the wire;
    /// `target` sends it to one client only.
    async fn submit_signal(
        &self,
        content: Value,
        target: Option<ClientId>,
    ) -> Result<(), TransportError>;
    /// Closes the connection cleanly (the service then announces our leave).
    async fn close(&self) -> Result<(), TransportError>;
}

/// An accepted connection: what the service said, the incoming events, the sender.
pub struct Connection {
    /// The connect response.
    pub info: ConnectedInfo,
    /// Incoming events, starting with those received before the connect response.
    pub events: Box<dyn EventSource>,
    /// Outgoing signals and close.
    pub sender: Arc<dyn SignalSender>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}
