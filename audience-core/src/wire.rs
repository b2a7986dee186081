//! Wire types: the JSON records Fluid services and clients exchange, with serde.
//!
//! Field names are the exact JSON keys of `@fluidframework/protocol-definitions`
//! (`IClient`, `ISignalClient`, `ISignalMessage`, `ISequencedDocumentMessage`, `INack`, ...).
//! Every record keeps the fields it does not model in an `extra` map, so a record read from
//! the wire and written back means the same thing. Unknown fields are never an error.
//!
//! ```
//! use audience_core::wire::{Client, ConnectionMode};
//! let json = r#"{"mode":"write","details":{"capabilities":{"interactive":true}},
//!               "permission":[],"scopes":["doc:read"],"user":{"id":"u1","name":"Ann","color":"red"}}"#;
//! let client: Client = serde_json::from_str(json).unwrap();
//! assert_eq!(client.mode, ConnectionMode::Write);
//! assert!(client.is_interactive());
//! assert_eq!(client.user.name.as_deref(), Some("Ann"));
//! assert_eq!(client.user.extra["color"], "red");
//! ```

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A connection's client id (a UUID string assigned by the service, never reused).
pub type ClientId = String;

/// Extra JSON fields a record does not model, kept for round trips.
pub type Extra = Map<String, Value>;

/// `"write"` or `"read"`: whether a connection may submit ops.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConnectionMode {
    /// May submit ops; sequenced `join`/`leave` ops exist for it.
    Write,
    /// Receives ops and signals only; known to others through join/leave signals.
    Read,
}

impl ConnectionMode {
    /// The wire string, `"write"` or `"read"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionMode::Write => "write",
            ConnectionMode::Read => "read",
        }
    }
}

impl std::fmt::Display for ConnectionMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ConnectionMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "write" => Ok(ConnectionMode::Write),
            "read" => Ok(ConnectionMode::Read),
            other => Err(format!(
                "unknown connection mode `{other}` (expected `read` or `write`)"
            )),
        }
    }
}

/// `IClient.details.capabilities`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Capabilities {
    /// `true` for clients a person uses; `false` for the summarizer and other agents.
    #[serde(default)]
    pub interactive: bool,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `IClient.details`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClientDetails {
    /// What the client can do.
    #[serde(default)]
    pub capabilities: Capabilities,
    /// Client type, e.g. `"summarizer"`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub client_type: Option<String>,
    /// Free-form environment string (the JS loader puts its version and container id here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// Free-form device string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `IUser` as carried in client records and token claims.
///
/// `id` is optional on purpose: a record without a user id must not crash the audience (C-09);
/// the audience skips such clients.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct User {
    /// The user id the audience groups connections by.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Display name (Tinylicious and Azure put it in the token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Other user fields (`additionalDetails`, ...).
    #[serde(flatten)]
    pub extra: Extra,
}

impl User {
    /// A user with an id and a name.
    pub fn new(id: impl Into<String>, name: impl Into<String>) -> Self {
        User {
            id: Some(id.into()),
            name: Some(name.into()),
            extra: Extra::new(),
        }
    }

    /// The user id if present and not empty.
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref().filter(|id| !id.is_empty())
    }
}

/// `IClient`: the record the service keeps for one connection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Client {
    /// Effective connection mode.
    pub mode: ConnectionMode,
    /// Capabilities, type, environment.
    #[serde(default)]
    pub details: ClientDetails,
    /// Permissions (JS sends `[]`).
    #[serde(default)]
    pub permission: Vec<String>,
    /// The user, filled in by the service from the token.
    #[serde(default)]
    pub user: User,
    /// Token scopes, filled in by the service.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Optional client timestamp (ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<f64>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

impl Client {
    /// An interactive client record for `user` in `mode`.
    pub fn interactive(user: User, mode: ConnectionMode) -> Self {
        Client {
            mode,
            details: ClientDetails {
                capabilities: Capabilities {
                    interactive: true,
                    extra: Extra::new(),
                },
                ..ClientDetails::default()
            },
            permission: Vec::new(),
            user,
            scopes: Vec::new(),
            timestamp: None,
            extra: Extra::new(),
        }
    }

