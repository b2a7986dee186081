//! Members: one per user, each with its connections.
//!
//! Adapters define their own member type (a member with a user name, with extra details, ...)
//! by implementing [`Member`]; the audience groups connections by user id and calls
//! [`Member::from_client`] for the first connection of a user.
//!
//! ```
//! use audience_core::member::{BasicMember, Member};
//! use audience_core::wire::{Client, ConnectionMode, User};
//! let client = Client::interactive(User::new("u1", "Ann"), ConnectionMode::Write);
//! let member = BasicMember::from_client("u1", &client);
//! assert_eq!(member.id(), "u1");
//! assert_eq!(member.name.as_deref(), Some("Ann"));
//! assert!(member.connections().is_empty());
//! ```

use std::sync::Arc;

use serde::Serialize;

use crate::wire::{Client, ClientId, ConnectionMode};

/// One connection of a member: `{ id, mode }` as in the JS `IConnection`, plus the client
/// record it came from. Cloning one is two reference-count increments.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Connection {
    /// The connection's client id.
    pub id: Arc<str>,
    /// Its mode.
    pub mode: ConnectionMode,
    /// The client record the service sent for it.
    #[serde(skip)]
    pub client: Arc<Client>,
}

/// A user in the audience, with every connection of that user that passes the policy.
///
/// Implementations are cheap to clone (snapshots clone members on change, never on read).
pub trait Member: Clone + std::fmt::Debug + Send + Sync + 'static {
    /// The service-member factory: builds the member of `user_id` from the client record of
    /// its first connection, with no connections yet (the audience adds them).
    fn from_client(user_id: &str, client: &Client) -> Self;
    /// The user id (`IMember.id`).
    fn id(&self) -> &str;
    /// The user's connections in the order they joined.
    fn connections(&self) -> &[Connection];
    /// Mutable access for the audience to add and remove connections.
    fn connections_mut(&mut self) -> &mut Vec<Connection>;
}

/// The generic member: user id, optional display name, connections.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BasicMember {
    /// User id.
    pub id: String,
    /// Display name from the token, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Connections.
    pub connections: Vec<Connection>,
}

impl Member for BasicMember {
    fn from_client(user_id: &str, client: &Client) -> Self {
        BasicMember {
            id: user_id.to_owned(),
            name: client.user.name.clone(),
            connections: Vec::new(),
        }
    }
    fn id(&self) -> &str {
        &self.id
    }
    fn connections(&self) -> &[Connection] {
        &self.connections
    }
    fn connections_mut(&mut self) -> &mut Vec<Connection> {
        &mut self.connections
    }
}

/// A member together with the connection that is "me" (JS `Myself<M>`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Myself<M> {
    /// The own member, with all of the user's connections.
    #[serde(flatten)]
    pub member: M,
    /// The own connection's client id.
    #[serde(rename = "currentConnection")]
    pub current_connection: ClientId,
}