    /// A summarizer-like client (`interactive: false`, `type: "summarizer"`).
    pub fn summarizer(user: User) -> Self {
        let mut client = Client::interactive(user, ConnectionMode::Write);
        client.details.capabilities.interactive = false;
        client.details.client_type = Some("summarizer".to_owned());
        client
    }

    /// `details.capabilities.interactive == true`.
    pub fn is_interactive(&self) -> bool {
        self.details.capabilities.interactive
    }
}

/// `ISignalClient`: a client id with its record, as in `initialClients` and join signals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignalClient {
    /// The connection's client id.
    #[serde(rename = "clientId")]
    pub client_id: ClientId,
    /// The connection's record, shared: parsed once, then held by the roster and every member
    /// connection without copying.
    pub client: Arc<Client>,
    /// Fields not modelled here (`clientConnectionNumber`, `referenceSequenceNumber`).
    #[serde(flatten)]
    pub extra: Extra,
}

impl SignalClient {
    /// Pairs a client id with its record.
    pub fn new(client_id: impl Into<ClientId>, client: Client) -> Self {
        SignalClient {
            client_id: client_id.into(),
            client: Arc::new(client),
            extra: Extra::new(),
        }
    }
}

/// `ISignalMessage` as received in a `signal` event.
///
/// `clientId` is `null` for system signals (join/leave). `content` is a JSON string in
/// current services; older ones may send an object, so it is kept as a [`Value`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignalMessage {
    /// Sender, or `None` for a system signal.
    #[serde(rename = "clientId")]
    pub client_id: Option<ClientId>,
    /// The payload: normally a JSON string.
    pub content: Value,
    /// Set when the signal was sent to one client only.
    #[serde(
        rename = "targetClientId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub target_client_id: Option<ClientId>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A join or leave announced by the service in a system signal or a sequenced op.
#[derive(Debug, Clone, PartialEq)]
pub enum Membership {
    /// A connection joined.
    Join(SignalClient),
    /// A connection left.
    Leave(ClientId),
}

/// Why a join/leave payload could not be read.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// The payload is not the JSON it should be.
    #[error("malformed {what}: {source}")]
    Json {
        /// What was being read.
        what: &'static str,
        /// The parser's error.
        #[source]
        source: serde_json::Error,
    },
    /// The payload has the wrong shape.
    #[error("malformed {what}: {detail}")]
    Shape {
        /// What was being read.
        what: &'static str,
        /// What was wrong.
        detail: String,
    },
}

/// Parses a JSON value that may be a JSON *string* holding the JSON text (Fluid double-encodes
/// many payloads) or the object itself.
fn decode_nested(value: &Value, what: &'static str) -> Result<Value, WireError> {
    match value {
        Value::String(text) => {
            serde_json::from_str(text).map_err(|source| WireError::Json { what, source })
        }
        other => Ok(other.clone()),
    }
}

impl SignalMessage {
    /// Reads a system join/leave signal (`clientId: null`, content
    /// `{"type":"join","content":ISignalClient}` or `{"type":"leave","content":"<id>"}`).
    ///
    /// Returns `Ok(None)` for anything that is not a system join/leave.
    pub fn membership(&self) -> Result<Option<Membership>, WireError> {
        if self.client_id.is_some() {
            return Ok(None);
        }
        let content = decode_nested(&self.content, "system signal")?;
        let kind = content.get("type").and_then(Value::as_str);
        let inner = content.get("content");
        match (kind, inner) {
            (Some("join"), Some(inner)) => {
                let joined = decode_nested(inner, "join signal")?;
                let client = serde_json::from_value(joined).map_err(|source| WireError::Json {
                    what: "join signal",
                    source,
                })?;
                Ok(Some(Membership::Join(client)))
            }
            // The leave signal carries the client id as a plain string (unlike the leave op,
            // whose `data` is JSON text of a string).
            (Some("leave"), Some(inner)) => match inner {
                Value::String(id) => Ok(Some(Membership::Leave(id.clone()))),
                other => Err(WireError::Shape {
                    what: "leave signal",
                    detail: format!("expected a client id string, got {other}"),
                }),
            },
            _ => Ok(None),
        }
    }
}

/// `IClientJoin`: the payload of a sequenced `join` op.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientJoin {
    /// The joining connection.
    #[serde(rename = "clientId")]
    pub client_id: ClientId,
    /// Its record as stored by the service.
    pub detail: Client,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `ISequencedDocumentMessage`: an op as broadcast by the service.
///
/// `contents` stays raw JSON: the audience only reads `join`/`leave` ops, so the op stream is
/// passed over without building trees for other ops.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SequencedMessage {
    /// Sender, `None` for service messages (join, leave, noClient, server noop).
    #[serde(rename = "clientId")]
    pub client_id: Option<ClientId>,
    /// Position in the total order.
    #[serde(rename = "sequenceNumber")]
    pub sequence_number: i64,
    /// Minimum sequence number at the time of sequencing.
    #[serde(rename = "minimumSequenceNumber", default)]
    pub minimum_sequence_number: i64,
    /// Sender's per-connection counter (`-1` for service messages).
    #[serde(rename = "clientSequenceNumber", default)]
    pub client_sequence_number: i64,
    /// Sequence number the sender had processed.
    #[serde(rename = "referenceSequenceNumber", default)]
    pub reference_sequence_number: i64,
    /// Message type: `op`, `noop`, `join`, `leave`, `summarize`, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// Contents: `null`, a JSON string, or an object; kept raw.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contents: Option<Box<serde_json::value::RawValue>>,
    /// Service-message payload as a JSON string (join/leave/summaryAck).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    /// Service timestamp (ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<f64>,
    /// Fields not modelled here (`traces`, `expHash1`, `metadata`, ...).
    #[serde(flatten)]
    pub extra: Extra,
}

impl SequencedMessage {
    /// Reads a `join`/`leave` op: `data` first (what the JS quorum reads), then `contents`
    /// (a JSON string or an object). `Ok(None)` for every other op type.
    pub fn membership(&self) -> Result<Option<Membership>, WireError> {
        let what = match self.kind.as_str() {
            "join" => "join op",
            "leave" => "leave op",
            _ => return Ok(None),
        };
        let payload: Value = match (&self.data, &self.contents) {
            (Some(data), _) => {
                serde_json::from_str(data).map_err(|source| WireError::Json { what, source })?
            }
            (None, Some(raw)) => {
                let value: Value = serde_json::from_str(raw.get())
                    .map_err(|source| WireError::Json { what, source })?;
                decode_nested(&value, what)?
            }
            (None, None) => {
                return Err(WireError::Shape {
                    what,
                    detail: "neither `data` nor `contents`".into(),
                });
            }
        };
        if self.kind == "join" {
            let join: ClientJoin = serde_json::from_value(payload)
                .map_err(|source| WireError::Json { what, source })?;
            Ok(Some(Membership::Join(SignalClient::new(
                join.client_id,
                join.detail,
            ))))
        } else {
            match payload {
                Value::String(id) => Ok(Some(Membership::Leave(id))),
                other => Err(WireError::Shape {
                    what,
                    detail: format!("expected a client id string, got {other}"),
                }),
            }
        }
    }
}

/// `IDocumentMessage`: an op a client submits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DocumentMessage {
    /// Consecutive per connection, from 1.
    #[serde(rename = "clientSequenceNumber")]
    pub client_sequence_number: i64,
    /// Last sequence number processed.
    #[serde(rename = "referenceSequenceNumber")]
    pub reference_sequence_number: i64,
    /// `noop`, `op`, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// Payload; omitted for noops.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contents: Option<Value>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `INackContent`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NackContent {
    /// HTTP-like status code (400, 403, 429, ...).
    pub code: u16,
    /// `BadRequestError`, `ThrottlingError`, `InvalidScopeError`, `LimitExceededError`.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// Human-readable reason, e.g. `Nonexistent client`.
    #[serde(default)]
    pub message: String,
    /// Seconds to wait before retrying, for throttling.
    #[serde(
        rename = "retryAfter",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub retry_after: Option<f64>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `INack`: the service refused an op.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Nack {
    /// The refused op, when the service echoes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<Value>,
    /// Sequence number at the time, `-1` when unknown.
    #[serde(rename = "sequenceNumber", default)]
    pub sequence_number: i64,
    /// Why.
    pub content: NackContent,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

impl Nack {
    /// The service no longer knows this client (evicted, or connection replaced): reconnect.
    pub fn is_nonexistent_client(&self) -> bool {
        self.content.message == "Nonexistent client"
    }
}

/// `ITokenClaims`: the claims of a Fluid access token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenClaims {
    /// Document the token is for (`""` when creating).
    #[serde(rename = "documentId")]
    pub document_id: String,
    /// `doc:read`, `doc:write`, `summary:write`.
    pub scopes: Vec<String>,
    /// Tenant, `tinylicious` for Tinylicious.
    #[serde(rename = "tenantId")]
    pub tenant_id: String,
    /// The user the service puts in every client record of this connection.
    pub user: User,
    /// Issued at (s since epoch).
    pub iat: u64,
    /// Expires at (s since epoch).
    pub exp: u64,
    /// Token format version, `"1.0"`.
    pub ver: String,
    /// Fields not modelled here (`jti`, ...).
    #[serde(flatten)]
    pub extra: Extra,
}

/// Scope strings (`@fluidframework/protocol-definitions` `ScopeType`).
pub mod scopes {
    /// Read the document.
    pub const DOC_READ: &str = "doc:read";
    /// Write to the document.
    pub const DOC_WRITE: &str = "doc:write";
    /// Upload summaries.
    pub const SUMMARY_WRITE: &str = "summary:write";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leave_op_reads_double_encoded_data() {
        let op: SequencedMessage = serde_json::from_str(
            r#"{"clientId":null,"clientSequenceNumber":-1,"contents":null,"minimumSequenceNumber":2,
                "referenceSequenceNumber":-1,"sequenceNumber":7,"timestamp":1,"traces":[],"type":"leave",
                "data":"\"c0ca3070\"","expHash1":"55df6e22"}"#,
        )
        .unwrap();
        assert_eq!(
            op.membership().unwrap(),
            Some(Membership::Leave("c0ca3070".into()))
        );
        assert_eq!(op.extra["expHash1"], "55df6e22");
    }

    #[test]
    fn join_op_falls_back_to_contents_object() {
        let op: SequencedMessage = serde_json::from_str(
            r#"{"clientId":null,"sequenceNumber":3,"type":"join",
                "contents":{"clientId":"c1","detail":{"mode":"read","user":{"id":"u"}}}}"#,
        )
        .unwrap();
        match op.membership().unwrap() {
            Some(Membership::Join(joined)) => {
                assert_eq!(joined.client_id, "c1");
                assert_eq!(joined.client.mode, ConnectionMode::Read);
                assert!(!joined.client.is_interactive());
            }
            other => panic!("expected a join, got {other:?}"),
        }
    }

    #[test]
    fn app_signal_is_not_membership_and_bad_system_signal_is_an_error() {
        let app = SignalMessage {
            client_id: Some("c1".into()),
            content: Value::String("{}".into()),
            target_client_id: None,
            extra: Extra::new(),
        };
        assert_eq!(app.membership().unwrap(), None);
        let bad = SignalMessage {
            client_id: None,
            content: Value::String("{not json".into()),
            target_client_id: None,
            extra: Extra::new(),
        };
        assert!(bad.membership().is_err());
        let leave = SignalMessage {
            client_id: None,
            content: Value::String(r#"{"type":"leave","content":"2d560735"}"#.into()),
            target_client_id: None,
            extra: Extra::new(),
        };
        assert_eq!(
            leave.membership().unwrap(),
            Some(Membership::Leave("2d560735".into()))
        );
        let leave_obj = SignalMessage {
            client_id: None,
            content: Value::String(r#"{"type":"leave","content":{}}"#.into()),
            target_client_id: None,
            extra: Extra::new(),
        };
        assert!(leave_obj.membership().is_err());
    }

    #[test]
    fn missing_user_id_is_none_and_empty_id_is_treated_as_missing() {
        let c: Client = serde_json::from_str(r#"{"mode":"write","user":{"name":"x"}}"#).unwrap();
        assert_eq!(c.user.id(), None);
        let c: Client = serde_json::from_str(r#"{"mode":"write","user":{"id":""}}"#).unwrap();
        assert_eq!(c.user.id(), None);
    }
}
